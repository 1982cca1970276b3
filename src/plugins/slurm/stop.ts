/** Ending a pod's Slurm job and waiting for Slurm to confirm (the delete path). */
import { readFile } from 'node:fs/promises';
import { preStopHooks } from '../../core/pod/probes.ts';
import { podSpecOf } from '../../core/pod/spec.ts';
import { unavailable } from '../../errors/index.ts';
import type { Pod } from '../../wire/k8s.ts';
import type { CallContext } from '../sdk/types.ts';
import type { SlurmDeps } from './deps.ts';
import { exists } from './pod-status.ts';
import { PRESTOP_DONE, PRESTOP_MARK, PRESTOP_SIGNAL } from './prestop.ts';
import { parseProbeFile } from './probes.ts';
import { ACTIVE_STATES } from './status.ts';

const WAITING = new Set([
  'PENDING',
  'REQUEUED',
  'REQUEUE_HOLD',
  'REQUEUE_FED',
  'RESV_DEL_HOLD',
  'SPECIAL_EXIT',
]);

export async function jobState(d: SlurmDeps, id: string): Promise<string | undefined> {
  const jobs = await d.cli.queue([id]);
  return jobs.get(id)?.state;
}

/** Poll until the job is no longer active; false if it still is after `ms`. */
export async function waitEnded(d: SlurmDeps, id: string, ms: number, signal: AbortSignal): Promise<boolean> {
  const until = d.now() + ms;
  for (;;) {
    const s = await jobState(d, id);
    if (s === undefined || !ACTIVE_STATES.has(s)) return true;
    if (d.now() >= until || signal.aborted) return false;
    await d.clock.sleep(d.pollMs);
  }
}

/**
 * The preStop hooks of a running job (prestop.ts), when the pod has any and its script the
 * trap: signal the batch shell alone, then wait until it says the hooks returned, the job
 * ended, or `until` (the end of the grace period) passed. Failed hooks are logged (container
 * names only); the status carries them as FailedPreStopHook.
 */
async function runPreStop(
  d: SlurmDeps,
  id: string,
  pod: Pod,
  until: number,
  ctx: CallContext,
): Promise<void> {
  const hooks = pod.spec ? preStopHooks(pod) : new Map();
  if (hooks.size === 0) return;
  const dir = d.dirOf(pod.metadata.namespace, pod.metadata.uid);
  const script = await readFile(dir.file('job.sh'), 'utf8').catch(() => '');
  if (!script.includes(PRESTOP_MARK)) return;
  ctx.log.info({ uid: pod.metadata.uid, job: id }, 'running the preStop hooks in the Slurm job');
  await d.cli.signalBatch(id, PRESTOP_SIGNAL);
  for (;;) {
    if (await exists(dir.file(PRESTOP_DONE))) break;
    const s = await jobState(d, id);
    if (s === undefined || !ACTIVE_STATES.has(s) || d.now() >= until || ctx.signal.aborted) return;
    await d.clock.sleep(d.pollMs);
  }
  for (const name of hooks.keys()) {
    const r = parseProbeFile(
      await readFile(dir.containerFile(name, 'prestop'), 'utf8').catch(() => undefined),
    );
    if (r?.result === 'failure')
      ctx.log.warn({ uid: pod.metadata.uid, container: name }, 'preStop hook failed');
  }
}

/**
 * End a job and wait for Slurm to confirm. Both a pending and a running job get Slurm's own
 * cancel, so Slurm (and accounting) records CANCELLED, never FAILED: Slurm sends SIGTERM to
 * the batch script and every process of the job (the script forwards it to the containers,
 * which record their exit codes), then SIGKILL after the cluster's KillWait. The pod's grace
 * period (which the preStop hooks, run first, use up as they go) is bounded by KillWait: once the grace is over, a SIGKILL is asked for as well
 * (Slurm may refuse it for a job already completing; KillWait then ends it). Throws
 * UNAVAILABLE when Slurm has not confirmed within deleteWaitSeconds (the caller retries; a
 * retry starts where this one stopped, since the state is Slurm's).
 */
export async function stopJob(d: SlurmDeps, id: string, pod: Pod, ctx: CallContext): Promise<void> {
  const state = await jobState(d, id);
  if (state === undefined || !ACTIVE_STATES.has(state)) return;
  if (WAITING.has(state)) {
    await d.cli.cancel(id);
  } else {
    const spec = pod.spec ? podSpecOf(pod) : undefined;
    const grace = Math.min(
      spec?.terminationGracePeriodSeconds ?? d.cfg.deleteGraceSeconds,
      d.cfg.deleteGraceMaxSeconds,
    );
    const until = d.now() + grace * 1000;
    await runPreStop(d, id, pod, until, ctx);
    ctx.log.info(
      { uid: pod.metadata.uid, job: id, grace },
      'cancelling the Slurm job: SIGTERM now, SIGKILL after the grace period or KillWait',
    );
    await d.cli.cancel(id);
    if (!(await waitEnded(d, id, Math.max(0, until - d.now()), ctx.signal))) await d.cli.cancel(id, 'KILL');
  }
  if (!(await waitEnded(d, id, d.cfg.deleteWaitSeconds * 1000, ctx.signal))) {
    throw unavailable(`Slurm job ${id} is still ending; delete again to confirm`);
  }
}
