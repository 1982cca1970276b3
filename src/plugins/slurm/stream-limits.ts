/**
 * Bounds of the slurm plugin's exec/attach/port-forward streams: how many at once (in the
 * plugin and per pod) and how long one may stay silent. Time is injected (tests drive it).
 */
import { type Clock, systemClock, type Timer } from '../../core/clock.ts';
import { unavailable } from '../../errors/index.ts';

/** Counts open streams; `acquire` throws UNAVAILABLE beyond a bound. Not shared between plugins. */
export class StreamLimits {
  readonly #maxTotal: number;
  readonly #maxPerPod: number;
  readonly #perPod = new Map<string, number>();
  #total = 0;

  constructor(maxTotal: number, maxPerPod: number) {
    this.#maxTotal = maxTotal;
    this.#maxPerPod = maxPerPod;
  }

  get open(): number {
    return this.#total;
  }

  /** Take one slot for the pod `uid`; the returned release may be called more than once. */
  acquire(uid: string): () => void {
    const mine = this.#perPod.get(uid) ?? 0;
    if (mine >= this.#maxPerPod)
      throw unavailable(`the pod already has ${this.#maxPerPod} streams open; try again later`);
    if (this.#total >= this.#maxTotal)
      throw unavailable(`the slurm plugin already has ${this.#maxTotal} streams open; try again later`);
    this.#total++;
    this.#perPod.set(uid, mine + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#total--;
      const n = (this.#perPod.get(uid) ?? 1) - 1;
      if (n <= 0) this.#perPod.delete(uid);
      else this.#perPod.set(uid, n);
    };
  }
}

export interface IdleWatch {
  /** Record activity (cheap: no timer is touched). */
  touch(): void;
  stop(): void;
}

/**
 * Calls `onIdle` once when `touch` was not called for `ms` (0 = never). One timer at a time,
 * re-armed for the remainder when it fires early, so touching per chunk costs nothing.
 */
export function idleWatch(ms: number, onIdle: () => void, clock: Clock = systemClock): IdleWatch {
  if (ms <= 0) return { touch() {}, stop() {} };
  let last = clock.now();
  let stopped = false;
  let timer: Timer | undefined;
  const arm = (delay: number) => {
    timer = clock.setTimer(() => {
      if (stopped) return;
      const quiet = clock.now() - last;
      if (quiet >= ms) {
        stopped = true;
        onIdle();
      } else arm(ms - quiet);
    }, delay);
  };
  arm(ms);
  return {
    touch() {
      last = clock.now();
    },
    stop() {
      stopped = true;
      timer?.cancel();
    },
  };
}
