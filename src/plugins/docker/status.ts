/**
 * `docker inspect` JSON → Kubernetes container statuses, and the init-container sequencing
 * decision, both pure functions of what Docker reports. Because the decision is recomputed
 * from Docker's state every time (level-triggered), a restarted plugin resumes a pod's
 * sequencing where it stood with nothing persisted but the containers' labels.
 */
import { z } from 'zod';
import type { PodRef, RestartPolicy } from '../../core/pod/spec.ts';
import type { PodStatus } from '../../wire/interlink.ts';
import type { ContainerState, ContainerStatus } from '../../wire/k8s.ts';
import { infraName, LABEL, type Role } from './names.ts';

const Str = z
  .string()
  .nullish()
  .transform((v) => v ?? '');
const Bool = z
  .boolean()
  .nullish()
  .transform((v) => v === true);

/** The fields of one `docker inspect` entry the plugin reads (the engine's JSON, whatever the client). */
export const Inspected = z.looseObject({
  Id: z.string(),
  Name: Str,
  Image: Str,
  RestartCount: z
    .number()
    .int()
    .nullish()
    .transform((v) => v ?? 0),
  State: z.looseObject({
    Status: Str,
    Running: Bool,
    Paused: Bool,
    Restarting: Bool,
    OOMKilled: Bool,
    Dead: Bool,
    ExitCode: z
      .number()
      .int()
      .nullish()
      .transform((v) => v ?? 0),
    Error: Str,
    StartedAt: Str,
    FinishedAt: Str,
  }),
  HostConfig: z
    .looseObject({
      Mounts: z
        .array(z.looseObject({ Type: Str, Source: Str }))
        .nullish()
        .transform((v) => v ?? []),
    })
    .nullish()
    .transform((v) => v ?? { Mounts: [] }),
  Config: z.looseObject({
    Image: Str,
    Labels: z
      .record(z.string(), z.string())
      .nullish()
      .transform((v) => v ?? {}),
  }),
});
export type Inspected = z.output<typeof Inspected>;

/** Parse `docker inspect` output; entries that do not look like containers are dropped. */
export function parseInspect(stdout: string): Inspected[] {
  const text = stdout.trim();
  if (text === '') return [];
  const raw = JSON.parse(text) as unknown;
  if (!Array.isArray(raw)) return [];
  const out: Inspected[] = [];
  for (const r of raw) {
    const p = Inspected.safeParse(r);
    if (p.success) out.push(p.data);
  }
  return out;
}

export interface Observed {
  id: string;
  role: Role;
  /** Kubernetes container name (`POD` for the infra container). */
  name: string;
  index: number;
  sidecar: boolean;
  restartPolicy: RestartPolicy;
  ins: Inspected;
}

export interface ObservedPod {
  ref: PodRef;
  infra?: Observed;
  /** Sorted by index. */
  inits: Observed[];
  apps: Observed[];
}

const POLICIES = new Set(['Always', 'OnFailure', 'Never']);

export function observe(ins: Inspected): Observed | undefined {
  const l = ins.Config.Labels;
  const role = l[LABEL.role];
  if (role !== 'infra' && role !== 'init' && role !== 'app') return undefined;
  if (!l[LABEL.podUid] || !l[LABEL.podNamespace] || !l[LABEL.podName]) return undefined;
  const policy = l[LABEL.restartPolicy] ?? 'Always';
  return {
    id: ins.Id,
    role,
    name: role === 'infra' ? 'POD' : (l[LABEL.containerName] ?? ''),
    index: Number(l[LABEL.index] ?? 0) || 0,
    sidecar: l[LABEL.sidecar] === 'true',
    restartPolicy: (POLICIES.has(policy) ? policy : 'Always') as RestartPolicy,
    ins,
  };
}

export function refOf(ins: Inspected): PodRef {
  const l = ins.Config.Labels;
  return { uid: l[LABEL.podUid]!, namespace: l[LABEL.podNamespace]!, name: l[LABEL.podName]! };
}

