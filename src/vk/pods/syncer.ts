/**
 * The pod syncer: `sync(key)` re-reads the pod from the informer cache and does ONE
 * attempt at bringing the world in line (level-triggered, STYLE habits 3-5); it throws to
 * be retried, and the queue owns backoff. Everything it touches is injected: the cache,
 * a KubeWriter (status writes, the final Pod delete), the Event recorder, the interLink
 * client, the resolver and the clock — unit tests drive it with fakes
 * (test/vk/pods/syncer.test.ts).
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

import type { Clock } from '../../core/clock.ts';
import type { Logger } from '../../core/logger.ts';
import type { SyncResult } from '../../core/queue.ts';
import { isRetryable } from '../../errors/index.ts';
import type { PodStatus } from '../../wire/interlink.ts';
import { type EventRecorder, podRef } from '../events.ts';
import type { InterlinkClient } from '../interlink-client.ts';
import { describeMissing } from '../resolve/env.ts';
import type { Resolution } from '../resolve/resolver.ts';
import {
  configErrorPending,
  deletedStatus,
  desiredStatus,
  failedStatus,
  providerFailedPending,
  type StatusContext,
  sameJson,
  transitionEvents,
} from '../status/map.ts';
import { deleteEventsOf, probeEventsOf } from '../status/probe-events.ts';
import { annotatedJob, errMessage, forApi, jobAnnotations, TOKEN_REFRESH_ANNOTATION } from './job.ts';
import type { KPod, KPodStatus } from './kpod.ts';
import { activeDeadline, isTerminalPhase, kubeTime, needsCorrection } from './kpod.ts';
import type { KubeWriter } from './kube-writer.ts';
import { BACKEND_LOST, type PodRecord, PodState, type TransitionHook, transition } from './lifecycle.ts';
import type { PodMetrics } from './metrics.ts';

export { activeDeadline, needsCorrection } from './kpod.ts';

const LOST_REASON = 'BackendLost';

/** The informer cache as the syncer reads it. */
export interface PodCache {
  get(key: string): KPod | undefined;
}

export interface PodSyncerDeps {
  cache: PodCache;
  writer: KubeWriter;
  interlink: Pick<InterlinkClient, 'create' | 'delete' | 'updateCache' | 'describe'>;
  resolver: {
    resolve(pod: KPod): Promise<Resolution>;
    /** Resolution.sourceVersions now (for the volume resync; absent: no resync). */
    volumeSourceVersions?(pod: KPod): Promise<string | undefined>;
  };
  events: Pick<EventRecorder, 'record' | 'normal' | 'warning'>;
  clock: Clock;
  logger: Logger;
  metrics: Pick<PodMetrics, 'backendCalls' | 'tokenRefreshes'>;
  /** The address reported as hostIP and podIP. */
  hostIP: string | undefined;
  /** How long a missing ConfigMap/Secret is waited for before the pod fails (ms). */
  missingResourceTimeoutMs: number;
  /**
   * How often a running pod's volume ConfigMaps and Secrets are looked at again (ms); a
   * change is delivered as a refresh. 0 or absent: never (tokens are still refreshed).
   */
  volumeResyncMs?: number;
  /** Called on every state change (metrics, tests). */
  onTransition?: TransitionHook;
}

