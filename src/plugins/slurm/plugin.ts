/**
 * The Slurm plugin: one pod = one batch job (DESIGN.md §4). All state is on disk in the job
 * directories (jobdir.ts), so a restarted plugin reports, streams and deletes the pods it
 * created before; no cache of job states is kept between calls.
 */
import { chown, readdir, stat } from 'node:fs/promises';
import { join, posix } from 'node:path';
import type { Logger } from '../../core/logger.ts';
import { isUnder } from '../../core/pod/paths.ts';
import { mkdirUnder, writeFileUnder } from '../../core/pod/safe-fs.ts';
import { podSpecOf } from '../../core/pod/spec.ts';
import { codeOf, ErrorCode, invalidInput, notFound, unavailable } from '../../errors/index.ts';
import type {
  CreateStruct,
  LogStruct,
  PingResponse,
  PodStatus,
  RetrievedPodData,
} from '../../wire/interlink.ts';
import type { Pod } from '../../wire/k8s.ts';
import type { CallContext, Plugin } from '../sdk/types.ts';
import type { SlurmConfig } from './config.ts';
import { buildJob, type JobSpec, jobDirOf, jobNameOf } from './job.ts';
import { JobDir, type PodFile, writeAtomic } from './jobdir.ts';
import { listSlurmPods } from './list.ts';
import { readLogs } from './logs.ts';
import { type SlurmJob, usableNode } from './parse.ts';
import { renderScript } from './script.ts';
import { runCommand, SlurmCli } from './slurm-cli.ts';
import { ACTIVE_STATES, type JobObservation, podStatus } from './status.ts';

export interface SlurmPluginOptions {
  config: SlurmConfig;
  logger: Logger;
  cli?: SlurmCli;
  /** ms epoch clock (tests). */
  now?: () => number;
  /** Delay between polls of Slurm while deleting (tests make it short). */
  pollMs?: number;
}

export interface SlurmPlugin extends Plugin {
  readonly cli: SlurmCli;
  /** The job directory of a pod (for tests and tools). */
  jobDir(namespace: string, uid: string): string;
}

const WAITING = new Set([
  'PENDING',
  'REQUEUED',
  'REQUEUE_HOLD',
  'REQUEUE_FED',
  'RESV_DEL_HOLD',
  'SPECIAL_EXIT',
]);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

/** Map with at most `n` calls in flight. */
async function mapLimit<T, R>(items: readonly T[], n: number, fn: (t: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, worker));
  return out;
}

async function chownTree(path: string, uid: number, gid: number): Promise<void> {
  await chown(path, uid, gid);
  for (const e of await readdir(path, { withFileTypes: true })) {
    const p = join(path, e.name);
    if (e.isDirectory()) await chownTree(p, uid, gid);
    else await chown(p, uid, gid);
  }
}

