import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { listenOn } from '../../../src/core/http-server.ts';
import { silentLogger } from '../../../src/core/logger.ts';
import { notFound } from '../../../src/errors/index.ts';
import { buildPluginApp } from '../../../src/plugins/sdk/server.ts';
import { definePlugin } from '../../../src/plugins/sdk/types.ts';
import { captureLogger, eventually, RawClient, tempDir } from '../../api/harness.ts';

const created: unknown[] = [];
const plugin = definePlugin({
  name: 'probe',
  async create(data) {
    created.push(data);
    return { PodUID: data.pod.metadata.uid, PodJID: `job-${data.pod.metadata.uid}` };
  },
  async delete() {},
  async status(pods) {
    return pods.map((p) => ({
      name: p.metadata.name,
      UID: p.metadata.uid,
      namespace: p.metadata.namespace,
      JID: 'j',
      containers: [],
      initContainers: [],
    }));
  },
  async logs(req) {
    if (req.PodUID !== 'u1') throw notFound(`pod ${req.PodUID} unknown`);
    return Readable.from(['a\n', 'b\n']);
  },
});
const { app } = buildPluginApp(plugin, { logger: silentLogger(), bodyLimit: 4096 });
afterAll(() => app.close());

const pod = {
  metadata: { name: 'p', namespace: 'default', uid: 'u1', extra: { keep: 1 } },
  spec: { containers: [{ name: 'c', image: 'busybox', futureField: true }] },
};

describe('plugin SDK server', () => {
  it('accepts RetrievedPodData as an object and as a one-element array, keeping unknown fields', async () => {
    for (const body of [{ pod, container: [] }, [{ pod, container: [] }]]) {
      const res = await app.inject({ method: 'POST', url: '/create', payload: body });
      expect(res.statusCode).toBe(200);
      expect(res.json()).toEqual({ PodUID: 'u1', PodJID: 'job-u1' });
    }
    expect((created[0] as { pod: typeof pod }).pod.spec.containers[0]).toHaveProperty('futureField', true);
    expect((created[0] as { pod: typeof pod }).pod.metadata).toHaveProperty('extra');
  });

  it('serves GET /status with a JSON body, and an empty ping body', async () => {
    const res = await app.inject({ method: 'GET', url: '/status', payload: [pod] });
    expect(res.statusCode).toBe(200);
    expect(res.json()[0]).toMatchObject({ UID: 'u1', name: 'p', namespace: 'default' });
    const ping = await app.inject({ method: 'GET', url: '/status', payload: [] });
    expect(ping.json()).toEqual([]);
  });

  it('rejects hostile names with a 400 naming the field', async () => {
    for (const name of ['../etc', 'a"b', 'x\ny']) {
      const bad = { ...pod, metadata: { ...pod.metadata, name } };
      const res = await app.inject({ method: 'POST', url: '/create', payload: { pod: bad } });
      expect(res.statusCode).toBe(400);
      expect(res.json().message).toContain('pod.metadata.name');
    }
  });

  it('answers malformed JSON and oversize bodies with 4xx and keeps serving', async () => {
    const bad = await app.inject({
      method: 'POST',
      url: '/create',
      payload: '{"pod":',
      headers: { 'content-type': 'application/json' },
    });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().message).toMatch(/malformed JSON/);
    const big = await app.inject({
      method: 'POST',
      url: '/create',
      payload: { pod, pad: 'x'.repeat(10_000) },
    });
    expect(big.statusCode).toBe(413);
    const ok = await app.inject({ method: 'GET', url: '/healthz' });
    expect(ok.statusCode).toBe(200);
  });

  it('streams logs and maps NOT_FOUND to 404', async () => {
    const logs = await app.inject({
      method: 'GET',
      url: '/getLogs',
      payload: { Namespace: 'default', PodUID: 'u1', PodName: 'p', ContainerName: 'c', Opts: {} },
    });
    expect(logs.statusCode).toBe(200);
    expect(logs.body).toBe('a\nb\n');
    const missing = await app.inject({
      method: 'POST',
      url: '/getLogs',
      payload: { Namespace: 'default', PodUID: 'zz', PodName: 'p', ContainerName: 'c' },
    });
    expect(missing.statusCode).toBe(404);
    expect(missing.json()).toMatchObject({ code: 'NOT_FOUND' });
  });
});

describe('plugin SDK server: /readyz over a real socket', () => {
  it('a probe storm runs the backend check once and tells anonymous callers one word', async () => {
    let checks = 0;
    let release!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const slow = definePlugin({
      ...plugin,
      name: 'slow-ready',
      async notReadyReason() {
        checks++;
        await gate;
        return 'docker daemon at unix:///var/run/docker.sock is not answering';
      },
    });
    const { logger, lines } = captureLogger();
    const { dir, cleanup } = await tempDir();
    const built = buildPluginApp(slow, { logger });
    const url = await listenOn(built.app, { kind: 'unix', path: join(dir, 'p.sock') });
    const client = new RawClient(url);
    client.token = undefined;
    try {
      const probes = Array.from({ length: 50 }, () => client.request('GET', '/readyz'));
      // Every probe is in flight on the one check until the backend answers.
      await eventually(() => checks === 1, 10_000, 'the first readiness check');
      release();
      const answers = await Promise.all(probes);
      expect(answers.map((a) => `${a.status} ${a.text}`)).toEqual(answers.map(() => '503 not ready'));
      expect(checks).toBe(1);
      const logged = lines().filter((l) => l.msg === 'not ready');
      expect(logged).toHaveLength(1);
      expect(logged[0]!.reason).toMatch(/docker daemon/);
    } finally {
      await client.close();
      await built.app.close();
      await cleanup();
    }
  });
});
