/**
 * The mock plugin: an in-memory backend whose pods progress by time (see behaviour.ts for
 * the annotations, timeline.ts for the life of a pod, logs.ts for the log). For demos,
 * for testing the layers above, and for benchmarks.
 *
 * State is one small record per pod holding its plan (when each container starts and
 * ends); status and logs are computed from the injected clock at call time, so the plugin
 * holds 10,000 pods with no timer at all. The only timers are one per log follower.
 *
 * A test/admin API (admin.ts, mounted through the SDK's `routes` capability) counts calls
 * per pod UID and injects backend failures.
 */
import { Readable } from 'node:stream';
import { type Clock, systemClock, type Timer } from '../../core/clock.ts';
import { backendError, notFound } from '../../errors/index.ts';
import type {
  BackendPod,
  CreateStruct,
  LogStruct,
  PingResponse,
  PodStatus,
  RetrievedPodData,
} from '../../wire/interlink.ts';
import type { Pod } from '../../wire/k8s.ts';
import type { CallContext, Plugin } from '../sdk/types.ts';
import { mockAdminRoutes } from './admin.ts';
import { createErrorOf, DEFAULT_BEHAVIOUR, type MockDefaults, parseBehaviour } from './behaviour.ts';
import { type MockPodLookup, mockExec, mockPortForward } from './exec.ts';
import {
  applyByteLimit,
  followDone,
  formatRange,
  type LogQuery,
  logQuery,
  nextWakeAt,
  producedCount,
  selectRange,
} from './logs.ts';
import { type ContainerPlan, containerStatus, type Phase, planPod, podPhase } from './timeline.ts';

export type FaultValue = boolean | string;

/** Injected backend failures: `true` or a message makes every such call fail with BACKEND (502). */
export interface Faults {
  createFails?: FaultValue | undefined;
  deleteFails?: FaultValue | undefined;
  statusFails?: FaultValue | undefined;
  logsFails?: FaultValue | undefined;
  pingFails?: FaultValue | undefined;
}

export interface CallCounts {
  /** create calls received per pod UID, including repeated, refused and failed ones. */
  create: Record<string, number>;
  /** delete calls received per pod UID. */
  delete: Record<string, number>;
  /** status calls, and the pods they asked about in total. */
  status: number;
  statusPods: number;
  logs: number;
  ping: number;
}

export interface MockPodView {
  uid: string;
  namespace: string;
  name: string;
  jid: string;
  createdAt: string;
  phase: Phase;
}

export interface Capacity {
  cpu: string;
  memory: string;
  pods: string;
  accelerators: Array<{ resourceType: string; available: string | number }>;
}

export const DEFAULT_CAPACITY: Capacity = { cpu: '100', memory: '256Gi', pods: '10000', accelerators: [] };

export interface MockPluginOptions {
  /** Behaviour of pods without annotations. */
  defaults?: Partial<MockDefaults>;
  /** What ping reports. */
  capacity?: Partial<Capacity>;
  /** Time source; tests pass a FakeClock. */
  clock?: Clock;
}

interface PodRecord {
  uid: string;
  namespace: string;
  name: string;
  jid: string;
  createdAt: number;
  hasInit: boolean;
  plans: ContainerPlan[];
  /** Ends the log followers of this pod (called on delete). */
  followers: Set<() => void>;
}

export interface MockPlugin extends Plugin {
  /** Copy of the call counters. */
  calls(): CallCounts;
  resetCalls(): void;
  faults(): Faults;
  /** Replace the whole fault set (absent keys = no fault). */
  setFaults(f: Faults): void;
  pods(): MockPodView[];
}

/** Counters keyed by pod UID in Maps: a UID is caller data (`constructor`, `__proto__` are valid UIDs). */
interface Counters {
  create: Map<string, number>;
  delete: Map<string, number>;
  status: number;
  statusPods: number;
  logs: number;
  ping: number;
}

function emptyCounts(): Counters {
  return { create: new Map(), delete: new Map(), status: 0, statusPods: 0, logs: 0, ping: 0 };
}

/** A UID → count record with no prototype, so no UID can collide with an inherited name. */
function recordOf(counts: Map<string, number>): Record<string, number> {
  const out: Record<string, number> = Object.create(null);
  for (const [uid, n] of counts) out[uid] = n;
  return out;
}

