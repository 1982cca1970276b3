import { describe, expect, it } from 'vitest';
import { Backoff, KeyedBackoff } from '../../src/core/backoff.ts';
import { FakeClock, flushMicrotasks } from '../../src/core/clock.ts';
import { runWorkers, WorkQueue } from '../../src/core/queue.ts';

const newQueue = (clock = new FakeClock(), extra = {}) =>
  new WorkQueue<string>({
    clock,
    backoff: new Backoff({ initialMs: 100, maxMs: 1_000 }),
    retryQps: 1_000,
    retryBurst: 1_000,
    ...extra,
  });

describe('Backoff', () => {
  it('doubles from the initial delay up to the cap', () => {
    const b = new Backoff({ initialMs: 100, maxMs: 1_000 });
    expect([0, 1, 2, 3, 4, 5, 6, 50].map((n) => b.delay(n))).toEqual([
      0, 100, 200, 400, 800, 1_000, 1_000, 1_000,
    ]);
  });
  it('jitter shortens a delay by at most its fraction', () => {
    const b = new Backoff({ initialMs: 1_000, maxMs: 1_000, jitter: 0.5, random: () => 1 });
    expect(b.delay(1)).toBe(500);
    expect(new Backoff({ initialMs: 1_000, maxMs: 1_000, jitter: 0.5, random: () => 0 }).delay(1)).toBe(
      1_000,
    );
  });
  it('rejects a nonsensical policy', () => {
    expect(() => new Backoff({ initialMs: 10, maxMs: 5 })).toThrow(/invalid backoff/);
    expect(() => new Backoff({ factor: 0.5 })).toThrow(/invalid backoff/);
  });
  it('counts failures per key and forgets them', () => {
    const k = new KeyedBackoff<string>(new Backoff({ initialMs: 10, maxMs: 100 }));
    expect([k.next('a'), k.next('a'), k.next('b'), k.next('a')]).toEqual([10, 20, 10, 40]);
    k.forget('a');
    expect(k.failures('a')).toBe(0);
    expect(k.next('a')).toBe(10);
  });
});

describe('WorkQueue', () => {
  it('hands keys out in order and merges repeated adds of a waiting key', async () => {
    const q = newQueue();
    q.add('a');
    q.add('b');
    q.add('a');
    expect(q.len()).toBe(2);
    expect(await q.get()).toBe('a');
    expect(await q.get()).toBe('b');
    expect(q.len()).toBe(0);
  });

  it('never hands one key to two workers: an add during processing waits for done', async () => {
    const q = newQueue();
    q.add('a');
    const first = await q.get();
    expect(first).toBe('a');
    q.add('a');
    q.add('a');
    expect(q.len()).toBe(0);
    let second: string | undefined;
    void q.get().then((k) => {
      second = k;
    });
    await flushMicrotasks();
    expect(second).toBeUndefined();
    q.done('a');
    await flushMicrotasks();
    expect(second).toBe('a');
    q.done('a');
    expect(q.len()).toBe(0);
    expect(q.processingLen()).toBe(0);
  });

  it('urgent keys go ahead of ordinary ones; an urgent add moves a waiting key forward', async () => {
    const q = newQueue();
    q.add('c1');
    q.add('c2');
    q.add('c3');
    q.add('s1', { urgent: true });
    q.add('c3', { urgent: true });
    q.add('s1');
    expect(q.len()).toBe(4);
    const order: string[] = [];
    for (let i = 0; i < 4; i++) {
      const k = (await q.get())!;
      order.push(k);
      q.done(k);
    }
    expect(order).toEqual(['s1', 'c3', 'c1', 'c2']);
    expect(q.len()).toBe(0);
  });

  it('an urgent add of a key being processed requeues it as urgent once done', async () => {
    const q = newQueue();
    q.add('a');
    expect(await q.get()).toBe('a');
    q.add('b');
    q.add('a', { urgent: true });
    q.done('a');
    expect(await q.get()).toBe('a');
    q.done('a');
    expect(await q.get()).toBe('b');
    q.done('b');
    // The urgency was consumed: a later ordinary add of 'a' is ordinary again.
    q.add('b');
    q.add('a');
    expect(await q.get()).toBe('b');
  });

  it('done without a re-add does not requeue', async () => {
    const q = newQueue();
    q.add('a');
    await q.get();
    q.done('a');
    expect(q.len()).toBe(0);
  });

  it('a waiting get receives the next add', async () => {
    const q = newQueue();
    const got = q.get();
    q.add('x');
    expect(await got).toBe('x');
    expect(q.processingLen()).toBe(1);
  });

  it('addAfter fires at the due time, keeps the earliest of two delays, and add supersedes it', async () => {
    const clock = new FakeClock();
    const q = newQueue(clock);
    q.addAfter('a', 500);
    q.addAfter('a', 200);
    q.addAfter('a', 900);
    expect(q.delayedLen()).toBe(1);
    await clock.advance(199);
    expect(q.len()).toBe(0);
    await clock.advance(1);
    expect(q.len()).toBe(1);
    expect(q.delayedLen()).toBe(0);
    await q.get();
    q.done('a');
    q.addAfter('b', 300);
    q.add('b');
    expect(q.len()).toBe(1);
    expect(q.delayedLen()).toBe(0);
    await clock.advance(1_000);
    expect(q.len()).toBe(1);
  });

  it('addRateLimited backs off exponentially per key until forgotten', () => {
    const clock = new FakeClock();
    const q = newQueue(clock);
    expect([
      q.addRateLimited('a'),
      q.addRateLimited('a'),
      q.addRateLimited('a'),
      q.addRateLimited('b'),
    ]).toEqual([100, 200, 400, 100]);
    expect(q.failures('a')).toBe(3);
    q.forget('a');
    expect(q.addRateLimited('a')).toBe(100);
  });

  it('an overall token bucket limits retries of many keys', async () => {
    const clock = new FakeClock();
    const q = new WorkQueue<string>({
      clock,
      backoff: new Backoff({ initialMs: 1, maxMs: 1 }),
      retryQps: 10,
      retryBurst: 2,
    });
    // Burst of 2 passes with only the per-key delay; then one token per 100 ms.
    expect(['a', 'b', 'c', 'd'].map((k) => q.addRateLimited(k))).toEqual([1, 1, 100, 200]);
    await clock.advance(1_000);
    expect(q.addRateLimited('e')).toBe(1);
  });

  it('shutdown releases waiters and drops pending delays', async () => {
    const clock = new FakeClock();
    const q = newQueue(clock);
    const waiting = q.get();
    q.addAfter('a', 100);
    q.shutdown();
    expect(await waiting).toBeUndefined();
    expect(q.delayedLen()).toBe(0);
    expect(clock.pending()).toBe(0);
    q.add('b');
    expect(q.len()).toBe(0);
    expect(await q.get()).toBeUndefined();
  });

  it('get honours an abort signal', async () => {
    const q = newQueue();
    const ctl = new AbortController();
    const p = q.get(ctl.signal);
    ctl.abort();
    expect(await p).toBeUndefined();
    q.add('a');
    // The aborted waiter must not have swallowed the key.
    expect(await q.get()).toBe('a');
  });
});

