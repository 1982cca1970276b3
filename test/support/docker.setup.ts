/**
 * Vitest globalSetup for suites that need a real dockerd (`*.docker.test.ts`, and the Slurm
 * suites' docker runtime): installs Debian's docker.io when missing, starts (or reuses) the
 * dockerd of scripts/docker/start-dockerd.sh, builds the busybox test image, and provides
 * `dockerHost`, `dockerCli` and `testImage`.
 *
 * Teardown stops dockerd only when this setup started it; a dockerd that was already
 * running (a developer's, or one another project's setup started in this run) is left alone.
 */
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { TestProject } from 'vitest/node';

const run = promisify(execFile);
const scripts = join(import.meta.dirname, '..', '..', 'scripts', 'docker');
/** Debian's client, the same release as the engine (the machine's newer CLI also works, by API negotiation). */
const DOCKER_CLI = process.env.DOCKER_CLI || '/usr/bin/docker';

async function script(name: string, env: NodeJS.ProcessEnv = {}): Promise<string> {
  try {
    const { stdout } = await run('bash', [join(scripts, name)], {
      env: { ...process.env, DOCKER_CLI, ...env },
      maxBuffer: 16 * 1024 * 1024,
      timeout: 15 * 60_000,
    });
    return stdout.trim().split('\n').at(-1) ?? '';
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`scripts/docker/${name} failed: ${e.message}\n${e.stderr ?? ''}`);
  }
}

async function answers(host: string): Promise<boolean> {
  try {
    await run(DOCKER_CLI, ['info', '--format', '{{.ServerVersion}}'], {
      env: { ...process.env, DOCKER_HOST: host },
      timeout: 10_000,
    });
    return true;
  } catch {
    return false;
  }
}

function cacheDir(): string {
  const root =
    process.env.INTERLINK_CACHE ||
    join(process.env.XDG_CACHE_HOME || join(process.env.HOME ?? '/root', '.cache'), 'interlink');
  return process.env.DOCKERD_DIR || join(root, 'dockerd');
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  await script('install.sh');
  const dir = cacheDir();
  const expectedHost = `unix://${join(dir, 'docker.sock')}`;
  const wasRunning = await answers(expectedHost);
  const host = await script('start-dockerd.sh');
  const image = await script('make-test-image.sh', { DOCKER_HOST: host });
  project.provide('dockerHost', host);
  project.provide('dockerCli', DOCKER_CLI);
  project.provide('testImage', image);
  return async () => {
    if (wasRunning) return;
    await stopDockerd(join(dir, 'dockerd.pid'));
  };
}

/** SIGTERM, then wait (dockerd stops its containers first); SIGKILL after 30 s. */
async function stopDockerd(pidFile: string): Promise<void> {
  const pid = Number((await readFile(pidFile, 'utf8').catch(() => '')).trim());
  if (!Number.isInteger(pid) || pid <= 0) return;
  const alive = () => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  if (!alive()) return;
  process.kill(pid, 'SIGTERM');
  for (let i = 0; i < 300 && alive(); i++) await new Promise((r) => setTimeout(r, 100));
  if (alive()) process.kill(pid, 'SIGKILL');
}
