/** The docker plugin's background deletes without dockerd: markers, the limiter, retries. */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { FakeClock } from '../../../src/core/clock.ts';
import { silentLogger } from '../../../src/core/logger.ts';
import { Limiter, retryDelayMs } from '../../../src/plugins/docker/background.ts';
import {
  backgroundDeletes,
  readDeleteMarkers,
  writeDeleteMarker,
} from '../../../src/plugins/docker/background-delete.ts';

/** A fresh directory, removed when the test ends. */
async function tempRoot(): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'ilk-bgdel-'));
  onTestFinished(() => rm(root, { recursive: true, force: true }));
  return root;
}

describe('delete markers', () => {
  it('reads back what was written, skips pods without one, and a missing root is none', async () => {
    const root = await tempRoot();
    await writeDeleteMarker(root, 'uid-a', 15);
    await writeDeleteMarker(root, 'uid-b', 0);
    await writeDeleteMarker(root, 'uid-c', 3);
    await writeFile(join(root, 'uid-c', '.deleting'), 'not json');
    await writeDeleteMarker(root, 'uid-d', 1);
    await writeFile(join(root, 'uid-d', '.deleting'), JSON.stringify({ graceSeconds: -4 }));
    expect(Object.fromEntries(await readDeleteMarkers(root))).toEqual({
      'uid-a': 15,
      'uid-b': 0,
      'uid-d': 0,
    });
    expect((await readDeleteMarkers(join(root, 'nope'))).size).toBe(0);
  });

  it.each(['..', '../x', '/etc', ''])('refuses the uid %j as a path', async (uid) => {
    const root = await tempRoot();
    await expect(writeDeleteMarker(root, uid, 1)).rejects.toThrow();
  });
});

describe('retryDelayMs', () => {
  it.each([
    [0, 1000],
    [1, 2000],
    [4, 16_000],
    [5, 30_000],
    [50, 30_000],
  ])('attempt %i waits %i ms', (attempt, ms) => expect(retryDelayMs(attempt)).toBe(ms));
});

describe('Limiter', () => {
  it('runs at most `limit` tasks at once, in FIFO order', async () => {
    const l = new Limiter(2);
    let inFlight = 0;
    let peak = 0;
    const order: number[] = [];
    const gates: Array<() => void> = [];
    const tasks = Array.from({ length: 6 }, (_, i) =>
      l.run(async () => {
        inFlight++;
        peak = Math.max(peak, inFlight);
        order.push(i);
        await new Promise<void>((r) => gates.push(r));
        inFlight--;
      }),
    );
    while (order.length < 6) {
      await new Promise((r) => setImmediate(r));
      for (const g of gates.splice(0)) g();
    }
    await Promise.all(tasks);
    expect(peak).toBe(2);
    expect(order).toEqual([0, 1, 2, 3, 4, 5]);
  });
});

describe('backgroundDeletes', () => {
  it('queues a uid once, retries a failed attempt until it succeeds', async () => {
    const calls: string[] = [];
    let failures = 2;
    const clock = new FakeClock(0);
    const bg = backgroundDeletes({
      remove: async (uid, grace) => {
        calls.push(`${uid}:${grace}`);
        if (failures-- > 0) throw new Error('dockerd down');
      },
      concurrency: 2,
      log: silentLogger(),
      clock,
    });
    bg.start('u1', 5);
    bg.start('u1', 5);
    expect(bg.has('u1')).toBe(true);
    // Two failures: retried after 1 s, then after 2 s more.
    await clock.advance(999);
    expect(calls).toEqual(['u1:5']);
    await clock.advance(1);
    expect(calls).toEqual(['u1:5', 'u1:5']);
    await clock.advance(2000);
    await bg.idle();
    expect(calls).toEqual(['u1:5', 'u1:5', 'u1:5']);
    expect(bg.has('u1')).toBe(false);
    bg.close();
  });

  it('settled: true once the delete finished within the wait, false when the wait ran out first', async () => {
    const clock = new FakeClock(0);
    let finish!: () => void;
    const bg = backgroundDeletes({
      remove: () => new Promise<void>((r) => (finish = r)),
      concurrency: 1,
      log: silentLogger(),
      clock,
    });
    expect(await bg.settled('none', 1000)).toBe(true);
    bg.start('slow', 30);
    const late = bg.settled('slow', 1000);
    await clock.advance(1000);
    expect(await late).toBe(false);
    const inTime = bg.settled('slow', 1000);
    await clock.advance(10);
    finish();
    expect(await inTime).toBe(true);
    await bg.idle();
    bg.close();
  });
});
