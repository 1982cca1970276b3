/**
 * The mock plugin: an in-memory backend whose pods progress by time (see behaviour.ts for
 * the annotations, timeline.ts for the life of a pod, logs.ts for the log). For demos,
 * for testing the layers above, and for benchmarks.
 *
 * State is one small record per pod holding its plan (when each container starts and
 * ends; pods.ts); status and logs are computed from the injected clock at call time, so the
 * plugin holds 10,000 pods with no timer at all. The only timers are one per log follower
 * (follow.ts).
 *
 * A test/admin API (admin.ts, mounted through the SDK's `routes` capability) counts calls
 * per pod UID and injects backend failures (counters.ts).
 */
import { Readable } from 'node:stream';
import { type Clock, systemClock } from '../../core/clock.ts';
import { notFound } from '../../errors/index.ts';
import type {
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
import {
  bump,
  type CallCounts,
  type Counters,
  callCountsOf,
  emptyCounts,
  type Faults,
  failIf,
} from './counters.ts';
import { type MockPodLookup, mockExec, mockPortForward } from './exec.ts';
import { followLogs } from './follow.ts';
import { applyByteLimit, formatRange, logQuery, selectRange } from './logs.ts';
import {
  backendPodOf,
  endFollowers,
  type MockPodView,
  type PodRecord,
  podStatsOf,
  statusOf,
  viewOf,
} from './pods.ts';
import { planPod } from './timeline.ts';

export type { CallCounts, Faults, FaultValue } from './counters.ts';
export type { MockPodView } from './pods.ts';

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

export interface MockPlugin extends Plugin {
  /** Copy of the call counters. */
  calls(): CallCounts;
  resetCalls(): void;
  faults(): Faults;
  /** Replace the whole fault set (absent keys = no fault). */
  setFaults(f: Faults): void;
  pods(): MockPodView[];
}

/** Everything a mock plugin holds; the method groups below share it. */
interface MockState {
  clock: Clock;
  defaults: MockDefaults;
  capacity: Capacity;
  pods: Map<string, PodRecord>;
  counts: Counters;
  faults: Faults;
  seq: number;
}

export function createMockPlugin(opts: MockPluginOptions = {}): MockPlugin {
  const s: MockState = {
    clock: opts.clock ?? systemClock,
    defaults: { ...DEFAULT_BEHAVIOUR, ...opts.defaults },
    capacity: { ...DEFAULT_CAPACITY, ...opts.capacity },
    pods: new Map(),
    counts: emptyCounts(),
    faults: {},
    seq: 0,
  };
  const plugin: MockPlugin = {
    name: 'mock',
    ...lifecycleMethods(s),
    ...queryMethods(s),
    ...streamMethods(s),
    ...adminMethods(s),
    routes(app) {
      mockAdminRoutes(app, plugin);
    },
  };
  return plugin;
}

/** create and delete: idempotent per pod UID. */
function lifecycleMethods(s: MockState): Pick<MockPlugin, 'create' | 'delete' | 'close'> {
  return {
    async create(data: RetrievedPodData): Promise<CreateStruct> {
      const m = data.pod.metadata;
      const attempt = bump(s.counts.create, m.uid);
      failIf(s.faults.createFails, 'create');
      const existing = s.pods.get(m.uid);
      if (existing) return { PodUID: m.uid, PodJID: existing.jid };
      const behaviour = parseBehaviour(data.pod, s.defaults);
      const ce = behaviour.createError;
      if (ce && (ce.times === undefined || attempt <= ce.times)) throw createErrorOf(ce);
      const createdAt = s.clock.now();
      const jid = `mock-${++s.seq}`;
      s.pods.set(m.uid, {
        uid: m.uid,
        namespace: m.namespace,
        name: m.name,
        jid,
        createdAt,
        hasInit: behaviour.containers.some((c) => c.init),
        plans: planPod(behaviour, createdAt),
        followers: new Set(),
      });
      return { PodUID: m.uid, PodJID: jid };
    },

    async delete(pod: Pod): Promise<void> {
      const uid = pod.metadata.uid;
      bump(s.counts.delete, uid);
      failIf(s.faults.deleteFails, 'delete');
      const rec = s.pods.get(uid);
      if (!rec) return;
      s.pods.delete(uid);
      endFollowers(rec);
    },

    async close() {
      for (const rec of s.pods.values()) endFollowers(rec);
    },
  };
}

/** status, logs, ping, list, stats: computed from the records and the clock at call time. */
function queryMethods(s: MockState): Pick<MockPlugin, 'status' | 'logs' | 'ping' | 'list' | 'stats'> {
  return {
    async status(asked: Pod[]): Promise<PodStatus[]> {
      s.counts.status++;
      s.counts.statusPods += asked.length;
      failIf(s.faults.statusFails, 'status');
      const now = s.clock.now();
      const out: PodStatus[] = [];
      for (const p of asked) {
        const rec = s.pods.get(p.metadata.uid);
        if (rec) out.push(statusOf(rec, now));
      }
      return out;
    },

    async logs(req: LogStruct, ctx: CallContext): Promise<Readable> {
      s.counts.logs++;
      failIf(s.faults.logsFails, 'logs');
      return logsOf(s, req, ctx.signal);
    },

    async ping(): Promise<PingResponse> {
      s.counts.ping++;
      failIf(s.faults.pingFails, 'ping');
      const { cpu, memory, pods, accelerators } = s.capacity;
      return { status: 'ok', resources: { cpu, memory, pods, accelerators } };
    },

    async list() {
      return [...s.pods.values()].map(backendPodOf);
    },

    async stats() {
      const now = s.clock.now();
      return {
        node: { nodeName: 'mock', startTime: new Date(now).toISOString() },
        pods: [...s.pods.values()].map((rec) => podStatsOf(rec, now)),
      };
    },
  };
}

function logsOf(s: MockState, req: LogStruct, signal: AbortSignal): Readable {
  const rec = s.pods.get(req.PodUID);
  if (!rec)
    throw notFound(`pod ${req.Namespace}/${req.PodName} (${req.PodUID}) is not known to the mock plugin`);
  const c = rec.plans.find((x) => x.name === req.ContainerName);
  if (!c) {
    throw notFound(
      `container "${req.ContainerName}" not found in pod ${rec.namespace}/${rec.name} (containers: ${rec.plans.map((x) => x.name).join(', ')})`,
    );
  }
  const now = s.clock.now();
  const q = logQuery(req.Opts, now);
  // The mock never restarts a container, so there is no previous instance to show.
  if (q.previous)
    throw notFound(`previous terminated container "${c.name}" in pod ${rec.namespace}/${rec.name} not found`);
  const range = selectRange(c, q, now);
  const first = applyByteLimit(formatRange(c, range, q.timestamps), q.limitBytes);
  if (!q.follow) return Readable.from(first.bytes.length > 0 ? [first.bytes] : [], { objectMode: false });
  return followLogs(
    s.clock,
    rec,
    c,
    q,
    { first: first.bytes, emitted: range[1], budget: first.remaining },
    signal,
  );
}

/** exec, attach and port-forward against the in-memory pods (exec.ts). */
function streamMethods(s: MockState): Pick<MockPlugin, 'exec' | 'attach' | 'portForward'> {
  const view: MockPodLookup = {
    has: (uid, container) => {
      const rec = s.pods.get(uid);
      return !!rec && (container === undefined || rec.plans.some((c) => c.name === container));
    },
  };
  return {
    async exec(req, io) {
      return mockExec(view, req, io);
    },
    async attach(req, io) {
      return mockExec(view, { ...req, command: ['cat'] }, io);
    },
    async portForward(req, conn) {
      await mockPortForward(view, req, conn);
    },
  };
}

/** The test/admin extras: call counters, faults, the pods' view. */
function adminMethods(
  s: MockState,
): Pick<MockPlugin, 'calls' | 'resetCalls' | 'faults' | 'setFaults' | 'pods'> {
  return {
    calls: () => callCountsOf(s.counts),
    resetCalls() {
      s.counts = emptyCounts();
    },
    faults: () => ({ ...s.faults }),
    setFaults(f) {
      s.faults = { ...f };
    },
    pods() {
      const now = s.clock.now();
      return [...s.pods.values()].map((rec) => viewOf(rec, now));
    },
  };
}

/** Guard for callers that got a plugin by name (the CLI) and want the mock's extras. */
export function isMockPlugin(p: Plugin): p is MockPlugin {
  return p.name === 'mock' && typeof (p as Partial<MockPlugin>).calls === 'function';
}
