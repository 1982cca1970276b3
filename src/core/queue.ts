/**
 * A keyed, de-duplicating, rate-limited work queue in the client-go shape
 * (util/workqueue): a dirty set (keys waiting), a processing set (keys a worker holds) and
 * an ordered queue. Guarantees:
 *   - a key is handed to at most one worker at a time;
 *   - adding a key that already waits does nothing; adding a key being processed marks it
 *     dirty, and it is queued again once the worker calls `done`;
 *   - `addRateLimited` waits max(per-key exponential backoff, overall token bucket), so a
 *     storm of failing keys cannot hammer the backend;
 *   - `addAfter` keeps the earliest of several pending delays of one key;
 *   - `add(key, { urgent: true })` queues ahead of ordinary keys (FIFO among urgent ones),
 *     so cheap follow-up work (a status change of a pod already running) does not wait
 *     behind a backlog of expensive first-time work (creates). An urgent add of a key that
 *     already waits in the ordinary queue moves it forward.
 * Time comes from an injected Clock (tests drive it with FakeClock).
 */
import { Backoff, KeyedBackoff } from './backoff.ts';
import { type Clock, systemClock, type Timer } from './clock.ts';

export interface WorkQueueOptions {
  clock?: Clock;
  /** Per-key retry policy (default: 200 ms doubling up to 5 min, like client-go's 5 ms..1000 s but saner for a remote backend). */
  backoff?: Backoff;
  /** Overall retry rate, tokens per second (default 10), and burst (default 100). */
  retryQps?: number;
  retryBurst?: number;
}

export class WorkQueue<K = string> {
  readonly #clock: Clock;
  readonly #failures: KeyedBackoff<K>;
  readonly #qps: number;
  readonly #burst: number;
  #tokens: number;
  #tokensAt: number;

  readonly #queue = new Set<K>();
  readonly #urgent = new Set<K>();
  /** Dirty keys that asked to be urgent (remembered while a worker holds them). */
  readonly #wantsUrgent = new Set<K>();
  readonly #dirty = new Set<K>();
  readonly #processing = new Set<K>();
  readonly #delayed = new Map<K, { at: number; timer: Timer }>();
  readonly #waiters: Array<(key: K | undefined) => void> = [];
  #shutdown = false;

