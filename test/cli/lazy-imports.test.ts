/**
 * What each process loads: every module a Node process imports stays resident for its life,
 * so `interlink plugin mock` and `interlink api` must not load the VK's Kubernetes client,
 * the API's OIDC verifier (jose) or each other's code, and the VK not
 * `@kubernetes/client-node` (its generated index costs ~85 MiB; docs/performance.md, Memory). The
 * processes run as users start them (`node src/cli/main.ts ...`), with a module hook that
 * writes every URL it loads to a file.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../src/core/free-ports.ts';
import { tempDir } from '../api/harness.ts';

const root = join(import.meta.dirname, '..', '..');
const main = join(root, 'src', 'cli', 'main.ts');
let dir: string;
let cleanup: () => Promise<void>;
let hook: string;

beforeAll(async () => {
  ({ dir, cleanup } = await tempDir('interlink-lazy-'));
  hook = join(dir, 'trace.mjs');
  writeFileSync(
    hook,
    [
      "import { registerHooks } from 'node:module';",
      "import { appendFileSync } from 'node:fs';",
      'const out = process.env.TRACE_OUT;',
      "registerHooks({ load(url, ctx, next) { appendFileSync(out, url + '\\n'); return next(url, ctx); } });",
    ].join('\n'),
  );
});
afterAll(() => cleanup());

/** Whether something listens on 127.0.0.1:`port`. */
const listening = (port: number) => () =>
  new Promise<boolean>((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });

/** Start `main.ts <args>`, wait until `ready` exists (a path) or holds, stop it; the URLs it loaded. */
async function loaded(
  name: string,
  args: string[],
  ready: string | (() => Promise<boolean>),
): Promise<string[]> {
  const isReady = typeof ready === 'string' ? async () => existsSync(ready) : ready;
  const out = join(dir, `${name}.txt`);
  const child: ChildProcess = spawn(
    process.execPath,
    ['--import', pathToFileURL(hook).href, main, '--log-level', 'error', ...args],
    { cwd: root, env: { PATH: process.env.PATH, HOME: process.env.HOME, TRACE_OUT: out }, stdio: 'ignore' },
  );
  const exited = new Promise((resolve) => child.on('exit', resolve));
  try {
    for (let i = 0; !(await isReady()); i++) {
      if (child.exitCode !== null) throw new Error(`${name} exited (${child.exitCode}) before serving`);
      if (i > 1200) throw new Error(`${name} did not get ready`);
      await new Promise((r) => setTimeout(r, 50));
    }
  } finally {
    child.kill('SIGTERM');
    await exited;
  }
  return readFileSync(out, 'utf8').trim().split('\n');
}

const matching = (urls: string[], part: string) => urls.filter((u) => u.includes(part));

describe('lazy imports', () => {
  it('`interlink plugin mock` loads neither the Kubernetes client, jose, the API nor the VK', async () => {
    const socket = join(dir, 'plugin.sock');
    writeFileSync(join(dir, 'plugin.yaml'), `socket: ${socket}\n`);
    const urls = await loaded('plugin', ['-c', join(dir, 'plugin.yaml'), 'plugin', 'mock'], socket);
    expect(matching(urls, '/src/plugins/mock/').length).toBeGreaterThan(0);
    expect(matching(urls, '/node_modules/@kubernetes/client-node/')).toEqual([]);
    expect(matching(urls, '/node_modules/jose/')).toEqual([]);
    expect(matching(urls, '/node_modules/@opentelemetry/sdk-trace')).toEqual([]);
    expect(matching(urls, '/src/api/')).toEqual([]);
    expect(matching(urls, '/src/vk/')).toEqual([]);
    expect(matching(urls, '/src/plugins/docker/')).toEqual([]);
    expect(matching(urls, '/src/plugins/slurm/')).toEqual([]);
  });

  it('`interlink api` with a token file loads neither the Kubernetes client, jose, a plugin nor the VK', async () => {
    const socket = join(dir, 'api.sock');
    writeFileSync(join(dir, 'token'), 'secret-token\n', { mode: 0o600 });
    writeFileSync(
      join(dir, 'api.yaml'),
      `interlinkUrl: unix://${socket}\nsidecarUrl: unix://${join(dir, 'nowhere.sock')}\nauth:\n  tokenFile: ${join(dir, 'token')}\n`,
    );
    const urls = await loaded('api', ['-c', join(dir, 'api.yaml'), 'api'], socket);
    expect(matching(urls, '/src/api/').length).toBeGreaterThan(0);
    expect(matching(urls, '/node_modules/@kubernetes/client-node/')).toEqual([]);
    expect(matching(urls, '/node_modules/jose/')).toEqual([]);
    expect(matching(urls, '/src/vk/')).toEqual([]);
    expect(matching(urls, '/src/plugins/mock/')).toEqual([]);
  });

  it('`interlink vk` does not load @kubernetes/client-node (only its types are used)', async () => {
    const metricsPort = await freePort();
    writeFileSync(
      join(dir, 'kubeconfig'),
      [
        'apiVersion: v1',
        'clusters: [{name: c, cluster: {server: "https://127.0.0.1:1", insecure-skip-tls-verify: true}}]',
        'users: [{name: u, user: {token: t}}]',
        'contexts: [{name: x, context: {cluster: c, user: u}}]',
        'current-context: x',
      ].join('\n'),
    );
    writeFileSync(
      join(dir, 'vk.yaml'),
      [
        'nodeName: lazy-vk',
        `kubeconfig: ${join(dir, 'kubeconfig')}`,
        `interlinkUrl: unix://${join(dir, 'nowhere.sock')}`,
        `metricsPort: ${metricsPort}`,
        'metricsAddress: 127.0.0.1',
        `kubeletHttp: {port: ${await freePort()}, address: 127.0.0.1}`,
      ].join('\n'),
    );
    // The metrics port opens once runVirtualKubelet runs: every static import is loaded by then.
    const urls = await loaded('vk', ['vk', '--config', join(dir, 'vk.yaml')], listening(metricsPort));
    expect(matching(urls, '/src/vk/pods/informer.ts').length).toBe(1);
    expect(matching(urls, '/src/vk/kube-connection.ts').length).toBe(1);
    expect(matching(urls, '/node_modules/@kubernetes/client-node/')).toEqual([]);
  });
});
