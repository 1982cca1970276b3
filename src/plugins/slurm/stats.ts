/**
 * `stats` of the Slurm plugin: CPU and memory of the running jobs, in ONE `sstat` call for all
 * of them (`sstat -a -j id1,id2,… -P -n -o JobID,TRESUsageInTot`), read from slurmd — no
 * accounting database needed, but the site must gather job accounting:
 * `JobAcctGatherType=jobacct_gather/linux` (or `/cgroup`) in slurm.conf; with
 * `jobacct_gather/none` sstat has nothing to say and the pods report no usage.
 * `JobAcctGatherFrequency` sets how fresh the numbers are (default 30 s).
 *
 * `TRESUsageInTot` carries the CPU time of all tasks of a step (`cpu=`, cumulative) and their
 * summed resident memory (`mem=`); a job's usage is the sum over its steps. The containers of
 * a pod run as processes of one job step, so Slurm cannot tell them apart: a pod with ONE
 * container reports the job's usage as that container's; a pod with several reports
 * pod-level usage only.
 *
 * Parsing and summary building are pure; tested by tables.
 */

import type { PodStats, StatsSummary } from '../../wire/stats.ts';
import { jobDirOf } from './job-spec.ts';
import { JobDir } from './jobdir.ts';
import { listSlurmPods } from './list.ts';
import { runCommand } from './slurm-cli.ts';

/** The one sstat call for `ids` (numeric job ids: never options). Pure. */
export function sstatArgs(ids: readonly string[]): string[] {
  return [
    '--allsteps',
    '--noheader',
    '--parsable2',
    `--jobs=${ids.join(',')}`,
    '--format=JobID,TRESUsageInTot',
  ];
}

/** Slurm's `[D-]HH:MM:SS[.mmm]`, `MM:SS[.mmm]` → nanoseconds, or undefined. Pure. */
export function parseSlurmDuration(text: string): number | undefined {
  const m = /^(?:(\d+)-)?(?:(\d+):)?(\d+):(\d+)(?:\.(\d+))?$/.exec(text.trim());
  if (!m) return undefined;
  const [, d, h, min, s, frac] = m;
  const seconds = Number(d ?? 0) * 86400 + Number(h ?? 0) * 3600 + Number(min) * 60 + Number(s);
  const fracNs = frac ? Math.round(Number(`0.${frac}`) * 1e9) : 0;
  return seconds * 1e9 + fracNs;
}

const MEM_UNITS: Record<string, number> = {
  '': 1,
  K: 1024,
  M: 1024 ** 2,
  G: 1024 ** 3,
  T: 1024 ** 4,
  P: 1024 ** 5,
};

/** `1234`, `1234K`, `1.5M` (TRES memory) → bytes, or undefined. Pure. */
export function parseTresMemory(text: string): number | undefined {
  const m = /^([0-9]+(?:\.[0-9]+)?)([KMGTP]?)$/.exec(text.trim());
  if (!m) return undefined;
  return Math.round(Number(m[1]) * MEM_UNITS[m[2]!]!);
}

export interface JobUsage {
  /** CPU time of all steps, core-nanoseconds. */
  cpuNs: number;
  /** Resident memory of all steps, bytes. */
  memBytes: number;
}

/**
 * `sstatArgs` output (`<jobid>.<step>|cpu=…,mem=…,…`) → usage per job id, summed over its
 * steps. Steps without a cpu or mem value count 0 for it; malformed lines are skipped. Pure.
 */
export function parseSstat(stdout: string): Map<string, JobUsage> {
  const out = new Map<string, JobUsage>();
  for (const line of stdout.split('\n')) {
    const [step, tres] = line.split('|');
    const job = /^(\d+)(?:_\d+)?(?:\.[A-Za-z0-9_]+)?$/.exec((step ?? '').trim())?.[1];
    if (!job || tres === undefined) continue;
    const fields = new Map(
      tres.split(',').map((kv) => {
        const i = kv.indexOf('=');
        return [kv.slice(0, i).trim(), kv.slice(i + 1).trim()] as const;
      }),
    );
    const cpu = parseSlurmDuration(fields.get('cpu') ?? '') ?? 0;
    const mem = parseTresMemory(fields.get('mem') ?? '') ?? 0;
    const u = out.get(job) ?? { cpuNs: 0, memBytes: 0 };
    u.cpuNs += cpu;
    u.memBytes += mem;
    out.set(job, u);
  }
  return out;
}