/** Group inspected containers by pod UID. */
export function groupByPod(list: Inspected[]): Map<string, ObservedPod> {
  const pods = new Map<string, ObservedPod>();
  for (const ins of list) {
    const o = observe(ins);
    if (!o) continue;
    const ref = refOf(ins);
    let p = pods.get(ref.uid);
    if (!p) {
      p = { ref, inits: [], apps: [] };
      pods.set(ref.uid, p);
    }
    if (o.role === 'infra') p.infra = o;
    else if (o.role === 'init') p.inits.push(o);
    else p.apps.push(o);
  }
  for (const p of pods.values()) {
    p.inits.sort((a, b) => a.index - b.index);
    p.apps.sort((a, b) => a.index - b.index);
  }
  return pods;
}

/** Docker's zero time means "never"; Kubernetes times have whole seconds. */
export function k8sTime(t: string): string | undefined {
  if (!t || t.startsWith('0001-01-01')) return undefined;
  const d = new Date(t);
  if (Number.isNaN(d.getTime())) return undefined;
  return `${d.toISOString().slice(0, 19)}Z`;
}

const startFailed = (o: Observed) => !o.ins.State.Running && o.ins.State.Error !== '';
/**
 * Created and never started: Docker says `created` and has no start time. A container that
 * has run once is never "due" again, whatever its status says (starting it twice would run
 * its command twice).
 */
const neverStarted = (o: Observed) =>
  o.ins.State.Status === 'created' && k8sTime(o.ins.State.StartedAt) === undefined && !startFailed(o);
const isRunning = (o: Observed) => o.ins.State.Running || o.ins.State.Restarting || o.ins.State.Paused;
const exitedOk = (o: Observed) =>
  !isRunning(o) &&
  !neverStarted(o) &&
  !startFailed(o) &&
  o.ins.State.ExitCode === 0 &&
  !o.ins.State.OOMKilled;

function terminatedOf(o: Observed): NonNullable<ContainerState['terminated']> {
  const s = o.ins.State;
  const t: NonNullable<ContainerState['terminated']> = {
    exitCode: s.ExitCode,
    reason: startFailed(o)
      ? 'StartError'
      : s.OOMKilled
        ? 'OOMKilled'
        : s.ExitCode === 0
          ? 'Completed'
          : 'Error',
    containerID: `docker://${o.id}`,
  };
  if (startFailed(o)) {
    t.exitCode = s.ExitCode || 128;
    t.message = s.Error;
  }
  const started = k8sTime(s.StartedAt);
  const finished = k8sTime(s.FinishedAt);
  if (started) t.startedAt = started;
  if (finished) t.finishedAt = finished;
  return t;
}

/**
 * One container's status. `waitingReason` is what a never-started container waits for:
 * `PodInitializing` while init containers run, `ContainerCreating` otherwise.
 */
export function containerStatus(o: Observed, waitingReason: string): ContainerStatus {
  const s = o.ins.State;
  const base = {
    name: o.name,
    restartCount: o.ins.RestartCount,
    image: o.ins.Config.Image,
    imageID: o.ins.Image,
    containerID: `docker://${o.id}`,
  };
  if (s.Restarting) {
    return {
      ...base,
      ready: false,
      started: false,
      state: {
        waiting: { reason: 'CrashLoopBackOff', message: `back-off restarting failed container ${o.name}` },
      },
      lastState: { terminated: terminatedOf(o) },
    };
  }
  if (s.Running) {
    const startedAt = k8sTime(s.StartedAt);
    return { ...base, ready: true, started: true, state: { running: startedAt ? { startedAt } : {} } };
  }
  if (neverStarted(o))
    return { ...base, ready: false, started: false, state: { waiting: { reason: waitingReason } } };
  return { ...base, ready: false, started: false, state: { terminated: terminatedOf(o) } };
}

/** A container Kubernetes expects but Docker no longer has (removed behind our back). */
export function unknownStatus(name: string): ContainerStatus {
  return {
    name,
    ready: false,
    restartCount: 0,
    state: {
      terminated: {
        exitCode: 137,
        reason: 'ContainerStatusUnknown',
        message: 'The container could not be located when the pod was last checked',
      },
    },
  };
}

