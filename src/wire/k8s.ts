/**
 * Kubernetes objects as they cross our wires. Only the fields interlink reads are
 * checked; every object is a loose schema, so unknown fields pass through unmodified
 * (a newer apiserver's fields must reach the plugin untouched).
 */
import { z } from 'zod';
import { KubePodStatus } from './k8s-status.ts';

export { ContainerState, ContainerStatus, KubePodStatus, PodCondition, ProbeEvent } from './k8s-status.ts';

/*
 * Name rules: one schema per kind of pod-derived name, shared by every hop and every plugin
 * (docs/security.md). The pod author is untrusted, so each rule also guarantees that the
 * name can never be read as a command-line option (no leading "-"), leave a directory (no
 * "/" where a single component is meant, no ".." anywhere) or end a string early (no NUL).
 * Messages say which rule failed, never the value.
 */

/** RFC 1123 label: namespaces, container names, volume names. */
export const DnsLabel = z
  .string()
  .min(1)
  .max(63)
  .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, 'must be a lower-case RFC 1123 label ([a-z0-9-], at most 63)');

/** RFC 1123 subdomain: pod, ConfigMap and Secret names. */
export const DnsSubdomain = z
  .string()
  .min(1)
  .max(253)
  .regex(
    /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/,
    'must be a lower-case RFC 1123 subdomain ([a-z0-9.-], at most 253)',
  );

/** Pod UIDs are UUIDs in Kubernetes; we accept any token that is safe in a path or a label. */
export const Uid = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[A-Za-z0-9][A-Za-z0-9_-]*$/, 'must be letters, digits, "-" or "_" (a Kubernetes UID)');

/**
 * Environment variable names a plugin receives: a C identifier, with "." and "-" allowed
 * after the first character (Kubernetes' classic rule minus a leading "-" or ".", which
 * `env(1)` and shells would read as an option or refuse).
 */
export const EnvVarName = z
  .string()
  .min(1)
  .max(1024)
  .regex(/^[A-Za-z_][A-Za-z0-9_.-]*$/, 'must start with a letter or "_" and hold only [A-Za-z0-9_.-]');

/** An `envFrom` prefix: empty, or the start of an environment variable name. */
export const EnvPrefix = z
  .string()
  .max(1024)
  .regex(/^([A-Za-z_][A-Za-z0-9_.-]*)?$/, 'must start with a letter or "_" and hold only [A-Za-z0-9_.-]');

/** A value a process can carry in its environment or argv: anything but NUL. */
export const ProcessString = z.string().refine((v) => !v.includes('\0'), 'must not contain a NUL byte');

/** ConfigMap and Secret data keys (Kubernetes: [-._a-zA-Z0-9]+, not "." or ".."). */
export const DataKey = z
  .string()
  .min(1)
  .max(253)
  .regex(/^[-._a-zA-Z0-9]+$/, 'must hold only [-._a-zA-Z0-9]')
  .refine((k) => k !== '.' && k !== '..', 'must not be "." or ".."');

/**
 * A file path inside a volume (`items[].path`, downward API and token paths, `subPath`):
 * relative, no "." or ".." component, no empty component, no control character
 * (Kubernetes' rule for item paths, which also refuses "..").
 */
export const RelativePath = z
  .string()
  .min(1)
  .max(4096)
  .refine((p) => isRelativePath(p), 'must be a relative path without "..", "." or control characters');

/** `subPath` may be empty (the whole volume); otherwise a RelativePath. */
export const SubPath = z
  .string()
  .max(4096)
  .refine(
    (p) => p === '' || isRelativePath(p),
    'must be a relative path without "..", "." or control characters',
  );

/** The predicate behind RelativePath, for code that checks a path it built itself. */
export function isRelativePath(p: string): boolean {
  if (p === '' || p.startsWith('/') || /\p{Cc}/u.test(p)) return false;
  return p.split('/').every((seg) => seg !== '' && seg !== '.' && seg !== '..');
}

/**
 * A container image reference. Never an option ("-..."), no whitespace or control
 * characters: the apiserver accepts far more, and every runtime CLI would read those.
 */
export const Image = z
  .string()
  .min(1)
  .max(4096)
  .refine(
    (v) => !v.startsWith('-') && !/[\s\p{Cc}]/u.test(v),
    'must not start with "-" nor contain whitespace or control characters',
  );

const StringMap = z.record(z.string(), z.string());
/** A metav1.Time as the apiserver writes it (RFC 3339), or null. */
const Time = z.string().nullish();
const DataMap = z.record(DataKey, z.string());

