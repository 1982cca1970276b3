/**
 * `make all` produces a runnable build: the compiled dist/ (`npm run build`) and one
 * launcher per role in bin/. Built into a temp directory (the Makefile's DIST and BIN), so
 * a developer's own dist/ is never touched; node_modules and package.json sit beside it as
 * in an installed tree. Then each launcher is started the way systemd would start it.
 */
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { copyFile, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Agent } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, run } from './tools.ts';

const version = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
let dir: string;
/** An environment without the developer's cluster or config settings. */
const cleanEnv = () => ({ PATH: process.env.PATH, HOME: process.env.HOME });

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'interlink-make-'));
  const r = await run(
    'make',
    [
      '--no-print-directory',
      'all',
      `DIST=${join(dir, 'dist')}`,
      `BIN=${join(dir, 'bin')}`,
      `NODE=${process.execPath}`,
    ],
    {
      timeoutMs: 10 * 60_000,
    },
  );
  if (r.code !== 0) throw new Error(`make all failed (exit ${r.code}):\n${r.stdout}\n${r.stderr}`);
  await symlink(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
  await copyFile(join(ROOT, 'package.json'), join(dir, 'package.json'));
}, 10 * 60_000);

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function healthz(socket: string): Promise<number | undefined> {
  const agent = new Agent({ connect: { socketPath: socket } });
  try {
    const res = await agent.request({ origin: 'http://localhost', path: '/healthz', method: 'GET' });
    await res.body.text();
    return res.statusCode;
  } catch {
    return undefined;
  } finally {
    await agent.close();
  }
}

/** Start a launcher, wait until its unix socket answers /healthz, stop it with SIGTERM. */
async function serveAndProbe(
  launcher: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  socket: string,
): Promise<{ status: number; code: number | null }> {
  const child = spawn(join(dir, 'bin', launcher), args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr.on('data', (c) => {
    err += c;
  });
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  try {
    for (let i = 0; i < 300; i++) {
      if (child.exitCode !== null) throw new Error(`${launcher} exited ${child.exitCode}: ${err}`);
      const status = existsSync(socket) ? await healthz(socket) : undefined;
      if (status !== undefined) {
        child.kill('SIGTERM');
        return { status, code: await exited };
      }
      await sleep(100);
    }
    throw new Error(`${launcher} never answered on ${socket}: ${err}`);
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
  }
}

describe('make all', () => {
  it('writes dist/ with the CLI and a launcher per role', () => {
    expect(existsSync(join(dir, 'dist', 'cli', 'main.js'))).toBe(true);
    expect(readdirSync(join(dir, 'bin')).sort()).toEqual(
      [
        'interlink-api',
        'interlink-plugin-docker',
        'interlink-plugin-mock',
        'interlink-plugin-slurm',
        'interlink-up',
        'interlink-vk',
      ].sort(),
    );
    expect(readFileSync(join(dir, 'bin', 'interlink-plugin-slurm'), 'utf8')).toContain(
      'cli/main.js" plugin slurm "$@"',
    );
  });

  it('the compiled CLI prints its version', async () => {
    const r = await run(process.execPath, [join(dir, 'dist', 'cli', 'main.js'), '--version'], {
      env: cleanEnv(),
    });
    expect(r.stdout.trim()).toBe(version);
    expect(r.code).toBe(0);
  });

  it('bin/interlink-plugin-mock serves a plugin and stops cleanly on SIGTERM', async () => {
    const socket = join(dir, 'mock.sock');
    const r = await serveAndProbe(
      'interlink-plugin-mock',
      [],
      { ...cleanEnv(), SIDECARSOCKET: socket },
      socket,
    );
    expect(r).toEqual({ status: 200, code: 0 });
  });

  it('bin/interlink-api serves the API', async () => {
    const socket = join(dir, 'api.sock');
    await writeFile(join(dir, 'tokens'), 'build-test-token\n');
    await writeFile(
      join(dir, 'api.yaml'),
      `interlinkUrl: unix://${socket}\nsidecarUrl: unix://${join(dir, 'none.sock')}\nauth:\n  tokenFile: ${join(dir, 'tokens')}\n`,
    );
    const r = await serveAndProbe('interlink-api', ['--config', join(dir, 'api.yaml')], cleanEnv(), socket);
    expect(r).toEqual({ status: 200, code: 0 });
  });

  it('bin/interlink-vk loads the virtual kubelet (lazily imported) and asks for a cluster', async () => {
    const r = await run(join(dir, 'bin', 'interlink-vk'), [], { env: cleanEnv() });
    expect(r.stderr).toContain('no kubeconfig');
    expect(r.stderr).not.toMatch(/ERR_MODULE_NOT_FOUND|Cannot find module/);
    expect(r.code).toBe(2);
  });
});
