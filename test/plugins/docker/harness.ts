/**
 * Shared by the docker plugin's `*.docker.test.ts` suites: a plugin configuration pointed
 * at the test dockerd (test/support/docker.setup.ts), the plugin served over a real unix
 * socket and called with the project's HttpClient, pod builders, and polling helpers that
 * wait for a state (never for a duration).
 */
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, inject } from 'vitest';
import { HttpClient } from '../../../src/core/http-client.ts';
import { listenOn } from '../../../src/core/http-server.ts';
import { silentLogger } from '../../../src/core/logger.ts';
import { DockerConfig } from '../../../src/plugins/docker/config.ts';
import { createDockerPlugin, type DockerPlugin } from '../../../src/plugins/docker/plugin.ts';
import { buildPluginApp } from '../../../src/plugins/sdk/server.ts';
import { type PodStatus, PodStatusList } from '../../../src/wire/interlink.ts';
import type { Pod } from '../../../src/wire/k8s.ts';

const run = promisify(execFile);

export const image = () => inject('testImage');

/** Data roots made by testConfig, removed when the test file ends. */
const dataRoots: string[] = [];
afterAll(async () => {
  await Promise.all(dataRoots.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

/** A configuration of our own: a fresh instance label and data root per suite. */
export async function testConfig(over: Record<string, unknown> = {}): Promise<DockerConfig> {
  const dataRoot = await mkdtemp(join(tmpdir(), 'ilk-docker-'));
  dataRoots.push(dataRoot);
  return DockerConfig.parse({
    dockerCli: inject('dockerCli'),
    dockerHost: inject('dockerHost'),
    dataRoot,
    instance: `t-${randomUUID().slice(0, 8)}`,
    infraImage: inject('testImage'),
    infraCommand: ['sleep', '2147483647'],
    reconcileIntervalMs: 100,
    ...over,
  });
}

/** Run the docker CLI of the test dockerd (for assertions and for poking containers). */
export async function docker(args: string[]): Promise<string> {
  const { stdout } = await run(inject('dockerCli'), args, {
    env: { ...process.env, DOCKER_HOST: inject('dockerHost') },
  });
  return stdout.trim();
}

export async function containersOf(cfg: DockerConfig, uid?: string): Promise<string[]> {
  const filters = ['--filter', `label=interlink.vk.io/instance=${cfg.instance}`];
  if (uid) filters.push('--filter', `label=interlink.vk.io/pod-uid=${uid}`);
  const out = await docker(['ps', '-aq', ...filters]);
  return out === '' ? [] : out.split('\n');
}

export async function volumesOf(cfg: DockerConfig): Promise<string[]> {
  const out = await docker([
    'volume',
    'ls',
    '-q',
    '--filter',
    `label=interlink.vk.io/instance=${cfg.instance}`,
  ]);
  return out === '' ? [] : out.split('\n');
}

/** Remove everything a suite's instance left behind (after failures). */
export async function cleanup(cfg: DockerConfig): Promise<void> {
  // A plugin's background delete may be removing some of them already: dockerd then answers
  // "removal ... already in progress"; ask again until none is left.
  for (let attempt = 0; ; attempt++) {
    const ids = await containersOf(cfg);
    if (ids.length === 0) break;
    try {
      await docker(['rm', '-f', '-v', ...ids]);
    } catch (err) {
      if (attempt >= 60 || !/already in progress|No such container/.test(String(err))) throw err;
      await new Promise((r) => setTimeout(r, 500));
    }
  }
  const vols = await volumesOf(cfg);
  if (vols.length > 0) await docker(['volume', 'rm', '-f', ...vols]);
}

export interface Served {
  plugin: DockerPlugin;
  client: HttpClient;
  socket: string;
  close(): Promise<void>;
}

/** The plugin behind buildPluginApp, listening on a unix socket. */
export async function serve(cfg: DockerConfig): Promise<Served> {
  const plugin = await createDockerPlugin(cfg, silentLogger());
  const { app } = buildPluginApp(plugin, { logger: silentLogger() });
  const socket = join(cfg.dataRoot, 'plugin.sock');
  await listenOn(app, { kind: 'unix', path: socket });
  const client = new HttpClient({ endpoint: { kind: 'unix', path: socket }, timeoutMs: 120_000 });
  return {
    plugin,
    client,
    socket,
    async close() {
      await client.close();
      await app.close();
      // Deletes answered as recorded finish first, so no removal races the suite's cleanup.
      await plugin.deletesSettled();
      await plugin.close();
    },
  };
}

export function makePod(
  name: string,
  spec: Record<string, unknown>,
  meta: Record<string, unknown> = {},
): Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: 'default', uid: randomUUID(), ...meta },
    spec: { restartPolicy: 'Never', ...spec },
  } as unknown as Pod;
}

export async function create(client: HttpClient, pod: Pod, container: unknown[] = []) {
  return client.call({ method: 'POST', path: '/create', body: { pod, container } });
}

export async function status(client: HttpClient, pods: Pod[]): Promise<PodStatus[]> {
  return client.call({ method: 'GET', path: '/status', body: pods, schema: PodStatusList });
}

/** Poll /status until `done` holds for the pod's status; fails with the last status seen. */
export async function waitFor(
  client: HttpClient,
  pod: Pod,
  done: (s: PodStatus) => boolean,
  what: string,
  limitMs = 60_000,
): Promise<PodStatus> {
  const deadline = Date.now() + limitMs;
  let last: PodStatus | undefined;
  while (Date.now() < deadline) {
    [last] = await status(client, [pod]);
    if (last && done(last)) return last;
    await new Promise((r) => setTimeout(r, 150));
  }
  throw new Error(`timed out waiting for ${what}; last status: ${JSON.stringify(last, null, 1)}`);
}

export const state = (s: PodStatus, name: string) =>
  [...(s.initContainers ?? []), ...(s.containers ?? [])].find((c) => c.name === name)?.state;
export const terminated = (s: PodStatus, name: string) => state(s, name)?.terminated;
export const running = (s: PodStatus, name: string) => state(s, name)?.running !== undefined;

/** The whole log of a container (no follow). */
export async function logs(
  client: HttpClient,
  pod: Pod,
  container: string,
  opts: Record<string, unknown> = {},
): Promise<string> {
  const r = await client.stream({
    method: 'GET',
    path: '/getLogs',
    body: {
      Namespace: pod.metadata.namespace,
      PodUID: pod.metadata.uid,
      PodName: pod.metadata.name,
      ContainerName: container,
      Opts: opts,
    },
  });
  let text = '';
  for await (const chunk of r.body) text += Buffer.from(chunk as Uint8Array).toString('utf8');
  return text;
}
