/**
 * Exponential backoff as a value: a policy object that says how long to wait before
 * attempt n, without sleeping itself (callers sleep on their Clock).
 */

export interface BackoffOptions {
  /** Delay before the first retry, ms (default 100). */
  initialMs?: number;
  /** Upper bound of one delay, ms (default 60 s). */
  maxMs?: number;
  /** Growth per failure (default 2). */
  factor?: number;
  /**
   * Randomization in [0, 1]: a delay d becomes a value in [d·(1-jitter), d] (default 0, so
   * tests are exact). Spreads reconnect storms when many clients fail together.
   */
  jitter?: number;
  random?: () => number;
}

export class Backoff {
  readonly initialMs: number;
  readonly maxMs: number;
  readonly factor: number;
  readonly jitter: number;
  readonly #random: () => number;

  constructor(opts: BackoffOptions = {}) {
    this.initialMs = opts.initialMs ?? 100;
    this.maxMs = opts.maxMs ?? 60_000;
    this.factor = opts.factor ?? 2;
    this.jitter = Math.min(1, Math.max(0, opts.jitter ?? 0));
    this.#random = opts.random ?? Math.random;
    if (!(this.initialMs >= 0) || !(this.maxMs >= this.initialMs) || !(this.factor >= 1)) {
      throw new Error(
        `invalid backoff: initialMs=${this.initialMs} maxMs=${this.maxMs} factor=${this.factor}`,
      );
    }
  }

  /** Delay after `failures` consecutive failures (1 = the first failure). */
  delay(failures: number): number {
    if (failures <= 0) return 0;
    const raw = Math.min(this.maxMs, this.initialMs * this.factor ** Math.min(failures - 1, 64));
    if (this.jitter === 0) return raw;
    return Math.round(raw * (1 - this.jitter * this.#random()));
  }
}

/** Per-key failure counting over a Backoff: `next(key)` grows, `forget(key)` resets. */
export class KeyedBackoff<K> {
  readonly #policy: Backoff;
  readonly #failures = new Map<K, number>();

  constructor(policy: Backoff) {
    this.#policy = policy;
  }

  /** Record one more failure of `key` and return how long to wait before retrying it. */
  next(key: K): number {
    const n = (this.#failures.get(key) ?? 0) + 1;
    this.#failures.set(key, n);
    return this.#policy.delay(n);
  }

  failures(key: K): number {
    return this.#failures.get(key) ?? 0;
  }

  forget(key: K): void {
    this.#failures.delete(key);
  }

  get size(): number {
    return this.#failures.size;
  }
}
