/**
 * The Slurm commands, spawned with argument arrays (never a shell), each bounded by a
 * timeout. SLURM_CONF and the rest of the plugin's environment reach the commands (the
 * commands need them); jobs get only what `jobEnvironment()` selects.
 *
 * Failures are classified: a command that cannot be run (missing binary, timeout,
 * controller down) is UNAVAILABLE (retryable); a refusal by Slurm (sbatch rejecting an
 * option) is INVALID_INPUT carrying Slurm's own words.
 */
import { type CommandOutcome, runProcess } from '../../core/command.ts';
import { Attr, annotateActiveSpan } from '../../core/tracing.ts';
import { type InterlinkError, invalidInput, unavailable } from '../../errors/index.ts';
import { slurmCommand, timeCommand } from '../sdk/command-metrics.ts';
import type { SlurmConfig } from './config.ts';
import {
  parseSacct,
  parseSbatch,
  parseSinfo,
  parseSqueue,
  SACCT_FORMAT,
  SINFO_FORMAT,
  type SlurmJob,
  type SlurmNode,
  SQUEUE_FORMAT,
} from './parse.ts';

export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  timeoutMs: number;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  signal?: AbortSignal;
  /** Name of the command's trace span (core/command.ts): a fixed word, never pod data. */
  spanName?: string;
}

/** Run a command to completion. Rejects (UNAVAILABLE) only when it could not run or timed out. */
export async function runCommand(
  cmd: string,
  args: readonly string[],
  opts: RunOptions,
): Promise<CommandResult> {
  let r: CommandOutcome;
  try {
    r = await timeCommand(slurmCommand(cmd), () => runProcess(cmd, args, opts));
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const why = err.code === 'ENOENT' ? `${cmd} not found (set its path in the configuration)` : err.message;
    throw unavailable(`${cmd}: ${why}`, err);
  }
  if (r.signal) {
    throw unavailable(
      `${cmd} ${args.join(' ')}: killed by ${r.signal}${r.timedOut ? ` (no answer within ${opts.timeoutMs} ms)` : ''}`,
    );
  }
  return { code: r.code ?? 1, stdout: r.stdout, stderr: r.stderr };
}

const firstLine = (s: string) => s.trim().split('\n').slice(-3).join(' ').slice(0, 500);

export class SlurmCli {
  readonly #cfg: SlurmConfig;
  readonly #run: typeof runCommand;
  /** Until when sacct is believed to say "accounting storage is disabled" (ms epoch). */
  #accountingOffUntil = 0;
  /** Calls made, by command (for tests and metrics: one squeue per status request). */
  readonly calls = new Map<string, number>();

  readonly #now: () => number;

  constructor(cfg: SlurmConfig, run: typeof runCommand = runCommand, now: () => number = Date.now) {
    this.#cfg = cfg;
    this.#run = run;
    this.#now = now;
  }

