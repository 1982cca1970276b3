/**
 * The orphan sweep with a fake clock, a fake informer cache, a fake interLink client and a
 * fake apiserver check: nothing sleeps, every step is driven by FakeClock.advance.
 */
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { Backoff } from '../../src/core/backoff.ts';
import { FakeClock, flushMicrotasks } from '../../src/core/clock.ts';
import { backendError, notFound, notSupported, unavailable } from '../../src/errors/index.ts';
import type { EventRecorder } from '../../src/vk/events.ts';
import { createOrphanSweeper, judgeOrphans, type OrphanSweeperDeps } from '../../src/vk/orphans.ts';
import type { KPod } from '../../src/vk/pods/kpod.ts';
import type { BackendPod } from '../../src/wire/interlink.ts';
import type { Pod } from '../../src/wire/k8s.ts';

const bp = (uid: string, name = `p-${uid}`): BackendPod => ({
  UID: uid,
  namespace: 'ns',
  name,
  JID: `j-${uid}`,
});

describe('judgeOrphans', () => {
  const T = 1_000_000;
  it.each([
    {
      what: 'a new orphan becomes a candidate, due after the grace period',
      listed: [bp('a')],
      owned: [],
      seen: {},
      now: T,
      want: { seen: { a: T }, due: [], next: T + 30_000 },
    },
    {
      what: 'a candidate seen for the whole grace period is due',
      listed: [bp('a')],
      owned: [],
      seen: { a: T - 30_000 },
      now: T,
      want: { seen: { a: T - 30_000 }, due: ['a'], next: undefined },
    },
    {
      what: 'a candidate seen for less than the grace period waits',
      listed: [bp('a')],
      owned: [],
      seen: { a: T - 29_999 },
      now: T,
      want: { seen: { a: T - 29_999 }, due: [], next: T + 1 },
    },
    {
      what: 'an owned pod is never a candidate, and an owned candidate is forgotten',
      listed: [bp('a'), bp('b')],
      owned: ['a', 'b'],
      seen: { a: T - 60_000 },
      now: T,
      want: { seen: {}, due: [], next: undefined },
    },
    {
      what: 'a candidate the backend no longer lists is forgotten',
      listed: [bp('b')],
      owned: [],
      seen: { a: T - 60_000, b: T - 10_000 },
      now: T,
      want: { seen: { b: T - 10_000 }, due: [], next: T + 20_000 },
    },
    {
      what: 'the earliest not-yet-due candidate sets the next sweep',
      listed: [bp('a'), bp('b'), bp('c')],
      owned: [],
      seen: { a: T - 31_000, b: T - 5_000, c: T - 20_000 },
      now: T,
      want: { seen: { a: T - 31_000, b: T - 5_000, c: T - 20_000 }, due: ['a'], next: T + 10_000 },
    },
    {
      what: 'a UID listed twice counts once',
      listed: [bp('a'), bp('a')],
      owned: [],
      seen: { a: T - 40_000 },
      now: T,
      want: { seen: { a: T - 40_000 }, due: ['a'], next: undefined },
    },
  ])('$what', ({ listed, owned, seen, now, want }) => {
    const firstSeen = new Map(Object.entries(seen));
    const before = new Map(firstSeen);
    const j = judgeOrphans({ listed, owned: new Set(owned), firstSeen, now, graceMs: 30_000 });
    expect(Object.fromEntries(j.firstSeen)).toEqual(want.seen);
    expect(j.due.map((p) => p.UID)).toEqual(want.due);
    expect(j.nextDueAt).toBe(want.next);
    expect(firstSeen).toEqual(before);
  });
});

function capture() {
  const lines: Array<{ msg: string; level: number } & Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk, _e, cb) {
      for (const l of String(chunk).split('\n')) if (l.trim()) lines.push(JSON.parse(l));
      cb();
    },
  });
  return { logger: pino({ level: 'debug' }, sink), lines };
}

interface World {
  clock: FakeClock;
  backend: Map<string, BackendPod>;
  /** UIDs of the Pods in the informer cache. */
  cache: Set<string>;
  /** UIDs the apiserver has (by default: the cache). */
  apiserver: Set<string>;
  deletes: Pod[];
  listCalls: number;
  listError: (() => Error) | undefined;
  deleteFailures: number;
  events: Array<{ reason: string; message: string; name: string }>;
  registry: Registry;
  logs: ReturnType<typeof capture>;
  deps: OrphanSweeperDeps;
}