export function createSlurmPlugin(opts: SlurmPluginOptions): SlurmPlugin {
  const cfg = opts.config;
  const log = opts.logger;
  const cli = opts.cli ?? new SlurmCli(cfg);
  const now = opts.now ?? Date.now;
  const pollMs = opts.pollMs ?? 500;
  /** One create/delete per pod at a time (within this process; across restarts the files decide). */
  const locks = new Map<string, Promise<unknown>>();

  function serial<T>(uid: string, fn: () => Promise<T>): Promise<T> {
    const prev = locks.get(uid) ?? Promise.resolve();
    const run = prev.then(fn, fn);
    const tail = run.catch(() => {});
    locks.set(uid, tail);
    void tail.then(() => {
      if (locks.get(uid) === tail) locks.delete(uid);
    });
    return run;
  }

  const dirOf = (ns: string, uid: string) => new JobDir(jobDirOf(cfg.dataRoot, ns, uid));

  /**
   * Shared-filesystem mode: volume and env files written here (else the script carries them),
   * never through a symbolic link (a container of an earlier run of a requeued job may have
   * left one in an emptyDir), modes set on the descriptor.
   */
  async function writeJobFiles(job: JobSpec): Promise<void> {
    if (!job.sharedFs) return;
    const rel = (path: string, field: string) => {
      if (!isUnder(path, job.jobDir) || path === job.jobDir)
        throw invalidInput(`${field}: must name a path inside the pod's directory`, field);
      return posix.relative(job.jobDir, path);
    };
    for (const d of job.dirs) await mkdirUnder(job.jobDir, rel(d.path, 'volume'), d.mode, 'volume', 0o700);
    for (const f of job.files)
      await writeFileUnder(job.jobDir, rel(f.path, 'volume file'), f.data, f.mode, 'volume file', 0o700);
  }

  async function create(data: RetrievedPodData, ctx: CallContext): Promise<CreateStruct> {
    const m = data.pod.metadata;
    return serial(m.uid, async () => {
      const dir = dirOf(m.namespace, m.uid);
      const known = await dir.readJobId();
      if (known) {
        ctx.log.info({ uid: m.uid, job: known }, 'pod already submitted: returning its job');
        return { PodUID: m.uid, PodJID: known };
      }
      const job = buildJob(data, cfg);
      for (const w of job.warnings) ctx.log.warn({ uid: m.uid }, w);
      const podFile: PodFile = {
        version: 1,
        namespace: m.namespace,
        name: m.name,
        uid: m.uid,
        jobName: job.jobName,
        runtime: job.runtime,
        containers: job.containers.map((c) => ({
          name: c.name,
          kind: c.kind,
          ...(data.pod.spec ? { image: imageOf(data.pod, c.name) } : {}),
        })),
        createdAt: new Date(now()).toISOString(),
      };
      // A create that died between sbatch and job.id left its job running under our name.
      if (await dir.readPod()) {
        const orphans = await cli.byName(job.jobName);
        if (orphans.length > 0) {
          const id = orphans.at(-1)!;
          ctx.log.warn({ uid: m.uid, job: id }, 'found the job of an interrupted create: adopting it');
          await dir.writeJobId(id);
          return { PodUID: m.uid, PodJID: id };
        }
      }
      const script = renderScript(job);
      const scriptPath = dir.file('job.sh');
      try {
        await dir.writePod(podFile);
        await writeJobFiles(job);
        await writeAtomic(scriptPath, script, 0o700);
        await checkSyntax(scriptPath);
        const spec = podSpecOf(data.pod);
        if (cfg.allowRunAsUser && spec.securityContext?.runAsUser !== undefined) {
          await chownTree(dir.path, spec.securityContext.runAsUser, spec.securityContext.runAsGroup ?? -1);
        }
      } catch (err) {
        await dir.remove().catch(() => {});
        throw err;
      }
      let id: string;
      try {
        id = await cli.submit(scriptPath, dir.path);
      } catch (err) {
        // Slurm refused: nothing was submitted, leave no directory behind. Any other failure
        // (timeout, controller unreachable) may hide a job that was accepted: pod.json stays,
        // so the retry finds that job by name instead of submitting a second one.
        if (codeOf(err) === ErrorCode.INVALID_INPUT) await dir.remove().catch(() => {});
        throw err;
      }
      await dir.writeJobId(id);
      ctx.log.info(
        { uid: m.uid, pod: `${m.namespace}/${m.name}`, job: id, dir: dir.path },
        'pod submitted to Slurm',
      );
      return { PodUID: m.uid, PodJID: id };
    });
  }

  async function checkSyntax(script: string): Promise<void> {
    const r = await runCommand(cfg.bashPath, ['-n', script], { timeoutMs: 10_000 });
    if (r.code !== 0) {
      const why = r.stderr.trim().split('\n').slice(0, 3).join('; ').replaceAll(script, 'job.sh');
      throw invalidInput(
        `the job script is not valid bash (check the slurm-job.vk.io/pre-exec annotation): ${why}`,
        'slurm-job.vk.io/pre-exec',
      );
    }
  }

  async function jobState(id: string): Promise<string | undefined> {
    const jobs = await cli.queue([id]);
    return jobs.get(id)?.state;
  }

  /** Poll until the job is no longer active; false if it still is after `ms`. */
  async function waitEnded(id: string, ms: number, signal: AbortSignal): Promise<boolean> {
    const until = now() + ms;
    for (;;) {
      const s = await jobState(id);
      if (s === undefined || !ACTIVE_STATES.has(s)) return true;
      if (now() >= until || signal.aborted) return false;
      await sleep(pollMs);
    }
  }

  /**
   * End a job and wait for Slurm to confirm. Both a pending and a running job get Slurm's own
   * cancel, so Slurm (and accounting) records CANCELLED, never FAILED: Slurm sends SIGTERM to
   * the batch script and every process of the job (the script forwards it to the containers,
   * which record their exit codes), then SIGKILL after the cluster's KillWait. The pod's grace
   * period is bounded by KillWait: once the grace is over, a SIGKILL is asked for as well
   * (Slurm may refuse it for a job already completing; KillWait then ends it). Throws
   * UNAVAILABLE when Slurm has not confirmed within deleteWaitSeconds (the caller retries; a
   * retry starts where this one stopped, since the state is Slurm's).
   */
  async function stopJob(id: string, pod: Pod, ctx: CallContext): Promise<void> {
    const state = await jobState(id);
    if (state === undefined || !ACTIVE_STATES.has(state)) return;
    if (WAITING.has(state)) {
      await cli.cancel(id);
    } else {
      const spec = pod.spec ? podSpecOf(pod) : undefined;
      const grace = Math.min(
        spec?.terminationGracePeriodSeconds ?? cfg.deleteGraceSeconds,
        cfg.deleteGraceMaxSeconds,
      );
      ctx.log.info(
        { uid: pod.metadata.uid, job: id, grace },
        'cancelling the Slurm job: SIGTERM now, SIGKILL after the grace period or KillWait',
      );
      await cli.cancel(id);
      if (!(await waitEnded(id, grace * 1000, ctx.signal))) await cli.cancel(id, 'KILL');
    }
    if (!(await waitEnded(id, cfg.deleteWaitSeconds * 1000, ctx.signal))) {
      throw unavailable(`Slurm job ${id} is still ending; delete again to confirm`);
    }
  }

  async function del(pod: Pod, ctx: CallContext): Promise<void> {
    const m = pod.metadata;
    return serial(m.uid, async () => {
      const dir = dirOf(m.namespace, m.uid);
      if (!(await exists(dir.path))) return;
      // No recorded id: a create was interrupted around sbatch; its job, if any, has our name.
      const recorded = await dir.readJobId();
      const ids = recorded ? [recorded] : await cli.byName(jobNameOf(m.uid));
      for (const id of ids) await stopJob(id, pod, ctx);
      if (cfg.keepJobDirs) {
        await writeAtomic(dir.file('deleted'), `${new Date(now()).toISOString()}\n`);
      } else {
        await dir.remove();
      }
      ctx.log.info({ uid: m.uid, jobs: ids }, 'pod deleted');
    });
  }

  async function status(pods: Pod[], ctx: CallContext): Promise<PodStatus[]> {
    const found = await mapLimit(pods, 32, async (p) => {
      const dir = dirOf(p.metadata.namespace, p.metadata.uid);
      if (cfg.keepJobDirs && (await exists(dir.file('deleted')))) return undefined;
      const rec = await dir.record();
      return rec ? { dir, rec } : undefined;
    });
    const live = found.filter((x): x is NonNullable<typeof x> => x !== undefined);
    if (live.length === 0) return [];
    const ids = [...new Set(live.map((x) => x.rec.jobId))];
    let jobs = new Map<string, SlurmJob>();
    let answered = true;
    try {
      jobs = await cli.queue(ids);
    } catch (err) {
      answered = false;
      ctx.log.warn({ err }, 'squeue failed: reporting from the job directories only');
    }
    const missing = ids.filter((id) => !jobs.has(id));
    if (answered && missing.length > 0) {
      try {
        for (const [id, j] of await cli.accounting(missing)) jobs.set(id, j);
      } catch (err) {
        ctx.log.warn({ err }, 'sacct failed: finished jobs are reported from their exit-code files');
      }
    }
    const stamp = new Date(now()).toISOString().replace(/\.\d{3}Z$/, 'Z');
    return mapLimit(live, 32, async ({ dir, rec }) => {
      const files = new Map(
        await Promise.all(
          rec.containers.map(async (c) => [c.name, await dir.containerFiles(c.name)] as const),
        ),
      );
      const [restarts, jobExit] = await Promise.all([dir.readInt('restarts'), dir.readInt('job.exit')]);
      const job = jobs.get(rec.jobId);
      const obs: JobObservation = {
        slurmAnswered: answered,
        restarts: restarts ?? 0,
        files,
        now: stamp,
        ...(job ? { job } : {}),
        ...(jobExit !== undefined ? { jobExit } : {}),
      };
      return podStatus(rec, obs);
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
        const s = await jobState(rec.jobId);
        return s === undefined || !ACTIVE_STATES.has(s);
      } catch {
        return false;
      }
    };
    return readLogs({ path: dir.containerFile(c.name, 'log'), isDone }, req.Opts, {
      signal: ctx.signal,
      pollMs: cfg.logPollMs,
      now,
    });
  }

  async function ping(): Promise<PingResponse> {
    const nodes = (await cli.nodes(cfg.partition)).filter(usableNode);
    const cpus = nodes.reduce((a, n) => a + n.cpus, 0);
    const mem = nodes.reduce((a, n) => a + n.memory, 0);
    const gpus = nodes.reduce((a, n) => a + n.gpus, 0);
    return {
      status: 'ok',
      resources: {
        cpu: String(cpus),
        memory: `${mem}Mi`,
        ...(cfg.maxPods ? { pods: cfg.maxPods } : {}),
        ...(gpus > 0 ? { accelerators: [{ resourceType: 'nvidia.com/gpu', available: gpus }] } : {}),
      },
      ...(cfg.taints.length > 0 ? { taints: cfg.taints } : {}),
    };
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
    status,
    logs,
    ping,
    list: () =>
      listSlurmPods({
        dataRoot: cfg.dataRoot,
        keepJobDirs: cfg.keepJobDirs,
        jobsNamed: (names) => cli.jobsNamed(names),
      }),
  };
}

function imageOf(pod: Pod, name: string): string | undefined {
  const all = [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])];
  return all.find((c) => c.name === name)?.image;
}