const OwnerReference = z.looseObject({
  apiVersion: z.string().optional(),
  kind: z.string(),
  name: z.string(),
  uid: z.string(),
  controller: z.boolean().nullish(),
  blockOwnerDeletion: z.boolean().nullish(),
});

export const ObjectMeta = z.looseObject({
  name: DnsSubdomain,
  namespace: DnsLabel.optional(),
  uid: Uid.optional(),
  labels: StringMap.optional(),
  annotations: StringMap.optional(),
  resourceVersion: z.string().optional(),
  generation: z.number().optional(),
  creationTimestamp: Time,
  deletionTimestamp: Time,
  deletionGracePeriodSeconds: z.number().nullish(),
  ownerReferences: z.array(OwnerReference).nullish(),
});

export const PodMeta = ObjectMeta.extend({ namespace: DnsLabel, uid: Uid });

/*
 * The rest of the spec the VK reads (it resolves these references before it sends the pod)
 * and the plugins run (src/core/pod/spec.ts views these shapes, adding only a container
 * runtime's own rules). Every added field is optional; inside one, only what the apiserver
 * itself requires (a reference's name and key, a fieldPath, an owner's kind/name/uid, a
 * hostPath's path) is required and numbers keep the apiserver's bounds (modes 0..0777, ids
 * from 0), so any pod the apiserver stored still passes. Referenced names are only lookup keys (into the
 * ConfigMaps and Secrets sent along, whose own names are checked), so they are plain strings.
 */
/** A resource quantity ("500m", "1Gi"); the apiserver writes strings, clients may send numbers. */
const Quantity = z.union([z.string(), z.number()]);
/** A file mode; the apiserver refuses any outside 0..0777. */
const Mode = z.number().int().min(0).max(0o777);
/** A user or group id; the apiserver refuses negative ones. */
const Id = z.number().int().min(0);
const FieldRef = z.looseObject({ fieldPath: z.string().min(1), apiVersion: z.string().optional() });
const ResourceFieldRef = z.looseObject({
  resource: z.string().min(1),
  containerName: z.string().optional(),
  divisor: Quantity.optional(),
});
const KeyRef = z.looseObject({ name: z.string(), key: z.string(), optional: z.boolean().nullish() });
const ObjectRef = z.looseObject({ name: z.string(), optional: z.boolean().nullish() });
const ResourceList = z.record(z.string(), Quantity);

/* The pod-derived names inside a spec that become env, argv or paths in a plugin. */
const EnvVar = z.looseObject({
  name: EnvVarName,
  value: ProcessString.nullish(),
  valueFrom: z
    .looseObject({
      fieldRef: FieldRef.nullish(),
      resourceFieldRef: ResourceFieldRef.nullish(),
      configMapKeyRef: KeyRef.nullish(),
      secretKeyRef: KeyRef.nullish(),
    })
    .nullish(),
});
const EnvFromSource = z.looseObject({
  prefix: EnvPrefix.nullish(),
  configMapRef: ObjectRef.nullish(),
  secretRef: ObjectRef.nullish(),
});
export const VolumeMount = z.looseObject({
  name: DnsLabel,
  mountPath: z.string().optional(),
  subPath: SubPath.nullish(),
  subPathExpr: z.string().nullish(),
  readOnly: z.boolean().nullish(),
});
const KeyToPath = z.looseObject({ key: DataKey, path: RelativePath, mode: Mode.nullish() });
const DownwardFile = z.looseObject({
  path: RelativePath,
  fieldRef: FieldRef.nullish(),
  resourceFieldRef: ResourceFieldRef.nullish(),
  mode: Mode.nullish(),
});
const Items = z.array(KeyToPath).nullish();

/** The identity fields a container's and a pod's security contexts share. */
const RunAs = { runAsUser: Id.nullish(), runAsGroup: Id.nullish(), runAsNonRoot: z.boolean().nullish() };

export const SecurityContext = z.looseObject({
  ...RunAs,
  privileged: z.boolean().nullish(),
  readOnlyRootFilesystem: z.boolean().nullish(),
  allowPrivilegeEscalation: z.boolean().nullish(),
  capabilities: z
    .looseObject({ add: z.array(z.string()).nullish(), drop: z.array(z.string()).nullish() })
    .nullish(),
});

export const PodSecurityContext = z.looseObject({
  ...RunAs,
  supplementalGroups: z.array(Id).nullish(),
  fsGroup: Id.nullish(),
});

