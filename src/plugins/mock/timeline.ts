/**
 * A mock pod's life as a pure function of time (table-tested). Create computes a plan
 * once — when each container starts and ends — and every status or log call compares the
 * current time against it: no per-pod timers, so 10,000 pods cost only their plans.
 *
 * Order: after `start-delay`, init containers run one after the other; once all have
 * exited 0, the app containers start together. An init container that exits non-zero or
 * never ends blocks the rest, which stay waiting (PodInitializing).
 * Restarts are not modelled: a container that ended stays terminated whatever the pod's
 * restartPolicy, and restartCount is always 0 (the VK then sees the final state as-is).
 */
import type { ContainerState, ContainerStatus } from '../../wire/k8s.ts';
import type { ContainerBehaviour, PodBehaviour } from './behaviour.ts';

export interface ContainerPlan extends ContainerBehaviour {
  /** When it starts; undefined = never (an earlier init container failed or never ends). */
  startAt: number | undefined;
  /** When it ends; undefined = never (runs until the pod is deleted, or never starts). */
  finishAt: number | undefined;
}

export function planPod(b: PodBehaviour, createdAt: number): ContainerPlan[] {
  let t: number | undefined = createdAt + b.startDelayMs;
  const plans: ContainerPlan[] = [];
  for (const c of b.containers.filter((x) => x.init)) {
    const startAt: number | undefined = t;
    const finishAt: number | undefined =
      startAt === undefined || c.runTimeMs === undefined ? undefined : startAt + c.runTimeMs;
    plans.push({ ...c, startAt, finishAt });
    t = finishAt !== undefined && c.exitCode === 0 ? finishAt : undefined;
  }
  for (const c of b.containers.filter((x) => !x.init)) {
    const finishAt = t === undefined || c.runTimeMs === undefined ? undefined : t + c.runTimeMs;
    plans.push({ ...c, startAt: t, finishAt });
  }
  return plans;
}

/** metav1.Time: RFC 3339 with whole seconds, as the apiserver stores it. */
export function k8sTime(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}

export type Stage = 'waiting' | 'running' | 'terminated';

export function stageOf(c: ContainerPlan, now: number): Stage {
  if (c.startAt === undefined || now < c.startAt) return 'waiting';
  if (c.finishAt === undefined || now < c.finishAt) return 'running';
  return 'terminated';
}

export function containerState(c: ContainerPlan, now: number, podHasInit: boolean): ContainerState {
  switch (stageOf(c, now)) {
    case 'waiting':
      // As the kubelet does: every not-yet-started container of a pod with init
      // containers waits with PodInitializing, otherwise with ContainerCreating.
      return { waiting: { reason: podHasInit ? 'PodInitializing' : 'ContainerCreating' } };
    case 'running':
      return { running: { startedAt: k8sTime(c.startAt!) } };
    case 'terminated':
      return {
        terminated: {
          exitCode: c.exitCode,
          reason: c.exitCode === 0 ? 'Completed' : 'Error',
          startedAt: k8sTime(c.startAt!),
          finishedAt: k8sTime(c.finishAt!),
        },
      };
  }
}

export function containerStatus(
  c: ContainerPlan,
  now: number,
  podHasInit: boolean,
  jid: string,
): ContainerStatus {
  const state = containerState(c, now, podHasInit);
  const started = state.running !== undefined || state.terminated !== undefined;
  // An init container is ready once it completed successfully; an app container while it runs.
  const ready = c.init ? state.terminated?.exitCode === 0 : state.running !== undefined;
  return {
    name: c.name,
    state,
    lastState: {},
    ready,
    restartCount: 0,
    image: c.image,
    imageID: c.image === '' ? '' : `mock://${c.image}`,
    ...(started ? { containerID: `mock://${jid}/${c.name}` } : {}),
    started: state.running !== undefined,
  };
}

export type Phase = 'Pending' | 'Running' | 'Succeeded' | 'Failed';

/** The pod phase the statuses imply (for the admin view; the VK derives its own). */
export function podPhase(plans: ContainerPlan[], now: number): Phase {
  const init = plans.filter((c) => c.init);
  const app = plans.filter((c) => !c.init);
  const ended = (c: ContainerPlan) => stageOf(c, now) === 'terminated';
  if (init.some((c) => ended(c) && c.exitCode !== 0)) return 'Failed';
  if (app.length > 0 && app.every(ended)) return app.some((c) => c.exitCode !== 0) ? 'Failed' : 'Succeeded';
  if (app.some((c) => stageOf(c, now) !== 'waiting')) return 'Running';
  return 'Pending';
}
