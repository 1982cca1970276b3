/**
 * The `interlink` command as a user runs it: `node src/cli/main.ts ...` in a child process.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { type AddressInfo, createServer as createNetServer } from 'node:net';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../api/harness.ts';

const root = join(import.meta.dirname, '..', '..');
const main = join(root, 'src', 'cli', 'main.ts');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string };

interface Done {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

function start(args: string[], env: NodeJS.ProcessEnv = {}) {
  const child = spawn(process.execPath, [main, ...args], {
    cwd: root,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => {
    stdout += d;
  });
  child.stderr.on('data', (d) => {
    stderr += d;
  });
  const done = new Promise<Done>((resolve) =>
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr })),
  );
  return { child, done, out: () => stdout, err: () => stderr };
}

const run = (args: string[], env?: NodeJS.ProcessEnv) => start(args, env).done;

async function waitFor(
  child: ChildProcess,
  read: () => string,
  pattern: RegExp,
  what: string,
): Promise<RegExpExecArray> {
  for (let i = 0; i < 600; i++) {
    const m = pattern.exec(read());
    if (m) return m;
    if (child.exitCode !== null) throw new Error(`process exited (${child.exitCode}) before ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe('interlink CLI', () => {
  it('--version prints the package version', async () => {
    const r = await run(['--version']);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe(pkg.version);
  });

  it('--help on every level', async () => {
    const top = await run(['--help']);
    expect(top.code).toBe(0);
    for (const cmd of ['api', 'plugin', 'vk', 'up', '--config', '--log-level', '--version'])
      expect(top.stdout).toContain(cmd);
    for (const [args, expected] of [
      [['api', '--help'], 'INTERLINKURL'],
      [['plugin', '--help'], 'mock, docker, slurm'],
      [['vk', '--help'], '--kubeconfig'],
      [['up', '--help'], '--plugin'],
      [['up', '--help'], '--kubeconfig <file>'],
      [['help', 'up'], '--port'],
    ] as const) {
      const r = await run([...args]);
      expect(r.code, args.join(' ')).toBe(0);
      expect(r.stdout).toContain(expected);
    }
  });

  it('usage mistakes exit 2', async () => {
    expect((await run([])).code).toBe(2);
    expect((await run(['frobnicate'])).code).toBe(2);
    const both = await run(['up', '--cluster', '--kubeconfig', '/nonexistent/kubeconfig']);
    expect(both.code).toBe(2);
    expect(both.stderr).toMatch(/--kubeconfig.*cannot be used with.*--cluster/s);
    const level = await run(['--log-level', 'loud', 'api']);
    expect(level.code).toBe(2);
    expect(level.stderr).toMatch(/--log-level.*loud/s);
  });

  it('api with a bad configuration exits 2 naming the key', async () => {
    const { dir, cleanup } = await tempDir();
    try {
      const file = join(dir, 'api.yaml');
      writeFileSync(file, 'InterlinkPort: "not-a-port"\nauth: {disabled: true}\n');
      const viaFlag = await run(['api', '--config', file]);
      expect(viaFlag.code).toBe(2);
      expect(viaFlag.stderr).toMatch(/interlink: invalid configuration: interlinkPort .*accepted: a number/);
      const viaEnv = await run(['api'], { INTERLINKCONFIGPATH: file });
      expect(viaEnv.code).toBe(2);
      expect(viaEnv.stderr).toMatch(/interlinkPort/);
      const noAuth = await run(['api'], { INTERLINKPORT: '0' });
      expect(noAuth.code).toBe(2);
      expect(noAuth.stderr).toMatch(/auth: no authentication configured/);
      const badPlugin = await run(['plugin', 'nope']);
      expect(badPlugin.code).toBe(2);
      expect(badPlugin.stderr).toMatch(/unknown plugin "nope"/);
    } finally {
      await cleanup();
    }
  });

  it('a runtime failure (port taken) exits 1', async () => {
    const blocker = createNetServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    const port = (blocker.address() as AddressInfo).port;
    const { dir, cleanup } = await tempDir();
    try {
      const file = join(dir, 'api.yaml');
      writeFileSync(file, 'auth: {disabled: true}\n');
      const taken = await run(['api', '--config', file], { INTERLINKPORT: String(port) });
      expect(taken.code).toBe(1);
      expect(taken.stderr).toMatch(/EADDRINUSE/);
    } finally {
      blocker.close();
      await cleanup();
    }
  });

  it('up: API + mock over a unix socket, /pinglink answers, SIGTERM exits 0 and cleans up', async () => {
    const p = start(['up', '--port', '0']);
    const banner = await waitFor(
      p.child,
      p.out,
      /interLink API\s+(http:\/\/127\.0\.0\.1:\d+)[\s\S]*token file\s+(\S+)[\s\S]*stop/,
      'the banner',
    );
    const [, url, tokenFile] = banner;
    expect(p.out()).toMatch(/plugin\s+mock on unix:\/\/\S+plugin\.sock/);
    expect(p.out()).toContain(
      `curl -sS -X POST -H "Authorization: Bearer $(cat ${tokenFile})" ${url}/pinglink`,
    );
    const token = readFileSync(tokenFile!, 'utf8').trim();

    const ping = await fetch(`${url}/pinglink`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}` },
    });
    expect(ping.status).toBe(200);
    expect(await ping.json()).toMatchObject({ status: 'ok' });
    expect((await fetch(`${url}/pinglink`, { method: 'POST' })).status).toBe(401);
    const created = await fetch(`${url}/create`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        pod: {
          metadata: { name: 'p', namespace: 'default', uid: 'u-up' },
          spec: { containers: [{ name: 'c', image: 'busybox' }] },
        },
      }),
    });
    expect(await created.json()).toMatchObject({ PodUID: 'u-up' });

    p.child.kill('SIGTERM');
    const done = await p.done;
    expect(done.code, done.stderr).toBe(0);
    expect(existsSync(tokenFile!)).toBe(false);
    // JSON logs by default when stderr is not a terminal.
    const first = done.stderr.split('\n').find((l) => l.startsWith('{'));
    expect(JSON.parse(first!)).toHaveProperty('level');
  });

  it('up --no-auth serves without a token; SIGINT exits 0', async () => {
    const p = start(['up', '--port', '0', '--no-auth']);
    const [, url] = await waitFor(
      p.child,
      p.out,
      /interLink API\s+(http:\/\/127\.0\.0\.1:\d+)[\s\S]*stop/,
      'the banner',
    );
    expect(p.out()).toContain('DISABLED');
    expect((await fetch(`${url}/pinglink`, { method: 'POST' })).status).toBe(200);
    expect(p.err()).toMatch(/authentication is DISABLED/);
    p.child.kill('SIGINT');
    expect((await p.done).code).toBe(0);
  });
});
