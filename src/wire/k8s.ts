/**
 * Kubernetes objects as they cross our wires. Only the fields interlink reads are
 * checked; every object is a loose schema, so unknown fields pass through unmodified
 * (a newer apiserver's fields must reach the plugin untouched).
 */
import { z } from 'zod';

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

const StringMap = z.record(z.string(), z.string());

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

export const Container = z.looseObject({
  name: DnsLabel,
  image: z.string().optional(),
  command: z.array(z.string()).optional(),
  args: z.array(z.string()).optional(),
});

export const PodSpec = z.looseObject({
  containers: z.array(Container).min(1),
  initContainers: z.array(Container).nullish(),
});

/** A v1.Pod. `spec` is optional because delete and status calls may carry only metadata. */
export const Pod = z.looseObject({
  apiVersion: z.string().optional(),
  kind: z.string().optional(),
  metadata: PodMeta,
  spec: PodSpec.optional(),
  status: z.looseObject({}).optional(),
});

export const ConfigMap = z.looseObject({
  metadata: ObjectMeta,
  data: StringMap.nullish(),
  binaryData: StringMap.nullish(),
});

export const Secret = z.looseObject({
  metadata: ObjectMeta,
  data: StringMap.nullish(),
  stringData: StringMap.nullish(),
  type: z.string().optional(),
});

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

export const ContainerStatus = z.looseObject({
  name: z.string(),
  state: ContainerState.nullish(),
  lastState: ContainerState.nullish(),
  ready: z.boolean().optional(),
  restartCount: z.number().int().min(0).optional(),
  image: z.string().optional(),
  imageID: z.string().optional(),
  containerID: z.string().optional(),
  started: z.boolean().optional(),
});

export type Pod = z.infer<typeof Pod>;
export type ConfigMap = z.infer<typeof ConfigMap>;
export type Secret = z.infer<typeof Secret>;
export type Container = z.infer<typeof Container>;
export type ContainerState = z.infer<typeof ContainerState>;
export type ContainerStatus = z.infer<typeof ContainerStatus>;
