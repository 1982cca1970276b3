/** The status poller over the fakes: one batched call, observations only, dangling jobs. */
import { describe, expect, it } from 'vitest';
import { unavailable } from '../../../src/errors/index.ts';
import { BACKEND_LOST, isLost } from '../../../src/vk/pods/lifecycle.ts';
import { LOST_AFTER_MS, makePod, running, world } from './fakes.ts';

async function withPods(names: string[]) {
  const w = world();
  for (const n of names) {
    w.cache.put(makePod(n));
    await w.sync(n);
  }
  return w;
}

describe('status poller', () => {
  it('asks about every pod in the backend in ONE call and enqueues only the changed ones', async () => {
    const w = await withPods(['a', 'b', 'c']);
    await w.poller.pollOnce();
    expect(w.interlink.statusCalls.map((c) => c.length)).toEqual([3]);
    expect(w.enqueued).toEqual(['ns/a', 'ns/b', 'ns/c']);
    w.interlink.report('uid-b', [running()]);
    await w.poller.pollOnce();
    expect(w.enqueued.slice(3)).toEqual(['ns/b']);
    expect(w.syncer.records.get('ns/b')?.seen).toMatchObject({ containers: [running()] });
  });

  it('sends each pod whole but for its status, of which only the phase goes', async () => {
    const w = await withPods(['a']);
    w.cache.update('a', (p) => {
      p.metadata.annotations = { 'interlink.io/job-id': 'j-a', team: 'x' };
      p.metadata.labels = { app: 'a' };
      p.status = {
        phase: 'Running',
        podIP: '10.0.0.1',
        conditions: [{ type: 'Ready', status: 'True' }],
        containerStatuses: [running()],
      } as never;
    });
    const cached = structuredClone(w.cache.get('ns/a')!);
    await w.poller.pollOnce();
    const sent = w.interlink.statusCalls[0]![0]!;
    const { status: _status, ...rest } = cached;
    expect(sent).toEqual({ ...rest, status: { phase: 'Running' } });
    // The cache's pod is not touched.
    expect(w.cache.get('ns/a')).toEqual(cached);
  });

  it('skips pods that are not in the backend, are deleting, or are finished; no call when none is left', async () => {
    const w = await withPods(['a', 'b']);
    w.cache.put(makePod('new'));
    w.cache.markDeleted('a');
    w.cache.update('b', (p) => {
      p.status = { phase: 'Succeeded' };
    });
    await w.poller.pollOnce();
    expect(w.interlink.statusCalls).toEqual([]);
  });

  it('a failed poll keeps the last answers and tells the node once; the next good poll says so', async () => {
    const w = await withPods(['a']);
    w.interlink.statusErrors.push(unavailable('API down'), unavailable('API down'));
    await w.poller.pollOnce();
    await w.poller.pollOnce();
    expect(w.enqueued).toEqual([]);
    await w.poller.pollOnce();
    const node = w.events.list.filter((e) => e.obj.kind === 'Node');
    expect(node.map((e) => [e.type, e.reason, e.message])).toEqual([
      [
        'Warning',
        'BackendUnreachable',
        'Status poll of 1 pods failed; pods keep their last known state: API down',
      ],
      ['Normal', 'BackendReachable', 'Status polls of the interLink API work again'],
    ]);
  });

  it('a pod missing from the answers is lost only after backendLostTimeoutMs, and then no longer asked about', async () => {
    const w = await withPods(['a']);
    w.interlink.jobs.clear();
    await w.poller.pollOnce();
    await w.clock.advance(LOST_AFTER_MS);
    await w.poller.pollOnce();
    expect(w.syncer.records.get('ns/a')?.seen).toBe(BACKEND_LOST);
    expect(w.enqueued).toEqual(['ns/a']);
    await w.poller.pollOnce();
    expect(w.interlink.statusCalls).toHaveLength(2);
  });

  it('a pod that reappears is not lost', async () => {
    const w = await withPods(['a']);
    const job = w.interlink.jobs.get('uid-a')!;
    w.interlink.jobs.clear();
    await w.poller.pollOnce();
    w.interlink.jobs.set('uid-a', job);
    await w.poller.pollOnce();
    expect(w.syncer.records.get('ns/a')?.missingSince).toBeUndefined();
  });

  it('deletes backend jobs with no Pod once the cache is synced, retrying a failed delete next poll', async () => {
    const w = await withPods(['a']);
    w.interlink.jobs.set('uid-x', { name: 'x', namespace: 'ns', UID: 'uid-x', JID: 'j', containers: [] });
    // The backend answers about more than it was asked (a restarted plugin's leftovers).
    const status = w.interlink.status.bind(w.interlink);
    w.interlink.status = async (pods) => [...(await status(pods)), w.interlink.jobs.get('uid-x')!];
    w.cache.hasSynced = false;
    await w.poller.pollOnce();
    expect(w.interlink.deleted).toEqual([]);
    w.cache.hasSynced = true;
    w.interlink.deleteErrors.push(unavailable('down'));
    await w.poller.pollOnce();
    expect(w.interlink.deleted).toEqual([]);
    await w.poller.pollOnce();
    expect(w.interlink.deleted.map((p) => p.metadata)).toEqual([
      { name: 'x', namespace: 'ns', uid: 'uid-x' },
    ]);
  });

  it('run() polls every interval until aborted', async () => {
    const w = await withPods(['a']);
    const stop = new AbortController();
    const done = w.poller.run(stop.signal);
    await w.clock.advance(1_000);
    await w.clock.advance(1_000);
    expect(w.interlink.statusCalls).toHaveLength(2);
    stop.abort();
    await done;
  });
});

