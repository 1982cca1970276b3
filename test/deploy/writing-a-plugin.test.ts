/**
 * docs/writing-a-plugin.md shows test/deploy/fixtures/echo-plugin.ts verbatim; this keeps the
 * two identical and proves the guide's plugin works behind the real interLink API, the
 * way a site would run it (plugin on a unix socket, API in front, token auth).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listenOn } from '../../src/core/http-server.ts';
import { silentLogger } from '../../src/core/logger.ts';
import { buildPluginApp } from '../../src/plugins/sdk/server.ts';
import { type ApiUnderTest, RawClient, startApi, tempDir, writeTokenFile } from '../api/harness.ts';
import { echoPlugin } from './fixtures/echo-plugin.ts';

const ROOT = join(import.meta.dirname, '..', '..');

describe('docs/writing-a-plugin.md', () => {
  it('embeds the tested example plugin verbatim', () => {
    const doc = readFileSync(join(ROOT, 'docs/writing-a-plugin.md'), 'utf8');
    const source = readFileSync(join(import.meta.dirname, 'fixtures/echo-plugin.ts'), 'utf8');
    const blocks = [...doc.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]);
    expect(blocks).toContain(source);
  });
});

describe('the example plugin behind the interLink API', () => {
  const logger = silentLogger();
  let dir: { dir: string; cleanup: () => Promise<void> };
  let plugin: ReturnType<typeof buildPluginApp>;
  let api: ApiUnderTest;
  let direct: RawClient;
  const pod = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'hello', namespace: 'default', uid: '7f1c2a8e-0000-4000-8000-000000000001' },
    spec: { containers: [{ name: 'main', image: 'busybox', command: ['echo'], args: ['hello', 'world'] }] },
  };

  beforeAll(async () => {
    dir = await tempDir('interlink-echo-plugin-');
    const socket = join(dir.dir, 'plugin.sock');
    plugin = buildPluginApp(echoPlugin, { logger });
    await listenOn(plugin.app, { kind: 'unix', path: socket });
    const tokenFile = await writeTokenFile(dir.dir);
    api = await startApi({
      listen: 'tcp',
      pluginSocket: socket,
      logger,
      overrides: { 'auth.tokenFile': tokenFile },
    });
    direct = new RawClient(`unix://${socket}`);
  });

  afterAll(async () => {
    await api?.close();
    await direct?.close();
    await plugin?.app.close();
    await dir?.cleanup();
  });

  it('creates, reports, streams logs and deletes a pod', async () => {
    const created = await api.client.request('POST', '/create', {
      pod,
      configmaps: [],
      secrets: [],
      projectedvolumesmaps: [],
    });
    expect(created.status).toBe(200);
    expect(created.json()).toMatchObject({ PodUID: pod.metadata.uid, PodJID: `echo-${pod.metadata.uid}` });

    const status = await api.client.request('GET', '/status', [pod]);
    expect(status.status).toBe(200);
    const [st] = status.json();
    expect(st).toMatchObject({ name: 'hello', namespace: 'default', UID: pod.metadata.uid });
    expect(st.containers[0].state.terminated).toMatchObject({ exitCode: 0, reason: 'Completed' });

    const logs = await api.client.request('GET', '/getLogs', {
      Namespace: 'default',
      PodUID: pod.metadata.uid,
      PodName: 'hello',
      ContainerName: 'main',
      Opts: {},
    });
    expect(logs.status).toBe(200);
    expect(logs.text).toBe('echo hello world\n');

    const missing = await direct.request('GET', '/getLogs', {
      Namespace: 'default',
      PodUID: pod.metadata.uid,
      PodName: 'hello',
      ContainerName: 'nope',
      Opts: {},
    });
    expect(missing.status).toBe(404);

    expect((await api.client.request('POST', '/delete', pod)).status).toBe(200);
    expect((await api.client.request('GET', '/status', [pod])).json()).toEqual([]);
  });

  it('answers the ping the virtual kubelet sends through the API', async () => {
    const ping = await api.client.request('POST', '/pinglink');
    expect(ping.status).toBe(200);
    expect(ping.text).toContain('16Gi');
  });
});
