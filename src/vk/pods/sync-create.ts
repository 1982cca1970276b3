/**
 * The syncer's create path (Pending / WaitingForConfig): resolve what the pod refers to,
 * wait (bounded) for a missing ConfigMap or Secret, then create the pod in the backend.
 */
import type { SyncResult } from '../../core/queue.ts';
import { isRetryable } from '../../errors/index.ts';
import { podRef } from '../events.ts';
import { describeMissing } from '../resolve/env.ts';
import type { Resolution } from '../resolve/resolver.ts';
import { configErrorPending, desiredStatus, failedStatus, providerFailedPending } from '../status/map.ts';
import { errMessage, jobAnnotations } from './job.ts';
import type { KPod } from './kpod.ts';
import { needsCorrection } from './kpod.ts';
import { type PodRecord, PodState } from './lifecycle.ts';
import type { SyncCore } from './sync-core.ts';

/** Pending / WaitingForConfig: resolve, wait (bounded) for missing objects, create. */
export async function create(core: SyncCore, rec: PodRecord, pod: KPod): Promise<SyncResult> {
  const res = await core.d.resolver.resolve(pod);
  if (res.missing.length > 0) return waitForConfig(core, rec, pod, res);
  if (rec.state === PodState.WaitingForConfig) {
    rec.waiting = undefined;
    core.to(rec, PodState.Pending);
  }
  for (const w of res.warnings) core.d.logger.warn({ pod: rec.key }, w);
  return submit(core, rec, pod, res);
}

async function waitForConfig(
  core: SyncCore,
  rec: PodRecord,
  pod: KPod,
  res: Resolution,
): Promise<SyncResult> {
  const { clock, events, missingResourceTimeoutMs: limit } = core.d;
  const what = res.missing.map((m) => describeMissing(m, pod.metadata.namespace)).join('; ');
  const now = clock.now();
  const since = rec.waiting?.since ?? now;
  const waited = now - since;
  const changed = rec.waiting?.what !== what;
  rec.waiting = { since, what };
  core.to(rec, PodState.WaitingForConfig);
  if (waited >= limit) {
    const message = `${what} (waited ${Math.round(waited / 1000)} s); create it and recreate the pod`;
    events.warning(podRef(pod), 'ProviderFailed', message);
    return core.finish(rec, pod, failedStatus(pod, 'ProviderFailed', message, core.statusCtx()));
  }
  if (changed)
    events.warning(podRef(pod), 'FailedMount', `${what}; waiting up to ${Math.round(limit / 1000)} s for it`);
  await core.ensureStatus(pod, configErrorPending(pod, what, core.statusCtx()));
  return { requeueAfterMs: Math.min(2_000, limit - waited) };
}

async function submit(core: SyncCore, rec: PodRecord, pod: KPod, res: Resolution): Promise<SyncResult> {
  const { interlink, metrics, events, clock } = core.d;
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
      await core
        .ensureStatus(pod, providerFailedPending(pod, message, core.statusCtx()))
        .catch(() => undefined);
      throw err;
    }
    events.warning(podRef(pod), 'ProviderFailed', message);
    return core.finish(rec, pod, failedStatus(pod, 'ProviderFailed', message, core.statusCtx()));
  }
  rec.jobId = jid;
  rec.createdAt = clock.now();
  core.delivered(rec, res);
  core.to(rec, PodState.InBackend);
  events.normal(
    podRef(pod),
    'Submitted',
    `Submitted to the interLink API at ${interlink.describe()} as job ${jid}`,
  );
  core.d.logger.debug({ pod: rec.key, uid: rec.uid, jid }, 'pod created in the backend');
  // The pod shows an earlier failure of ours: correct it now, with the job id.
  if (needsCorrection(pod))
    await core.ensureStatus(
      pod,
      desiredStatus(pod, undefined, core.statusCtx()),
      jobAnnotations(jid, rec.uid),
    );
  // Otherwise the job id rides on the pod's next status write, which the first poll
  // answer triggers (inBackend writes the annotations while they are missing): one
  // apiserver write per pod less, and the create sync does not wait for it. Until then a
  // restarted VK finds the pod by the adopter (one /status call about every
  // non-terminal pod without the annotation); and a create that reaches the plugin
  // again is idempotent per pod UID (plugin contract).
  return core.requeue(rec);
}
