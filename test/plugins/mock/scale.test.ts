/**
 * 10,000 pods in one mock, over a real unix socket: all created, all answered by one
 * status call, each exactly once. Correctness only; bench/mock-plugin.ts measures speed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeClock } from '../../../src/core/clock.ts';
import { CreateStruct, PodStatusList } from '../../../src/wire/interlink.ts';
import { pod, type Served, serveMock } from './helpers.ts';

const N = 10_000;

describe('mock plugin with 10,000 pods', () => {
  const clock = new FakeClock(Date.parse('2026-01-01T00:00:00Z'));
  let s: Served;
  const pods = Array.from({ length: N }, (_, i) => pod(`uid-${i}`, { name: `p-${i}` }));
  beforeAll(async () => {
    s = await serveMock('unix', { clock, defaults: { startDelayMs: 1000 } });
  });
  afterAll(() => s.close());

  // CPU-bound (10,000 validated requests each way on a loaded 2-core CI machine): its own
  // time budget rather than the suite's 60 s, which is sized for waiting on components.
  it('creates them all, then reports them all in one status call', { timeout: 300_000 }, async () => {
    const jids = new Set<string>();
    const wrongUid: string[] = [];
    let next = 0;
    const worker = async () => {
      while (next < N) {
        const p = pods[next++]!;
        const res = await s.client.call({
          method: 'POST',
          path: '/create',
          body: { pod: p },
          schema: CreateStruct,
        });
        if (res.PodUID !== p.metadata.uid) wrongUid.push(p.metadata.uid);
        jids.add(res.PodJID);
      }
    };
    await Promise.all(Array.from({ length: 16 }, worker));
    expect(wrongUid).toEqual([]);
    expect(jids.size).toBe(N);
    expect(clock.pending()).toBe(0); // no per-pod timers

    const pending = await s.client.call({
      method: 'GET',
      path: '/status',
      body: pods,
      schema: PodStatusList,
      timeoutMs: 120_000,
    });
    expect(pending).toHaveLength(N);
    expect(pending.every((st) => st.containers?.[0]?.state?.waiting?.reason === 'ContainerCreating')).toBe(
      true,
    );

    await clock.advance(1000);
    const running = await s.client.call({
      method: 'GET',
      path: '/status',
      body: pods,
      schema: PodStatusList,
      timeoutMs: 120_000,
    });
    expect(new Set(running.map((st) => st.UID))).toEqual(new Set(pods.map((p) => p.metadata.uid)));
    expect(
      running.every((st) => st.containers?.[0]?.state?.running?.startedAt === '2026-01-01T00:00:01Z'),
    ).toBe(true);

    const calls = (await s.client.call({ method: 'GET', path: '/mock/calls' })) as {
      create: Record<string, number>;
      status: number;
    };
    expect(Object.keys(calls.create)).toHaveLength(N);
    expect(Object.values(calls.create).every((n) => n === 1)).toBe(true);
    expect(calls.status).toBe(2);
  });
});
