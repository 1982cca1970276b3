/**
 * The syncer's delete path: a pod with a deletionTimestamp, or one that left the cache (or
 * whose name now has another UID). The backend delete is retried until confirmed; then the
 * containers are reported terminated and the Pod is deleted with grace 0 and its UID.
 */
import { podRef } from '../events.ts';
import { deletedStatus } from '../status/map.ts';
import { deleteEventsOf } from '../status/probe-events.ts';
import { errMessage, forApi } from './job.ts';
import type { KPod } from './kpod.ts';
import { isTerminalPhase } from './kpod.ts';
import { type PodRecord, PodState } from './lifecycle.ts';
import type { SyncCore } from './sync-core.ts';

/** Delete the pod's job in the backend; a failure is a Warning Event and a throw (retried). */
export async function backendDelete(core: SyncCore, rec: PodRecord, pod: KPod): Promise<void> {
  const { interlink, metrics, events } = core.d;
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

/** The pod we knew is gone (or replaced by a namesake): its backend job must go too. */
export async function forget(core: SyncCore, rec: PodRecord): Promise<void> {
  if (rec.state !== PodState.BackendDeleted) {
    await backendDelete(core, rec, rec.pod);
    core.d.events.normal(podRef(rec.pod), 'Deleted', 'Deleted in the interLink backend');
  }
  core.to(rec, PodState.Gone);
}

/** deletionTimestamp set: stop in the backend, report the containers terminated, delete the Pod. */
export async function deleting(core: SyncCore, rec: PodRecord, pod: KPod): Promise<undefined> {
  const { events } = core.d;
  if (rec.state !== PodState.Deleting && rec.state !== PodState.BackendDeleted) {
    // A finished pod has nothing to stop (the kubelet emits no Killing for it either);
    // "Deleted" below still reports the backend cleanup.
    if (!isTerminalPhase(pod.status?.phase))
      events.normal(
        podRef(pod),
        'Killing',
        `Stopping the pod in the interLink backend${rec.jobId ? ` (job ${rec.jobId})` : ''}`,
      );
    core.to(rec, PodState.Deleting);
  }
  if (rec.state === PodState.Deleting) {
    await backendDelete(core, rec, pod);
    core.to(rec, PodState.BackendDeleted);
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
  const updated = await core.ensureStatus(pod, deletedStatus(pod, core.statusCtx()));
  await core.d.writer.deletePod(updated ?? pod);
  rec.podDeleted = true;
  core.d.logger.debug({ pod: rec.key, uid: rec.uid }, 'pod deleted');
  if (core.d.cache.get(rec.key)?.metadata.uid !== rec.uid) core.to(rec, PodState.Gone);
  return undefined;
}
