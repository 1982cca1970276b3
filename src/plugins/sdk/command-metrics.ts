/**
 * Latency of the backend commands a plugin runs (`docker <subcommand>`, `sbatch`, `squeue`,
 * ...), by command and outcome: `interlink_plugin_backend_command_duration_seconds`.
 *
 * The histogram belongs to the process, not to one server: a plugin process runs one
 * backend, its command runners (docker `DockerCli.run`, Slurm `runCommand`) are plain
 * functions with no server in reach, and every plugin server registers this one histogram
 * in its registry (`registerCommandMetrics`). Label values come from fixed sets; anything
 * else is `other`, so a pod-derived word never becomes a label.
 */
import { basename } from 'node:path';
import { Histogram, type Registry } from 'prom-client';
import type { CommandOutcome } from '../../core/command.ts';

export const DOCKER_COMMANDS = new Set([
  'create',
  'start',
  'stop',
  'kill',
  'rm',
  'inspect',
  'ps',
  'logs',
  'exec',
  'attach',
  'stats',
  'info',
  'version',
  'network',
  'volume',
  'image',
  'images',
  'import',
  'pull',
  'cp',
  'wait',
  'container',
  'events',
  'top',
  'run',
  'pause',
  'unpause',
]);

export const SLURM_COMMANDS = new Set([
  'sbatch',
  'squeue',
  'scancel',
  'sstat',
  'scontrol',
  'srun',
  'sacct',
  'sinfo',
  'bash',
]);

const COMMAND_DURATION = 'interlink_plugin_backend_command_duration_seconds';
const commandDuration = new Histogram({
  name: COMMAND_DURATION,
  help: 'Latency of backend commands run by the plugin (docker subcommand, sbatch, squeue, ...), by command and outcome (ok: exit 0; error: non-zero exit, killed, timed out or not started)',
  labelNames: ['command', 'outcome'],
  buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
  registers: [],
});

/** The label for `docker <args>`: the subcommand when it is a known one, else `docker_other`. */
export function dockerCommand(args: readonly string[]): string {
  const sub = args[0] ?? '';
  return DOCKER_COMMANDS.has(sub) ? `docker_${sub}` : 'docker_other';
}

/** The label for a Slurm-side program: its base name when known (`sbatch`, `squeue`, ...), else `other`. */
export function slurmCommand(path: string): string {
  const name = basename(path);
  return SLURM_COMMANDS.has(name) ? name : 'other';
}

/** `ok` when the program exited 0; anything else (non-zero, signal, timeout) is `error`. */
export function commandOutcome(r: Pick<CommandOutcome, 'code' | 'signal' | 'timedOut'>): 'ok' | 'error' {
  return r.code === 0 && r.signal === null && !r.timedOut ? 'ok' : 'error';
}

/** Run `fn` and record its latency under `command`; a rejection (not started) counts as `error`. */
export async function timeCommand(
  command: string,
  fn: () => Promise<CommandOutcome>,
): Promise<CommandOutcome> {
  const end = commandDuration.startTimer({ command });
  try {
    const r = await fn();
    end({ outcome: commandOutcome(r) });
    return r;
  } catch (err) {
    end({ outcome: 'error' });
    throw err;
  }
}

/** Expose the process's command histogram on `registry` (each plugin server does, once). */
export function registerCommandMetrics(registry: Registry): void {
  if (!registry.getSingleMetric(COMMAND_DURATION)) registry.registerMetric(commandDuration);
}
