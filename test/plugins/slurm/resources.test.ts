import { describe, expect, it } from 'vitest';
import { podSpecOf } from '../../../src/core/pod/spec.ts';
import {
  flavorFlags,
  flavorGpus,
  podResources,
  resourceFlags,
  selectFlavor,
} from '../../../src/plugins/slurm/resources.ts';

const spec = (containers: object[], initContainers: object[] = []) =>
  podSpecOf({
    metadata: { name: 'p', namespace: 'n', uid: 'u' },
    spec: { containers, initContainers },
  } as never);
const c = (name: string, limits?: object, requests?: object) => ({
  name,
  image: 'x',
  resources: { ...(limits ? { limits } : {}), ...(requests ? { requests } : {}) },
});

describe('podResources: what the pod can use at once', () => {
  it.each([
    ['nothing set', [c('a')], [], {}],
    [
      'app limits add up, rounded up',
      [c('a', { cpu: '500m', memory: '1Gi' }), c('b', { cpu: '1', memory: '512Mi' })],
      [],
      { cpus: 2, memoryBytes: 1.5 * 2 ** 30 },
    ],
    [
      'requests when no limit',
      [c('a', undefined, { cpu: '250m', memory: '100M' })],
      [],
      { cpus: 1, memoryBytes: 100e6 },
    ],
    [
      'the biggest init container wins when larger',
      [c('a', { cpu: '1' })],
      [c('i', { cpu: '4', memory: '2Gi' })],
      { cpus: 4, memoryBytes: 2 * 2 ** 30 },
    ],
  ])('%s', (_name, containers, inits, expected) => {
    const r = podResources(spec(containers, inits));
    expect({ cpus: r.cpus, memoryBytes: r.memoryBytes }).toEqual({
      cpus: undefined,
      memoryBytes: undefined,
      ...expected,
    });
  });

  it('GPUs become --gres=gpu:N, memory --mem in MiB', () => {
    const r = podResources(spec([c('a', { cpu: '3', memory: '1000M', 'nvidia.com/gpu': '2' })]));
    expect(resourceFlags(r)).toEqual([['--cpus-per-task=3'], ['--mem=954M'], ['--gres=gpu:2']]);
  });
});

describe('flavors', () => {
  const flavors = {
    cpu: { cpu: 4, memory: '16G', flags: ['--partition=cpu'] },
    gpu1: { flags: ['--partition=gpu --gres=gpu:1'] },
    gpu4: { gpu: 4, flags: ['--partition=gpu'] },
  };
  it('annotation first, then GPU count, then any GPU flavor, then the default', () => {
    expect(selectFlavor(flavors, 'cpu', 'gpu4', 0)?.name).toBe('gpu4');
    expect(selectFlavor(flavors, 'cpu', undefined, 4)?.name).toBe('gpu4');
    expect(selectFlavor(flavors, 'cpu', undefined, 1)?.name).toBe('gpu1');
    expect(selectFlavor(flavors, 'cpu', undefined, 2)?.name).toBe('gpu1');
    expect(selectFlavor(flavors, 'cpu', undefined, 0)?.name).toBe('cpu');
    expect(selectFlavor(flavors, undefined, undefined, 0)).toBeUndefined();
    expect(() => selectFlavor(flavors, undefined, 'nope', 0)).toThrow(
      /unknown flavor "nope" \(known: cpu, gpu1, gpu4\)/,
    );
  });
  it('a flavor gives defaults, then its flags', () => {
    expect(flavorFlags('cpu', flavors.cpu)).toEqual([
      ['--cpus-per-task=4'],
      ['--mem=16G'],
      ['--partition=cpu'],
    ]);
    expect(flavorFlags('gpu1', flavors.gpu1)).toEqual([['--partition=gpu'], ['--gres=gpu:1']]);
    expect(flavorFlags('m', { memory: '2Gi', flags: [] })).toEqual([['--mem=2048M']]);
    expect(flavorGpus(flavors.gpu1)).toBe(1);
    expect(flavorGpus({ flags: ['--gpus=a100:2'] })).toBe(2);
  });
});
