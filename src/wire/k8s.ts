/**
 * Kubernetes objects as they cross our wires. Only the fields interlink reads are
 * checked; every object is a loose schema, so unknown fields pass through unmodified
 * (a newer apiserver's fields must reach the plugin untouched).
 */
import { z } from 'zod';

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
const DataMap = z.record(DataKey, z.string());

export const ObjectMeta = z.looseObject({
  name: DnsSubdomain,
  namespace: DnsLabel.optional(),
  uid: Uid.optional(),
  labels: StringMap.optional(),
  annotations: StringMap.optional(),
  resourceVersion: z.string().optional(),
  creationTimestamp: z.string().nullish(),
  deletionTimestamp: z.string().nullish(),
});

export const PodMeta = ObjectMeta.extend({ namespace: DnsLabel, uid: Uid });

/* The pod-derived names inside a spec that become env, argv or paths in a plugin. */
const EnvVar = z.looseObject({ name: EnvVarName, value: ProcessString.nullish() });
const EnvFromSource = z.looseObject({ prefix: EnvPrefix.nullish() });
const VolumeMount = z.looseObject({ name: DnsLabel, subPath: SubPath.nullish() });
const KeyToPath = z.looseObject({ key: DataKey, path: RelativePath });
const DownwardFile = z.looseObject({ path: RelativePath });
const Items = z.array(KeyToPath).nullish();

export const Container = z.looseObject({
  name: DnsLabel,
  image: Image.optional(),
  command: z.array(ProcessString).optional(),
  args: z.array(ProcessString).optional(),
  env: z.array(EnvVar).nullish(),
  envFrom: z.array(EnvFromSource).nullish(),
  volumeMounts: z.array(VolumeMount).nullish(),
});
export type Container = z.infer<typeof Container>;

export const Volume = z.looseObject({
  name: DnsLabel,
  configMap: z.looseObject({ items: Items }).nullish(),
  secret: z.looseObject({ items: Items }).nullish(),
  downwardAPI: z.looseObject({ items: z.array(DownwardFile).nullish() }).nullish(),
  projected: z
    .looseObject({
      sources: z
        .array(
          z.looseObject({
            configMap: z.looseObject({ items: Items }).nullish(),
            secret: z.looseObject({ items: Items }).nullish(),
            downwardAPI: z.looseObject({ items: z.array(DownwardFile).nullish() }).nullish(),
            serviceAccountToken: z.looseObject({ path: RelativePath }).nullish(),
          }),
        )
        .nullish(),
    })
    .nullish(),
});

export const PodSpec = z.looseObject({
  containers: z.array(Container).min(1),
  initContainers: z.array(Container).nullish(),
  volumes: z.array(Volume).nullish(),
});

/** A v1.Pod. `spec` is optional because delete and status calls may carry only metadata. */
export const Pod = z.looseObject({
  apiVersion: z.string().optional(),
  kind: z.string().optional(),
  metadata: PodMeta,
  spec: PodSpec.optional(),
  status: z.looseObject({}).optional(),
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

const Time = z.string();

/*
 * Container states and statuses come back from plugins, including interLink 0.6 Python
 * SDK plugins: their pydantic models send only `name` and `state`, and `null` for unset
 * states and fields. Accept that (nullish, optional) rather than reject the whole answer;
 * consumers treat a missing `ready` as false and a missing `restartCount` as 0.
 */
export const ContainerState = z.looseObject({
  waiting: z.looseObject({ reason: z.string().nullish(), message: z.string().nullish() }).nullish(),
  running: z.looseObject({ startedAt: Time.nullish() }).nullish(),
  terminated: z
    .looseObject({
      exitCode: z.number().int(),
      signal: z.number().int().nullish(),
      reason: z.string().nullish(),
      message: z.string().nullish(),
      startedAt: Time.nullish(),
      finishedAt: Time.nullish(),
      containerID: z.string().nullish(),
    })
    .nullish(),
});
export type ContainerState = z.infer<typeof ContainerState>;

/**
 * Our additive extension of the container status (old peers ignore it): the probe and
 * lifecycle-hook Events a plugin saw for this container (reason `Unhealthy`,
 * `FailedPostStartHook`, `FailedPreStopHook`, `Killing`), each with a count that only grows
 * while the plugin runs. The VK writes them as Events, aggregating repeats.
 */
export const ProbeEvent = z.looseObject({
  reason: z.string().min(1).max(64),
  message: z.string().max(1024),
  type: z.enum(['Normal', 'Warning']).optional(),
  count: z.number().int().min(1),
});
export type ProbeEvent = z.infer<typeof ProbeEvent>;

export const ContainerStatus = z.looseObject({
  name: z.string(),
  probeEvents: z.array(ProbeEvent).max(32).optional(),
  state: ContainerState.nullish(),
  lastState: ContainerState.nullish(),
  ready: z.boolean().optional(),
  restartCount: z.number().int().min(0).optional(),
  image: z.string().optional(),
  imageID: z.string().optional(),
  containerID: z.string().optional(),
  started: z.boolean().optional(),
});
export type ContainerStatus = z.infer<typeof ContainerStatus>;
