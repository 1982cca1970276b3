import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { FakeClock } from '../../src/core/clock.ts';
import { silentLogger } from '../../src/core/logger.ts';
import { createEventRecorder, EVENT_SOURCE, nodeRef, podRef } from '../../src/vk/events.ts';

interface Call {
  op: 'create' | 'patch';
  namespace: string;
  name: string;
  body: Record<string, unknown>;
}

function fakeCore(opts: { failCreate?: number; patch404?: boolean } = {}) {
  const calls: Call[] = [];
  let creates = 0;
  const core = {
    async createNamespacedEvent(p: { namespace: string; body: { metadata: { name: string } } }) {
      creates++;
      if (opts.failCreate && creates <= opts.failCreate)
        throw Object.assign(new Error('apiserver down'), { code: 503 });
      calls.push({ op: 'create', namespace: p.namespace, name: p.body.metadata.name, body: p.body as never });
      return p.body;
    },
    async patchNamespacedEvent(p: { name: string; namespace: string; body: Record<string, unknown> }) {
      if (opts.patch404) throw Object.assign(new Error('not found'), { code: 404 });
      calls.push({ op: 'patch', namespace: p.namespace, name: p.name, body: p.body });
      return p.body;
    },
  };
  return { core: core as never, calls };
}

const pod = { metadata: { name: 'web', namespace: 'team', uid: 'u1', resourceVersion: '7' } };

