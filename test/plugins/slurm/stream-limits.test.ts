/** Stream bounds of the slurm plugin: counts per plugin and per pod, the idle watch on a fake clock. */
import { describe, expect, it } from 'vitest';
import { FakeClock } from '../../../src/core/clock.ts';
import { codeOf, ErrorCode } from '../../../src/errors/index.ts';
import { idleWatch, StreamLimits } from '../../../src/plugins/slurm/stream-limits.ts';

describe('StreamLimits', () => {
  it('bounds streams per pod and in all, and releases once', () => {
    const l = new StreamLimits(3, 2);
    const a1 = l.acquire('a');
    l.acquire('a');
    let err: unknown;
    try {
      l.acquire('a');
    } catch (e) {
      err = e;
    }
    expect(codeOf(err)).toBe(ErrorCode.UNAVAILABLE);
    l.acquire('b');
    expect(() => l.acquire('c')).toThrow(/3 streams/);
    a1();
    a1();
    expect(l.open).toBe(2);
    l.acquire('a');
    expect(() => l.acquire('a')).toThrow(/pod already has 2/);
  });
});

describe('idleWatch', () => {
  it.each([
    // [timeout, touches at, check at, idle fired]
    [100, [], 99, false],
    [100, [], 100, true],
    [100, [50], 149, false],
    [100, [50], 150, true],
    [100, [50, 120, 190], 289, false],
    [100, [50, 120, 190], 290, true],
    [0, [], 1_000_000, false],
  ])('timeout %i, touched at %j, at %i: idle=%s', async (ms, touches, at, want) => {
    const clock = new FakeClock();
    let fired = 0;
    const w = idleWatch(ms, () => fired++, clock);
    let now = 0;
    for (const t of touches) {
      await clock.advance(t - now);
      now = t;
      w.touch();
    }
    await clock.advance(at - now);
    expect(fired).toBe(want ? 1 : 0);
    await clock.advance(10_000);
    expect(fired).toBeLessThanOrEqual(1);
  });

  it('stop clears its timer', async () => {
    const clock = new FakeClock();
    let fired = 0;
    const w = idleWatch(100, () => fired++, clock);
    w.stop();
    expect(clock.pending()).toBe(0);
    await clock.advance(1000);
    expect(fired).toBe(0);
  });
});