  constructor(opts: WorkQueueOptions = {}) {
    this.#clock = opts.clock ?? systemClock;
    this.#failures = new KeyedBackoff(opts.backoff ?? new Backoff({ initialMs: 200, maxMs: 300_000 }));
    this.#qps = opts.retryQps ?? 10;
    this.#burst = opts.retryBurst ?? 100;
    if (!(this.#qps > 0) || !(this.#burst >= 1))
      throw new Error(`invalid queue rate limit: qps=${this.#qps} burst=${this.#burst}`);
    this.#tokens = this.#burst;
    this.#tokensAt = this.#clock.now();
  }

  /** Queue `key` now (ahead of ordinary keys when `urgent`). Never blocks; ignored after shutdown. */
  add(key: K, opts?: { urgent?: boolean }): void {
    if (this.#shutdown) return;
    const d = this.#delayed.get(key);
    if (d) {
      d.timer.cancel();
      this.#delayed.delete(key);
    }
    const urgent = opts?.urgent === true;
    if (this.#dirty.has(key)) {
      if (urgent) {
        this.#wantsUrgent.add(key);
        if (this.#queue.delete(key)) this.#urgent.add(key);
      }
      return;
    }
    this.#dirty.add(key);
    if (urgent) this.#wantsUrgent.add(key);
    if (this.#processing.has(key)) return;
    this.#enqueue(key);
  }

  /** Queue `key` after `ms`; an earlier pending delay of the same key wins. */
  addAfter(key: K, ms: number): void {
    if (this.#shutdown) return;
    if (ms <= 0) {
      this.add(key);
      return;
    }
    const at = this.#clock.now() + ms;
    const cur = this.#delayed.get(key);
    if (cur && cur.at <= at) return;
    cur?.timer.cancel();
    const timer = this.#clock.setTimer(() => {
      if (this.#delayed.get(key)?.timer !== timer) return;
      this.#delayed.delete(key);
      this.add(key);
    }, ms);
    this.#delayed.set(key, { at, timer });
  }

  /** Queue `key` after its next backoff step (and the overall rate limit). Returns the delay. */
  addRateLimited(key: K): number {
    const perKey = this.#failures.next(key);
    const ms = Math.max(perKey, this.#reserveToken());
    this.addAfter(key, ms);
    return ms;
  }

  /** Reset `key`'s backoff (after a success, or when giving up on it). */
  forget(key: K): void {
    this.#failures.forget(key);
  }

  /** Consecutive failures recorded for `key`. */
  failures(key: K): number {
    return this.#failures.failures(key);
  }

  /**
   * The next key to process; waits while the queue is empty. Resolves undefined once the
   * queue is shut down (or `signal` aborts). The caller must call `done(key)`.
   */
  get(signal?: AbortSignal): Promise<K | undefined> {
    if (this.len() > 0) return Promise.resolve(this.#take());
    if (this.#shutdown || signal?.aborted) return Promise.resolve(undefined);
    return new Promise((resolve) => {
      const waiter = (key: K | undefined) => {
        signal?.removeEventListener('abort', onAbort);
        resolve(key);
      };
      const onAbort = () => {
        const i = this.#waiters.indexOf(waiter);
        if (i >= 0) this.#waiters.splice(i, 1);
        resolve(undefined);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#waiters.push(waiter);
    });
  }

  /** The worker finished `key`; if it was added meanwhile, it is queued again. */
  done(key: K): void {
    this.#processing.delete(key);
    if (this.#dirty.has(key) && !this.#shutdown) this.#enqueue(key);
  }

  /** Keys waiting to be handed out (the queue depth). */
  len(): number {
    return this.#queue.size + this.#urgent.size;
  }

  /** Keys waiting for a delay or backoff to pass. */
  delayedLen(): number {
    return this.#delayed.size;
  }

  processingLen(): number {
    return this.#processing.size;
  }

  isShutdown(): boolean {
    return this.#shutdown;
  }

  /** Stop handing out keys; pending delays are dropped and waiting `get`s resolve undefined. */
  shutdown(): void {
    if (this.#shutdown) return;
    this.#shutdown = true;
    for (const d of this.#delayed.values()) d.timer.cancel();
    this.#delayed.clear();
    for (const w of this.#waiters.splice(0)) w(undefined);
  }

  #enqueue(key: K): void {
    const waiter = this.#waiters.shift();
    if (waiter) {
      this.#dirty.delete(key);
      this.#wantsUrgent.delete(key);
      this.#processing.add(key);
      waiter(key);
      return;
    }
    if (this.#wantsUrgent.has(key)) this.#urgent.add(key);
    else this.#queue.add(key);
  }

  #take(): K {
    const from = this.#urgent.size > 0 ? this.#urgent : this.#queue;
    const key = from.values().next().value as K;
    from.delete(key);
    this.#dirty.delete(key);
    this.#wantsUrgent.delete(key);
    this.#processing.add(key);
    return key;
  }

  /** Token bucket (golang.org/x/time/rate Reserve): delay until this retry's token exists. */
  #reserveToken(): number {
    const now = this.#clock.now();
    this.#tokens = Math.min(this.#burst, this.#tokens + ((now - this.#tokensAt) * this.#qps) / 1000);
    this.#tokensAt = now;
    this.#tokens -= 1;
    return this.#tokens >= 0 ? 0 : Math.ceil((-this.#tokens * 1000) / this.#qps);
  }
}

/** What a sync may ask for besides success: look at this key again later. */
export type SyncResult = undefined | { requeueAfterMs: number };

export interface WorkersOptions<K> {
  queue: WorkQueue<K>;
  /** Keys processed at once (distinct keys; the queue never hands one key to two workers). */
  concurrency: number;
  /** One attempt at bringing `key` to its desired state. Throws to be retried. */
  sync: (key: K) => Promise<SyncResult> | Promise<void>;
  /** Whether a failure is worth a rate-limited retry (default: always). */
  shouldRetry?: (err: unknown, key: K, failures: number) => boolean;
  /** Called for each failure, with the number of consecutive failures (for logs/events). */
  onError?: (err: unknown, key: K, failures: number) => void;
  /** Called after each sync (metrics): duration in ms and whether it succeeded. */
  onSynced?: (key: K, ms: number, ok: boolean) => void;
  clock?: Clock;
  signal: AbortSignal;
}

/**
 * Run `concurrency` workers over `queue` until `signal` aborts (then the queue is shut
 * down and in-flight syncs finish). Resolves when every worker has stopped. Never rejects:
 * sync errors go to the retry policy and `onError`.
 */
export async function runWorkers<K>(opts: WorkersOptions<K>): Promise<void> {
  const { queue, signal } = opts;
  const clock = opts.clock ?? systemClock;
  if (!(opts.concurrency >= 1))
    throw new Error(`runWorkers: concurrency must be ≥ 1, got ${opts.concurrency}`);
  const onAbort = () => queue.shutdown();
  if (signal.aborted) onAbort();
  signal.addEventListener('abort', onAbort, { once: true });
  const worker = async () => {
    for (;;) {
      const key = await queue.get();
      if (key === undefined) return;
      const started = clock.now();
      try {
        const result = await opts.sync(key);
        queue.forget(key);
        opts.onSynced?.(key, clock.now() - started, true);
        if (result && result.requeueAfterMs >= 0) queue.addAfter(key, result.requeueAfterMs);
      } catch (err) {
        opts.onSynced?.(key, clock.now() - started, false);
        const failures = queue.failures(key) + 1;
        try {
          opts.onError?.(err, key, failures);
        } catch {
          // a logging hook must not stop a worker
        }
        if (opts.shouldRetry?.(err, key, failures) ?? true) queue.addRateLimited(key);
        else queue.forget(key);
      } finally {
        queue.done(key);
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: opts.concurrency }, worker));
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
}
