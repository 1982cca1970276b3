/**
 * The VK's pod: raw JSON exactly as the apiserver sends it (timestamps RFC 3339 strings,
 * quantities strings), typed by the wire schemas (src/wire/k8s.ts) it is sent with; the
 * informer cache, the status mapping and the create request all use it. Only the fields we
 * read are typed, the rest pass through. Plus the small facts derived from a pod.
 */
import type { Pod, PodSpec } from '../../wire/k8s.ts';

/** A pod as the apiserver stores it: always with its spec (the wire's Pod may carry metadata only). */
export type KPod = Pod & { spec: PodSpec };

export const podKey = (namespace: string, name: string) => `${namespace}/${name}`;
export const keyOf = (pod: { metadata: { namespace?: string; name?: string } }) =>
  podKey(pod.metadata.namespace ?? '', pod.metadata.name ?? '');
export const isTerminalPhase = (phase: string | undefined) => phase === 'Succeeded' || phase === 'Failed';

/** Kubernetes time with second precision, as the apiserver writes `metav1.Time`. */
export function kubeTime(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}

/** When the pod's activeDeadlineSeconds runs out (ms), counted from its startTime. */
export function activeDeadline(pod: KPod): number | undefined {
  const secs = pod.spec.activeDeadlineSeconds;
  const start = Date.parse(pod.status?.startTime ?? '');
  if (typeof secs !== 'number' || !Number.isFinite(start)) return undefined;
  return start + secs * 1000;
}

/** Whether the pod's status shows a create problem of ours (ProviderFailed, config error) that a successful create clears. */
export function needsCorrection(pod: KPod): boolean {
  const st = pod.status;
  if (!st) return false;
  if (st.reason === 'ProviderFailed') return true;
  const waiting = [...(st.containerStatuses ?? []), ...(st.initContainerStatuses ?? [])];
  return waiting.some((c) => c.state?.waiting?.reason === 'CreateContainerConfigError');
}
