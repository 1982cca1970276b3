/**
 * Pod status from the backend's PodStatus: a pure function of (current pod, backend
 * answer, time), tested by tables. Follows the kubelet (pkg/kubelet/kubelet_pods.go
 * getPhase, status/generate.go) and the rules of DESIGN §3:
 *   - a terminal phase (Succeeded, Failed) is never left: the status is returned as is;
 *   - a container never goes from terminated back to running/waiting, except through a
 *     real restart (restartCount grew, restartPolicy is not Never);
 *   - restartCount never shrinks; a Running pod does not go back to Pending;
 *   - init containers show `Init:n/N` (waiting reason PodInitializing), app containers
 *     wait with PodInitializing until the init containers are done, then ContainerCreating;
 *   - conditions PodScheduled, PodReadyToStartContainers, Initialized, ContainersReady,
 *     Ready; a condition's lastTransitionTime only moves when its status changes.
 * Conditions owned by others (DisruptionTarget, readiness gates) are kept untouched.
 */
import type { PodStatus } from '../../wire/interlink.ts';
import type { Container, ContainerStatus, KubePodStatus, PodCondition } from '../../wire/k8s.ts';
import { isTerminalPhase, type KPod } from '../pods/kpod.ts';
import { initDone, mergeContainer, podPhase, waitingStatus } from './containers.ts';

export { initDone, mergeContainer, normalizeState, podPhase } from './containers.ts';
export { type StatusEvent, transitionEvents } from './events.ts';

export interface StatusContext {
  /** RFC 3339 time for new transitions. */
  now: string;
  /** The node's address: hostIP, and podIP (the backend runs pods behind the node's address). */
  hostIP?: string | undefined;
  podIP?: string | undefined;
}

const OWN_CONDITIONS = [
  'PodReadyToStartContainers',
  'Initialized',
  'Ready',
  'ContainersReady',
  'PodScheduled',
] as const;

function condition(type: string, ok: boolean, reason?: string, message?: string): PodCondition {
  return {
    type,
    status: ok ? 'True' : 'False',
    ...(ok || !reason ? {} : { reason }),
    ...(ok || !message ? {} : { message }),
  };
}

/** A pod that ran to its end: not ready for `reason` (PodFailed, PodCompleted), still scheduled. */
function endedConditions(reason: string): PodCondition[] {
  return [
    condition('Ready', false, reason, ''),
    condition('ContainersReady', false, reason, ''),
    condition('PodScheduled', true),
  ];
}

/**
 * Merge computed conditions into the existing list: foreign conditions stay, ours are
 * replaced; lastTransitionTime is kept when the status did not change.
 */
export function mergeConditions(
  existing: PodCondition[] | undefined,
  ours: PodCondition[],
  now: string,
): PodCondition[] {
  const byType = new Map(ours.map((c) => [c.type, c]));
  const out: PodCondition[] = [];
  const seen = new Set<string>();
  const stamp = (c: PodCondition, prev: PodCondition | undefined): PodCondition => {
    const lastTransitionTime = prev && prev.status === c.status ? (prev.lastTransitionTime ?? now) : now;
    return { ...c, lastProbeTime: null, lastTransitionTime };
  };
  for (const prev of existing ?? []) {
    const mine = byType.get(prev.type);
    seen.add(prev.type);
    if (!mine) {
      out.push(prev);
      continue;
    }
    // PodScheduled belongs to the scheduler once it wrote it.
    if (prev.type === 'PodScheduled') {
      out.push(prev);
      continue;
    }
    out.push(stamp(mine, prev));
  }
  for (const c of ours) if (!seen.has(c.type)) out.push(stamp(c, undefined));
  return out;
}

const names = (xs: ContainerStatus[]) => `[${xs.map((x) => x.name).join(' ')}]`;

/**
 * The pod's desired status given the backend's latest report (undefined: not reported
 * yet). Does not mutate its inputs.
 */