export interface StatsPod {
  namespace: string;
  name: string;
  uid: string;
  jobId: string;
  /** App containers (init containers have finished by the time a pod is measured). */
  containers: string[];
  startTime?: string;
}

/**
 * The kubelet `/stats/summary` document of `pods`, with `usage` by job id measured at
 * `atMs`. Pods whose job sstat did not report (pending, finished) are left out; the node's
 * usage is the sum of its pods'. Pure.
 */
export function buildSlurmSummary(
  pods: StatsPod[],
  usage: Map<string, JobUsage>,
  atMs: number,
  startTime: string,
): StatsSummary {
  const time = new Date(atMs).toISOString();
  const cpu = (ns: number) => ({ time, usageCoreNanoSeconds: Math.round(ns) });
  const mem = (b: number) => ({ time, workingSetBytes: b, usageBytes: b, rssBytes: b });
  let nodeCpu = 0;
  let nodeMem = 0;
  const out: PodStats[] = [];
  for (const p of pods) {
    const u = usage.get(p.jobId);
    if (!u) continue;
    nodeCpu += u.cpuNs;
    nodeMem += u.memBytes;
    // One container: the job's usage is that container's; several: the pod's only.
    const only = p.containers.length === 1 ? p.containers[0] : undefined;
    out.push({
      podRef: { name: p.name, namespace: p.namespace, uid: p.uid },
      ...(p.startTime ? { startTime: p.startTime } : {}),
      containers:
        only !== undefined
          ? [
              {
                name: only,
                ...(p.startTime ? { startTime: p.startTime } : {}),
                cpu: cpu(u.cpuNs),
                memory: mem(u.memBytes),
              },
            ]
          : [],
      cpu: cpu(u.cpuNs),
      memory: mem(u.memBytes),
    });
  }
  return { node: { startTime, cpu: cpu(nodeCpu), memory: mem(nodeMem) }, pods: out };
}

export interface SlurmStatsDeps {
  sstatPath: string;
  timeoutMs: number;
  /** The pods whose jobs to measure (from the job directories). */
  pods(): Promise<StatsPod[]>;
  now(): number;
  startTime: string;
  run?: typeof runCommand;
}

/**
 * One collection: ONE sstat for every job. sstat exits non-zero when none of the jobs runs
 * (all pending or finished): that is "no usage", not a failure.
 */
export async function collectSlurmStats(deps: SlurmStatsDeps) {
  const pods = await deps.pods();
  const ids = [...new Set(pods.map((p) => p.jobId).filter((id) => /^\d+(?:_\d+)?$/.test(id)))];
  let usage = new Map<string, JobUsage>();
  if (ids.length > 0) {
    const r = await (deps.run ?? runCommand)(deps.sstatPath, sstatArgs(ids), { timeoutMs: deps.timeoutMs });
    usage = parseSstat(r.stdout);
  }
  return buildSlurmSummary(pods, usage, deps.now(), deps.startTime);
}

/**
 * The pods to measure, from the job directories under `dataRoot` (as `list` reads them; a
 * directory without a job id is not running and is skipped). Sidecars run for the pod's
 * whole life, so they count as containers next to the app containers.
 */
export async function podsFromJobDirs(dataRoot: string, keepJobDirs: boolean): Promise<StatsPod[]> {
  const listed = await listSlurmPods({ dataRoot, keepJobDirs, jobsNamed: async () => new Map() });
  const pods = await Promise.all(
    listed.map(async (p): Promise<StatsPod | undefined> => {
      if (!p.JID) return undefined;
      const file = await new JobDir(jobDirOf(dataRoot, p.namespace, p.UID)).readPod();
      if (!file) return undefined;
      return {
        namespace: p.namespace,
        name: p.name,
        uid: p.UID,
        jobId: p.JID,
        containers: file.containers.filter((c) => c.kind !== 'init').map((c) => c.name),
        ...(file.createdAt ? { startTime: file.createdAt } : {}),
      };
    }),
  );
  return pods.filter((p): p is StatsPod => p !== undefined);
}