const bump = (counts: Map<string, number>, uid: string): number => {
  const n = (counts.get(uid) ?? 0) + 1;
  counts.set(uid, n);
  return n;
};

function failIf(fault: FaultValue | undefined, op: string): void {
  if (fault === undefined || fault === false) return;
  throw backendError(typeof fault === 'string' ? fault : `mock: injected ${op} failure`);
}

export function createMockPlugin(opts: MockPluginOptions = {}): MockPlugin {
  const clock = opts.clock ?? systemClock;
  const defaults: MockDefaults = { ...DEFAULT_BEHAVIOUR, ...opts.defaults };
  const capacity: Capacity = { ...DEFAULT_CAPACITY, ...opts.capacity };
  const pods = new Map<string, PodRecord>();
  let counts = emptyCounts();
  let faults: Faults = {};
  let seq = 0;

  function statusOf(rec: PodRecord, now: number): PodStatus {
    const init: PodStatus['containers'] = [];
    const app: PodStatus['containers'] = [];
    for (const c of rec.plans) (c.init ? init : app).push(containerStatus(c, now, rec.hasInit, rec.jid));
    return {
      name: rec.name,
      UID: rec.uid,
      namespace: rec.namespace,
      JID: rec.jid,
      containers: app,
      initContainers: init,
    };
  }

  function follow(
    rec: PodRecord,
    c: ContainerPlan,
    q: LogQuery,
    first: Buffer,
    emittedStart: number,
    budget: number | undefined,
    signal: AbortSignal,
  ): Readable {
    const out = new Readable({ read() {} });
    let emitted = emittedStart;
    let remaining = budget;
    let timer: Timer | undefined;
    let ended = false;
    const end = () => {
      if (ended) return;
      ended = true;
      timer?.cancel();
      rec.followers.delete(end);
      signal.removeEventListener('abort', end);
      out.push(null);
    };
    const tick = () => {
      timer = undefined;
      if (ended) return;
      const now = clock.now();
      const produced = producedCount(c, now);
      if (produced > emitted) {
        const cut = applyByteLimit(formatRange(c, [emitted, produced], q.timestamps), remaining);
        emitted = produced;
        remaining = cut.remaining;
        if (cut.bytes.length > 0) out.push(cut.bytes);
      }
      if (remaining === 0 || followDone(c, emitted, now)) return end();
      const at = nextWakeAt(c, emitted);
      if (at !== undefined) timer = clock.setTimer(tick, Math.max(0, at - now));
    };
    if (first.length > 0) out.push(first);
    rec.followers.add(end);
    signal.addEventListener('abort', end, { once: true });
    if (signal.aborted || remaining === 0) end();
    else tick();
    return out;
  }

  const view: MockPodLookup = {
    has: (uid, container) => {
      const rec = pods.get(uid);
      return !!rec && (container === undefined || rec.plans.some((c) => c.name === container));
    },
  };
  const plugin: MockPlugin = {
    name: 'mock',

    async create(data: RetrievedPodData): Promise<CreateStruct> {
      const m = data.pod.metadata;
      const attempt = bump(counts.create, m.uid);
      failIf(faults.createFails, 'create');
      const existing = pods.get(m.uid);
      if (existing) return { PodUID: m.uid, PodJID: existing.jid };
      const behaviour = parseBehaviour(data.pod, defaults);
      const ce = behaviour.createError;
      if (ce && (ce.times === undefined || attempt <= ce.times)) throw createErrorOf(ce);
      const createdAt = clock.now();
      const rec: PodRecord = {
        uid: m.uid,
        namespace: m.namespace,
        name: m.name,
        jid: `mock-${++seq}`,
        createdAt,
        hasInit: behaviour.containers.some((c) => c.init),
        plans: planPod(behaviour, createdAt),
        followers: new Set(),
      };
      pods.set(m.uid, rec);
      return { PodUID: m.uid, PodJID: rec.jid };
    },

    async delete(pod: Pod): Promise<void> {
      const uid = pod.metadata.uid;
      bump(counts.delete, uid);
      failIf(faults.deleteFails, 'delete');
      const rec = pods.get(uid);
      if (!rec) return;
      pods.delete(uid);
      for (const end of [...rec.followers]) end();
    },

    async status(asked: Pod[]): Promise<PodStatus[]> {
      counts.status++;
      counts.statusPods += asked.length;
      failIf(faults.statusFails, 'status');
      const now = clock.now();
      const out: PodStatus[] = [];
      for (const p of asked) {
        const rec = pods.get(p.metadata.uid);
        if (rec) out.push(statusOf(rec, now));
      }
      return out;
    },

    async logs(req: LogStruct, ctx: CallContext): Promise<Readable> {
      counts.logs++;
      failIf(faults.logsFails, 'logs');
      const rec = pods.get(req.PodUID);
      if (!rec)
        throw notFound(`pod ${req.Namespace}/${req.PodName} (${req.PodUID}) is not known to the mock plugin`);
      const c = rec.plans.find((x) => x.name === req.ContainerName);
      if (!c) {
        throw notFound(
          `container "${req.ContainerName}" not found in pod ${rec.namespace}/${rec.name} (containers: ${rec.plans.map((x) => x.name).join(', ')})`,
        );
      }
      const now = clock.now();
      const q = logQuery(req.Opts, now);
      // The mock never restarts a container, so there is no previous instance to show.
      if (q.previous)
        throw notFound(
          `previous terminated container "${c.name}" in pod ${rec.namespace}/${rec.name} not found`,
        );
      const range = selectRange(c, q, now);
      const first = applyByteLimit(formatRange(c, range, q.timestamps), q.limitBytes);
      if (!q.follow) return Readable.from(first.bytes.length > 0 ? [first.bytes] : [], { objectMode: false });
      return follow(rec, c, q, first.bytes, range[1], first.remaining, ctx.signal);
    },

    async ping(): Promise<PingResponse> {
      counts.ping++;
      failIf(faults.pingFails, 'ping');
      return {
        status: 'ok',
        resources: {
          cpu: capacity.cpu,
          memory: capacity.memory,
          pods: capacity.pods,
          accelerators: capacity.accelerators,
        },
      };
    },

    async list(): Promise<BackendPod[]> {
      return [...pods.values()].map((r) => ({
        UID: r.uid,
        namespace: r.namespace,
        name: r.name,
        JID: r.jid,
      }));
    },

    async stats() {
      const now = clock.now();
      return {
        node: { nodeName: 'mock', startTime: new Date(now).toISOString() },
        pods: [...pods.values()].map((rec) => ({
          podRef: { name: rec.name, namespace: rec.namespace, uid: rec.uid },
          startTime: new Date(rec.createdAt).toISOString(),
          containers: rec.plans
            .filter((c) => c.startAt !== undefined && c.startAt <= now)
            .map((c) => ({ name: c.name, startTime: new Date(c.startAt!).toISOString() })),
        })),
      };
    },

    async exec(req, io) {
      return mockExec(view, req, io);
    },

    async attach(req, io) {
      return mockExec(view, { ...req, command: ['cat'] }, io);
    },

    async portForward(req, conn) {
      await mockPortForward(view, req, conn);
    },

    routes(app) {
      mockAdminRoutes(app, plugin);
    },

    async close() {
      for (const rec of pods.values()) for (const end of [...rec.followers]) end();
    },

    calls() {
      return { ...counts, create: recordOf(counts.create), delete: recordOf(counts.delete) };
    },
    resetCalls() {
      counts = emptyCounts();
    },
    faults() {
      return { ...faults };
    },
    setFaults(f) {
      faults = { ...f };
    },
    pods() {
      const now = clock.now();
      return [...pods.values()].map((rec) => ({
        uid: rec.uid,
        namespace: rec.namespace,
        name: rec.name,
        jid: rec.jid,
        createdAt: new Date(rec.createdAt).toISOString(),
        phase: podPhase(rec.plans, now),
      }));
    },
  };
  return plugin;
}

/** Guard for callers that got a plugin by name (the CLI) and want the mock's extras. */
export function isMockPlugin(p: Plugin): p is MockPlugin {
  return p.name === 'mock' && typeof (p as Partial<MockPlugin>).calls === 'function';
}
