/** Backend command latency: bounded labels, outcome from the exit, the histogram on a plugin's registry. */
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { runProcess } from '../../../src/core/command.ts';
import {
  commandOutcome,
  dockerCommand,
  registerCommandMetrics,
  slurmCommand,
  timeCommand,
} from '../../../src/plugins/sdk/command-metrics.ts';

describe('command labels', () => {
  it('names a docker call by its subcommand from a fixed set, never by a later word', () => {
    expect(dockerCommand(['inspect', '--format', '{{json .}}', 'pod-uid'])).toBe('docker_inspect');
    expect(dockerCommand(['create', '--name', 'x'])).toBe('docker_create');
    expect(dockerCommand(['some-pod-name'])).toBe('docker_other');
    expect(dockerCommand([])).toBe('docker_other');
  });

  it('names a Slurm program by its base name from a fixed set', () => {
    expect(slurmCommand('/usr/bin/sbatch')).toBe('sbatch');
    expect(slurmCommand('squeue')).toBe('squeue');
    expect(slurmCommand('/opt/site/wrapped-scancel')).toBe('other');
  });

  it.each([
    [{ code: 0, signal: null, timedOut: false }, 'ok'],
    [{ code: 1, signal: null, timedOut: false }, 'error'],
    [{ code: null, signal: 'SIGKILL' as const, timedOut: true }, 'error'],
  ])('%o is %s', (r, want) => {
    expect(commandOutcome(r)).toBe(want);
  });
});

describe('timeCommand', () => {
  it('records real runs by command and outcome on every registry it is registered in', async () => {
    const a = new Registry();
    const b = new Registry();
    registerCommandMetrics(a);
    registerCommandMetrics(a); // idempotent per registry
    registerCommandMetrics(b);
    await timeCommand('docker_version', () => runProcess('true', [], { timeoutMs: 5_000 }));
    await timeCommand('docker_version', () => runProcess('false', [], { timeoutMs: 5_000 }));
    await expect(
      timeCommand('sbatch', () => runProcess('/nonexistent/sbatch', [], { timeoutMs: 5_000 })),
    ).rejects.toThrow();
    for (const text of [await a.metrics(), await b.metrics()]) {
      expect(text).toMatch(
        /interlink_plugin_backend_command_duration_seconds_count\{command="docker_version",outcome="ok"\} [1-9]/,
      );
      expect(text).toMatch(
        /interlink_plugin_backend_command_duration_seconds_count\{command="docker_version",outcome="error"\} [1-9]/,
      );
      expect(text).toMatch(
        /interlink_plugin_backend_command_duration_seconds_count\{command="sbatch",outcome="error"\} [1-9]/,
      );
    }
  });
});
