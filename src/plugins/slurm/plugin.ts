/**
 * The Slurm plugin: one pod = one batch job (DESIGN.md §4). All state is on disk in the job
 * directories (jobdir.ts), so a restarted plugin reports, streams and deletes the pods it
 * created before; no cache of job states is kept between calls.
 */
import { type Clock, systemClock } from '../../core/clock.ts';
import { KeyedLock } from '../../core/keyed-lock.ts';
import type { Logger } from '../../core/logger.ts';
import { notFound } from '../../errors/index.ts';
import type { CreateStruct, LogStruct, RetrievedPodData } from '../../wire/interlink.ts';
import type { Pod } from '../../wire/k8s.ts';
import type { CallContext, DeleteResult, Plugin } from '../sdk/types.ts';
import type { SlurmConfig } from './config.ts';
import type { SlurmDeps } from './deps.ts';
import { slurmStreams } from './exec-io.ts';
import { jobDirOf, jobNameOf } from './job-spec.ts';
import { JobDir, writeAtomic } from './jobdir.ts';
import { listSlurmPods } from './list.ts';
import { readLogs } from './logs.ts';
import { exists, pingSlurm, statusOf } from './pod-status.ts';
import { runCommand, SlurmCli } from './slurm-cli.ts';
import { collectSlurmStats, podsFromJobDirs } from './stats.ts';
import { ACTIVE_STATES } from './status.ts';
import { FAILED_PRESTOP, jobState, stopJob } from './stop.ts';
import { submitPod } from './submit.ts';

export interface SlurmPluginOptions {
  config: SlurmConfig;
  logger: Logger;
  cli?: SlurmCli;
  /** Time source (default the real clock); tests pass a FakeClock. */
  clock?: Clock;
  /** ms epoch clock (tests); defaults to `clock.now`. */
  now?: () => number;
  /** Delay between polls of Slurm while deleting (tests make it short). */
  pollMs?: number;
}

export interface SlurmPlugin extends Plugin {
  readonly cli: SlurmCli;
  /** The job directory of a pod (for tests and tools). */
  jobDir(namespace: string, uid: string): string;
}

export function createSlurmPlugin(opts: SlurmPluginOptions): SlurmPlugin {
  const cfg = opts.config;
  const log = opts.logger;
  const clock = opts.clock ?? systemClock;
  const cli = opts.cli ?? new SlurmCli(cfg, runCommand, () => clock.now());
  const now = opts.now ?? (() => clock.now());
  const startedAt = new Date(now()).toISOString();
  const pollMs = opts.pollMs ?? 500;
  /** One create/delete per pod at a time (within this process; across restarts the files decide). */
  const locks = new KeyedLock();
  const serial = <T>(uid: string, fn: () => Promise<T>): Promise<T> => locks.run(uid, fn);

  const dirOf = (ns: string, uid: string) => new JobDir(jobDirOf(cfg.dataRoot, ns, uid));
  const deps: SlurmDeps = { cfg, cli, clock, now, pollMs, dirOf };

  const create = (data: RetrievedPodData, ctx: CallContext): Promise<CreateStruct> =>
    serial(data.pod.metadata.uid, () => submitPod(deps, data, ctx));

  /** Answers the containers whose preStop hook failed, as Events for the VK. */
  async function del(pod: Pod, ctx: CallContext): Promise<DeleteResult | undefined> {
    const m = pod.metadata;
    return serial(m.uid, async () => {
      const dir = dirOf(m.namespace, m.uid);
      if (!(await exists(dir.path))) return undefined;
      // No recorded id: a create was interrupted around sbatch; its job, if any, has our name.
      const recorded = await dir.readJobId();
      const ids = recorded ? [recorded] : await cli.byName(jobNameOf(m.uid));
      const failed = new Set<string>();
      for (const id of ids) for (const c of await stopJob(deps, id, pod, ctx)) failed.add(c);
      if (cfg.keepJobDirs) {
        await writeAtomic(dir.file('deleted'), `${new Date(now()).toISOString()}\n`);
      } else {
        await dir.remove();
      }
      ctx.log.info({ uid: m.uid, jobs: ids }, 'pod deleted');
      if (failed.size === 0) return undefined;
      return { containers: [...failed].map((name) => ({ name, probeEvents: [FAILED_PRESTOP] })) };
    });
  }

  async function logs(req: LogStruct, ctx: CallContext) {
    const dir = dirOf(req.Namespace, req.PodUID);
    const rec = await dir.record();
    if (!rec)
      throw notFound(`pod ${req.Namespace}/${req.PodName} (${req.PodUID}) is not known to the slurm plugin`);
    const c = rec.containers.find((x) => x.name === req.ContainerName);
    if (!c) throw notFound(`pod ${req.Namespace}/${req.PodName} has no container ${req.ContainerName}`);
    if (req.Opts.Previous)
      throw notFound(
        `container ${req.ContainerName} has no previous instance (Slurm jobs do not restart containers)`,
      );
    let lastAsked = 0;
    const isDone = async () => {
      if (await exists(dir.containerFile(c.name, 'exit'))) return true;
      if (await exists(dir.file('job.exit'))) return true;
      if (!(await exists(dir.path))) return true;
      // A job killed hard writes no exit file: ask Slurm now and then.
      if (now() - lastAsked < 10_000) return false;
      lastAsked = now();
      try {
        const s = await jobState(deps, rec.jobId);
        return s === undefined || !ACTIVE_STATES.has(s);
      } catch {
        return false;
      }
    };
    return readLogs({ path: dir.containerFile(c.name, 'log'), isDone }, req.Opts, {
      signal: ctx.signal,
      pollMs: cfg.logPollMs,
      now,
      clock,
    });
  }

  log.info(
    { dataRoot: cfg.dataRoot, runtime: cfg.containerRuntime, sharedFs: cfg.sharedFs },
    'slurm plugin ready',
  );
  return {
    name: 'slurm',
    cli,
    jobDir: (ns, uid) => jobDirOf(cfg.dataRoot, ns, uid),
    create,
    delete: del,
    status: (pods, ctx) => statusOf(deps, pods, ctx),
    logs,
    ...slurmStreams(deps, logs),
    ping: () => pingSlurm(deps),
    stats: () =>
      collectSlurmStats({
        sstatPath: cfg.sstatPath,
        timeoutMs: cfg.commandTimeoutSeconds * 1000,
        now,
        startTime: startedAt,
        pods: () => podsFromJobDirs(cfg.dataRoot, cfg.keepJobDirs),
      }),
    list: () =>
      listSlurmPods({
        dataRoot: cfg.dataRoot,
        keepJobDirs: cfg.keepJobDirs,
        jobsNamed: (names) => cli.jobsNamed(names),
      }),
  };
}