function world(over: Partial<OrphanSweeperDeps> = {}): World {
  const w = {
    clock: new FakeClock(),
    backend: new Map<string, BackendPod>(),
    cache: new Set<string>(),
    apiserver: new Set<string>(),
    deletes: [] as Pod[],
    listCalls: 0,
    listError: undefined as (() => Error) | undefined,
    deleteFailures: 0,
    events: [] as World['events'],
    registry: new Registry(),
    logs: capture(),
  } as World;
  const events = {
    record: () => {},
    warning: () => {},
    normal: (obj: { name: string }, reason: string, message: string) =>
      w.events.push({ reason, message, name: obj.name }),
    flush: async () => {},
  } as unknown as EventRecorder;
  w.deps = {
    interlink: {
      async list() {
        w.listCalls++;
        if (w.listError) throw w.listError();
        return [...w.backend.values()];
      },
      async delete(pod) {
        w.deletes.push(pod);
        if (w.deleteFailures > 0) {
          w.deleteFailures--;
          throw unavailable('API down');
        }
        w.backend.delete(pod.metadata.uid);
        return undefined;
      },
    },
    pods: {
      list: () =>
        [...w.cache].map(
          (uid): KPod => ({
            metadata: { uid, namespace: 'ns', name: `p-${uid}` },
            spec: { containers: [{ name: 'c' }] },
          }),
        ),
      get: () => undefined,
    },
    podsReady: Promise.resolve(),
    podExists: async (_ns, _name, uid) => w.cache.has(uid) || w.apiserver.has(uid),
    clock: w.clock,
    logger: w.logs.logger,
    registry: w.registry,
    events,
    nodeName: 'vk-1',
    intervalMs: 60_000,
    graceMs: 30_000,
    ...over,
  };
  return w;
}

const deletedTotal = async (r: Registry) =>
  (await r.getSingleMetric('interlink_vk_orphans_deleted_total')!.get()).values[0]?.value ?? 0;