  async #exec(
    which: 'sbatch' | 'squeue' | 'scancel' | 'scontrol' | 'sacct' | 'sinfo',
    args: string[],
    opts: Partial<RunOptions> = {},
  ): Promise<CommandResult> {
    const path = {
      sbatch: this.#cfg.sbatchPath,
      squeue: this.#cfg.squeuePath,
      scancel: this.#cfg.scancelPath,
      scontrol: this.#cfg.scontrolPath,
      sacct: this.#cfg.sacctPath,
      sinfo: this.#cfg.sinfoPath,
    }[which];
    this.calls.set(which, (this.calls.get(which) ?? 0) + 1);
    return this.#run(path, args, {
      timeoutMs: this.#cfg.commandTimeoutSeconds * 1000,
      spanName: which,
      ...opts,
    });
  }

  /**
   * The environment sbatch (and so the job, which inherits it) gets: enough to find Slurm
   * and a sane shell, plus the configured `passEnv`. Secrets of the plugin stay out.
   */
  jobEnvironment(): NodeJS.ProcessEnv {
    const keep = [
      'PATH',
      'HOME',
      'USER',
      'LOGNAME',
      'SHELL',
      'LANG',
      'LC_ALL',
      'TZ',
      'TMPDIR',
      'SLURM_CONF',
      ...this.#cfg.passEnv,
    ];
    const env: NodeJS.ProcessEnv = {};
    for (const k of keep) if (process.env[k] !== undefined) env[k] = process.env[k];
    return env;
  }

  /** Submit a job script; resolves to the job id. Slurm refusing the job is INVALID_INPUT. */
  async submit(script: string, cwd: string): Promise<string> {
    const r = await this.#exec('sbatch', ['--parsable', script], { cwd, env: this.jobEnvironment() });
    const id = r.code === 0 ? parseSbatch(r.stdout) : undefined;
    if (id) {
      annotateActiveSpan({ [Attr.jobId]: id });
      return id;
    }
    throw this.#refusal('sbatch', r);
  }

  /**
   * Jobs by id, in ONE squeue call for all of them, finished ones included while the
   * controller remembers them (MinJobAge). Ids Slurm does not know are absent from the map.
   */
  async queue(ids: readonly string[]): Promise<Map<string, SlurmJob>> {
    if (ids.length === 0) return new Map();
    const r = await this.#exec('squeue', [
      '--noheader',
      '--states=all',
      `--jobs=${ids.join(',')}`,
      `--Format=${SQUEUE_FORMAT}`,
    ]);
    if (r.code === 0) return parseSqueue(r.stdout);
    // squeue fails outright when none of the ids is known any more.
    if (/Invalid job id/i.test(r.stderr)) return new Map();
    throw unavailable(`squeue failed (exit ${r.code}): ${firstLine(r.stderr || r.stdout)}`);
  }

  /** Ids of jobs with this name (a submission whose id was never recorded). */
  async byName(name: string): Promise<string[]> {
    const r = await this.#exec('squeue', [
      '--noheader',
      '--states=all',
      `--name=${name}`,
      '--Format=JobID:|',
    ]);
    if (r.code !== 0) throw unavailable(`squeue failed (exit ${r.code}): ${firstLine(r.stderr || r.stdout)}`);
    return r.stdout
      .split('\n')
      .map((l) => l.split('|')[0]!.trim())
      .filter((s) => /^\d+/.test(s));
  }

  /** Job ids by job name for many names, in ONE squeue call (the plugin's `list`). */
  async jobsNamed(names: readonly string[]): Promise<Map<string, string[]>> {
    const out = new Map<string, string[]>();
    if (names.length === 0) return out;
    const r = await this.#exec('squeue', [
      '--noheader',
      '--states=all',
      `--name=${names.join(',')}`,
      '--Format=JobID:|,Name:|',
    ]);
    if (r.code !== 0) throw unavailable(`squeue failed (exit ${r.code}): ${firstLine(r.stderr || r.stdout)}`);
    for (const line of r.stdout.split('\n')) {
      const [id, name] = line.split('|').map((s) => s.trim());
      if (!id || !name || !/^\d+/.test(id)) continue;
      out.set(name, [...(out.get(name) ?? []), id]);
    }
    return out;
  }

  /**
   * Finished jobs from accounting, in one sacct call; an empty map when the cluster has no
   * accounting storage (remembered for `accountingRecheckSeconds`).
   */
  async accounting(ids: readonly string[]): Promise<Map<string, SlurmJob>> {
    if (ids.length === 0 || this.#now() < this.#accountingOffUntil) return new Map();
    const r = await this.#exec('sacct', [
      '--noheader',
      '--parsable2',
      '--allocations',
      `--jobs=${ids.join(',')}`,
      `--format=${SACCT_FORMAT}`,
    ]);
    if (r.code === 0) return parseSacct(r.stdout);
    if (/accounting storage is disabled/i.test(r.stderr + r.stdout)) {
      this.#accountingOffUntil = this.#now() + this.#cfg.accountingRecheckSeconds * 1000;
      return new Map();
    }
    throw unavailable(`sacct failed (exit ${r.code}): ${firstLine(r.stderr || r.stdout)}`);
  }

  /**
   * Signal a job: `signal` alone sends it to the batch script and its steps and leaves the job
   * alone otherwise (`scancel --signal --full`); without, Slurm's own cancel (SIGTERM, SIGKILL
   * after KillWait). A job Slurm does not know (any more) is not an error.
   */
  async cancel(id: string, signal?: string): Promise<void> {
    return this.#scancel(signal ? [`--signal=${signal}`, '--full', id] : [id]);
  }

  /**
   * Signal the batch shell of a job alone, none of its children or steps (`scancel --batch`:
   * the shell's trap decides what to do, as for the preStop hooks). Same errors as cancel.
   */
  async signalBatch(id: string, signal: string): Promise<void> {
    return this.#scancel([`--signal=${signal}`, '--batch', id]);
  }

  async #scancel(args: string[]): Promise<void> {
    const r = await this.#exec('scancel', args);
    if (r.code === 0) return;
    if (/Invalid job id|already completing or completed|Job is pending execution/i.test(r.stderr)) return;
    throw unavailable(
      `scancel ${args.join(' ')} failed (exit ${r.code}): ${firstLine(r.stderr || r.stdout)}`,
    );
  }

  async nodes(partition?: string): Promise<SlurmNode[]> {
    const args = [
      '--noheader',
      '--Node',
      `--format=${SINFO_FORMAT}`,
      ...(partition ? [`--partition=${partition}`] : []),
    ];
    const r = await this.#exec('sinfo', args);
    if (r.code !== 0) throw unavailable(`sinfo failed (exit ${r.code}): ${firstLine(r.stderr || r.stdout)}`);
    return parseSinfo(r.stdout);
  }

  #refusal(cmd: string, r: CommandResult): InterlinkError {
    const text = firstLine(r.stderr || r.stdout) || `exit ${r.code}`;
    // The controller unreachable is worth retrying; anything else is Slurm refusing the job.
    if (
      /Unable to contact slurm controller|Socket timed out|Connection refused|Zero Bytes were transmitted/i.test(
        text,
      )
    ) {
      return unavailable(`${cmd}: ${text}`);
    }
    return invalidInput(`${cmd} refused the job: ${text}`);
  }
}
