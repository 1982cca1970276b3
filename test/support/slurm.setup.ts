/**
 * Vitest globalSetup for suites that need a real Slurm (`*.slurm.test.ts`, e2e): installs
 * Debian's slurm-wlm when missing, starts (or reuses) the one-node cluster of
 * scripts/slurm/start.sh, and provides `slurmConf` (the SLURM_CONF of that cluster; it is
 * also put into this process's environment, which test workers inherit).
 *
 * Teardown stops the daemons only when this setup started them; a cluster that was already
 * running (a developer's, or another project's setup in this run) is left alone.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { TestProject } from 'vitest/node';

const run = promisify(execFile);
const scripts = join(import.meta.dirname, '..', '..', 'scripts', 'slurm');

/** Runs a script of scripts/slurm; its last stdout line, and whether it (re)started daemons. */
async function script(name: string): Promise<{ last: string; started: boolean }> {
  try {
    const { stdout, stderr } = await run('bash', [join(scripts, name)], {
      env: process.env,
      maxBuffer: 16 * 1024 * 1024,
      timeout: 15 * 60_000,
    });
    return {
      last: stdout.trim().split('\n').at(-1) ?? '',
      started: /starting slurmctld and slurmd/.test(stderr),
    };
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`scripts/slurm/${name} failed: ${e.message}\n${e.stderr ?? ''}`);
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  // Whether this setup owns the daemons comes from start.sh itself ("reusing" or "starting"),
  // not from a ping made before it: under load a ping can time out while the cluster runs,
  // and stopping a cluster another run is using fails that run's tests.
  const { last: conf, started } = await script('start.sh');
  process.env.SLURM_CONF = conf;
  project.provide('slurmConf', conf);
  return async () => {
    if (!started) return;
    await script('stop.sh');
  };
}
