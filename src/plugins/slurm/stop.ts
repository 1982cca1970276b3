/** Ending a pod's Slurm job and waiting for Slurm to confirm (the delete path). */
import { readFile } from 'node:fs/promises';
import { FAILED_PRESTOP_HOOK } from '../../core/pod/probe-events.ts';
import { preStopHooks } from '../../core/pod/probes.ts';
import { podSpecOf } from '../../core/pod/spec.ts';
import { unavailable } from '../../errors/index.ts';
import type { Pod } from '../../wire/k8s.ts';
import type { CallContext } from '../sdk/types.ts';
import type { SlurmDeps } from './deps.ts';
import { exists } from './pod-status.ts';
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

/** A failed preStop hook, as the status reports it (probes.ts) and the delete answers it. */
export const FAILED_PRESTOP = {
  reason: FAILED_PRESTOP_HOOK,
  message: 'PreStopHook failed',
  type: 'Warning',
  count: 1,
} as const;

/** The batch shell's stop trap (the script library's `_il_on_stop`); absent in older jobs. */
export const STOP_MARK = '_il_on_stop';
/** SIGWINCH on Linux (by number: Slurm 22.05 knows no name for it), ignored by default. */
export const STOP_SIGNAL = '28';
/** Written by the batch shell's stop trap: the signal arrived. */
const STOP_ACK = 'stopping';
/** Ask again this often while the shell has not acknowledged (it may not have set its traps yet). */
const RESEND_MS = 2000;

/**
 * Ask the batch shell of a running job to stop its containers (the script's `_il_on_stop`:
 * the preStop hooks, then one SIGTERM to each container), and wait until they all ended (the
 * shell wrote job.exit and now waits for our scancel), the job ended, or `until` (the end of
 * the grace period) passed; `ended` says whether the containers ended. A job of an older
 * script, without the trap, is not signalled (not ended: Slurm's cancel stops it). Failed
 * preStop hooks are logged (container names only) and returned.
 */
async function askToStop(
  d: SlurmDeps,
  id: string,
  pod: Pod,
  until: number,
  ctx: CallContext,
): Promise<{ ended: boolean; failedHooks: string[] }> {
  const dir = d.dirOf(pod.metadata.namespace, pod.metadata.uid);
  const script = await readFile(dir.file('job.sh'), 'utf8').catch(() => '');
  if (!script.includes(STOP_MARK)) return { ended: false, failedHooks: [] };
  ctx.log.info({ uid: pod.metadata.uid, job: id }, 'stopping the Slurm job: preStop hooks, then SIGTERM');
  let sentAt = Number.NEGATIVE_INFINITY;
  let ended = false;
  for (;;) {
    if (await exists(dir.file('job.exit'))) {
      ended = true;
      break;
    }
    if (d.now() - sentAt >= RESEND_MS && !(await exists(dir.file(STOP_ACK)))) {
      await d.cli.signalBatch(id, STOP_SIGNAL);
      sentAt = d.now();
    }
    const s = await jobState(d, id);
    if (s === undefined || !ACTIVE_STATES.has(s) || d.now() >= until || ctx.signal.aborted) break;
    await d.clock.sleep(d.pollMs);
  }
  const failedHooks: string[] = [];
  for (const name of pod.spec ? preStopHooks(pod).keys() : []) {
    const r = parseProbeFile(
      await readFile(dir.containerFile(name, 'prestop'), 'utf8').catch(() => undefined),
    );
    if (r?.result !== 'failure') continue;
    failedHooks.push(name);
    ctx.log.warn({ uid: pod.metadata.uid, container: name }, 'preStop hook failed');
  }
  return { ended, failedHooks };
}

/**
 * End a job and wait for Slurm to confirm. A pending job gets Slurm's cancel. A running one
 * is stopped as a kubelet would (askToStop: preStop hooks, then one SIGTERM per container)
 * within the pod's grace period (bounded by deleteGraceMaxSeconds), then gets Slurm's cancel
 * too, so Slurm (and accounting) record CANCELLED, never FAILED: the batch shell is waiting
 * for it. Containers still running at the end of the grace period get Slurm's SIGTERM and at
 * once a SIGKILL (Slurm may refuse it for a job already completing; KillWait then ends it).
 * Throws UNAVAILABLE when Slurm has not confirmed within deleteWaitSeconds (the caller
 * retries; a retry starts where this one stopped, since the state is Slurm's and the job
 * directory's). Answers the containers whose preStop hook failed.
 */
export async function stopJob(d: SlurmDeps, id: string, pod: Pod, ctx: CallContext): Promise<string[]> {
  const state = await jobState(d, id);
  if (state === undefined || !ACTIVE_STATES.has(state)) return [];
  let failedHooks: string[] = [];
  if (WAITING.has(state)) {
    await d.cli.cancel(id);
  } else {
    const spec = pod.spec ? podSpecOf(pod) : undefined;
    const grace = Math.min(
      spec?.terminationGracePeriodSeconds ?? d.cfg.deleteGraceSeconds,
      d.cfg.deleteGraceMaxSeconds,
    );
    const until = d.now() + grace * 1000;
    const stopped = await askToStop(d, id, pod, until, ctx);
    failedHooks = stopped.failedHooks;
    ctx.log.info({ uid: pod.metadata.uid, job: id, grace }, 'cancelling the Slurm job');
    await d.cli.cancel(id);
    const left = stopped.ended ? d.cfg.deleteWaitSeconds * 1000 : Math.max(0, until - d.now());
    if (!(await waitEnded(d, id, left, ctx.signal))) await d.cli.cancel(id, 'KILL');
  }
  if (!(await waitEnded(d, id, d.cfg.deleteWaitSeconds * 1000, ctx.signal))) {
    throw unavailable(`Slurm job ${id} is still ending; delete again to confirm`);
  }
  return failedHooks;
}
