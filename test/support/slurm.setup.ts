/**
 * Vitest globalSetup for suites that need a real Slurm (`*.slurm.test.ts`, e2e): installs
 * Debian's slurm-wlm when missing, starts (or reuses) the one-node cluster of
 * scripts/slurm/start.sh, and provides `slurmConf` (the SLURM_CONF of that cluster; it is
 * also put into this process's environment, which test workers inherit).
 *
 * Started once per run, beside the other components (components.ts). Teardown stops the
 * daemons only when this run started them; a cluster that was already running (a
 * developer's, or another run's) is left alone.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { TestProject } from 'vitest/node';
import { acquire, type Starter } from './components.ts';
import { starters } from './starters.ts';

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

export const slurmStarter: Starter<{ conf: string; started: boolean }> = {
  async start() {
    // Whether this run owns the daemons comes from start.sh itself ("reusing" or "starting"),
    // not from a ping made before it: under load a ping can time out while the cluster runs,
    // and stopping a cluster another run is using fails that run's tests.
    const { last: conf, started } = await script('start.sh');
    process.env.SLURM_CONF = conf;
    return { conf, started };
  },
  async stop({ started }) {
    if (started) await script('stop.sh');
  },
};

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const { value, release } = await acquire<{ conf: string; started: boolean }>(project, 'slurm', starters());
  process.env.SLURM_CONF = value.conf;
  project.provide('slurmConf', value.conf);
  return release;
}
