import { describe, expect, it } from 'vitest';
import { checkImage, enrootReference, resolveImage } from '../../../src/plugins/slurm/image.ts';

describe('resolveImage', () => {
  it.each([
    ['apptainer', 'busybox:1.36', undefined, 'docker://busybox:1.36'],
    ['apptainer', 'registry.example.org/a/b:1', undefined, 'docker://registry.example.org/a/b:1'],
    ['apptainer', '/cvmfs/images/x.sif', undefined, '/cvmfs/images/x.sif'],
    ['apptainer', './x.sif', undefined, './x.sif'],
    ['apptainer', 'oras://reg/x:1', undefined, 'oras://reg/x:1'],
    ['apptainer', 'docker://busybox', undefined, 'docker://busybox'],
    ['singularity', 'busybox', 'oras://', 'oras://busybox'],
    ['singularity', 'lolcow.sif', '/images', '/images/lolcow.sif'],
    ['singularity', 'lolcow.sif', '/images/', '/images/lolcow.sif'],
    ['enroot', 'ubuntu:22.04', undefined, 'docker://ubuntu:22.04'],
    ['enroot', 'nvcr.io/nvidia/pytorch:24.01-py3', undefined, 'docker://nvcr.io#nvidia/pytorch:24.01-py3'],
    ['enroot', 'localhost:5000/x', undefined, 'docker://localhost:5000#x'],
    ['enroot', '/images/x.sqsh', undefined, '/images/x.sqsh'],
    ['docker', 'docker://busybox', undefined, 'busybox'],
    ['podman', 'quay.io/x/y:1', '/ignored', 'quay.io/x/y:1'],
  ] as const)('%s %s (root %s) → %s', (runtime, image, root, expected) => {
    expect(resolveImage(image, runtime, 'docker://', root)).toBe(expected);
  });

  it('enrootReference only moves a registry host behind #', () => {
    expect(enrootReference('library/ubuntu')).toBe('library/ubuntu');
    expect(enrootReference('ubuntu')).toBe('ubuntu');
  });

  it.each([['--privileged'], ['a b'], ['x\ny'], ['']])('refuses %j as an image reference', (image) => {
    expect(() => checkImage(image, 'pod.spec.containers[a].image')).toThrow(/is not an image reference/);
  });
});
