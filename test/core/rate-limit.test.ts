import { describe, expect, it } from 'vitest';
import { FakeClock } from '../../src/core/clock.ts';
import { tokenBucket } from '../../src/core/rate-limit.ts';

describe('tokenBucket', () => {
  it('lets the burst go at once, then spaces reservations 1/qps apart', () => {
    const clock = new FakeClock(0);
    const b = tokenBucket({ qps: 10, burst: 3, clock });
    expect([b.reserve(), b.reserve(), b.reserve()]).toEqual([0, 0, 0]);
    // Each further reservation waits one more token's time: 100 ms, 200 ms, 300 ms.
    expect([b.reserve(), b.reserve(), b.reserve()]).toEqual([100, 200, 300]);
  });

  it('refills at qps up to the burst, never beyond', async () => {
    const clock = new FakeClock(0);
    const b = tokenBucket({ qps: 10, burst: 2, clock });
    b.reserve();
    b.reserve();
    await clock.advance(150);
    expect(b.reserve()).toBe(0);
    expect(b.reserve()).toBe(50);
    await clock.advance(60_000);
    expect([b.reserve(), b.reserve(), b.reserve()]).toEqual([0, 0, 100]);
  });

  it.each([0, -1, Number.NaN])('qps %s is no limit', (qps) => {
    const b = tokenBucket({ qps, burst: 1, clock: new FakeClock(0) });
    expect(Array.from({ length: 1000 }, () => b.reserve()).every((w) => w === 0)).toBe(true);
  });
});