export interface Sequencing {
  /** Start the infra container first (it was created but never started). */
  startInfra: boolean;
  /** Containers to start now (after the infra container). */
  start: string[];
  /** More to do later: the plugin keeps polling this pod. */
  pending: boolean;
  /** An init container failed under restartPolicy Never: the pod has failed. */
  failed: boolean;
  /** Every init container is done. */
  initialized: boolean;
}

/**
 * What to start next. Init containers run one at a time, in order, each to a zero exit
 * (a sidecar init container, restartPolicy Always, only has to have started); then all
 * app containers start together. A failing init container is retried by Docker's own
 * restart policy (on-failure) unless the pod's restartPolicy is Never, which fails the pod.
 */
export function sequencing(p: ObservedPod): Sequencing {
  const out: Sequencing = { startInfra: false, start: [], pending: false, failed: false, initialized: false };
  if (p.infra && neverStarted(p.infra)) out.startInfra = true;
  for (const init of p.inits) {
    if (init.sidecar ? !neverStarted(init) && !startFailed(init) : exitedOk(init)) continue;
    if (neverStarted(init)) {
      out.start.push(init.id);
      out.pending = true;
      return out;
    }
    if (isRunning(init)) {
      out.pending = true;
      return out;
    }
    if (startFailed(init) || init.restartPolicy === 'Never') {
      out.failed = true;
      return out;
    }
    // Exited non-zero with a restart policy: Docker restarts it; wait.
    out.pending = true;
    return out;
  }
  out.initialized = true;
  out.start = p.apps.filter(neverStarted).map((a) => a.id);
  out.pending = out.start.length > 0 || out.startInfra;
  return out;
}

/**
 * The PodStatus of an observed pod. `expected` (from the pod spec the caller sent, when it
 * sent one) adds an `unknown` status for containers Docker no longer has.
 */
export function podStatus(p: ObservedPod, expected?: { inits: string[]; apps: string[] }): PodStatus {
  const seq = sequencing(p);
  const appWait = seq.initialized ? 'ContainerCreating' : 'PodInitializing';
  const list = (observed: Observed[], names: string[] | undefined, wait: string) => {
    const out = observed.map((o) => containerStatus(o, wait));
    for (const n of names ?? []) if (!observed.some((o) => o.name === n)) out.push(unknownStatus(n));
    return out;
  };
  return {
    name: p.ref.name,
    UID: p.ref.uid,
    namespace: p.ref.namespace,
    JID: p.infra ? infraName(p.ref) : '',
    initContainers: list(p.inits, expected?.inits, 'PodInitializing'),
    containers: list(p.apps, expected?.apps, appWait),
  };
}

/**
 * The status a deleted pod keeps reporting: every container terminated. A container that
 * never ran gets exit code 137 and reason ContainerStatusUnknown, as the kubelet reports.
 */
export function finalStatus(p: ObservedPod): PodStatus {
  const term = (o: Observed): ContainerStatus => {
    if (neverStarted(o) || isRunning(o)) {
      return {
        ...unknownStatus(o.name),
        restartCount: o.ins.RestartCount,
        containerID: `docker://${o.id}`,
        image: o.ins.Config.Image,
      };
    }
    return containerStatus(o, 'ContainerCreating');
  };
  return {
    name: p.ref.name,
    UID: p.ref.uid,
    namespace: p.ref.namespace,
    JID: p.infra ? infraName(p.ref) : '',
    initContainers: p.inits.map(term),
    containers: p.apps.map(term),
  };
}

/**
 * The pod as observed, with containers the plugin refused to start (see
 * volumes-io.ts mountRefusal) shown as a failed start with that reason: the status
 * reports StartError and sequencing treats them as failed, as for a start Docker refused.
 */
export function withRefusals(p: ObservedPod, refused: ReadonlyMap<string, string>): ObservedPod {
  if (refused.size === 0) return p;
  const mark = (o: Observed): Observed => {
    const why = refused.get(o.id);
    if (why === undefined || !neverStarted(o)) return o;
    return { ...o, ins: { ...o.ins, State: { ...o.ins.State, Error: why, ExitCode: 128 } } };
  };
  return {
    ...p,
    ...(p.infra ? { infra: mark(p.infra) } : {}),
    inits: p.inits.map(mark),
    apps: p.apps.map(mark),
  };
}
