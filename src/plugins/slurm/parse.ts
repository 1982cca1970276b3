/**
 * Parsers of Slurm command output. Pure; the formats are the ones slurm-cli.ts asks for.
 */

/** A job as Slurm reports it (squeue while the controller remembers it, else sacct). */
export interface SlurmJob {
  id: string;
  /** Base state in capitals: PENDING, RUNNING, COMPLETED, CANCELLED, ... ("CANCELLED by 0" → CANCELLED). */
  state: string;
  /** squeue's reason (why pending, or why it ended: NonZeroExitCode, TimeLimit, ...). */
  reason?: string;
  exitCode?: number;
  /** Signal that ended the batch script, when one did. */
  signal?: number;
  /** ISO 8601 times, when Slurm knows them. */
  start?: string;
  end?: string;
  source: 'squeue' | 'sacct';
}

/** `sbatch --parsable` prints `<id>` or `<id>;<cluster>`. */
export function parseSbatch(stdout: string): string | undefined {
  const line = stdout.trim().split('\n').at(-1)?.trim() ?? '';
  const id = line.split(';')[0]!;
  return /^\d+(_\d+)?$/.test(id) ? id : undefined;
}

/** squeue/sacct print local times without a zone ("2026-11-28T17:54:48"), or N/A, NONE, Unknown. */
export function slurmTime(s: string | undefined): string | undefined {
  if (!s || !/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$/.test(s)) return undefined;
  const d = new Date(s); // no zone: local time, as Slurm wrote it
  return Number.isNaN(d.getTime()) ? undefined : d.toISOString();
}

const baseState = (s: string) => (s.trim().split(/[\s+]/)[0] ?? '').toUpperCase();

/** The fields squeue is asked for, in order (`--Format`, each followed by `|`). */
export const SQUEUE_FORMAT = 'JobID:|,State:|,Reason:|,exit_code:|,StartTime:|,EndTime:|';

/**
 * squeue lines `id|STATE|reason|exit_code|start|end|`. squeue's exit_code is a wait status
 * (768 = exit 3, 15 = killed by SIGTERM).
 */
export function parseSqueue(stdout: string): Map<string, SlurmJob> {
  const out = new Map<string, SlurmJob>();
  for (const line of stdout.split('\n')) {
    if (!line.trim()) continue;
    const [id, state, reason, code, start, end] = line.split('|').map((s) => s.trim());
    if (!id || !state) continue;
    const job: SlurmJob = { id, state: baseState(state), source: 'squeue' };
    if (reason && reason !== 'None' && reason !== '(null)') job.reason = reason;
    const status = Number(code);
    if (code && Number.isInteger(status) && status >= 0) {
      job.exitCode = (status >> 8) & 0xff;
      if (status & 0x7f) job.signal = status & 0x7f;
    }
    out.set(id, withTimes(job, start, end));
  }
  return out;
}

/** The job with its start and end times, where Slurm gave real ones. */
function withTimes(job: SlurmJob, start: string | undefined, end: string | undefined): SlurmJob {
  const s = slurmTime(start);
  const e = slurmTime(end);
  if (s) job.start = s;
  if (e) job.end = e;
  return job;
}

/** The fields sacct is asked for (`--parsable2`, `|` separated). */
export const SACCT_FORMAT = 'JobIDRaw,State,ExitCode,Start,End';

/** sacct lines `id|STATE|code:signal|start|end`; only the allocation lines (no `.batch` steps). */
export function parseSacct(stdout: string): Map<string, SlurmJob> {
  const out = new Map<string, SlurmJob>();
  for (const line of stdout.split('\n')) {
    if (!line.trim()) continue;
    const [id, state, code, start, end] = line.split('|').map((s) => s.trim());
    if (!id || !state || id.includes('.')) continue;
    const job: SlurmJob = { id, state: baseState(state), source: 'sacct' };
    const m = /^(\d+):(\d+)$/.exec(code ?? '');
    if (m) {
      job.exitCode = Number(m[1]);
      if (Number(m[2]) > 0) job.signal = Number(m[2]);
    }
    out.set(id, withTimes(job, start, end));
  }
  return out;
}

export interface SlurmNode {
  name: string;
  cpus: number;
  /** MiB */
  memory: number;
  gpus: number;
  state: string;
}

/** The fields sinfo is asked for (`--Node --noheader --format`). */
export const SINFO_FORMAT = '%N|%c|%m|%G|%T';

/** GPUs in a GRES string: `gpu:2`, `gpu:a100:4(S:0-1)`, `gpu:a100:2,gpu:v100:1`, `(null)`. */
export function gresGpus(gres: string): number {
  let n = 0;
  for (const part of gres.split(/,(?![^(]*\))/)) {
    const m = /^gpu(?::[^:(]+)?:(\d+)/.exec(part.trim());
    if (m) n += Number(m[1]);
  }
  return n;
}

/** sinfo lines; a node listed in several partitions is counted once. */
export function parseSinfo(stdout: string): SlurmNode[] {
  const nodes = new Map<string, SlurmNode>();
  for (const line of stdout.split('\n')) {
    if (!line.trim()) continue;
    const [name, cpus, mem, gres, state] = line.split('|').map((s) => s.trim());
    if (!name || nodes.has(name)) continue;
    nodes.set(name, {
      name,
      cpus: Number(cpus) || 0,
      memory: Number(mem) || 0,
      gpus: gresGpus(gres ?? ''),
      state: (state ?? '').toLowerCase(),
    });
  }
  return [...nodes.values()];
}

/** Nodes that can run jobs (not down, drained, failing or powered off). */
export const usableNode = (n: SlurmNode) =>
  !/^(down|drain|drained|draining|fail|failing|future|power|inval|unknown)/.test(
    n.state.replace(/[*~#!%$@^-]+$/, ''),
  );
