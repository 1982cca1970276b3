/**
 * Work a docker route answers before doing (issue #16 item 4): each pod's task is queued
 * once, run at most `concurrency` at a time towards dockerd, and retried with backoff until
 * it succeeds or the plugin closes. The routes record the work durably first (a marker file
 * in the pod's directory: background-delete.ts, background-create.ts), so a plugin killed
 * after answering finds it again on its next start.
 */
import { type Clock, systemClock } from '../../core/clock.ts';
import type { Logger } from '../../core/logger.ts';

/** At most `limit` tasks at once; the rest wait in FIFO order. */
export class Limiter {
  readonly #limit: number;
  #running = 0;
  readonly #waiting: Array<() => void> = [];
  constructor(limit: number) {
    this.#limit = Math.max(1, Math.floor(limit));
  }
  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.#running >= this.#limit) await new Promise<void>((r) => this.#waiting.push(r));
    else this.#running++;
    try {
      return await fn();
    } finally {
      const next = this.#waiting.shift();
      if (next) next();
      else this.#running--;
    }
  }
}

/** Backoff between attempts of one background task: 1 s doubling to 30 s. */
export const retryDelayMs = (attempt: number): number => Math.min(30_000, 1000 * 2 ** Math.min(attempt, 5));

export interface BackgroundTasks<A> {
  /** Queue the task of `uid` unless it is queued already; resolves at once. */
  start(uid: string, arg: A): void;
  /** Whether `uid` has a task queued or running. */
  has(uid: string): boolean;
  /** Resolves true once `uid`'s task finished, false when `ms` passed first (or none is queued: true). */
  settled(uid: string, ms: number): Promise<boolean>;
  /** Resolves when every queued task finished (tests, diagnostics). */
  idle(): Promise<void>;
  /** Stop retrying (the plugin closes); a running attempt finishes. */
  close(): void;
}

export interface BackgroundOptions<A> {
  /** One attempt; throws to be retried. */
  run: (uid: string, arg: A) => Promise<void>;
  /** What the task does, for the log ("delete", "create"). */
  what: string;
  concurrency: number;
  log: Logger;
  /** Times the retries (default the real clock). */
  clock?: Clock;
  /** The wait before attempt `attempt + 1` after `err` (default retryDelayMs). */
  delayMs?: (attempt: number, err: unknown) => number;
}

export function backgroundTasks<A>(opts: BackgroundOptions<A>): BackgroundTasks<A> {
  const clock = opts.clock ?? systemClock;
  const delayMs = opts.delayMs ?? retryDelayMs;
  const limiter = new Limiter(opts.concurrency);
  const inFlight = new Map<string, Promise<void>>();
  let closed = false;
  async function loop(uid: string, arg: A): Promise<void> {
    for (let attempt = 0; !closed; attempt++) {
      try {
        await limiter.run(() => opts.run(uid, arg));
        return;
      } catch (err) {
        opts.log.warn({ uid, err, attempt: attempt + 1 }, `background ${opts.what} failed; retrying`);
        await clock.sleep(delayMs(attempt, err));
      }
    }
  }
  return {
    start(uid, arg) {
      if (inFlight.has(uid)) return;
      const p = loop(uid, arg).finally(() => inFlight.delete(uid));
      inFlight.set(uid, p);
    },
    has: (uid) => inFlight.has(uid),
    settled(uid, ms) {
      const p = inFlight.get(uid);
      if (!p) return Promise.resolve(true);
      return new Promise<boolean>((resolve) => {
        const timer = clock.setTimer(() => resolve(false), ms);
        void p.then(() => {
          timer.cancel();
          resolve(true);
        });
      });
    },
    async idle() {
      while (inFlight.size > 0) await Promise.all(inFlight.values());
    },
    close() {
      closed = true;
    },
  };
}