export class PodSyncer {
  readonly #d: PodSyncerDeps;
  readonly #records = new Map<string, PodRecord>();

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
    this.#d = deps;
  }

  /** Records by key (read-only for callers; the poller writes only `seen`/`missingSince`). */
  get records(): ReadonlyMap<string, PodRecord> {
    return this.#records;
  }

  /** Whether the pod under `key` is known to be in the backend (its work is urgent). */
  inBackend(key: string): boolean {
    return this.#records.get(key)?.jobId !== undefined;
  }

  /**
   * Record a pod the adopter found in the backend (`answer`) after a restart, so it is
   * not created again. Call before the workers start (or for a key not yet tracked).
   */
  adopt(pod: KPod, jobId: string, answer: PodStatus, key: string): void {
    const rec = this.#newRecord(pod, key, PodState.InBackend);
    rec.jobId = jobId;
    rec.createdAt = this.#d.clock.now();
    rec.seen = answer;
    this.#adopted(rec);
  }

  /**
   * A pod found in the backend after a restart: what it was given is unknown, so its first
   * volume resync delivers the current volumes and fresh tokens (unless it has no volume
   * ConfigMap or Secret, whose versions then compare equal).
   */
  #adopted(rec: PodRecord): void {
    const every = this.#d.volumeResyncMs ?? 0;
    if (every > 0 && this.#d.resolver.volumeSourceVersions) rec.resyncAt = this.#d.clock.now() + every;
  }

  /** One attempt for `key`; throws to be retried. Never call twice for one key at once. */
  async sync(key: string): Promise<SyncResult> {
    const pod = this.#d.cache.get(key);
    let rec = this.#records.get(key);
    if (rec && (!pod || pod.metadata.uid !== rec.uid)) {
      await this.#forget(rec);
      rec = undefined;
    }
    if (!pod) return undefined;
    if (!rec) {
      const jid = annotatedJob(pod);
      rec = this.#newRecord(pod, key, jid ? PodState.InBackend : PodState.Pending);
      if (jid) {
        rec.jobId = jid;
        rec.createdAt = this.#d.clock.now();
        this.#adopted(rec);
      }
    }
    rec.pod = pod;
    if (pod.metadata.deletionTimestamp) return this.#deleting(rec, pod);
    if (isTerminalPhase(pod.status?.phase)) {
      this.#to(rec, PodState.Finished);
      // The last backend answer is not needed any more (the poller skips the pod).
      rec.seen = undefined;
      return undefined;
    }
    switch (rec.state) {
      case PodState.Pending:
      case PodState.WaitingForConfig:
        return this.#create(rec, pod);
      case PodState.InBackend:
        return this.#inBackend(rec, pod);
      case PodState.Lost:
        return this.#markLost(rec, pod);
      case PodState.DeadlineExceeded:
        return this.#markDeadline(rec, pod);
      default:
        return undefined;
    }
  }

  #newRecord(pod: KPod, key: string, state: PodState): PodRecord {
    const rec: PodRecord = { key, uid: pod.metadata.uid, pod, state, deleteFailures: 0 };
    this.#records.set(key, rec);
    return rec;
  }

  #to(rec: PodRecord, to: PodState): void {
    transition(rec, to, this.#d.onTransition);
    if (to === PodState.Gone) this.#records.delete(rec.key);
  }

  #ctx(): StatusContext {
    return { now: kubeTime(this.#d.clock.now()), hostIP: this.#d.hostIP, podIP: this.#d.hostIP };
  }

  /** The pod we knew is gone (or replaced by a namesake): its backend job must go too. */
  async #forget(rec: PodRecord): Promise<void> {
    if (rec.state !== PodState.BackendDeleted) {
      await this.#backendDelete(rec, rec.pod);
      this.#d.events.normal(podRef(rec.pod), 'Deleted', 'Deleted in the interLink backend');
    }
    this.#to(rec, PodState.Gone);
  }

  /** Write the status when it differs from what the pod has; emit transition events. */
  async #ensureStatus(
    pod: KPod,
    status: KPodStatus,
    annotations?: Record<string, string>,
  ): Promise<KPod | undefined> {
    const needAnnotations =
      annotations && Object.entries(annotations).some(([k, v]) => pod.metadata.annotations?.[k] !== v);
    if (!needAnnotations && sameJson(pod.status ?? {}, status)) return pod;
    const updated = await this.#d.writer.writeStatus(pod, status, needAnnotations ? annotations : undefined);
    if (updated) {
      for (const e of transitionEvents(pod.status, status))
        this.#d.events.record(podRef(pod, e.fieldPath), e.type, e.reason, e.message);
    }
    return updated;
  }

  /** Write a terminal status and move to Finished. */
  async #finish(rec: PodRecord, pod: KPod, status: KPodStatus, annotations?: Record<string, string>) {
    await this.#ensureStatus(pod, status, annotations);
    this.#to(rec, PodState.Finished);
    rec.seen = undefined;
    return undefined;
  }

  async #backendDelete(rec: PodRecord, pod: KPod): Promise<void> {
    const { interlink, metrics, events } = this.#d;
    try {
      const answer = await interlink.delete(forApi(pod));
      metrics.backendCalls.inc({ op: 'delete', outcome: 'ok' });
      for (const e of deleteEventsOf(answer))
        events.record(podRef(pod, e.fieldPath), e.type, e.reason, e.message);
    } catch (err) {
      metrics.backendCalls.inc({ op: 'delete', outcome: 'error' });
      rec.deleteFailures++;
      events.warning(
        podRef(pod),
        'BackendDeleteFailed',
        `Deleting the pod in the interLink backend failed (attempt ${rec.deleteFailures}); it stays until the backend confirms: ${errMessage(err)}`,
      );
      throw err;
    }
  }

  async #deleting(rec: PodRecord, pod: KPod): Promise<undefined> {
    const { events } = this.#d;
    if (rec.state !== PodState.Deleting && rec.state !== PodState.BackendDeleted) {
      // A finished pod has nothing to stop (the kubelet emits no Killing for it either);
      // "Deleted" below still reports the backend cleanup.
      if (!isTerminalPhase(pod.status?.phase))
        events.normal(
          podRef(pod),
          'Killing',
          `Stopping the pod in the interLink backend${rec.jobId ? ` (job ${rec.jobId})` : ''}`,
        );
      this.#to(rec, PodState.Deleting);
    }
    if (rec.state === PodState.Deleting) {
      await this.#backendDelete(rec, pod);
      this.#to(rec, PodState.BackendDeleted);
      events.normal(
        podRef(pod),
        'Deleted',
        `Deleted in the interLink backend${rec.deleteFailures > 0 ? ` after ${rec.deleteFailures} failed attempts` : ''}`,
      );
    }
    // Our status write and the Pod delete reach the informer after this sync: the record
    // stays (BackendDeleted, podDeleted) until the pod leaves the cache, so the re-syncs they
    // trigger find it and do nothing (without it a fresh record would delete in the backend again).
    if (rec.podDeleted) return undefined;
    const updated = await this.#ensureStatus(pod, deletedStatus(pod, this.#ctx()));
    await this.#d.writer.deletePod(updated ?? pod);
    rec.podDeleted = true;
    this.#d.logger.debug({ pod: rec.key, uid: rec.uid }, 'pod deleted');
    if (this.#d.cache.get(rec.key)?.metadata.uid !== rec.uid) this.#to(rec, PodState.Gone);
    return undefined;
  }

  /** Pending / WaitingForConfig: resolve, wait (bounded) for missing objects, create. */
  async #create(rec: PodRecord, pod: KPod): Promise<SyncResult> {
    const res = await this.#d.resolver.resolve(pod);
    if (res.missing.length > 0) return this.#waitForConfig(rec, pod, res);
    if (rec.state === PodState.WaitingForConfig) {
      rec.waiting = undefined;
      this.#to(rec, PodState.Pending);
    }
    for (const w of res.warnings) this.#d.logger.warn({ pod: rec.key }, w);
    return this.#submit(rec, pod, res);
  }

  async #waitForConfig(rec: PodRecord, pod: KPod, res: Resolution): Promise<SyncResult> {
    const { clock, events, missingResourceTimeoutMs: limit } = this.#d;
    const what = res.missing.map((m) => describeMissing(m, pod.metadata.namespace)).join('; ');
    const now = clock.now();
    const since = rec.waiting?.since ?? now;
    const waited = now - since;
    const changed = rec.waiting?.what !== what;
    rec.waiting = { since, what };
    this.#to(rec, PodState.WaitingForConfig);
    if (waited >= limit) {
      const message = `${what} (waited ${Math.round(waited / 1000)} s); create it and recreate the pod`;
      events.warning(podRef(pod), 'ProviderFailed', message);
      return this.#finish(rec, pod, failedStatus(pod, 'ProviderFailed', message, this.#ctx()));
    }
    if (changed)
      events.warning(
        podRef(pod),
        'FailedMount',
        `${what}; waiting up to ${Math.round(limit / 1000)} s for it`,
      );
    await this.#ensureStatus(pod, configErrorPending(pod, what, this.#ctx()));
    return { requeueAfterMs: Math.min(2_000, limit - waited) };
  }

  async #submit(rec: PodRecord, pod: KPod, res: Resolution): Promise<SyncResult> {
    const { interlink, metrics, events, clock } = this.#d;
    let jid: string;
    try {
      const answer = await interlink.create(res.request);
      metrics.backendCalls.inc({ op: 'create', outcome: 'ok' });
      jid = answer.PodJID;
    } catch (err) {
      metrics.backendCalls.inc({ op: 'create', outcome: 'error' });
      const message = `interLink create failed: ${errMessage(err)}`;
      if (isRetryable(err)) {
        events.warning(podRef(pod), 'BackendError', `${message}; retrying`);
        await this.#ensureStatus(pod, providerFailedPending(pod, message, this.#ctx())).catch(
          () => undefined,
        );
        throw err;
      }
      events.warning(podRef(pod), 'ProviderFailed', message);
      return this.#finish(rec, pod, failedStatus(pod, 'ProviderFailed', message, this.#ctx()));
    }
    rec.jobId = jid;
    rec.createdAt = clock.now();
    this.#delivered(rec, res);
    this.#to(rec, PodState.InBackend);
    events.normal(
      podRef(pod),
      'Submitted',
      `Submitted to the interLink API at ${interlink.describe()} as job ${jid}`,
    );
    this.#d.logger.debug({ pod: rec.key, uid: rec.uid, jid }, 'pod created in the backend');
    // The pod shows an earlier failure of ours: correct it now, with the job id.
    if (needsCorrection(pod))
      await this.#ensureStatus(pod, desiredStatus(pod, undefined, this.#ctx()), jobAnnotations(jid, rec.uid));
    // Otherwise the job id rides on the pod's next status write, which the first poll
    // answer triggers (#inBackend writes the annotations while they are missing): one
    // apiserver write per pod less, and the create sync does not wait for it. Until then a
    // restarted VK finds the pod by the adopter (one /status call about every
    // non-terminal pod without the annotation); and a create that reaches the plugin
    // again is idempotent per pod UID (plugin contract).
    return this.#requeue(rec);
  }

  async #inBackend(rec: PodRecord, pod: KPod): Promise<SyncResult> {
    const deadline = activeDeadline(pod);
    if (deadline !== undefined && this.#d.clock.now() >= deadline) {
      await this.#backendDelete(rec, pod);
      this.#to(rec, PodState.DeadlineExceeded);
      return this.#markDeadline(rec, pod);
    }
    if (rec.seen === BACKEND_LOST) {
      this.#to(rec, PodState.Lost);
      return this.#markLost(rec, pod);
    }
    if (rec.refreshAt !== undefined && this.#d.clock.now() >= rec.refreshAt)
      await this.#refreshTokens(rec, pod);
    else if (rec.resyncAt !== undefined && this.#d.clock.now() >= rec.resyncAt) await this.#resync(rec, pod);
    const annotations = jobAnnotations(rec.jobId!, rec.uid);
    // Re-adopted after a restart, or created and not polled yet: the pod's status stays as
    // it is until the backend has spoken (mapping "no answer yet" would regress Running to Pending).
    const status = rec.seen
      ? desiredStatus(pod, rec.seen, this.#ctx())
      : (pod.status ?? desiredStatus(pod, undefined, this.#ctx()));
    await this.#ensureStatus(pod, status, annotations);
    if (rec.seen) {
      const r = probeEventsOf(rec.probeEvents ?? new Map(), rec.seen);
      rec.probeEvents = r.seen;
      for (const e of r.events) this.#d.events.record(podRef(pod, e.fieldPath), e.type, e.reason, e.message);
    }
    if (isTerminalPhase(status.phase)) {
      this.#to(rec, PodState.Finished);
      rec.seen = undefined;
      return undefined;
    }
    return this.#requeue(rec);
  }

  #markDeadline(rec: PodRecord, pod: KPod): Promise<undefined> {
    const message = `Pod was active on the node longer than the specified deadline (${pod.spec.activeDeadlineSeconds} s)`;
    this.#d.events.warning(podRef(pod), 'DeadlineExceeded', message);
    const status = failedStatus(pod, 'DeadlineExceeded', message, this.#ctx(), {
      exitCode: 137,
      reason: 'DeadlineExceeded',
      message: 'stopped at the pod active deadline',
    });
    return this.#finish(rec, pod, status, jobAnnotations(rec.jobId!, rec.uid));
  }

  #markLost(rec: PodRecord, pod: KPod): Promise<undefined> {
    const message = `The interLink backend no longer knows this pod (job ${rec.jobId}): it was lost by the backend or removed outside Kubernetes`;
    this.#d.events.warning(podRef(pod), LOST_REASON, message);
    const status = failedStatus(pod, LOST_REASON, message, this.#ctx(), {
      exitCode: 137,
      reason: 'ContainerStatusUnknown',
      message: 'The container could not be located when the pod was terminated',
    });
    return this.#finish(rec, pod, status, jobAnnotations(rec.jobId!, rec.uid));
  }

  /** Deliver fresh service-account tokens: an idempotent re-create marked as a refresh. */
  async #refreshTokens(rec: PodRecord, pod: KPod): Promise<void> {
    const { interlink, metrics, clock } = this.#d;
    try {
      const res = await this.#d.resolver.resolve(pod);
      if (res.missing.length > 0)
        throw new Error(res.missing.map((m) => describeMissing(m, pod.metadata.namespace)).join('; '));
      const sent = res.request.pod;
      sent.metadata.annotations = {
        ...sent.metadata.annotations,
        [TOKEN_REFRESH_ANNOTATION]: kubeTime(clock.now()),
      };
      await interlink.create(res.request);
      await interlink.updateCache(forApi(pod)).catch(() => undefined);
      metrics.backendCalls.inc({ op: 'refresh', outcome: 'ok' });
      metrics.tokenRefreshes.inc({ outcome: 'ok' });
      this.#delivered(rec, res);
    } catch (err) {
      metrics.backendCalls.inc({ op: 'refresh', outcome: 'error' });
      metrics.tokenRefreshes.inc({ outcome: 'error' });
      this.#d.logger.warn(
        { pod: rec.key, err: errMessage(err) },
        'service-account token refresh failed; retrying in 30 s',
      );
      rec.refreshAt = clock.now() + 30_000;
    }
  }

  /** What the backend now has: when its tokens are due, which volume sources it was given. */
  #delivered(rec: PodRecord, res: Resolution): void {
    rec.refreshAt = res.refreshAt;
    rec.sourceVersions = res.sourceVersions;
    const every = this.#d.volumeResyncMs ?? 0;
    rec.resyncAt =
      every > 0 && res.sourceVersions !== undefined && this.#d.resolver.volumeSourceVersions
        ? this.#d.clock.now() + every
        : undefined;
  }

  /**
   * The volume resync (the kubelet's periodic ConfigMap/Secret sync): a changed version of a
   * volume's ConfigMap or Secret is delivered as a refresh (tokens included); otherwise look
   * again after the interval. A failed look is retried at the next interval.
   */
  async #resync(rec: PodRecord, pod: KPod): Promise<void> {
    const { resolver, clock } = this.#d;
    rec.resyncAt = clock.now() + (this.#d.volumeResyncMs ?? 0);
    try {
      const now = await resolver.volumeSourceVersions?.(pod);
      if (now === rec.sourceVersions) return;
      this.#d.logger.debug({ pod: rec.key }, 'a volume ConfigMap or Secret changed: refreshing');
      await this.#refreshTokens(rec, pod);
    } catch (err) {
      this.#d.logger.warn({ pod: rec.key, err: errMessage(err) }, 'volume resync failed; retrying later');
    }
  }

  /** Look again at the next token refresh, volume resync or the active deadline, whichever comes first. */
  #requeue(rec: PodRecord): SyncResult {
    const deadlines: number[] = [];
    if (rec.refreshAt !== undefined) deadlines.push(rec.refreshAt);
    if (rec.resyncAt !== undefined) deadlines.push(rec.resyncAt);
    const deadline = activeDeadline(rec.pod);
    if (deadline !== undefined) deadlines.push(deadline);
    if (deadlines.length === 0) return undefined;
    return { requeueAfterMs: Math.max(0, Math.min(...deadlines) - this.#d.clock.now()) };
  }
}
