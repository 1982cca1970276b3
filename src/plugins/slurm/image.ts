/**
 * Image references per container runtime. Pure.
 *
 * Apptainer/Singularity: a path (`/x.sif`, `./x.sif`) or a URI (`docker://`, `oras://`,
 * `library://`, ...) is used as written; anything else gets the image root of the pod
 * (annotation `slurm-job.vk.io/image-root`) or the configured prefix (`docker://`).
 * Enroot: paths are local squashfs files; registry references become
 * `docker://[REGISTRY#]IMAGE[:TAG]` (enroot separates the registry with `#`).
 * Docker/Podman: the reference as written (a leading `docker://` is dropped).
 */
import { invalidInput } from '../../errors/index.ts';
import type { RuntimeName } from './config.ts';

const SCHEME = /^[A-Za-z][A-Za-z0-9+.-]*:\/\//;
const isPath = (image: string) => image.startsWith('/') || image.startsWith('./') || image.startsWith('../');

/** Refuse references no runtime could mean and that could pose as an option. */
export function checkImage(image: string, field: string): void {
  if (image === '' || image.startsWith('-') || /[\s\0]/.test(image)) {
    throw invalidInput(`${field}: "${image}" is not an image reference`, field);
  }
}

function withRoot(root: string, image: string): string {
  if (root === '' || root.endsWith('/') || root.endsWith('://')) return root + image;
  return `${root}/${image}`;
}

/** `nvcr.io/nvidia/pytorch:24.01` → `nvcr.io#nvidia/pytorch:24.01`; Docker Hub names unchanged. */
export function enrootReference(image: string): string {
  const slash = image.indexOf('/');
  if (slash < 0) return image;
  const first = image.slice(0, slash);
  const isRegistry = first.includes('.') || first.includes(':') || first === 'localhost';
  return isRegistry ? `${first}#${image.slice(slash + 1)}` : image;
}

export function resolveImage(
  image: string,
  runtime: RuntimeName,
  prefix: string,
  imageRoot: string | undefined,
): string {
  switch (runtime) {
    case 'apptainer':
    case 'singularity':
      if (isPath(image) || SCHEME.test(image)) return image;
      return withRoot(imageRoot ?? prefix, image);
    case 'enroot':
      if (isPath(image) || SCHEME.test(image)) return image;
      if (imageRoot !== undefined) return withRoot(imageRoot, image);
      return `docker://${enrootReference(image)}`;
    case 'docker':
    case 'podman':
      return image.startsWith('docker://') ? image.slice('docker://'.length) : image;
    case 'none':
      return image;
  }
}
