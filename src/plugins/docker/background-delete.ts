/**
 * Docker deletes answered once recorded (issue #16 item 4): `/delete` writes a marker file
 * `<dataRoot>/<uid>/.deleting` (the grace period in it), answers, and the removal (stop with
 * grace, rm, volumes, the pod directory — marker included) runs in the background, retried
 * with backoff until dockerd confirms it, at most `backgroundConcurrency` at a time. A
 * plugin killed after the answer finds the marker on its next start and finishes the
 * delete: nothing is lost, and a repeated `/delete` for a pod already queued is a no-op.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type Clock, systemClock } from '../../core/clock.ts';
import type { Logger } from '../../core/logger.ts';
import { mkdirUnder, writeFileUnder } from '../../core/pod/safe-fs.ts';

export const DELETE_MARKER = '.deleting';

/** Record a delete durably: the marker in the pod's directory (created if need be). */
export async function writeDeleteMarker(dataRoot: string, uid: string, graceSeconds: number): Promise<void> {
  const dir = await mkdirUnder(dataRoot, uid, 0o700, 'pod.metadata.uid');
  await writeFileUnder(dir, DELETE_MARKER, JSON.stringify({ graceSeconds }), 0o600, 'delete marker');
}

/** Every delete recorded and not finished: pod uid → grace seconds. A missing root is none. */
export async function readDeleteMarkers(dataRoot: string): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  let names: string[];
  try {
    names = await readdir(dataRoot);
  } catch {
    return out;
  }
  for (const uid of names) {
    try {
      const text = await readFile(join(dataRoot, uid, DELETE_MARKER), 'utf8');
      const grace = Number((JSON.parse(text) as { graceSeconds?: unknown }).graceSeconds);
      out.set(uid, Number.isFinite(grace) && grace >= 0 ? grace : 0);
    } catch {
      // no marker (a live pod) or an unreadable one
    }
  }
  return out;
}

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

/** Backoff between attempts of one background delete: 1 s doubling to 30 s. */
export const retryDelayMs = (attempt: number): number => Math.min(30_000, 1000 * 2 ** Math.min(attempt, 5));

export interface BackgroundDeletes {
  /** Queue the removal of `uid` unless it is queued already; resolves at once. */
  start(uid: string, graceSeconds: number): void;
  /** Whether `uid` has a delete queued or running. */
  has(uid: string): boolean;
  /** Resolves true once `uid`'s delete finished, false when `ms` passed first (or none is queued: true). */
  settled(uid: string, ms: number): Promise<boolean>;
  /** Resolves when every queued delete finished (tests, diagnostics). */
  idle(): Promise<void>;
  /** Stop retrying (the plugin closes); a running attempt finishes. */
  close(): void;
}

export function backgroundDeletes(opts: {
  /** One attempt; throws to be retried. */
  remove: (uid: string, graceSeconds: number) => Promise<void>;
  concurrency: number;
  log: Logger;
  /** Times the retries (default the real clock). */
  clock?: Clock;
}): BackgroundDeletes {
  const clock = opts.clock ?? systemClock;
  const limiter = new Limiter(opts.concurrency);
  const inFlight = new Map<string, Promise<void>>();
  let closed = false;
  async function loop(uid: string, grace: number): Promise<void> {
    for (let attempt = 0; !closed; attempt++) {
      try {
        await limiter.run(() => opts.remove(uid, grace));
        opts.log.info({ uid }, 'pod deleted');
        return;
      } catch (err) {
        opts.log.warn({ uid, err, attempt: attempt + 1 }, 'background delete failed; retrying');
        await clock.sleep(retryDelayMs(attempt));
      }
    }
  }
  return {
    start(uid, grace) {
      if (inFlight.has(uid)) return;
      const p = loop(uid, grace).finally(() => inFlight.delete(uid));
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
