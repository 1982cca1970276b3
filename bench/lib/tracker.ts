/**
 * What happened to each benchmark pod and when, from the pod watch (pure: the caller
 * passes the time of each observation, in seconds on one monotonic clock).
 *
 * Times are when the benchmark OBSERVED a change (millisecond resolution), not the
 * pod's own timestamps, which Kubernetes keeps to the second. One exception: a pod
 * that is first seen already finished (it ran between two status writes of the VK) has
 * no observed Running moment; its Running time is then taken from its containers'
 * `startedAt`, clamped between its scheduling and its end, and counted in
 * `runningFromStartedAt`. `reported` is the other view of the same moment: when the
 * apiserver first showed the pod past Pending, i.e. when a user could see it run.
 */

export type Phase = 'Pending' | 'Running' | 'Succeeded' | 'Failed' | 'Unknown';

/** The fields of a v1.Pod the tracker reads. */
export interface PodView {
  metadata?: { uid?: string; name?: string; deletionTimestamp?: Date | string } | undefined;
  spec?: { nodeName?: string } | undefined;
  status?:
    | {
        phase?: string;
        containerStatuses?: Array<{
          state?: {
            running?: { startedAt?: Date | string };
            terminated?: { startedAt?: Date | string };
          };
        }>;
      }
    | undefined;
}

export interface PodRecord {
  uid: string;
  name: string;
  /** When its create request was sent (pods we create), else when first seen (Job pods). */
  created: number;
  scheduled?: number;
  /** When it started: seen Running, else from its containers' startedAt (see above). */
  running?: number;
  runningFromStartedAt?: boolean;
  /** When the apiserver first showed it past Pending (Running, Succeeded or Failed). */
  reported?: number;
  /** When seen Succeeded or Failed. */
  finished?: number;
  deleted?: number;
  phase: Phase;
}

export interface PhaseCounts {
  /** Seen, not bound to a node yet. */
  unscheduled: number;
  /** Bound, not running yet. */
  scheduled: number;
  running: number;
  succeeded: number;
  failed: number;
  /** Gone from the apiserver. */
  deleted: number;
}

const toMs = (v: Date | string | undefined) => (v === undefined ? Number.NaN : new Date(v).getTime());

export class PodTracker {
  readonly #byUid = new Map<string, PodRecord>();
  readonly #requested = new Map<string, number>();
  /** Epoch ms at our clock's zero: converts the pods' own timestamps to our clock. */
  readonly #epochZeroMs: () => number;

  constructor(epochZeroMs: () => number) {
    this.#epochZeroMs = epochZeroMs;
  }

  /** The create request for `name` was sent at `t` (call before sending it). */
  requested(name: string, t: number): void {
    this.#requested.set(name, t);
  }

  /** A create request failed for good: forget it. */
  abandoned(name: string): void {
    this.#requested.delete(name);
  }

  /** Feed one watch event (ADDED, MODIFIED, DELETED) observed at `t`. Idempotent per state. */
  observe(type: string, pod: PodView, t: number): void {
    const uid = pod.metadata?.uid;
    const name = pod.metadata?.name;
    if (!uid || !name) return;
    let rec = this.#byUid.get(uid);
    if (!rec) {
      rec = { uid, name, created: this.#requested.get(name) ?? t, phase: 'Pending' };
      this.#byUid.set(uid, rec);
    }
    if (type === 'DELETED') {
      this.#update(rec, pod, t);
      rec.deleted ??= t;
      return;
    }
    this.#update(rec, pod, t);
  }

  /**
   * After a relist: pods we knew that the list no longer holds were deleted meanwhile
   * (their DELETED event fell in the gap).
   */
  relisted(uids: ReadonlySet<string>, t: number): void {
    for (const rec of this.#byUid.values()) if (!uids.has(rec.uid)) rec.deleted ??= t;
  }

  #update(rec: PodRecord, pod: PodView, t: number): void {
    if (pod.spec?.nodeName) rec.scheduled ??= t;
    const phase = (pod.status?.phase ?? 'Pending') as Phase;
    // Phases only move forward; an older event replayed after a relist must not undo one.
    if (rec.finished !== undefined) return;
    rec.phase = phase;
    if (phase === 'Running' || phase === 'Succeeded' || phase === 'Failed') rec.reported ??= t;
    if (phase === 'Running') rec.running ??= t;
    if (phase === 'Succeeded' || phase === 'Failed') {
      rec.finished = t;
      rec.scheduled ??= t;
      if (rec.running === undefined) {
        const started = Math.min(
          ...(pod.status?.containerStatuses ?? []).map((c) =>
            toMs(c.state?.terminated?.startedAt ?? c.state?.running?.startedAt),
          ),
        );
        const fromPod = Number.isFinite(started) ? (started - this.#epochZeroMs()) / 1000 : t;
        rec.running = Math.min(t, Math.max(rec.scheduled, fromPod));
        rec.runningFromStartedAt = true;
      }
    }
  }

  records(): PodRecord[] {
    return [...this.#byUid.values()];
  }

  get size(): number {
    return this.#byUid.size;
  }

  /** Pods seen Succeeded or Failed (deleted ones included). */
  finishedCount(): number {
    let n = 0;
    for (const r of this.#byUid.values()) if (r.finished !== undefined) n++;
    return n;
  }

  deletedCount(): number {
    let n = 0;
    for (const r of this.#byUid.values()) if (r.deleted !== undefined) n++;
    return n;
  }

  counts(): PhaseCounts {
    const c: PhaseCounts = { unscheduled: 0, scheduled: 0, running: 0, succeeded: 0, failed: 0, deleted: 0 };
    for (const r of this.#byUid.values()) {
      if (r.deleted !== undefined) c.deleted++;
      else if (r.phase === 'Succeeded') c.succeeded++;
      else if (r.phase === 'Failed') c.failed++;
      else if (r.phase === 'Running') c.running++;
      else if (r.scheduled !== undefined) c.scheduled++;
      else c.unscheduled++;
    }
    return c;
  }
}