export function desiredStatus(pod: KPod, reported: PodStatus | undefined, ctx: StatusContext): KubePodStatus {
  const cur: KubePodStatus = pod.status ?? {};
  if (isTerminalPhase(cur.phase)) return cur;
  const spec = pod.spec;
  const restartPolicy = spec.restartPolicy ?? 'Always';
  const initSpecs = spec.initContainers ?? [];
  const byName = <T extends { name: string }>(xs: readonly T[] | null | undefined) =>
    new Map((xs ?? []).map((x) => [x.name, x]));
  const prevInit = byName(cur.initContainerStatuses);
  const prevApp = byName(cur.containerStatuses);
  const repInit = byName(reported?.initContainers);
  const repApp = byName(reported?.containers);
  // Some backends report init containers among the app containers: accept both.
  const initStatuses = initSpecs.map((c) =>
    mergeContainer(
      c,
      prevInit.get(c.name),
      repInit.get(c.name) ?? repApp.get(c.name),
      restartPolicy === 'Always' ? 'OnFailure' : restartPolicy,
      'PodInitializing',
      ctx.now,
    ),
  );
  const initialized = initDone(initSpecs, initStatuses);
  const appDefault = initialized ? 'ContainerCreating' : 'PodInitializing';
  const appStatuses = spec.containers.map((c) => {
    // Before the init containers are done, the backend's view of an app container is moot.
    const rep = initialized ? repApp.get(c.name) : undefined;
    return mergeContainer(c, prevApp.get(c.name), rep, restartPolicy, appDefault, ctx.now);
  });
  let phase = podPhase(
    restartPolicy,
    { specs: initSpecs, statuses: initStatuses },
    appStatuses,
    reported !== undefined,
  );
  // A backend hiccup (a container reported waiting again) must not flap a Running pod to Pending.
  if (phase === 'Pending' && cur.phase === 'Running') phase = 'Running';
  const terminal = isTerminalPhase(phase);
  const notReady = appStatuses.filter((s) => !s.ready);
  const incompleteInit = initSpecs.flatMap((c, i) =>
    initDone([c], [initStatuses[i]!]) ? [] : [initStatuses[i]!],
  );
  const containersReady = !terminal && notReady.length === 0;
  const unready = `containers with unready status: ${names(notReady)}`;
  const gates = (spec.readinessGates ?? []).map((g) => g.conditionType);
  const gatesOk = gates.every((t) => cur.conditions?.find((c) => c.type === t)?.status === 'True');
  const ours: PodCondition[] = [
    condition('PodReadyToStartContainers', reported !== undefined),
    condition(
      'Initialized',
      initialized,
      'ContainersNotInitialized',
      `containers with incomplete status: ${names(incompleteInit)}`,
    ),
    terminal
      ? condition('Ready', false, 'PodCompleted', '')
      : containersReady && !gatesOk
        ? condition(
            'Ready',
            false,
            'ReadinessGatesNotReady',
            `corresponding condition of pod readiness gate "${gates.join('", "')}" does not exist or is not True`,
          )
        : condition('Ready', containersReady, 'ContainersNotReady', unready),
    terminal
      ? condition('ContainersReady', false, 'PodCompleted', '')
      : condition('ContainersReady', containersReady, 'ContainersNotReady', unready),
    condition('PodScheduled', true),
  ];
  const next: KubePodStatus = {
    ...cur,
    phase,
    conditions: mergeConditions(cur.conditions, ours, ctx.now),
    startTime: cur.startTime || ctx.now,
    containerStatuses: appStatuses,
  };
  if (initSpecs.length > 0) next.initContainerStatuses = initStatuses;
  else delete next.initContainerStatuses;
  if (reported !== undefined && cur.reason === 'ProviderFailed') {
    // The backend took the pod after all: the earlier create error no longer applies.
    delete next.reason;
    delete next.message;
  }
  applyAddresses(next, ctx);
  return next;
}

function applyAddresses(s: KubePodStatus, ctx: StatusContext): void {
  if (ctx.hostIP) {
    s.hostIP = ctx.hostIP;
    s.hostIPs = [{ ip: ctx.hostIP }];
  }
  if (ctx.podIP) {
    s.podIP = ctx.podIP;
    s.podIPs = [{ ip: ctx.podIP }];
  }
}

/** The container terminated `now` with `exit` (started when it was running, else never). */
function endedNow(
  s: ContainerStatus,
  exit: { exitCode: number; reason: string; message: string },
  now: string,
): ContainerStatus {
  const startedAt = s.state?.running?.startedAt ?? null;
  return {
    ...s,
    ready: false,
    started: false,
    state: { terminated: { ...exit, startedAt, finishedAt: now } },
  };
}

/**
 * A status that ends the pod: phase Failed with `reason`/`message`. Containers not yet
 * terminated become terminated with `exit` when given (a pod whose job vanished), else
 * wait with the pod's reason (a pod that never started: `kubectl get` shows the reason).
 */
export function failedStatus(
  pod: KPod,
  reason: string,
  message: string,
  ctx: StatusContext,
  exit?: { exitCode: number; reason: string; message: string },
): KubePodStatus {
  const cur: KubePodStatus = pod.status ?? {};
  if (isTerminalPhase(cur.phase)) return cur;
  const finish = (xs: ContainerStatus[] | undefined, specs: Container[]) =>
    specs.map((spec) => {
      const s = xs?.find((x) => x.name === spec.name) ?? waitingStatus(spec, reason, undefined);
      if (s.state?.terminated) return { ...s, ready: false, started: false };
      // kubectl shows a waiting reason over the pod's: make it the pod's reason.
      if (!exit) return { ...s, ready: false, started: false, state: { waiting: { reason, message } } };
      return endedNow(s, exit, ctx.now);
    });
  const next: KubePodStatus = {
    ...cur,
    phase: 'Failed',
    reason,
    message,
    startTime: cur.startTime || ctx.now,
    containerStatuses: finish(cur.containerStatuses, pod.spec.containers),
  };
  if ((pod.spec.initContainers ?? []).length > 0)
    next.initContainerStatuses = finish(cur.initContainerStatuses, pod.spec.initContainers ?? []);
  next.conditions = mergeConditions(cur.conditions, endedConditions('PodFailed'), ctx.now);
  applyAddresses(next, ctx);
  return next;
}