describe('EventRecorder', () => {
  it('writes a core/v1 Event with source interlink-vk and the node as host', async () => {
    const { core, calls } = fakeCore();
    const rec = createEventRecorder({
      core,
      nodeName: 'vk-1',
      logger: silentLogger(),
      clock: new FakeClock(1_700_000_000_000),
    });
    rec.warning(podRef(pod, 'spec.containers{main}'), 'Failed', 'Container main exited with code 3');
    await rec.flush();
    expect(calls).toHaveLength(1);
    const e = calls[0]!;
    expect(e.namespace).toBe('team');
    expect(e.name).toMatch(/^web\./);
    expect(e.body).toMatchObject({
      type: 'Warning',
      reason: 'Failed',
      message: 'Container main exited with code 3',
      count: 1,
      source: { component: EVENT_SOURCE, host: 'vk-1' },
      reportingComponent: EVENT_SOURCE,
      involvedObject: {
        kind: 'Pod',
        name: 'web',
        namespace: 'team',
        uid: 'u1',
        fieldPath: 'spec.containers{main}',
      },
    });
  });

  it('aggregates repeats inside the window by patching count, and starts over after it', async () => {
    const clock = new FakeClock(1_700_000_000_000);
    const { core, calls } = fakeCore();
    const rec = createEventRecorder({
      core,
      nodeName: 'vk-1',
      logger: silentLogger(),
      clock,
      aggregateWindowMs: 60_000,
    });
    for (let i = 0; i < 3; i++) {
      rec.warning(podRef(pod), 'BackendDeleteFailed', 'same message');
      await rec.flush();
    }
    rec.warning(podRef(pod), 'BackendDeleteFailed', 'another message');
    await rec.flush();
    expect(calls.map((c) => `${c.op}:${c.body.count}`)).toEqual([
      'create:1',
      'patch:2',
      'patch:3',
      'create:1',
    ]);
    expect(calls[1]!.name).toBe(calls[0]!.name);
    await clock.advance(61_000);
    rec.warning(podRef(pod), 'BackendDeleteFailed', 'same message');
    await rec.flush();
    expect(calls.at(-1)).toMatchObject({ op: 'create' });
  });

  it('Node events go to the default namespace with the node name as uid', async () => {
    const { core, calls } = fakeCore();
    const rec = createEventRecorder({ core, nodeName: 'vk-1', logger: silentLogger() });
    rec.normal(nodeRef('vk-1'), 'BackendReachable', 'ok');
    await rec.flush();
    expect(calls[0]).toMatchObject({
      namespace: 'default',
      body: { involvedObject: { kind: 'Node', name: 'vk-1', uid: 'vk-1' } },
    });
  });

  it('never throws: a failed write is logged and the next one proceeds; an expired event is recreated', async () => {
    const { core, calls } = fakeCore({ failCreate: 1, patch404: true });
    const rec = createEventRecorder({ core, nodeName: 'vk-1', logger: silentLogger() });
    expect(() => rec.normal(podRef(pod), 'A', 'lost')).not.toThrow();
    rec.normal(podRef(pod), 'B', 'kept');
    await rec.flush();
    rec.normal(podRef(pod), 'B', 'kept');
    await rec.flush();
    expect(calls.map((c) => `${c.op}:${c.body.reason}`)).toEqual(['create:B', 'create:B']);
  });

  it('truncates messages to what the apiserver accepts and drops distinct Events beyond the pending limit', async () => {
    const { core, calls } = fakeCore();
    const registry = new Registry();
    const rec = createEventRecorder({
      core,
      nodeName: 'vk-1',
      logger: silentLogger(),
      maxPending: 2,
      registry,
    });
    rec.normal(podRef(pod), 'Long', 'x'.repeat(5000));
    rec.normal(podRef(pod), 'Two', 'b');
    rec.normal(podRef(pod), 'Dropped', 'c');
    // A repeat of a pending Event takes no slot: aggregated, not dropped.
    rec.normal(podRef(pod), 'Two', 'b');
    await rec.flush();
    expect(calls.map((c) => `${c.body.reason}:${c.body.count}`)).toEqual(['Long:1', 'Two:2']);
    expect((calls[0]!.body.message as string).length).toBe(1024);
    expect(rec.stats()).toEqual({ written: 2, aggregated: 1, dropped: 1, failed: 0 });
    const metric = await registry.getSingleMetricAsString('interlink_vk_events_total');
    expect(metric).toContain('interlink_vk_events_total{outcome="dropped"} 1');
    expect(metric).toContain('interlink_vk_events_total{outcome="written"} 2');
  });

  // With one pending slot: what is written, and what is dropped.
  it.each([
    ['a repeat of the queued Event folds into it', ['same', 'same', 'same'], ['create:3'], 0],
    ['a distinct message needs a slot of its own', ['same', 'other'], ['create:1'], 1],
    ['a repeat of the queued Event is kept after a drop', ['same', 'other', 'same'], ['create:2'], 1],
  ])('%s', async (_name, messages, writes, dropped) => {
    const { core, calls } = fakeCore();
    const rec = createEventRecorder({ core, nodeName: 'vk-1', logger: silentLogger(), maxPending: 1 });
    for (const m of messages) rec.normal(podRef(pod), 'R', m);
    await rec.flush();
    expect(calls.map((c) => `${c.op}:${c.body.count}`)).toEqual(writes);
    expect(rec.stats().dropped).toBe(dropped);
  });

  it('a burst of repeats while the apiserver is slow costs one slot and two writes, nothing dropped', async () => {
    const calls: Array<{ op: string; count: unknown }> = [];
    const gates: Array<() => void> = [];
    const core = {
      async createNamespacedEvent(p: { body: { count: number } }) {
        await new Promise<void>((r) => gates.push(r));
        calls.push({ op: 'create', count: p.body.count });
        return p.body;
      },
      async patchNamespacedEvent(p: { body: { count: number } }) {
        calls.push({ op: 'patch', count: p.body.count });
        return p.body;
      },
    };
    const rec = createEventRecorder({
      core: core as never,
      nodeName: 'vk-1',
      logger: silentLogger(),
      maxPending: 1,
    });
    rec.warning(podRef(pod), 'BackOff', 'Back-off pulling image');
    // Let the first write start (it waits on the apiserver), then repeat 500 times.
    while (gates.length === 0) await new Promise((r) => setImmediate(r));
    for (let i = 0; i < 500; i++) rec.warning(podRef(pod), 'BackOff', 'Back-off pulling image');
    for (const g of gates.splice(0)) g();
    await rec.flush();
    expect(calls).toEqual([
      { op: 'create', count: 1 },
      { op: 'patch', count: 501 },
    ]);
    expect(rec.stats()).toEqual({ written: 2, aggregated: 499, dropped: 0, failed: 0 });
  });

  it('writes the Events of different objects concurrently, those of one object in order', async () => {
    let inFlight = 0;
    let maxInFlight = 0;
    const order: string[] = [];
    const gates: Array<() => void> = [];
    const core = {
      async createNamespacedEvent(p: { body: { involvedObject: { name: string }; reason: string } }) {
        inFlight++;
        maxInFlight = Math.max(maxInFlight, inFlight);
        await new Promise<void>((r) => gates.push(r));
        inFlight--;
        order.push(`${p.body.involvedObject.name}:${p.body.reason}`);
        return p.body;
      },
      async patchNamespacedEvent() {
        throw new Error('not expected');
      },
    };
    const rec = createEventRecorder({
      core: core as never,
      nodeName: 'vk-1',
      logger: silentLogger(),
      concurrency: 4,
    });
    const pods = Array.from({ length: 16 }, (_, i) => ({ metadata: { name: `p${i}`, namespace: 'team' } }));
    for (const p of pods) for (const r of ['One', 'Two', 'Three']) rec.normal(podRef(p), r, r);
    const done = rec.flush();
    // Release writes as they arrive until all 48 are through.
    while (order.length < 48) {
      await new Promise((r) => setTimeout(r, 0));
      for (const g of gates.splice(0)) g();
    }
    await done;
    expect(maxInFlight).toBeGreaterThan(1);
    expect(maxInFlight).toBeLessThanOrEqual(4);
    for (const p of pods) {
      const mine = order.filter((o) => o.startsWith(`${p.metadata.name}:`));
      expect(mine).toEqual([`${p.metadata.name}:One`, `${p.metadata.name}:Two`, `${p.metadata.name}:Three`]);
    }
  });

  it('writes at the kubelet rate after the burst; repeats recorded while waiting fold in; close() lifts the limit', async () => {
    const clock = new FakeClock(1_700_000_000_000);
    const { core, calls } = fakeCore();
    const registry = new Registry();
    const rec = createEventRecorder({
      core,
      nodeName: 'vk-1',
      logger: silentLogger(),
      clock,
      qps: 10,
      burst: 2,
      concurrency: 1,
      registry,
    });
    const pods = Array.from({ length: 6 }, (_, i) => ({ metadata: { name: `p${i}`, namespace: 'team' } }));
    for (const p of pods) rec.normal(podRef(p), 'Started', 'Started container main');
    const settle = async () => {
      for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
    };
    await settle();
    // The burst (2) went at once; the third waits a token's time (100 ms).
    expect(calls).toHaveLength(2);
    expect(await registry.getSingleMetricAsString('interlink_vk_events_pending')).toContain(
      'interlink_vk_events_pending 4',
    );
    rec.normal(podRef(pods[2]!), 'Started', 'Started container main');
    await clock.advance(99);
    await settle();
    expect(calls).toHaveLength(2);
    await clock.advance(1);
    await settle();
    expect(calls.map((c) => `${c.name.split('.')[0]}:${c.body.count}`)).toEqual(['p0:1', 'p1:1', 'p2:2']);
    await clock.advance(100);
    await settle();
    expect(calls).toHaveLength(4);
    // Shutdown: the rest at once (the writer already waiting for a token still waits it out).
    const closed = rec.close();
    await clock.advance(100);
    await closed;
    expect(calls).toHaveLength(6);
    expect(rec.stats()).toEqual({ written: 6, aggregated: 1, dropped: 0, failed: 0 });
    const delay = await registry.getSingleMetricAsString('interlink_vk_event_write_delay_seconds');
    expect(delay).toContain('interlink_vk_event_write_delay_seconds_count 6');
    // p3 waited 200 ms, p4 and p5 300 ms: four of six started after more than 50 ms.
    expect(delay).toContain('interlink_vk_event_write_delay_seconds_bucket{le="0.05"} 2');
    expect(await registry.getSingleMetricAsString('interlink_vk_events_pending')).toContain(
      'interlink_vk_events_pending 0',
    );
  });
});
