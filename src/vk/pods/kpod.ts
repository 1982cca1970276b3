/**
 * Pods as raw JSON, exactly as the apiserver sends them (timestamps are RFC 3339
 * strings, quantities strings). The informer cache, the status mapping and the create
 * request all use this shape; only the fields we read are typed, the rest pass through.
 */

export interface KObjectMeta {
  name: string;
  namespace: string;
  uid: string;
  resourceVersion?: string;
  generation?: number;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  deletionTimestamp?: string | null;
  deletionGracePeriodSeconds?: number | null;
  creationTimestamp?: string | null;
  ownerReferences?: Array<{ kind: string; name: string; uid: string; controller?: boolean }>;
  [k: string]: unknown;
}

export interface KEnvVar {
  name: string;
  value?: string;
  valueFrom?: {
    fieldRef?: { fieldPath: string; apiVersion?: string };
    resourceFieldRef?: { resource: string; containerName?: string; divisor?: string | number };
    configMapKeyRef?: { name: string; key: string; optional?: boolean };
    secretKeyRef?: { name: string; key: string; optional?: boolean };
    [k: string]: unknown;
  };
}

export interface KEnvFromSource {
  prefix?: string;
  configMapRef?: { name: string; optional?: boolean };
  secretRef?: { name: string; optional?: boolean };
}

export interface KContainer {
  name: string;
  image?: string;
  env?: KEnvVar[];
  envFrom?: KEnvFromSource[];
  resources?: { limits?: Record<string, string>; requests?: Record<string, string> };
  restartPolicy?: string;
  [k: string]: unknown;
}

export interface KKeyToPath {
  key: string;
  path: string;
  mode?: number;
}

export interface KDownwardAPIFile {
  path: string;
  fieldRef?: { fieldPath: string; apiVersion?: string };
  resourceFieldRef?: { resource: string; containerName?: string; divisor?: string | number };
  mode?: number;
}

export interface KVolumeProjection {
  configMap?: { name: string; items?: KKeyToPath[]; optional?: boolean };
  secret?: { name: string; items?: KKeyToPath[]; optional?: boolean };
  downwardAPI?: { items?: KDownwardAPIFile[] };
  serviceAccountToken?: { audience?: string; expirationSeconds?: number; path: string };
  clusterTrustBundle?: unknown;
  podCertificate?: unknown;
}

export interface KVolume {
  name: string;
  configMap?: { name: string; items?: KKeyToPath[]; optional?: boolean; defaultMode?: number };
  secret?: { secretName: string; items?: KKeyToPath[]; optional?: boolean; defaultMode?: number };
  projected?: { sources?: KVolumeProjection[]; defaultMode?: number };
  downwardAPI?: { items?: KDownwardAPIFile[]; defaultMode?: number };
  emptyDir?: unknown;
  [k: string]: unknown;
}

export interface KPodSpec {
  nodeName?: string;
  containers: KContainer[];
  initContainers?: KContainer[];
  volumes?: KVolume[];
  restartPolicy?: string;
  serviceAccountName?: string;
  automountServiceAccountToken?: boolean;
  readinessGates?: Array<{ conditionType: string }>;
  [k: string]: unknown;
}

export interface KContainerState {
  waiting?: { reason?: string; message?: string };
  running?: { startedAt?: string | null };
  terminated?: {
    exitCode: number;
    signal?: number;
    reason?: string;
    message?: string;
    startedAt?: string | null;
    finishedAt?: string | null;
    containerID?: string;
  };
}

export interface KContainerStatus {
  name: string;
  state?: KContainerState;
  lastState?: KContainerState;
  ready: boolean;
  restartCount: number;
  image: string;
  imageID: string;
  containerID?: string;
  started?: boolean;
  [k: string]: unknown;
}

export interface KPodCondition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
  lastTransitionTime?: string | null;
  lastProbeTime?: string | null;
  [k: string]: unknown;
}

export interface KPodStatus {
  phase?: string;
  conditions?: KPodCondition[];
  message?: string;
  reason?: string;
  hostIP?: string;
  hostIPs?: Array<{ ip: string }>;
  podIP?: string;
  podIPs?: Array<{ ip: string }>;
  startTime?: string | null;
  containerStatuses?: KContainerStatus[];
  initContainerStatuses?: KContainerStatus[];
  qosClass?: string;
  [k: string]: unknown;
}

export interface KPod {
  apiVersion?: string;
  kind?: string;
  metadata: KObjectMeta;
  spec: KPodSpec;
  status?: KPodStatus;
}

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
