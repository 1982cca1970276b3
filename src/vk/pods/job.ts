/** How a pod and its backend job refer to each other. Pure: no I/O. */
import type { Container, Pod } from '../../wire/k8s.ts';
import { slimObject } from '../resolve/resolver.ts';
import type { KPod } from './kpod.ts';

/** The backend's job id, and the UID of the pod it belongs to (annotations survive a copy of the manifest). */
export const JOB_ID_ANNOTATION = 'interlink.io/job-id';
export const JOB_UID_ANNOTATION = 'interlink.io/job-pod-uid';
/** Set on the pod sent with a re-create that only delivers refreshed tokens (never written to the cluster). */
export const TOKEN_REFRESH_ANNOTATION = 'interlink.io/token-refresh';

/** What we send the API about an existing pod: the object without managedFields. */
export const forApi = (pod: KPod): Pod => slimObject(pod);

/**
 * What a `/status` call carries about a pod: the pod without what no status reader reads.
 * Every poll sends every pod in the backend, and each hop (VK, API, plugin) serialises,
 * parses and validates it, so its size is the size of the status path at 5,000 pods.
 * Dropped: the status but for the phase (conditions, container statuses, IPs), the pod's
 * volumes, tolerations and affinity, and each container's env, envFrom, volumeMounts and
 * volumeDevices (a pod's largest parts; a create carries them whole). What readers need
 * stays: metadata whole (names, uid, labels, annotations with our job id: every plugin),
 * the rest of the spec (container names and images: interLink 0.6 plugins; probes, hooks,
 * restart policies, the grace period: the docker and slurm plugins), and `status.phase`
 * (an interLink 0.6 API asks its plugin about Pending/Running pods and answers the others
 * from its cache).
 */
export function forStatus(pod: KPod): Pod {
  const { status, spec, ...rest } = slimObject(pod);
  const { volumes: _v, tolerations: _t, affinity: _a, ...kept } = spec;
  const slim: Pod = {
    ...rest,
    spec: {
      ...kept,
      containers: kept.containers.map(statusContainer),
      ...(kept.initContainers ? { initContainers: kept.initContainers.map(statusContainer) } : {}),
    },
  };
  const phase = status?.phase;
  if (phase) slim.status = { phase };
  return slim;
}

function statusContainer(c: Container): Container {
  const { env: _e, envFrom: _f, volumeMounts: _m, volumeDevices: _d, ...kept } = c;
  return kept;
}

/** The job id recorded on the pod, when it was recorded for this very pod (same UID). */
export function annotatedJob(pod: KPod): string | undefined {
  const a = pod.metadata.annotations ?? {};
  const jid = a[JOB_ID_ANNOTATION];
  return jid && a[JOB_UID_ANNOTATION] === pod.metadata.uid ? jid : undefined;
}

/** The annotations that record `jobId` on the pod with `uid`. */
export const jobAnnotations = (jobId: string, uid: string): Record<string, string> => ({
  [JOB_ID_ANNOTATION]: jobId,
  [JOB_UID_ANNOTATION]: uid,
});

export const errMessage = (err: unknown): string => (err instanceof Error ? err.message : String(err));
