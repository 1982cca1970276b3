/**
 * The syncer's status path for a pod in the backend: the poller's answers mapped to the
 * pod's status (written when different), the active deadline, a lost pod, and the
 * periodic token refresh and volume resync (an idempotent re-create marked as a refresh).
 */
import type { SyncResult } from '../../core/queue.ts';
import { podRef } from '../events.ts';
import { describeMissing } from '../resolve/env.ts';
import { desiredStatus, failedStatus } from '../status/map.ts';
import { probeEventsOf } from '../status/probe-events.ts';
import { errMessage, forApi, jobAnnotations, TOKEN_REFRESH_ANNOTATION } from './job.ts';
import type { KPod } from './kpod.ts';
import { activeDeadline, isTerminalPhase, kubeTime } from './kpod.ts';
import { BACKEND_LOST, type PodRecord, PodState } from './lifecycle.ts';
import type { SyncCore } from './sync-core.ts';
import { backendDelete } from './sync-delete.ts';

const LOST_REASON = 'BackendLost';

/** InBackend: follow the poller's last answer (and the deadline, tokens, volume resync). */
export async function inBackend(core: SyncCore, rec: PodRecord, pod: KPod): Promise<SyncResult> {
  const now = core.d.clock.now();
  const deadline = activeDeadline(pod);
  if (deadline !== undefined && now >= deadline) {
    await backendDelete(core, rec, pod);
    core.to(rec, PodState.DeadlineExceeded);
    return markDeadline(core, rec, pod);
  }
  if (rec.seen === BACKEND_LOST) {
    core.to(rec, PodState.Lost);
    return markLost(core, rec, pod);
  }
  if (rec.refreshAt !== undefined && now >= rec.refreshAt) await refreshTokens(core, rec, pod);
  else if (rec.resyncAt !== undefined && now >= rec.resyncAt) await resync(core, rec, pod);
  const annotations = jobAnnotations(rec.jobId!, rec.uid);
  // Re-adopted after a restart, or created and not polled yet: the pod's status stays as
  // it is until the backend has spoken (mapping "no answer yet" would regress Running to Pending).
  const status = rec.seen
    ? desiredStatus(pod, rec.seen, core.statusCtx())
    : (pod.status ?? desiredStatus(pod, undefined, core.statusCtx()));
  await core.ensureStatus(pod, status, annotations);
  if (rec.seen) {
    const r = probeEventsOf(rec.probeEvents ?? new Map(), rec.seen);
    rec.probeEvents = r.seen;
    for (const e of r.events) core.d.events.record(podRef(pod, e.fieldPath), e.type, e.reason, e.message);
  }
  if (isTerminalPhase(status.phase)) {
    core.to(rec, PodState.Finished);
    rec.seen = undefined;
    return undefined;
  }
  return core.requeue(rec);
}

export function markDeadline(core: SyncCore, rec: PodRecord, pod: KPod): Promise<undefined> {
  const message = `Pod was active on the node longer than the specified deadline (${pod.spec.activeDeadlineSeconds} s)`;
  core.d.events.warning(podRef(pod), 'DeadlineExceeded', message);
  const status = failedStatus(pod, 'DeadlineExceeded', message, core.statusCtx(), {
    exitCode: 137,
    reason: 'DeadlineExceeded',
    message: 'stopped at the pod active deadline',
  });
  return core.finish(rec, pod, status, jobAnnotations(rec.jobId!, rec.uid));
}

export function markLost(core: SyncCore, rec: PodRecord, pod: KPod): Promise<undefined> {
  const message = `The interLink backend no longer knows this pod (job ${rec.jobId}): it was lost by the backend or removed outside Kubernetes`;
  core.d.events.warning(podRef(pod), LOST_REASON, message);
  const status = failedStatus(pod, LOST_REASON, message, core.statusCtx(), {
    exitCode: 137,
    reason: 'ContainerStatusUnknown',
    message: 'The container could not be located when the pod was terminated',
  });
  return core.finish(rec, pod, status, jobAnnotations(rec.jobId!, rec.uid));
}

/** Deliver fresh service-account tokens: an idempotent re-create marked as a refresh. */
async function refreshTokens(core: SyncCore, rec: PodRecord, pod: KPod): Promise<void> {
  const { interlink, metrics, clock } = core.d;
  try {
    const res = await core.d.resolver.resolve(pod);
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
    core.delivered(rec, res);
  } catch (err) {
    metrics.backendCalls.inc({ op: 'refresh', outcome: 'error' });
    metrics.tokenRefreshes.inc({ outcome: 'error' });
    core.d.logger.warn(
      { pod: rec.key, err: errMessage(err) },
      'service-account token refresh failed; retrying in 30 s',
    );
    rec.refreshAt = clock.now() + 30_000;
  }
}

/**
 * The volume resync (the kubelet's periodic ConfigMap/Secret sync): a changed version of a
 * volume's ConfigMap or Secret is delivered as a refresh (tokens included); otherwise look
 * again after the interval. A failed look is retried at the next interval.
 */
async function resync(core: SyncCore, rec: PodRecord, pod: KPod): Promise<void> {
  const { resolver, clock } = core.d;
  rec.resyncAt = clock.now() + (core.d.volumeResyncMs ?? 0);
  try {
    const now = await resolver.volumeSourceVersions?.(pod);
    if (now === rec.sourceVersions) return;
    core.d.logger.debug({ pod: rec.key }, 'a volume ConfigMap or Secret changed: refreshing');
    await refreshTokens(core, rec, pod);
  } catch (err) {
    core.d.logger.warn({ pod: rec.key, err: errMessage(err) }, 'volume resync failed; retrying later');
  }
}