/** Pending with the create error a user can act on, while the VK keeps retrying. */
export function providerFailedPending(pod: KPod, message: string, ctx: StatusContext): KubePodStatus {
  const cur: KubePodStatus = pod.status ?? {};
  if (isTerminalPhase(cur.phase)) return cur;
  const next: KubePodStatus = { ...cur, phase: 'Pending', reason: 'ProviderFailed', message };
  next.conditions = mergeConditions(cur.conditions, [condition('PodScheduled', true)], ctx.now);
  return next;
}

/**
 * The status reported once the backend confirmed the delete: every container
 * terminated (the backend's last word where we had one), phase Succeeded when all ended
 * with 0, else Failed. A terminal phase stays.
 */
export function deletedStatus(pod: KPod, ctx: StatusContext): KubePodStatus {
  const cur: KubePodStatus = pod.status ?? {};
  const stop = (s: ContainerStatus | undefined, spec: Container): ContainerStatus => {
    const base = s ?? waitingStatus(spec, 'ContainerCreating', undefined);
    if (base.state?.terminated) return { ...base, ready: false, started: false };
    const reason = base.state?.running?.startedAt ? 'Error' : 'ContainerStatusUnknown';
    return endedNow(
      base,
      { exitCode: 137, reason, message: 'stopped by interLink: the pod was deleted' },
      ctx.now,
    );
  };
  const app = pod.spec.containers.map((spec) =>
    stop(
      cur.containerStatuses?.find((x) => x.name === spec.name),
      spec,
    ),
  );
  const next: KubePodStatus = { ...cur, containerStatuses: app };
  if ((pod.spec.initContainers ?? []).length > 0) {
    next.initContainerStatuses = (pod.spec.initContainers ?? []).map((spec) => {
      const s = cur.initContainerStatuses?.find((x) => x.name === spec.name);
      // An init container that never ran stays waiting: it did not fail.
      return s?.state?.running ? stop(s, spec) : (s ?? waitingStatus(spec, 'PodInitializing', undefined));
    });
  }
  if (!isTerminalPhase(cur.phase)) {
    next.phase = app.every((s) => s.state?.terminated?.exitCode === 0) ? 'Succeeded' : 'Failed';
    next.conditions = mergeConditions(cur.conditions, endedConditions('PodCompleted'), ctx.now);
  }
  return next;
}

/** Deep equality on JSON values, ignoring key order and undefined members. */
export function sameJson(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (a === null || b === null || typeof a !== 'object' || typeof b !== 'object') {
    return false;
  }
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) {
    const bb = b as unknown[];
    return a.length === bb.length && a.every((x, i) => sameJson(x, bb[i]));
  }
  const ka = Object.keys(a).filter((k) => (a as Record<string, unknown>)[k] !== undefined);
  const kb = Object.keys(b).filter((k) => (b as Record<string, unknown>)[k] !== undefined);
  if (ka.length !== kb.length) return false;
  return ka.every((k) => sameJson((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}

export { OWN_CONDITIONS };

/**
 * Pending, containers waiting with `CreateContainerConfigError` and the message (what the
 * kubelet shows for a missing ConfigMap/Secret), while the VK waits for it to appear.
 */
export function configErrorPending(pod: KPod, message: string, ctx: StatusContext): KubePodStatus {
  const cur: KubePodStatus = pod.status ?? {};
  if (isTerminalPhase(cur.phase)) return cur;
  const wait = (specs: Container[]) =>
    specs.map((spec) => ({
      ...waitingStatus(spec, 'CreateContainerConfigError', undefined),
      state: { waiting: { reason: 'CreateContainerConfigError', message } },
    }));
  const next: KubePodStatus = { ...cur, phase: 'Pending', startTime: cur.startTime || ctx.now };
  delete next.reason;
  delete next.message;
  const init = pod.spec.initContainers ?? [];
  if (init.length > 0) {
    next.initContainerStatuses = wait(init);
    next.containerStatuses = pod.spec.containers.map((c) => waitingStatus(c, 'PodInitializing', undefined));
  } else next.containerStatuses = wait(pod.spec.containers);
  next.conditions = mergeConditions(
    cur.conditions,
    [
      condition(
        'Initialized',
        init.length === 0,
        'ContainersNotInitialized',
        `containers with incomplete status: [${init.map((c) => c.name).join(' ')}]`,
      ),
      condition(
        'Ready',
        false,
        'ContainersNotReady',
        `containers with unready status: [${pod.spec.containers.map((c) => c.name).join(' ')}]`,
      ),
      condition(
        'ContainersReady',
        false,
        'ContainersNotReady',
        `containers with unready status: [${pod.spec.containers.map((c) => c.name).join(' ')}]`,
      ),
      condition('PodScheduled', true),
    ],
    ctx.now,
  );
  applyAddresses(next, ctx);
  return next;
}
