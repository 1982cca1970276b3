/**
 * A create still at the plugin when the same pod is asked about again: what a VK killed
 * mid-create does after its restart (status to adopt, then create). The API holds both
 * until the first create answers, so the plugin sees one create per UID and the status
 * answer already knows the pod. A real API over HTTP in front of a plugin (the SDK's
 * server) whose create waits for the test to let it go.
 */
import { Readable } from 'node:stream';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { buildPluginApp } from '../../src/plugins/sdk/server.ts';
import type { Plugin } from '../../src/plugins/sdk/types.ts';
import type { PodStatus } from '../../src/wire/interlink.ts';
import { type ApiUnderTest, captureLogger, pod, startApi, tempDir, writeTokenFile } from './harness.ts';

let release: () => void = () => {};
const gate = new Promise<void>((r) => {
  release = r;
});
const calls = { create: 0, status: 0 };
const known = new Set<string>();
const plugin: Plugin = {
  name: 'gated',
  async create(data) {
    calls.create++;
    await gate;
    known.add(data.pod.metadata.uid);
    return { PodUID: data.pod.metadata.uid, PodJID: 'job-1' };
  },
  async delete() {},
  async status(pods) {
    calls.status++;
    return pods
      .filter((p) => known.has(p.metadata.uid))
      .map(
        (p) =>
          ({
            name: p.metadata.name,
            UID: p.metadata.uid,
            namespace: p.metadata.namespace,
            JID: 'job-1',
          }) as PodStatus,
      );
  },
  async logs() {
    return Readable.from([]);
  },
};

const logs = captureLogger();
const app = buildPluginApp(plugin, { logger: logs.logger }).app;
let api: ApiUnderTest;
let cleanup = async () => {};
beforeAll(async () => {
  const t = await tempDir();
  cleanup = t.cleanup;
  await app.listen({ host: '127.0.0.1', port: 0 });
  const port = (app.server.address() as { port: number }).port;
  api = await startApi({
    listen: 'tcp',
    pluginSocket: '/nonexistent',
    logger: logs.logger,
    overrides: {
      sidecarUrl: 'http://127.0.0.1',
      sidecarPort: port,
      'auth.tokenFile': await writeTokenFile(t.dir),
    },
  });
});
afterAll(async () => {
  release();
  await api?.close();
  await app.close();
  await cleanup();
});

it('holds a status and a second create of a pod whose create is in flight until it answers: one create reaches the plugin', async () => {
  const p = pod('in-flight', 'uid-in-flight');
  const first = api.client.request('POST', '/create', { pod: p, container: [] });
  // The first create is at the plugin (the VK dies here and comes back).
  for (let i = 0; i < 200 && calls.create === 0; i++) await new Promise((r) => setTimeout(r, 10));
  expect(calls.create).toBe(1);
  const status = api.client.request('GET', '/status', [p]);
  const second = api.client.request('POST', '/create', { pod: p, container: [] });
  const early = await Promise.race([
    status.then(() => 'answered'),
    new Promise((r) => setTimeout(() => r('held'), 300)),
  ]);
  expect(early).toBe('held');
  expect(calls.status).toBe(0);
  release();
  const [a, b, s] = await Promise.all([first, second, status]);
  expect([a.status, b.status, s.status]).toEqual([200, 200, 200]);
  expect(b.json()).toEqual(a.json());
  expect(s.json()).toEqual([expect.objectContaining({ UID: 'uid-in-flight', JID: 'job-1' })]);
  expect(calls.create).toBe(1);
});

it('forgets a create once it answered: a later create reaches the plugin again (idempotent there)', async () => {
  const p = pod('in-flight', 'uid-in-flight');
  const again = await api.client.request('POST', '/create', { pod: p, container: [] });
  expect(again.status).toBe(200);
  expect(calls.create).toBe(2);
});
