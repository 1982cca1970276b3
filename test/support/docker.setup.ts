/**
 * Vitest globalSetup for suites that need a real dockerd (`*.docker.test.ts`, the Slurm
 * suites' docker runtime, e2e): installs Debian's docker.io when missing, starts (or
 * reuses) the dockerd of scripts/docker/start-dockerd.sh, builds the busybox test image,
 * and provides `dockerHost`, `dockerCli` and `testImage`.
 *
 * Several test runs (in parallel on one machine; the projects of one run share one start, components.ts) share that
 * dockerd. Each holds a lease (`<dir>/leases/<pid>`) while it runs; the last run to finish
 * stops dockerd, and only if a test run started it (`<dir>/started-by-tests`): a dockerd
 * that was already running before any test run is left alone. Lease changes and
 * start/stop happen under a lock directory, so one run never stops the daemon under another.
 */
import { execFile } from 'node:child_process';
import { mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { TestProject } from 'vitest/node';
import { acquire, type Starter, timing } from './components.ts';
import { starters } from './starters.ts';

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

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A lock directory shared by concurrent test runs; a lock whose owner died is taken over. */
async function withLock<T>(dir: string, fn: () => Promise<T>): Promise<T> {
  const lock = join(dir, 'setup.lock');
  for (;;) {
    try {
      await mkdir(lock);
      await writeFile(join(lock, 'pid'), String(process.pid));
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const owner = Number(await readFile(join(lock, 'pid'), 'utf8').catch(() => ''));
      const age = Date.now() - ((await stat(lock).catch(() => undefined))?.mtimeMs ?? Date.now());
      if ((owner > 0 && !alive(owner)) || (!owner && age > 10_000))
        await rm(lock, { recursive: true, force: true });
      else await sleep(200);
    }
  }
  try {
    return await fn();
  } finally {
    await rm(lock, { recursive: true, force: true });
  }
}

/** Other live runs holding a lease; leases of dead processes are removed. */
async function otherLeases(leases: string): Promise<number[]> {
  const pids = (await readdir(leases).catch(() => [] as string[]))
    .map(Number)
    .filter((p) => p > 0 && p !== process.pid);
  const live: number[] = [];
  for (const pid of pids) {
    if (alive(pid)) live.push(pid);
    else await rm(join(leases, String(pid)), { force: true });
  }
  return live;
}

interface Docker {
  host: string;
  image: string;
}

export const dockerStarter: Starter<Docker> = {
  async start() {
    await script('install.sh');
    const dir = cacheDir();
    const leases = join(dir, 'leases');
    const marker = join(dir, 'started-by-tests');
    await mkdir(leases, { recursive: true });
    return withLock(dir, async () => {
      await writeFile(join(leases, String(process.pid)), '');
      const wasRunning = await answers(`unix://${join(dir, 'docker.sock')}`);
      const host = await script('start-dockerd.sh');
      if (!wasRunning) await writeFile(marker, String(process.pid));
      timing('docker: dockerd ready');
      if (!wasRunning && (await otherLeases(leases)).length === 0) await removeLeftovers(host);
      return { host, image: await script('make-test-image.sh', { DOCKER_HOST: host }) };
    });
  },
  stop() {
    const dir = cacheDir();
    const leases = join(dir, 'leases');
    const marker = join(dir, 'started-by-tests');
    return withLock(dir, async () => {
      await rm(join(leases, String(process.pid)), { force: true });
      if ((await otherLeases(leases)).length > 0) return;
      if (!(await stat(marker).catch(() => undefined))) return;
      await stopDockerd(join(dir, 'dockerd.pid'));
      await rm(marker, { force: true });
    });
  },
};

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const { value, release } = await acquire<Docker>(project, 'docker', starters());
  project.provide('dockerHost', value.host);
  project.provide('dockerCli', DOCKER_CLI);
  project.provide('testImage', value.image);
  return release;
}

/**
 * Remove the containers earlier runs left behind (a run killed mid-test, a benchmark). Called
 * only when this run started dockerd and no other run holds a lease, so nothing in it is in
 * use. They matter: the docker plugin's containers carry `--restart=unless-stopped`, so
 * every dockerd start would run them again beside the tests.
 */
async function removeLeftovers(host: string): Promise<void> {
  const env = { ...process.env, DOCKER_HOST: host };
  const { stdout } = await run(DOCKER_CLI, ['ps', '-aq'], { env, timeout: 60_000 });
  const ids = stdout.split('\n').filter(Boolean);
  if (ids.length === 0) return;
  await run(DOCKER_CLI, ['rm', '-f', '--', ...ids], { env, timeout: 5 * 60_000 });
  timing(`docker: removed ${ids.length} containers earlier runs left`);
}

/** SIGTERM, then wait (dockerd stops its containers first); SIGKILL after 30 s. */
async function stopDockerd(pidFile: string): Promise<void> {
  const pid = Number((await readFile(pidFile, 'utf8').catch(() => '')).trim());
  if (!Number.isInteger(pid) || pid <= 0 || !alive(pid)) return;
  process.kill(pid, 'SIGTERM');
  for (let i = 0; i < 300 && alive(pid); i++) await sleep(100);
  if (alive(pid)) process.kill(pid, 'SIGKILL');
}
