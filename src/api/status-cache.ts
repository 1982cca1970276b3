/**
 * The last status the plugin reported per pod UID. Written by every /status answer,
 * dropped by /delete and /updateCache (interLink 0.6 keyed its drop by the whole request
 * body, so entries were never dropped). Never served in place of a failed plugin call:
 * the cache is there for observation (a gauge, debugging), not to hide an outage.
 *
 * Owned by one API app; synchronous, so no two requests interleave inside a method.
 */
import type { PodStatus } from '../wire/interlink.ts';

export interface CachedStatus {
  status: PodStatus;
  /** When the plugin reported it (ms since the epoch). */
  at: number;
}

export class StatusCache {
  readonly #entries = new Map<string, CachedStatus>();
  readonly #now: () => number;

  constructor(now: () => number = Date.now) {
    this.#now = now;
  }

  /** Record statuses from one plugin answer; entries without a UID are ignored. */
  update(statuses: readonly PodStatus[]): void {
    const at = this.#now();
    for (const s of statuses) if (s.UID) this.#entries.set(s.UID, { status: s, at });
  }

  get(uid: string): CachedStatus | undefined {
    return this.#entries.get(uid);
  }

  /** Drop one pod's entry; true when there was one. Idempotent. */
  drop(uid: string): boolean {
    return this.#entries.delete(uid);
  }

  get size(): number {
    return this.#entries.size;
  }

  clear(): void {
    this.#entries.clear();
  }
}
