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

function slurmDir(): string {
  const root =
    process.env.INTERLINK_CACHE ||
    join(process.env.XDG_CACHE_HOME || join(process.env.HOME ?? '/root', '.cache'), 'interlink');
  return process.env.SLURM_DIR || join(root, 'slurm');
}

async function answers(conf: string): Promise<boolean> {
  try {
    await run('scontrol', ['ping'], { env: { ...process.env, SLURM_CONF: conf }, timeout: 10_000 });
    const { stdout } = await run('sinfo', ['--noheader', '--format=%T'], {
      env: { ...process.env, SLURM_CONF: conf },
      timeout: 10_000,
    });
    return /idle|mixed|allocated|completing/.test(stdout);
  } catch {
    return false;
  }
}

async function script(name: string): Promise<string> {
  try {
    const { stdout } = await run('bash', [join(scripts, name)], {
      env: process.env,
      maxBuffer: 16 * 1024 * 1024,
      timeout: 15 * 60_000,
    });
    return stdout.trim().split('\n').at(-1) ?? '';
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`scripts/slurm/${name} failed: ${e.message}\n${e.stderr ?? ''}`);
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const expected = join(slurmDir(), 'slurm.conf');
  const wasRunning = await answers(expected);
  const conf = await script('start.sh');
  process.env.SLURM_CONF = conf;
  project.provide('slurmConf', conf);
  return async () => {
    if (wasRunning) return;
    await script('stop.sh');
  };
}
