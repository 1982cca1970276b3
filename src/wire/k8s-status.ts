/**
 * The status half of a v1.Pod as it crosses our wires: container states and statuses (also
 * what plugins answer in interLink's PodStatus) and the pod status the VK reads from and
 * writes to the apiserver. Loose objects: unknown fields pass through unmodified.
 */
import { z } from 'zod';

/** RFC 3339, as the apiserver writes `metav1.Time`. */
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

/** A pod condition (PodScheduled, Initialized, ContainersReady, Ready, readiness gates). */
export const PodCondition = z.looseObject({
  type: z.string(),
  status: z.string(),
  reason: z.string().optional(),
  message: z.string().optional(),
  lastTransitionTime: Time.nullish(),
  lastProbeTime: Time.nullish(),
});
export type PodCondition = z.infer<typeof PodCondition>;

const PodIP = z.looseObject({ ip: z.string() });

/**
 * A v1.PodStatus (named apart from interLink's PodStatus, the plugin's answer). Every field
 * optional: a pod not yet seen by a kubelet has none, and the create and delete requests
 * carry whatever status the apiserver held.
 */
export const KubePodStatus = z.looseObject({
  phase: z.string().optional(),
  conditions: z.array(PodCondition).optional(),
  message: z.string().optional(),
  reason: z.string().optional(),
  hostIP: z.string().optional(),
  hostIPs: z.array(PodIP).optional(),
  podIP: z.string().optional(),
  podIPs: z.array(PodIP).optional(),
  startTime: Time.nullish(),
  containerStatuses: z.array(ContainerStatus).optional(),
  initContainerStatuses: z.array(ContainerStatus).optional(),
  qosClass: z.string().optional(),
});
export type KubePodStatus = z.infer<typeof KubePodStatus>;
