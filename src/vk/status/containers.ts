/**
 * Container statuses and the pod phase (status/map.ts uses them): the backend's container
 * state merged into the current one under the rules of DESIGN §3, init progress, and the
 * kubelet's getPhase. Pure.
 */
import type { Container, ContainerState, ContainerStatus } from '../../wire/k8s.ts';

function cloneState(s: ContainerState | undefined): ContainerState | undefined {
  return s === undefined ? undefined : (JSON.parse(JSON.stringify(s)) as ContainerState);
}

/** The backend's state, with the reasons kubectl shows filled in (Completed / Error). */
export function normalizeState(s: ContainerState | undefined, now: string): ContainerState | undefined {
  if (!s) return undefined;
  if (s.terminated) {
    const t = { ...s.terminated };
    if (typeof t.exitCode !== 'number') t.exitCode = 0;
    if (!t.reason) t.reason = t.exitCode === 0 ? 'Completed' : 'Error';
    if (!t.finishedAt) t.finishedAt = now;
    return { terminated: t };
  }
  if (s.running) return { running: { startedAt: s.running.startedAt || now } };
  if (s.waiting) return { waiting: { ...s.waiting } };
  return undefined;
}

export function waitingStatus(
  spec: Container,
  reason: string,
  prev: ContainerStatus | undefined,
): ContainerStatus {
  return {
    name: spec.name,
    state: { waiting: { reason } },
    ...(prev?.lastState ? { lastState: prev.lastState } : {}),
    ready: false,
    restartCount: prev?.restartCount ?? 0,
    image: spec.image ?? '',
    imageID: prev?.imageID ?? '',
    ...(prev?.containerID ? { containerID: prev.containerID } : {}),
    started: false,
  };
}

const isDefaultWaiting = (s: ContainerStatus) =>
  !!s.state?.waiting &&
  !s.lastState?.terminated &&
  (s.state.waiting.reason === 'PodInitializing' || s.state.waiting.reason === 'ContainerCreating');

/**
 * One container: previous status (ours, on the Pod) merged with the backend's report.
 * `defaultReason` is the waiting reason while the backend says nothing about it.
 */
export function mergeContainer(
  spec: Container,
  prev: ContainerStatus | undefined,
  reported: ContainerStatus | undefined,
  restartPolicy: string,
  defaultReason: string,
  now: string,
): ContainerStatus {
  if (!reported) {
    if (!prev || isDefaultWaiting(prev)) return waitingStatus(spec, defaultReason, prev);
    return prev;
  }
  const state = normalizeState(reported.state ?? undefined, now) ?? {
    waiting: { reason: defaultReason },
  };
  // A time we filled in must not move on the next poll (that would rewrite the status every time).
  if (state.running && !reported.state?.running?.startedAt && prev?.state?.running?.startedAt) {
    state.running.startedAt = prev.state.running.startedAt;
  }
  const prevCount = prev?.restartCount ?? 0;
  const restartCount = Math.max(prevCount, reported.restartCount ?? 0);
  const restarted = restartCount > prevCount && restartPolicy !== 'Never';
  if (prev?.state?.terminated && !restarted) {
    // Terminated is final unless the container really restarted.
    return { ...prev, ready: false, started: false };
  }
  let lastState = cloneState(reported.lastState ?? undefined);
  if (!lastState?.terminated && restarted && prev?.state?.terminated)
    lastState = { terminated: { ...prev.state.terminated } };
  if (!lastState?.terminated && prev?.lastState?.terminated) lastState = cloneState(prev.lastState);
  const running = !!state.running;
  const containerID = reported.containerID || state.terminated?.containerID || prev?.containerID;
  return {
    name: spec.name,
    state,
    ...(lastState && Object.keys(lastState).length > 0 ? { lastState } : {}),
    // Plugins built on the Python SDK omit `ready`: running then means ready (no probes remotely).
    ready: running && reported.ready !== false,
    restartCount,
    image: spec.image ?? reported.image ?? '',
    imageID: reported.imageID || prev?.imageID || '',
    ...(containerID ? { containerID } : {}),
    // A plugin running startup probes says when the container counts as started.
    started: running && reported.started !== false,
  };
}

/** Init containers done: each terminated with 0 (or, for sidecars, started). */
export function initDone(specs: Container[], statuses: ContainerStatus[]): boolean {
  return specs.every((spec, i) => {
    const s = statuses[i];
    if (spec.restartPolicy === 'Always') return !!s?.state?.running;
    return s?.state?.terminated?.exitCode === 0;
  });
}

/** The kubelet's getPhase, on our container statuses. */
export function podPhase(
  restartPolicy: string,
  init: { specs: Container[]; statuses: ContainerStatus[] },
  app: ContainerStatus[],
  backendKnown: boolean,
): string {
  if (!backendKnown) return 'Pending';
  let pendingInit = 0;
  let failedInit = 0;
  init.specs.forEach((spec, i) => {
    const s = init.statuses[i];
    const st = s?.state;
    if (spec.restartPolicy === 'Always') {
      if (!st?.running) pendingInit++;
      return;
    }
    if (st?.running) pendingInit++;
    else if (st?.terminated) {
      if (st.terminated.exitCode !== 0) failedInit++;
    } else if (st?.waiting && s?.lastState?.terminated) {
      if (s.lastState.terminated.exitCode !== 0) failedInit++;
    } else pendingInit++;
  });
  if (failedInit > 0 && restartPolicy === 'Never') return 'Failed';
  if (pendingInit > 0 || failedInit > 0) return 'Pending';
  let running = 0;
  let waiting = 0;
  let stopped = 0;
  let succeeded = 0;
  for (const s of app) {
    const st = s.state;
    if (st?.running) running++;
    else if (st?.terminated) {
      stopped++;
      if (st.terminated.exitCode === 0) succeeded++;
    } else if (st?.waiting) {
      if (s.lastState?.terminated) stopped++;
      else waiting++;
    } else waiting++;
  }
  if (waiting > 0) return 'Pending';
  if (running > 0) return 'Running';
  if (stopped > 0) {
    if (restartPolicy === 'Always') return 'Running';
    if (stopped === succeeded) return 'Succeeded';
    if (restartPolicy === 'Never') return 'Failed';
    return 'Running';
  }
  return 'Pending';
}
