/**
 * Downward API values (fieldRef, resourceFieldRef) as the kubelet computes them, once for
 * the VK (which resolves a pod before /create) and the plugins (which resolve what an
 * interLink 0.6 VK sends unresolved). The Kubernetes primitives (pkg/fieldpath, quantities,
 * the resource arithmetic) are in src/core/kube. Pure.
 *
 * What differs between the callers is a parameter, never a second copy of a rule: which
 * node facts are known (`DownwardRules`), how a quantity is read, and how a failure is
 * worded: every failure is a typed `DownwardFailed` that each caller turns into its own
 * error (the VK: a warning Event; a plugin: INVALID_INPUT).
 */
import { metadataFieldValue, type ObjectMetaView } from '../kube/fieldpath.ts';
import { divideResource } from '../kube/quantity.ts';

type Quantity = string | number;

/** The container fields the downward API reads. */
export interface ResourceContainer {
  name: string;
  resources?:
    | {
        limits?: Record<string, Quantity> | null | undefined;
        requests?: Record<string, Quantity> | null | undefined;
      }
    | null
    | undefined;
}

type Ip = { ip?: string | null | undefined };

/** The pod fields the downward API reads. */
export interface DownwardPod {
  metadata: ObjectMetaView;
  spec: {
    nodeName?: string | null | undefined;
    serviceAccountName?: string | null | undefined;
    containers: readonly ResourceContainer[];
    initContainers?: readonly ResourceContainer[] | null | undefined;
  };
  status?:
    | {
        podIP?: string | null | undefined;
        hostIP?: string | null | undefined;
        podIPs?: Ip[] | null | undefined;
        hostIPs?: Ip[] | null | undefined;
      }
    | null
    | undefined;
}

/** Why a downward value cannot be computed. */
export type DownwardFailure =
  | { code: 'fieldPath'; fieldPath: string }
  | { code: 'resource'; resource: string }
  | { code: 'container'; containerName: string | undefined }
  /** A quantity `DownwardRules.quantity` refused, worded by the caller that refused it. */
  | { code: 'quantity'; message: string };

export class DownwardFailed extends Error {
  readonly failure: DownwardFailure;
  constructor(failure: DownwardFailure) {
    super(failure.code);
    this.failure = failure;
  }
}

/** What the caller knows besides the pod, and how it reads quantities. */
export interface DownwardRules {
  /** Facts of this node that win over the pod's own (`spec.nodeName` only when the pod has none). */
  nodeName?: string | undefined;
  hostIP?: string | undefined;
  podIP?: string | undefined;
  /** Whole `metadata.labels` / `metadata.annotations` (downwardAPI volumes; the VK refuses them in env). */
  wholeMaps: boolean;
  /** A quantity written in the pod (the value or the divisor), as a number; throws DownwardFailed or the caller's error. */
  quantity(q: Quantity, role: 'value' | 'divisor'): number;
  /** The value of `limits.<name>` / `requests.<name>` the container does not set; undefined = "0". */
  unset(kind: 'limits' | 'requests', name: string, container: ResourceContainer): number | undefined;
}

/** The value of a fieldRef; throws DownwardFailed for a path the kubelet does not support. */
export function fieldRefValue(pod: DownwardPod, fieldPath: string, rules: DownwardRules): string {
  const wholeMap = fieldPath === 'metadata.labels' || fieldPath === 'metadata.annotations';
  const meta = wholeMap && !rules.wholeMaps ? undefined : metadataFieldValue(pod.metadata, fieldPath);
  if (meta !== undefined) return meta;
  const status = pod.status ?? {};
  const ips = (list: Ip[] | null | undefined) => (list ?? []).map((x) => x.ip ?? '').join(',');
  switch (fieldPath) {
    case 'spec.nodeName':
      return pod.spec.nodeName ?? rules.nodeName ?? '';
    case 'spec.serviceAccountName':
      return pod.spec.serviceAccountName ?? '';
    case 'status.hostIP':
      return rules.hostIP ?? status.hostIP ?? '';
    case 'status.hostIPs':
      return rules.hostIP ?? ips(status.hostIPs);
    case 'status.podIP':
      return rules.podIP ?? status.podIP ?? '';
    case 'status.podIPs':
      return rules.podIP ?? ips(status.podIPs);
  }
  throw new DownwardFailed({ code: 'fieldPath', fieldPath });
}

/**
 * resourceFieldRef: `limits.cpu`, `requests.memory`, ... of the named container (else
 * `container`), divided by the divisor and rounded up (resource.ExtractContainerResourceValue).
 * What the container does not set is `rules.unset`; an unset or zero divisor is 1.
 */
export function resourceFieldValue(
  pod: DownwardPod | undefined,
  ref: { resource: string; containerName?: string | null | undefined; divisor?: Quantity | null | undefined },
  container: ResourceContainer | undefined,
  rules: DownwardRules,
): string {
  const c = ref.containerName
    ? [...(pod?.spec.containers ?? []), ...(pod?.spec.initContainers ?? [])].find(
        (x) => x.name === ref.containerName,
      )
    : container;
  if (!c) throw new DownwardFailed({ code: 'container', containerName: ref.containerName ?? undefined });
  const [kind, name] = ref.resource.split('.', 2) as [string, string | undefined];
  if ((kind !== 'limits' && kind !== 'requests') || !name)
    throw new DownwardFailed({ code: 'resource', resource: ref.resource });
  const raw = (kind === 'limits' ? c.resources?.limits : c.resources?.requests)?.[name];
  const value = raw !== undefined ? rules.quantity(raw, 'value') : rules.unset(kind, name, c);
  if (value === undefined) return '0';
  const divisor =
    ref.divisor === undefined || ref.divisor === null ? 0 : rules.quantity(ref.divisor, 'divisor');
  return String(divideResource(name, value, divisor));
}
