/**
 * The docker plugin's side effects of probes and hooks: killing a container its probe
 * condemned (and starting it again), and running the preStop hooks of a pod being deleted.
 * The callers hold the pod's lock.
 */
import type { Clock } from '../../core/clock.ts';
import { FAILED_PRESTOP_HOOK } from '../../core/pod/probe-events.ts';
import { clip, type ProbeHandler, preStopHooks } from '../../core/pod/probes.ts';
import type { ContainerState } from '../../wire/k8s.ts';
import { inspectArgs, startArgs, stopArgs } from './argv.ts';
import { classify, type DockerCli } from './cli.ts';
import type { HandlerOutcome, PodAddress } from './prober.ts';
import { k8sTime, parseInspect } from './status.ts';

/**
 * `docker stop` (TERM, then KILL after the grace period) and, when `restart`, `docker start`.
 * Docker does not count a restart it did not make, so the caller counts it. Resolves with
 * the terminated state the stopped instance ended in. A pod being deleted is left alone.
 *
 * This `docker start` is the one deliberate exception to the plugin's start-once rule
 * (issue #11, sequencer.ts): it restarts a container that already ran, because its pod's
 * restartPolicy asks for it after a probe killed it, as the kubelet would; it runs under the
 * pod's lock and never for a container that never started.
 */
export async function probeKill(
  cli: DockerCli,
  deleting: boolean,
  id: string,
  restart: boolean,
  graceSeconds: number,
): Promise<ContainerState['terminated'] | undefined> {
  if (deleting) return undefined;
  const r = await cli.run(stopArgs([id], graceSeconds), { timeoutMs: graceSeconds * 1000 + 60_000 });
  if (r.code !== 0) throw classify('stopping a container that failed its probe', r);
  const [ins] = parseInspect(await cli.check(inspectArgs([id]), 'docker inspect'));
  const s = ins?.State;
  const last: NonNullable<ContainerState['terminated']> = {
    exitCode: s?.ExitCode ?? 137,
    reason: 'Error',
    containerID: `docker://${id}`,
  };
  const startedAt = s ? k8sTime(s.StartedAt) : undefined;
  const finishedAt = s ? k8sTime(s.FinishedAt) : undefined;
  if (startedAt) last.startedAt = startedAt;
  if (finishedAt) last.finishedAt = finishedAt;
  if (restart) await cli.check(startArgs([id]), 'restarting a container that failed its probe');
  return last;
}

export interface PreStopTarget {
  name: string;
  id: string;
}

/** Containers of the pod spec with a preStop hook (shared with the Slurm plugin). */
export { preStopHooks };

/**
 * Run the preStop hooks of the running containers, all at once, within the grace period
 * (the kubelet's order: preStop, then TERM with what is left of the grace period).
 * Resolves with the time it took and the hooks that failed (name and Event message).
 */
export async function runPreStop(
  deps: {
    clock: Clock;
    run(id: string, address: PodAddress, h: ProbeHandler, timeoutMs: number): Promise<HandlerOutcome>;
  },
  hooks: Map<string, ProbeHandler>,
  running: PreStopTarget[],
  address: PodAddress,
  graceSeconds: number,
): Promise<{ elapsedMs: number; failed: Array<{ name: string; message: string }> }> {
  const t0 = deps.clock.now();
  const budget = Math.max(1, graceSeconds) * 1000;
  const failed: Array<{ name: string; message: string }> = [];
  await Promise.all(
    running.map(async (c) => {
      const h = hooks.get(c.name);
      if (!h) return;
      const r = await deps.run(c.id, address, h, budget);
      if (!r.ok) failed.push({ name: c.name, message: `PreStopHook failed: ${clip(r.detail)}` });
    }),
  );
  return { elapsedMs: deps.clock.now() - t0, failed };
}

/** A deleted pod's final status with its failed preStop hooks as probeEvents. Pure. */
export function withPreStopFailures<
  T extends { containers?: Array<{ name: string; probeEvents?: unknown }> | null },
>(status: T, uid: string, failures: ReadonlyMap<string, string>): T {
  if (failures.size === 0) return status;
  return {
    ...status,
    containers: status.containers?.map((c) => {
      const m = failures.get(`${uid}/${c.name}`);
      return m
        ? { ...c, probeEvents: [{ reason: FAILED_PRESTOP_HOOK, message: m, type: 'Warning', count: 1 }] }
        : c;
    }),
  };
}
