/**
 * The parts of a v1.Pod a container backend reads, as a typed view shared by every plugin: the
 * wire's PodSpec (src/wire/k8s.ts, which declares every shape once) with the few rules a
 * container runtime adds (an image is required, pull and restart policies are the ones it
 * knows, a mount has a path), so that a malformed field fails the create with INVALID_INPUT
 * naming it instead of surfacing as a docker error. Loose objects: unknown fields are ignored,
 * never rejected. The view reads a `null` field as absent, as the plugins expect.
 */
import { z } from 'zod';
import { invalidInput } from '../../errors/index.ts';
import {
  Image,
  type Pod,
  PodSpec,
  Container as WireContainer,
  type DownwardAPIFile as WireDownwardAPIFile,
  type KeyToPath as WireKeyToPath,
  type Volume as WireVolume,
  VolumeMount as WireVolumeMount,
} from '../../wire/k8s.ts';

/** `T` with every `null` read as absent (`undefined`), as `withoutNulls` returns it. */
export type Absent<T> = T extends null
  ? undefined
  : T extends readonly (infer E)[]
    ? Absent<E>[]
    : T extends object
      ? { [K in keyof T]: Absent<T[K]> }
      : T;

/** A copy of a parsed JSON value with every `null` read as absent: object fields dropped. Pure. */
export function withoutNulls<T>(v: T): Absent<T> {
  if (v === null) return undefined as Absent<T>;
  if (Array.isArray(v)) return v.map(withoutNulls) as Absent<T>;
  if (typeof v !== 'object') return v as Absent<T>;
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) if (x !== null) out[k] = withoutNulls(x);
  return out as Absent<T>;
}

export const VolumeMount = WireVolumeMount.extend({ mountPath: z.string().min(1) });

export const ContainerSpec = WireContainer.extend({
  image: Image,
  imagePullPolicy: z.enum(['Always', 'IfNotPresent', 'Never']).nullish(),
  volumeMounts: z.array(VolumeMount).nullish(),
  /** Only on init containers: `Always` makes it a sidecar (KEP-753). */
  restartPolicy: z.enum(['Always']).nullish(),
});

export const PodSpecView = PodSpec.extend({
  containers: z.array(ContainerSpec).min(1),
  initContainers: z.array(ContainerSpec).nullish(),
  restartPolicy: z.enum(['Always', 'OnFailure', 'Never']).nullish(),
  terminationGracePeriodSeconds: z.number().int().min(0).nullish(),
});

/** Who a pod is, in every name and label a backend gives it. */
export interface PodRef {
  uid: string;
  namespace: string;
  name: string;
}

export type ContainerSpec = Absent<z.output<typeof ContainerSpec>>;
export type VolumeMount = Absent<z.output<typeof VolumeMount>>;
export type Volume = Absent<z.output<typeof WireVolume>>;
export type KeyToPath = Absent<WireKeyToPath>;
export type DownwardAPIFile = Absent<WireDownwardAPIFile>;
export type PodSpecView = Absent<z.output<typeof PodSpecView>>;
export type RestartPolicy = NonNullable<PodSpecView['restartPolicy']>;

/** The typed spec of a pod, or INVALID_INPUT naming the first bad field (`pod.spec.containers.0.image`). */
export function podSpecOf(pod: Pod): PodSpecView {
  const parsed = PodSpecView.safeParse(pod.spec);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const field = ['pod', 'spec', ...issue.path.map(String)].join('.');
    throw invalidInput(`${field}: ${issue.message}`, field);
  }
  return withoutNulls(parsed.data);
}
