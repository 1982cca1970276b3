/**
 * Every endpoint of the API over real HTTP, with the API on TCP and on a unix socket, and
 * the real mock plugin behind it on a unix socket. Upstream-shaped fixtures.
 */
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SESSION_HEADER } from '../../src/wire/headers.ts';
import {
  type ApiUnderTest,
  type CapturedLogs,
  captureLogger,
  pod,
  startApi,
  startMock,
  tempDir,
  writeTokenFile,
} from './harness.ts';

const fixture = (name: string) =>
  JSON.parse(readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8'));

describe.each(['tcp', 'unix'] as const)('interLink API over %s → mock plugin over a unix socket', (kind) => {
  let logs: CapturedLogs;
  let mock: Awaited<ReturnType<typeof startMock>>;
  let api: ApiUnderTest;
  let cleanup: () => Promise<void>;
  let apiSocket: string;

  beforeAll(async () => {
    const t = await tempDir();
    cleanup = t.cleanup;
    logs = captureLogger();
    const pluginSocket = join(t.dir, 'plugin.sock');
    apiSocket = join(t.dir, 'api.sock');
    mock = await startMock(pluginSocket, logs.logger);
    api = await startApi({
      listen: kind === 'tcp' ? 'tcp' : { socket: apiSocket },
      pluginSocket,
      logger: logs.logger,
      overrides: { 'auth.tokenFile': await writeTokenFile(t.dir) },
    });
  });
  afterAll(async () => {
    await api?.close();
    await mock?.close();
    await cleanup?.();
  });

  it('listens where configured (a unix socket is mode 0600)', () => {
    if (kind === 'tcp') expect(api.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    else {
      expect(api.url).toBe(`unix://${apiSocket}`);
      expect(statSync(apiSocket).mode & 0o777).toBe(0o600);
    }
  });

  it('POST /create resolves volumes, forwards to the plugin and answers CreateStruct', async () => {
    const req = fixture('create-request.json');
    const res = await api.client.request('POST', '/create', req);
    expect(res.status, res.text).toBe(200);
    expect(res.json()).toEqual({ PodUID: req.pod.metadata.uid, PodJID: expect.stringMatching(/^mock-/) });
    expect(mock.mock.pods().map((p) => p.uid)).toContain(req.pod.metadata.uid);
    // Idempotent per UID (the plugin's contract; the API adds nothing that breaks it).
    const again = await api.client.request('POST', '/create', req);
    expect(again.json().PodJID).toBe(res.json().PodJID);
  });

  it('GET /status with a JSON body asks the plugin ONCE for all pods; POST works too', async () => {
    const uids = ['a1', 'a2', 'a3'].map((s) => `${kind}-${s}`);
    for (const uid of uids)
      expect((await api.client.request('POST', '/create', { pod: pod(`p-${uid}`, uid) })).status).toBe(200);
    const before = mock.mock.calls();
    const pods = [...uids.map((uid) => pod(`p-${uid}`, uid)), pod('unknown', `${kind}-never-created`)];
    const res = await api.client.request('GET', '/status', pods);
    expect(res.status, res.text).toBe(200);
    const body = res.json() as Array<{
      UID: string;
      name: string;
      namespace: string;
      JID: string;
      containers: unknown[];
    }>;
    expect(body.map((s) => s.UID).sort()).toEqual([...uids].sort());
    expect(body[0]).toMatchObject({
      namespace: 'default',
      JID: expect.stringMatching(/^mock-/),
      containers: [expect.objectContaining({ name: 'main' })],
    });
    const after = mock.mock.calls();
    expect(after.status - before.status).toBe(1);
    expect(after.statusPods - before.statusPods).toBe(4);
    expect(api.api.api.cache.get(uids[0]!)?.status.UID).toBe(uids[0]);

    const viaPost = await api.client.request('POST', '/status', pods);
    expect(viaPost.status).toBe(200);
    expect(viaPost.json()).toHaveLength(3);
    // The interLink 0.6 ping shape: an empty list, or no body at all.
    expect((await api.client.request('GET', '/status', [])).json()).toEqual([]);
    expect((await api.client.request('GET', '/status')).json()).toEqual([]);
    expect((await api.client.request('GET', '/status', 'null')).json()).toEqual([]);
  });

  it('GET and POST /getLogs stream the container log as text/plain', async () => {
    const req = fixture('create-request.json');
    await api.client.request('POST', '/create', req);
    const logReq = fixture('log-request.json');
    for (const method of ['GET', 'POST'] as const) {
      const res = await api.client.request(method, '/getLogs', logReq);
      expect(res.status, res.text).toBe(200);
      expect(res.headers['content-type']).toMatch(/^text\/plain/);
      expect(res.text.trim().split('\n')).toHaveLength(3);
    }
    const tail = await api.client.request('GET', '/getLogs', {
      ...logReq,
      Opts: { ...logReq.Opts, Tail: 1, Timestamps: true },
    });
    const lines = tail.text.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^\d{4}-\d\d-\d\dT/);
    // The Python SDK's name for the byte limit.
    const limited = await api.client.request('GET', '/getLogs', { ...logReq, Opts: { LimitBytes: 5 } });
    expect(Buffer.byteLength(limited.text)).toBe(5);
  });

  it('POST /pinglink answers the plugin PingResponse', async () => {
    const res = await api.client.request('POST', '/pinglink');
    expect(res.status, res.text).toBe(200);
    expect(res.headers['content-type']).toMatch(/json/);
    expect(res.json()).toMatchObject({
      status: 'ok',
      resources: { cpu: expect.any(String), pods: expect.any(String) },
    });
  });

  it('DELETE and POST /delete remove the pod in the plugin and drop the cache entry', async () => {
    for (const [method, uid] of [
      ['DELETE', `${kind}-del-1`],
      ['POST', `${kind}-del-2`],
    ] as const) {
      const p = pod(`p-${uid}`, uid);
      await api.client.request('POST', '/create', { pod: p });
      await api.client.request('GET', '/status', [p]);
      expect(api.api.api.cache.get(uid)).toBeDefined();
      const res = await api.client.request(method, '/delete', p);
      expect(res.status, res.text).toBe(200);
      expect(res.headers['content-type']).toMatch(/^text\/plain/);
      expect(api.api.api.cache.get(uid)).toBeUndefined();
      expect(mock.mock.pods().map((x) => x.uid)).not.toContain(uid);
      expect(mock.mock.calls().delete[uid]).toBe(1);
    }
  });

  it('POST /updateCache drops the entry named by the pod in the body', async () => {
    const uid = `${kind}-uc-1`;
    const p = pod(`p-${uid}`, uid);
    await api.client.request('POST', '/create', { pod: p });
    await api.client.request('GET', '/status', [p]);
    expect(api.api.api.cache.get(uid)).toBeDefined();
    const res = await api.client.request('POST', '/updateCache', p);
    expect(res.status).toBe(200);
    expect(res.text).toBe('Updated cache');
    expect(api.api.api.cache.get(uid)).toBeUndefined();
    // The pod itself is untouched in the backend.
    expect(mock.mock.pods().map((x) => x.uid)).toContain(uid);
  });

  it('GET /stats/summary passes the plugin document through', async () => {
    const res = await api.client.request('GET', '/stats/summary');
    expect(res.status, res.text).toBe(200);
    expect(res.json()).toMatchObject({ node: { nodeName: 'mock' }, pods: expect.any(Array) });
  });

  it('/healthz and /readyz answer ok; /metrics has per-route, plugin-latency and cache metrics', async () => {
    expect((await api.client.request('GET', '/healthz')).text).toBe('ok');
    const ready = await api.client.request('GET', '/readyz');
    expect(ready.status).toBe(200);
    const m = await api.client.request('GET', '/metrics');
    expect(m.status).toBe(200);
    expect(m.text).toMatch(
      /interlink_api_http_requests_total\{method="POST",route="\/create",code="200"\} \d+/,
    );
    expect(m.text).toMatch(
      /interlink_api_http_request_duration_seconds_count\{method="GET",route="\/status",code="200"\} \d+/,
    );
    expect(m.text).toMatch(
      /interlink_api_plugin_call_duration_seconds_count\{op="status",outcome="ok"\} \d+/,
    );
    expect(m.text).toMatch(
      /interlink_api_plugin_call_duration_seconds_count\{op="create",outcome="ok"\} \d+/,
    );
    const cached = /interlink_api_cached_pods (\d+)/.exec(m.text);
    expect(Number(cached?.[1])).toBe(api.api.api.cache.size);
  });

  it('propagates the InterLink-Http-Session header to the plugin and into every log line', async () => {
    const session = `status#${kind}-sess-42`;
    const res = await api.client.request('GET', '/status', [pod('x', `${kind}-sess`)], {
      [SESSION_HEADER]: session,
    });
    expect(res.headers[SESSION_HEADER]).toBe(session);
    const tagged = logs.lines().filter((l) => l.session === session);
    // The API's request log and the plugin's request log both carry it.
    expect(tagged.some((l) => l.component === 'api')).toBe(true);
    expect(tagged.some((l) => l.component === 'plugin-mock')).toBe(true);

    // Without one, the API makes one up and still hands it on.
    const anon = await api.client.request('GET', '/status', []);
    const generated = anon.headers[SESSION_HEADER] as string;
    expect(generated).toMatch(/#/);
    expect(logs.lines().some((l) => l.session === generated && l.component === 'plugin-mock')).toBe(true);
  });
});
