/**
 * Latency and rate summaries (pure). Percentiles are nearest-rank: the smallest observed
 * value with at least p % of the samples at or below it, so every figure is a latency a
 * pod really had (no interpolation between two pods).
 */

export interface Summary {
  count: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
}

/** Nearest-rank percentile of an ascending array; NaN when empty. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

/** Rounded to milliseconds when the values are seconds (3 decimals). */
export const round3 = (n: number) => Math.round(n * 1000) / 1000;

/** Summary of samples (any order). All zero with count 0 when there are none. */
export function summarize(values: readonly number[]): Summary {
  if (values.length === 0) return { count: 0, p50: 0, p90: 0, p99: 0, max: 0, mean: 0 };
  const sorted = [...values].sort((a, b) => a - b);
  const mean = sorted.reduce((s, v) => s + v, 0) / sorted.length;
  return {
    count: sorted.length,
    p50: round3(percentile(sorted, 50)),
    p90: round3(percentile(sorted, 90)),
    p99: round3(percentile(sorted, 99)),
    max: round3(sorted[sorted.length - 1]!),
    mean: round3(mean),
  };
}

/**
 * Events per second between the moments `lo` % and `hi` % of `total` events had happened
 * (the steady part of a burst, without its ramp-up and tail). `times` are event times in
 * seconds, any order; null when fewer than two distinct points exist.
 */
export function sustainedRate(times: readonly number[], total: number, lo = 10, hi = 90): number | null {
  if (times.length < 2 || total < 2) return null;
  const sorted = [...times].sort((a, b) => a - b);
  const i = Math.max(0, Math.ceil((lo / 100) * total) - 1);
  const j = Math.min(sorted.length - 1, Math.ceil((hi / 100) * total) - 1);
  if (j <= i) return null;
  const dt = sorted[j]! - sorted[i]!;
  // Events that all landed in one instant: report the count over 1 ms rather than infinity.
  return Math.round(((j - i) / Math.max(dt, 0.001)) * 100) / 100;
}

/** `count` per `seconds`, 2 decimals; 0 for a zero or negative interval. */
export function rate(count: number, seconds: number): number {
  return seconds > 0 ? Math.round((count / seconds) * 100) / 100 : 0;
}
