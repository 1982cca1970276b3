/**
 * A token bucket that reserves: `reserve()` takes a token now and says how long the caller
 * must wait before using it (0 when one was in the bucket), as golang.org/x/time/rate's
 * Reserve does for client-go. Callers that wait out their reservation go exactly at `qps`
 * after the first `burst`, with no retry loop and no timer of its own.
 */
import type { Clock } from './clock.ts';

export interface RateLimiter {
  /** Take a token; the ms to wait before acting on it (0 = now). */
  reserve(): number;
}

export interface TokenBucketOptions {
  /** Tokens per second; 0 or less = no limit. */
  qps: number;
  /** Tokens the bucket holds (what may go at once after a quiet spell); at least 1. */
  burst: number;
  clock: Pick<Clock, 'now'>;
}

export function tokenBucket(opts: TokenBucketOptions): RateLimiter {
  if (!(opts.qps > 0)) return { reserve: () => 0 };
  const perMs = opts.qps / 1000;
  const burst = Math.max(1, opts.burst);
  let tokens = burst;
  let last = opts.clock.now();
  return {
    reserve() {
      const now = opts.clock.now();
      tokens = Math.min(burst, tokens + (now - last) * perMs);
      last = now;
      tokens -= 1;
      return tokens >= 0 ? 0 : Math.ceil(-tokens / perMs);
    },
  };
}
