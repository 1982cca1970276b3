/**
 * What every path of the pod syncer shares (syncer.ts dispatches, sync-create.ts,
 * sync-backend.ts and sync-delete.ts do the work): the injected dependencies, the records
 * by key, state transitions, and the status write with its transition Events.
 * Owned by one PodSyncer; the queue runs one sync per key at a time.
 */
import type { Clock } from '../../core/clock.ts';
import type { Logger } from '../../core/logger.ts';
import type { SyncResult } from '../../core/queue.ts';
import type { KubePodStatus } from '../../wire/k8s.ts';
import { type EventRecorder, podRef } from '../events.ts';
import type { InterlinkClient } from '../interlink-client.ts';
import type { Resolution } from '../resolve/resolver.ts';
import { type StatusContext, sameJson, transitionEvents } from '../status/map.ts';
import type { KPod } from './kpod.ts';
import { activeDeadline, kubeTime } from './kpod.ts';
import type { KubeWriter } from './kube-writer.ts';
import { type PodRecord, PodState, type TransitionHook, transition } from './lifecycle.ts';
import type { PodMetrics } from './metrics.ts';

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

export class SyncCore {
  readonly d: PodSyncerDeps;
  readonly records = new Map<string, PodRecord>();

  constructor(deps: PodSyncerDeps) {
    this.d = deps;
  }

  newRecord(pod: KPod, key: string, state: PodState): PodRecord {
    const rec: PodRecord = { key, uid: pod.metadata.uid, pod, state, deleteFailures: 0 };
    this.records.set(key, rec);
    return rec;
  }

  to(rec: PodRecord, to: PodState): void {
    transition(rec, to, this.d.onTransition);
    if (to === PodState.Gone) this.records.delete(rec.key);
  }

  statusCtx(): StatusContext {
    return { now: kubeTime(this.d.clock.now()), hostIP: this.d.hostIP, podIP: this.d.hostIP };
  }

  /** Write the status when it differs from what the pod has; emit transition events. */
  async ensureStatus(
    pod: KPod,
    status: KubePodStatus,
    annotations?: Record<string, string>,
  ): Promise<KPod | undefined> {
    const needAnnotations =
      annotations && Object.entries(annotations).some(([k, v]) => pod.metadata.annotations?.[k] !== v);
    if (!needAnnotations && sameJson(pod.status ?? {}, status)) return pod;
    const updated = await this.d.writer.writeStatus(pod, status, needAnnotations ? annotations : undefined);
    if (updated) {
      for (const e of transitionEvents(pod.status, status))
        this.d.events.record(podRef(pod, e.fieldPath), e.type, e.reason, e.message);
    }
    return updated;
  }

  /** Write a terminal status and move to Finished. */
  async finish(
    rec: PodRecord,
    pod: KPod,
    status: KubePodStatus,
    annotations?: Record<string, string>,
  ): Promise<undefined> {
    await this.ensureStatus(pod, status, annotations);
    this.to(rec, PodState.Finished);
    rec.seen = undefined;
    return undefined;
  }

  /**
   * A pod found in the backend after a restart: what it was given is unknown, so its first
   * volume resync delivers the current volumes and fresh tokens (unless it has no volume
   * ConfigMap or Secret, whose versions then compare equal).
   */
  adopted(rec: PodRecord): void {
    const every = this.d.volumeResyncMs ?? 0;
    if (every > 0 && this.d.resolver.volumeSourceVersions) rec.resyncAt = this.d.clock.now() + every;
  }

  /** What the backend now has: when its tokens are due, which volume sources it was given. */
  delivered(rec: PodRecord, res: Resolution): void {
    rec.refreshAt = res.refreshAt;
    rec.sourceVersions = res.sourceVersions;
    const every = this.d.volumeResyncMs ?? 0;
    rec.resyncAt =
      every > 0 && res.sourceVersions !== undefined && this.d.resolver.volumeSourceVersions
        ? this.d.clock.now() + every
        : undefined;
  }

  /** Look again at the next token refresh, volume resync or the active deadline, whichever comes first. */
  requeue(rec: PodRecord): SyncResult {
    const deadlines: number[] = [];
    if (rec.refreshAt !== undefined) deadlines.push(rec.refreshAt);
    if (rec.resyncAt !== undefined) deadlines.push(rec.resyncAt);
    const deadline = activeDeadline(rec.pod);
    if (deadline !== undefined) deadlines.push(deadline);
    if (deadlines.length === 0) return undefined;
    return { requeueAfterMs: Math.max(0, Math.min(...deadlines) - this.d.clock.now()) };
  }
}
