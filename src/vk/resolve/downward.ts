/**
 * Downward API values (fieldRef, resourceFieldRef) as the kubelet computes them for a pod
 * on this node; the Kubernetes rules themselves (pkg/fieldpath, quantities, the resource
 * arithmetic, `$(VAR)` expansion) live in src/core/kube. Pure.
 */
import { metadataFieldValue } from '../../core/kube/fieldpath.ts';
import { divideResource, parseQuantity } from '../../core/kube/quantity.ts';
import type { Container } from '../../wire/k8s.ts';
import type { KPod } from '../pods/kpod.ts';

export interface DownwardContext {
  /** The node's address (status.hostIP / status.podIP: pods run behind it). */
  hostIP?: string | undefined;
  podIP?: string | undefined;
  nodeName: string;
  /** Node allocatable, for limits a container does not set. */
  nodeAllocatable: { cpu: string; memory: string; 'ephemeral-storage'?: string };
}

export class DownwardError extends Error {}

/**
 * The value of a fieldRef. `allowMaps`: whole `metadata.labels`/`annotations` (only
 * downwardAPI volumes may). Throws DownwardError for an unsupported path.
 */
export function fieldRefValue(pod: KPod, fieldPath: string, ctx: DownwardContext, allowMaps = false): string {
  const wholeMap = fieldPath === 'metadata.labels' || fieldPath === 'metadata.annotations';
  const meta = wholeMap && !allowMaps ? undefined : metadataFieldValue(pod.metadata, fieldPath);
  if (meta !== undefined) return meta;
  switch (fieldPath) {
    case 'spec.nodeName':
      return pod.spec.nodeName ?? ctx.nodeName;
    case 'spec.serviceAccountName':
      return pod.spec.serviceAccountName ?? '';
    case 'status.hostIP':
      return ctx.hostIP ?? pod.status?.hostIP ?? '';
    case 'status.hostIPs':
      return ctx.hostIP ?? (pod.status?.hostIPs ?? []).map((x) => x.ip).join(',');
    case 'status.podIP':
      return ctx.podIP ?? pod.status?.podIP ?? '';
    case 'status.podIPs':
      return ctx.podIP ?? (pod.status?.podIPs ?? []).map((x) => x.ip).join(',');
  }
  throw new DownwardError(`unsupported fieldRef "${fieldPath}"`);
}

/** A quantity, or DownwardError: a bad one becomes a warning, not a failed sync. */
function quantity(q: string | number): number {
  try {
    return parseQuantity(q);
  } catch (err) {
    throw new DownwardError((err as Error).message);
  }
}

/**
 * resourceFieldRef: `limits.cpu`, `requests.memory`, ... divided by the divisor, rounded
 * up (resource.ExtractContainerResourceValue). A limit the container does not set is the
 * node's allocatable; a request it does not set is 0 (the apiserver defaults requests to
 * limits when only limits are given).
 */
export function resourceFieldValue(
  pod: KPod,
  ref: { resource: string; containerName?: string | undefined; divisor?: string | number | undefined },
  container: Container | undefined,
  ctx: DownwardContext,
): string {
  const c = ref.containerName
    ? [...pod.spec.containers, ...(pod.spec.initContainers ?? [])].find((x) => x.name === ref.containerName)
    : container;
  if (!c) throw new DownwardError(`resourceFieldRef: container "${ref.containerName ?? ''}" not found`);
  const [kind, resource] = ref.resource.split('.', 2) as [string, string | undefined];
  if ((kind !== 'limits' && kind !== 'requests') || !resource)
    throw new DownwardError(`unsupported resourceFieldRef "${ref.resource}"`);
  const set = kind === 'limits' ? c.resources?.limits : c.resources?.requests;
  let raw: string | number | undefined = set?.[resource];
  if (raw === undefined) {
    if (kind === 'limits') raw = (ctx.nodeAllocatable as Record<string, string | undefined>)[resource] ?? '0';
    else raw = '0';
  }
  // An unset or zero divisor is 1 (divideResource); an empty one, lenient, is unset too.
  const divisor = ref.divisor === undefined || ref.divisor === '' ? 0 : quantity(ref.divisor);
  if (divisor < 0)
    throw new DownwardError(`resourceFieldRef: divisor "${String(ref.divisor)}" must be positive`);
  return String(divideResource(resource, quantity(raw), divisor));
}
