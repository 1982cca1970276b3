/**
 * The pod syncer: `sync(key)` re-reads the pod from the informer cache and does ONE
 * attempt at bringing the world in line (level-triggered, STYLE habits 3-5); it throws to
 * be retried, and the queue owns backoff. Everything it touches is injected: the cache,
 * a KubeWriter (status writes, the final Pod delete), the Event recorder, the interLink
 * client, the resolver and the clock — unit tests drive it with fakes
 * (test/vk/pods/syncer.test.ts). This module dispatches by state; the work is in
 * sync-create.ts (create path), sync-backend.ts (status path of a pod in the backend) and
 * sync-delete.ts (delete path), on what sync-core.ts shares (records, status writes).
 *
 * ## Life of a pod in the VK
 *
 * Each pod the informer shows us gets a small record (lifecycle.ts) in one of these
 * states. A new record starts InBackend when the pod carries our job-id annotation for
 * its UID (a restarted VK re-adopts it), or when the adopter found it in the backend;
 * otherwise Pending.
 *
 * | from             | to               | when                                                                    |
 * |------------------|------------------|-------------------------------------------------------------------------|
 * | Pending          | WaitingForConfig | a referenced ConfigMap/Secret is missing (Pending, containers waiting   |
 * |                  |                  | `CreateContainerConfigError`, a FailedMount Event; re-checked ≤ 2 s)     |
 * | WaitingForConfig | Pending          | everything is there now                                                 |
 * | WaitingForConfig | Finished         | still missing after missingResourceTimeoutMs: Failed, ProviderFailed    |
 * | Pending          | InBackend        | create accepted (Submitted Event); the job id rides on the next status  |
 * |                  |                  | write as annotations                                                    |
 * | Pending          | Finished         | create refused (not retryable): Failed, ProviderFailed + Event. A       |
 * |                  |                  | retryable failure stays Pending (reason ProviderFailed) and throws      |
 * | InBackend        | InBackend        | each poller answer that changed: status mapped and written if different;|
 * |                  |                  | service-account tokens re-sent when due (an idempotent re-create)       |
 * | InBackend        | DeadlineExceeded | activeDeadlineSeconds passed: backend delete confirmed                  |
 * | InBackend        | Lost             | the poller has missed it for backendLostTimeoutMs                       |
 * | DeadlineExceeded | Finished         | Failed, DeadlineExceeded written (+ Event)                              |
 * | Lost             | Finished         | Failed, BackendLost written (+ Event)                                   |
 * | any live state   | Finished         | the pod's phase is Succeeded/Failed (the poller stops asking)           |
 * | any live state   | Deleting         | deletionTimestamp set (Killing Event unless already finished)           |
 * | Deleting         | BackendDeleted   | backend delete confirmed (Deleted Event; each failure: Warning Event,   |
 * |                  |                  | retried with backoff, the pod stays Terminating)                        |
 * | BackendDeleted   | Gone             | containers reported terminated, Pod deleted with grace 0 + UID, and the |
 * |                  |                  | pod left the cache; until it does the record stays (`podDeleted`) so a  |
 * |                  |                  | re-sync in between never deletes in the backend again                   |
 * | any other state  | Gone             | the pod left the cache or its name has a new UID: the backend delete is |
 * |                  |                  | retried until confirmed first (from BackendDeleted: nothing left to do) |
 *
 * "Live" = Pending, WaitingForConfig, InBackend, Lost, DeadlineExceeded, Finished.
 * `transition()` throws on a move the table (TRANSITIONS in lifecycle.ts) does not list.
 * The poller (poller.ts) only records observations on InBackend records and enqueues
 * their keys (urgent: status work goes ahead of creates); the adopter (adopter.ts) finds,
 * after a restart, pods that reached the backend before their job id was recorded.
 */

import type { SyncResult } from '../../core/queue.ts';
import type { PodStatus } from '../../wire/interlink.ts';
import { annotatedJob } from './job.ts';
import type { KPod } from './kpod.ts';
import { isTerminalPhase } from './kpod.ts';
import { type PodRecord, PodState } from './lifecycle.ts';
import { inBackend, markDeadline, markLost } from './sync-backend.ts';
import { type PodSyncerDeps, SyncCore } from './sync-core.ts';
import { create } from './sync-create.ts';
import { deleting, forget } from './sync-delete.ts';

export { activeDeadline, needsCorrection } from './kpod.ts';
export type { PodCache, PodSyncerDeps } from './sync-core.ts';

export class PodSyncer {
  readonly #core: SyncCore;

  constructor(deps: PodSyncerDeps) {
    for (const k of [
      'cache',
      'writer',
      'interlink',
      'resolver',
      'events',
      'clock',
      'logger',
      'metrics',
    ] as const)
      if (!deps[k]) throw new Error(`PodSyncer: missing dependency "${k}"`);
    if (!(deps.missingResourceTimeoutMs >= 0))
      throw new Error('PodSyncer: missingResourceTimeoutMs must be ≥ 0');
    this.#core = new SyncCore(deps);
  }

  /** Records by key (read-only for callers; the poller writes only `seen`/`missingSince`). */
  get records(): ReadonlyMap<string, PodRecord> {
    return this.#core.records;
  }

  /** Whether the pod under `key` is known to be in the backend (its work is urgent). */
  inBackend(key: string): boolean {
    return this.#core.records.get(key)?.jobId !== undefined;
  }

  /**
   * Record a pod the adopter found in the backend (`answer`) after a restart, so it is
   * not created again. Call before the workers start (or for a key not yet tracked).
   */
  adopt(pod: KPod, jobId: string, answer: PodStatus, key: string): void {
    const core = this.#core;
    const rec = core.newRecord(pod, key, PodState.InBackend);
    rec.jobId = jobId;
    rec.createdAt = core.d.clock.now();
    rec.seen = answer;
    core.adopted(rec);
  }

  /** One attempt for `key`; throws to be retried. Never call twice for one key at once. */
  async sync(key: string): Promise<SyncResult> {
    const core = this.#core;
    const pod = core.d.cache.get(key);
    let rec = core.records.get(key);
    if (rec && (!pod || pod.metadata.uid !== rec.uid)) {
      await forget(core, rec);
      rec = undefined;
    }
    if (!pod) return undefined;
    if (!rec) {
      const jid = annotatedJob(pod);
      rec = core.newRecord(pod, key, jid ? PodState.InBackend : PodState.Pending);
      if (jid) {
        rec.jobId = jid;
        rec.createdAt = core.d.clock.now();
        core.adopted(rec);
      }
    }
    rec.pod = pod;
    if (pod.metadata.deletionTimestamp) return deleting(core, rec, pod);
    if (isTerminalPhase(pod.status?.phase)) {
      core.to(rec, PodState.Finished);
      // The last backend answer is not needed any more (the poller skips the pod).
      rec.seen = undefined;
      return undefined;
    }
    switch (rec.state) {
      case PodState.Pending:
      case PodState.WaitingForConfig:
        return create(core, rec, pod);
      case PodState.InBackend:
        return inBackend(core, rec, pod);
      case PodState.Lost:
        return markLost(core, rec, pod);
      case PodState.DeadlineExceeded:
        return markDeadline(core, rec, pod);
      default:
        return undefined;
    }
  }
}