describe('orphan sweeper', () => {
  it('deletes an orphan only after the grace period, with grace 0, and counts it', async () => {
    const w = world();
    w.backend.set('o', bp('o'));
    const s = createOrphanSweeper(w.deps);
    expect(await s.sweepOnce()).toBe(30_000); // next sweep when the candidate falls due
    await s.idle();
    expect(w.deletes).toEqual([]);
    await w.clock.advance(29_999);
    expect(await s.sweepOnce()).toBe(1);
    await s.idle();
    expect(w.deletes).toEqual([]);
    await w.clock.advance(1);
    expect(await s.sweepOnce()).toBe(60_000);
    await s.idle();
    expect(w.deletes).toEqual([
      {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'p-o', namespace: 'ns', uid: 'o', deletionGracePeriodSeconds: 0 },
      },
    ]);
    expect(w.backend.size).toBe(0);
    expect(await deletedTotal(w.registry)).toBe(1);
    expect(w.events).toEqual([
      { reason: 'OrphanDeleted', name: 'vk-1', message: expect.stringContaining('ns/p-o') },
    ]);
    expect(w.logs.lines.some((l) => l.msg.startsWith('orphaned backend pod deleted'))).toBe(true);
  });

  it('never deletes a pod of the informer cache, nor one the VK is busy with', async () => {
    const busy = new Set(['creating']);
    const w = world({ busy: () => busy });
    for (const uid of ['live', 'creating']) w.backend.set(uid, bp(uid));
    w.cache.add('live');
    const s = createOrphanSweeper(w.deps);
    for (let i = 0; i < 5; i++) {
      await s.sweepOnce();
      await s.idle();
      await w.clock.advance(60_000);
    }
    expect(w.deletes).toEqual([]);
    expect(await deletedTotal(w.registry)).toBe(0);
  });

  it('keeps a candidate the apiserver still has (stale cache), and deletes nothing', async () => {
    const w = world();
    w.backend.set('lagging', bp('lagging'));
    w.apiserver.add('lagging');
    const s = createOrphanSweeper(w.deps);
    await s.sweepOnce();
    await w.clock.advance(30_000);
    await s.sweepOnce();
    await s.idle();
    expect(w.deletes).toEqual([]);
    expect(w.logs.lines.some((l) => l.msg.includes('not an orphan'))).toBe(true);
  });

  it('forgets a candidate that becomes owned before it is due', async () => {
    const w = world();
    w.backend.set('late', bp('late'));
    const s = createOrphanSweeper(w.deps);
    await s.sweepOnce();
    w.cache.add('late'); // the informer caught up
    await w.clock.advance(30_000);
    await s.sweepOnce();
    w.cache.delete('late');
    await w.clock.advance(1);
    expect(await s.sweepOnce()).toBe(30_000); // a fresh grace period
    await s.idle();
    expect(w.deletes).toEqual([]);
  });

  it('retries a failed delete with backoff until it is confirmed', async () => {
    const w = world({ retry: new Backoff({ initialMs: 1_000, maxMs: 8_000 }) });
    w.backend.set('o', bp('o'));
    w.deleteFailures = 3;
    const s = createOrphanSweeper(w.deps);
    await s.sweepOnce();
    await w.clock.advance(30_000);
    await s.sweepOnce();
    await flushMicrotasks();
    expect(w.deletes).toHaveLength(1);
    await w.clock.advance(999);
    expect(w.deletes).toHaveLength(1);
    await w.clock.advance(1); // 1 s after the first failure
    expect(w.deletes).toHaveLength(2);
    await w.clock.advance(2_000); // 2 s after the second
    expect(w.deletes).toHaveLength(3);
    await w.clock.advance(4_000); // 4 s after the third: confirmed
    await s.idle();
    expect(w.deletes).toHaveLength(4);
    expect(w.backend.size).toBe(0);
    expect(await deletedTotal(w.registry)).toBe(1);
  });

  it('does not start a second delete of a UID whose delete is still retrying', async () => {
    const w = world({ retry: new Backoff({ initialMs: 10_000, maxMs: 10_000 }) });
    w.backend.set('o', bp('o'));
    w.deleteFailures = 1;
    const s = createOrphanSweeper(w.deps);
    await s.sweepOnce();
    await w.clock.advance(30_000);
    await s.sweepOnce();
    await flushMicrotasks();
    await s.sweepOnce();
    await flushMicrotasks();
    expect(w.deletes).toHaveLength(1);
    await w.clock.advance(10_000);
    await s.idle();
    expect(w.deletes).toHaveLength(2);
  });

  it.each([
    ['501 from the API (plugin without /list)', () => notSupported('no list')],
    ['404 from an interLink 0.6 API', () => notFound('404 page not found')],
  ])('handles %s: logs once, deletes nothing, never throws, resumes when it can list', async (_w, err) => {
    const w = world();
    w.backend.set('o', bp('o'));
    w.listError = err;
    const s = createOrphanSweeper(w.deps);
    for (let i = 0; i < 4; i++) {
      expect(await s.sweepOnce()).toBe(60_000);
      await w.clock.advance(60_000);
    }
    expect(w.listCalls).toBe(4);
    expect(w.deletes).toEqual([]);
    expect(w.logs.lines.filter((l) => l.msg.includes('cannot list'))).toHaveLength(1);
    w.listError = undefined;
    await s.sweepOnce();
    await w.clock.advance(30_000);
    await s.sweepOnce();
    await s.idle();
    expect(w.deletes).toHaveLength(1);
    expect(w.logs.lines.filter((l) => l.msg.includes('orphan sweep enabled'))).toHaveLength(1);
  });

  it('a client without list() sweeps nothing and logs once', async () => {
    const w = world();
    const s = createOrphanSweeper({ ...w.deps, interlink: { delete: w.deps.interlink.delete } });
    await s.sweepOnce();
    await s.sweepOnce();
    expect(w.logs.lines.filter((l) => l.msg.includes('cannot list'))).toHaveLength(1);
  });

  it('an API that is down is a warning once per streak, not an error loop', async () => {
    const w = world();
    w.listError = () => backendError('boom');
    const s = createOrphanSweeper(w.deps);
    for (let i = 0; i < 3; i++) await s.sweepOnce();
    const warn = w.logs.lines.filter((l) => l.level === 40 && l.msg.includes('listing backend pods failed'));
    expect(warn).toHaveLength(1);
  });

  it('run: waits for the first full pod list, then sweeps at the interval and at due times', async () => {
    let listed!: () => void;
    const podsReady = new Promise<void>((r) => {
      listed = r;
    });
    const w = world({ podsReady });
    w.backend.set('o', bp('o'));
    w.backend.set('live', bp('live'));
    const s = createOrphanSweeper(w.deps);
    const ctl = new AbortController();
    const done = s.run(ctl.signal);
    await s.ready;
    await w.clock.advance(120_000);
    expect(w.listCalls).toBe(0); // the cache is not filled yet: no sweep
    w.cache.add('live');
    listed();
    await w.clock.advance(0);
    expect(w.listCalls).toBe(1);
    await w.clock.advance(30_000); // the candidate falls due: swept then, not a full interval later
    await s.idle();
    expect(w.listCalls).toBe(2);
    expect(w.deletes.map((p) => p.metadata.uid)).toEqual(['o']);
    await w.clock.advance(60_000);
    expect(w.listCalls).toBe(3);
    ctl.abort();
    await done;
    expect(w.deletes.map((p) => p.metadata.uid)).toEqual(['o']);
  });
});