describe('isLost', () => {
  it.each([
    [{}, 0, false],
    [{ missingSince: 0, createdAt: 0 }, LOST_AFTER_MS - 1, false],
    [{ missingSince: 0, createdAt: 0 }, LOST_AFTER_MS, true],
    [{ missingSince: 0, createdAt: 5_000 }, LOST_AFTER_MS, false],
    [{ missingSince: 0 }, LOST_AFTER_MS, false],
  ])('%j at %i → %s', (rec, now, want) => {
    expect(isLost(rec, now, LOST_AFTER_MS)).toBe(want);
  });

  it('looks at pods just created after firstLookMs: one call for those with no answer yet, none without creates', async () => {
    const w = world(undefined, { firstLookMs: 250 });
    const ctl = new AbortController();
    const running = w.poller.run(ctl.signal);
    w.cache.put(makePod('old'));
    await w.sync('old');
    await w.clock.advance(1_000); // the interval's poll: "old" answered
    for (const n of ['a', 'b']) {
      w.cache.put(makePod(n));
      await w.sync(n);
      w.poller.submitted();
    }
    await w.clock.advance(249);
    expect(w.interlink.statusCalls).toHaveLength(1);
    await w.clock.advance(1);
    const names = () => w.interlink.statusCalls.map((c) => c.map((p) => p.metadata.name));
    expect(names()).toEqual([['old'], ['a', 'b']]);
    expect(w.enqueued).toEqual(['ns/old', 'ns/a', 'ns/b']);
    await w.clock.advance(500); // no create since: no first look before the next interval
    expect(names()).toHaveLength(2);
    await w.clock.advance(250);
    expect(names()).toEqual([['old'], ['a', 'b'], ['old', 'a', 'b']]);
    ctl.abort();
    await running;
  });

  it('without firstLookMs, or while not running, a create waits for the interval', async () => {
    const off = await withPods(['a']);
    off.poller.submitted();
    await off.clock.advance(5_000);
    expect(off.interlink.statusCalls).toEqual([]);
    const idle = world(undefined, { firstLookMs: 250 });
    idle.cache.put(makePod('a'));
    await idle.sync('a');
    idle.poller.submitted();
    await idle.clock.advance(5_000);
    expect(idle.interlink.statusCalls).toEqual([]);
  });
});
