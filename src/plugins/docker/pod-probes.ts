/**
 * Probes and lifecycle hooks of the docker plugin, wired to the Docker CLI: the prober of
 * the running containers (prober.ts: handlers run by probe-io.ts, kills by probe-kill.ts)
 * and the preStop hooks a delete runs before it stops the containers.
 */
import type { Clock } from '../../core/clock.ts';
import type { KeyedLock } from '../../core/keyed-lock.ts';
import type { Logger } from '../../core/logger.ts';
import type { Pod } from '../../wire/k8s.ts';
import type { DockerCli } from './cli.ts';
import { podAddress, runHandler } from './probe-io.ts';
import { preStopHooks, probeKill, runPreStop } from './probe-kill.ts';
import { DockerProber } from './prober.ts';
import type { ObservedPod } from './status.ts';

export interface ProbeDeps {
  cli: DockerCli;
  clock: Clock;
  log: Logger;
}

const handlerRunner = (d: ProbeDeps) => {
  const docker = (args: string[], o: { timeoutMs: number }) => d.cli.run(args, o);
  return { docker, clock: d.clock };
};

/** The prober on the plugin's Clock; a kill takes the pod's lock and is skipped while it is deleted. */
export function dockerProber(
  d: ProbeDeps & { locks: KeyedLock; deleting: (uid: string) => boolean },
): DockerProber {
  const io = handlerRunner(d);
  return new DockerProber({
    clock: d.clock,
    log: d.log,
    io: {
      run: (id, address, h, timeoutMs) => runHandler(io, id, address, h, timeoutMs),
      kill: (uid, id, restart, grace) =>
        d.locks.run(uid, () => probeKill(d.cli, d.deleting(uid), id, restart, grace)),
    },
  });
}

/**
 * Run the preStop hooks of the pod's running containers (probe-kill.ts) and resolve with the
 * grace seconds left for the stop. A failed hook is recorded in `failures` under
 * `${uid}/${container}` (its FailedPreStopHook message) and logged by container name only.
 */
export async function preStop(
  d: ProbeDeps & { localEngine: boolean; failures: Map<string, string> },
  pod: Pod,
  observed: ObservedPod | undefined,
  graceSeconds: number,
): Promise<number> {
  const hooks = preStopHooks(pod);
  if (hooks.size === 0 || !observed) return graceSeconds;
  const uid = pod.metadata.uid;
  const running = observed.apps
    .filter((a) => a.ins.State.Running && hooks.has(a.name))
    .map((a) => ({ name: a.name, id: a.id }));
  const io = handlerRunner(d);
  const r = await runPreStop(
    { clock: d.clock, run: (id, address, h, t) => runHandler(io, id, address, h, t) },
    hooks,
    running,
    podAddress(observed.infra?.ins, d.localEngine),
    graceSeconds,
  );
  for (const f of r.failed) {
    d.log.warn({ uid, container: f.name }, 'preStop hook failed');
    d.failures.set(`${uid}/${f.name}`, f.message);
  }
  return Math.max(0, graceSeconds - Math.ceil(r.elapsedMs / 1000));
}