describe('runWorkers', () => {
  it('runs distinct keys concurrently up to the limit, never one key twice at once', async () => {
    const clock = new FakeClock();
    const q = newQueue(clock);
    const ctl = new AbortController();
    const running = new Set<string>();
    let maxParallel = 0;
    let overlap = false;
    const gates = new Map<string, () => void>();
    const calls: string[] = [];
    const done = runWorkers({
      queue: q,
      concurrency: 2,
      clock,
      signal: ctl.signal,
      sync: async (key) => {
        if (running.has(key)) overlap = true;
        running.add(key);
        calls.push(key);
        maxParallel = Math.max(maxParallel, running.size);
        await new Promise<void>((r) => gates.set(key, r));
        running.delete(key);
      },
    });
    q.add('a');
    q.add('b');
    q.add('c');
    await flushMicrotasks();
    expect(calls).toEqual(['a', 'b']);
    q.add('a'); // while a is processing
    gates.get('a')!();
    await flushMicrotasks();
    // a's slot goes to c (queued first), then a again once a worker frees up.
    expect(calls).toEqual(['a', 'b', 'c']);
    gates.get('b')!();
    await flushMicrotasks();
    expect(calls).toEqual(['a', 'b', 'c', 'a']);
    gates.get('c')!();
    gates.get('a')!();
    await flushMicrotasks();
    expect(maxParallel).toBe(2);
    expect(overlap).toBe(false);
    ctl.abort();
    await done;
  });

  it('retries a failing key with backoff, resets on success, and honours requeueAfterMs', async () => {
    const clock = new FakeClock();
    const q = newQueue(clock);
    const ctl = new AbortController();
    let attempts = 0;
    const times: number[] = [];
    const errors: number[] = [];
    const t0 = clock.now();
    const done = runWorkers({
      queue: q,
      concurrency: 1,
      clock,
      signal: ctl.signal,
      onError: (_e, _k, failures) => errors.push(failures),
      sync: async () => {
        attempts++;
        times.push(clock.now() - t0);
        if (attempts <= 3) throw new Error('boom');
        if (attempts === 4) return { requeueAfterMs: 5_000 };
        return undefined;
      },
    });
    q.add('k');
    await clock.advance(0);
    expect(attempts).toBe(1);
    await clock.advance(100);
    expect(attempts).toBe(2);
    await clock.advance(200);
    expect(attempts).toBe(3);
    await clock.advance(400);
    expect(attempts).toBe(4);
    expect(q.failures('k')).toBe(0);
    await clock.advance(4_999);
    expect(attempts).toBe(4);
    await clock.advance(1);
    expect(attempts).toBe(5);
    expect(times).toEqual([0, 100, 300, 700, 5_700]);
    expect(errors).toEqual([1, 2, 3]);
    ctl.abort();
    await done;
  });

  it('shouldRetry=false drops the key and forgets its failures', async () => {
    const clock = new FakeClock();
    const q = newQueue(clock);
    const ctl = new AbortController();
    let attempts = 0;
    const done = runWorkers({
      queue: q,
      concurrency: 1,
      clock,
      signal: ctl.signal,
      shouldRetry: () => false,
      sync: async () => {
        attempts++;
        throw new Error('permanent');
      },
    });
    q.add('k');
    await clock.advance(10_000);
    expect(attempts).toBe(1);
    expect(q.failures('k')).toBe(0);
    ctl.abort();
    await done;
  });

  it('stops when the signal aborts, after in-flight syncs finish', async () => {
    const clock = new FakeClock();
    const q = newQueue(clock);
    const ctl = new AbortController();
    let release!: () => void;
    let finished = false;
    const done = runWorkers({
      queue: q,
      concurrency: 3,
      clock,
      signal: ctl.signal,
      sync: async () => {
        await new Promise<void>((r) => {
          release = r;
        });
        finished = true;
      },
    }).then(() => 'stopped');
    q.add('a');
    await flushMicrotasks();
    ctl.abort();
    let state = 'running';
    void done.then((s) => {
      state = s;
    });
    await flushMicrotasks();
    expect(state).toBe('running');
    release();
    expect(await done).toBe('stopped');
    expect(finished).toBe(true);
  });
});
