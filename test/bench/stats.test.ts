import { describe, expect, it } from 'vitest';
import { percentile, rate, summarize, sustainedRate } from '../../bench/lib/stats.ts';

describe('percentile (nearest rank)', () => {
  const ten = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
  it.each([
    [ten, 50, 5],
    [ten, 90, 9],
    [ten, 99, 10],
    [ten, 100, 10],
    [ten, 0, 1],
    [[7], 99, 7],
    [[1, 2], 50, 1],
    [[1, 2], 51, 2],
  ])('%j p%d = %d', (values, p, want) => {
    expect(percentile(values, p)).toBe(want);
  });
  it('is NaN for no samples', () => {
    expect(percentile([], 50)).toBeNaN();
  });
});

describe('summarize', () => {
  it('sorts, rounds to ms and reports count, mean and max', () => {
    const values = Array.from({ length: 100 }, (_, i) => (100 - i) / 1000 + 0.00001);
    expect(summarize(values)).toEqual({
      count: 100,
      p50: 0.05,
      p90: 0.09,
      p99: 0.099,
      max: 0.1,
      mean: 0.051,
    });
  });
  it('is all zero for no samples', () => {
    expect(summarize([])).toEqual({ count: 0, p50: 0, p90: 0, p99: 0, max: 0, mean: 0 });
  });
});

describe('sustainedRate', () => {
  it('counts events between the 10 % and 90 % marks', () => {
    // 100 events, one every 0.1 s: 10 per second in the steady part.
    const times = Array.from({ length: 100 }, (_, i) => i / 10);
    expect(sustainedRate(times, 100)).toBe(10);
  });
  it('ignores a slow ramp-up and tail', () => {
    const times = [0, 5, ...Array.from({ length: 96 }, (_, i) => 10 + i / 100), 60, 90];
    expect(sustainedRate(times, 100)).toBeGreaterThan(90);
  });
  it('is null for too few events', () => {
    expect(sustainedRate([1], 1)).toBeNull();
    expect(sustainedRate([], 10)).toBeNull();
  });
  it('stays finite when everything happened at once', () => {
    expect(sustainedRate(Array(50).fill(3), 50)).toBe(40_000);
  });
});

describe('rate', () => {
  it.each([
    [100, 4, 25],
    [1, 3, 0.33],
    [5, 0, 0],
    [5, -1, 0],
  ])('%d / %d s = %d', (n, s, want) => {
    expect(rate(n, s)).toBe(want);
  });
});