export const Container = z.looseObject({
  name: DnsLabel,
  image: Image.optional(),
  imagePullPolicy: z.string().optional(),
  command: z.array(ProcessString).optional(),
  args: z.array(ProcessString).optional(),
  workingDir: z.string().nullish(),
  env: z.array(EnvVar).nullish(),
  envFrom: z.array(EnvFromSource).nullish(),
  volumeMounts: z.array(VolumeMount).nullish(),
  resources: z.looseObject({ limits: ResourceList.nullish(), requests: ResourceList.nullish() }).nullish(),
  securityContext: SecurityContext.nullish(),
  /** Only on init containers: `Always` makes it a sidecar. */
  restartPolicy: z.string().optional(),
  tty: z.boolean().nullish(),
  stdin: z.boolean().nullish(),
});
export type Container = z.infer<typeof Container>;
export type EnvVar = z.infer<typeof EnvVar>;
export type VolumeMount = z.infer<typeof VolumeMount>;
export type KeyToPath = z.infer<typeof KeyToPath>;
export type DownwardAPIFile = z.infer<typeof DownwardFile>;

/** A projected ConfigMap or Secret, and (with defaultMode) a configMap volume. */
const ObjectSource = z.looseObject({ name: z.string(), items: Items, optional: z.boolean().nullish() });
const DownwardAPISource = z.looseObject({ items: z.array(DownwardFile).nullish() });

export const VolumeProjection = z.looseObject({
  configMap: ObjectSource.nullish(),
  secret: ObjectSource.nullish(),
  downwardAPI: DownwardAPISource.nullish(),
  serviceAccountToken: z
    .looseObject({
      path: RelativePath,
      audience: z.string().nullish(),
      expirationSeconds: z.number().nullish(),
    })
    .nullish(),
});
export type VolumeProjection = z.infer<typeof VolumeProjection>;

export const Volume = z.looseObject({
  name: DnsLabel,
  configMap: ObjectSource.extend({ defaultMode: Mode.nullish() }).nullish(),
  secret: z
    .looseObject({
      secretName: z.string(),
      items: Items,
      optional: z.boolean().nullish(),
      defaultMode: Mode.nullish(),
    })
    .nullish(),
  downwardAPI: DownwardAPISource.extend({ defaultMode: Mode.nullish() }).nullish(),
  projected: z
    .looseObject({ sources: z.array(VolumeProjection).nullish(), defaultMode: Mode.nullish() })
    .nullish(),
  emptyDir: z.looseObject({ medium: z.string().nullish(), sizeLimit: Quantity.nullish() }).nullish(),
  hostPath: z.looseObject({ path: z.string().min(1), type: z.string().nullish() }).nullish(),
});
export type Volume = z.infer<typeof Volume>;

export const PodSpec = z.looseObject({
  containers: z.array(Container).min(1),
  initContainers: z.array(Container).nullish(),
  /** Debug containers (`kubectl debug`): the kubelet API knows their names; nothing runs them. */
  ephemeralContainers: z.array(z.looseObject({ name: z.string() })).nullish(),
  volumes: z.array(Volume).nullish(),
  nodeName: z.string().optional(),
  restartPolicy: z.string().optional(),
  securityContext: PodSecurityContext.nullish(),
  terminationGracePeriodSeconds: z.number().nullish(),
  hostNetwork: z.boolean().nullish(),
  hostname: z.string().nullish(),
  serviceAccountName: z.string().optional(),
  automountServiceAccountToken: z.boolean().nullish(),
  readinessGates: z.array(z.looseObject({ conditionType: z.string() })).nullish(),
  activeDeadlineSeconds: z.number().nullish(),
});
export type PodSpec = z.infer<typeof PodSpec>;

/** A v1.Pod. `spec` is optional because delete and status calls may carry only metadata. */
export const Pod = z.looseObject({
  apiVersion: z.string().optional(),
  kind: z.string().optional(),
  metadata: PodMeta,
  spec: PodSpec.optional(),
  status: KubePodStatus.optional(),
});
export type Pod = z.infer<typeof Pod>;

export const ConfigMap = z.looseObject({
  metadata: ObjectMeta,
  data: DataMap.nullish(),
  binaryData: DataMap.nullish(),
});
export type ConfigMap = z.infer<typeof ConfigMap>;

/**
 * The VK's resolved projected / downward API volume: a ConfigMap whose keys are the file
 * paths inside the volume ("a/b/token"), so RelativePath rather than DataKey.
 */
export const ProjectedVolumeMap = z.looseObject({
  metadata: ObjectMeta,
  data: z.record(RelativePath, z.string()).nullish(),
  binaryData: z.record(RelativePath, z.string()).nullish(),
});

export const Secret = z.looseObject({
  metadata: ObjectMeta,
  data: DataMap.nullish(),
  stringData: DataMap.nullish(),
  type: z.string().optional(),
});
export type Secret = z.infer<typeof Secret>;
