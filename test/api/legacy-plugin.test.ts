/**
 * The API in front of an interLink 0.6-style plugin (Go or Python SDK): no GET /ping, plain
 * text 404s, `null` for an empty status list. A fake of that plugin records what the API
 * sends, so the API → plugin wire (methods, bodies on GET, session header) is checked too.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SESSION_HEADER } from '../../src/wire/headers.ts';
import { type ApiUnderTest, captureLogger, pod, startApi, tempDir, writeTokenFile } from './harness.ts';

interface Seen {
  method: string;
  url: string;
  session: string | undefined;
  body: unknown;
  /** The body as it arrived. */
  raw: string;
}

const readRaw = async (req: IncomingMessage) => {
  let text = '';
  for await (const c of req) text += c;
  return text;
};

/** A /delete answer beyond "done" (DeleteAnswer): what our plugins send for a failed preStop hook. */
const HOOKED = {
  message: 'pod default/hooked (u-hooked) deleted',
  containers: [
    {
      name: 'main',
      probeEvents: [
        { reason: 'FailedPreStopHook', message: 'PreStopHook failed', type: 'Warning', count: 1 },
      ],
    },
  ],
};

describe('API → interLink 0.6-style plugin', () => {
  let api: ApiUnderTest;
  let plugin: Server;
  let cleanup: () => Promise<void>;
  const seen: Seen[] = [];

  beforeAll(async () => {
    const t = await tempDir();
    cleanup = t.cleanup;
    const socket = join(t.dir, 'legacy.sock');
    plugin = createServer(async (req, res) => {
      const raw = await readRaw(req);
      const body = raw === '' ? undefined : JSON.parse(raw);
      seen.push({
        method: req.method!,
        url: req.url!,
        session: req.headers[SESSION_HEADER] as string | undefined,
        body,
        raw,
      });
      const route = `${req.method} ${req.url}`;
      if (route === 'GET /status') {
        const pods = (body ?? []) as Array<{ metadata: { name: string; namespace: string; uid: string } }>;
        res.setHeader('content-type', 'application/json');
        // Go marshals an empty slice as null.
        if (pods.length === 0) return res.end('null');
        return res.end(
          JSON.stringify(
            pods.map((p) => ({
              name: p.metadata.name,
              UID: p.metadata.uid,
              namespace: p.metadata.namespace,
              JID: '4242',
              containers: [
                {
                  name: 'main',
                  state: { running: { startedAt: '2026-01-15T10:00:01Z' } },
                  ready: true,
                  restartCount: 0,
                },
              ],
              initContainers: null,
            })),
          ),
        );
      }
      if (route === 'POST /create') {
        res.setHeader('content-type', 'application/json');
        return res.end(
          JSON.stringify({
            PodUID: (body as { pod: { metadata: { uid: string } } }).pod.metadata.uid,
            PodJID: '4242',
          }),
        );
      }
      if (route === 'POST /delete') {
        if ((body as { metadata: { name: string } }).metadata.name !== 'hooked')
          return res.end('Pod deleted');
        res.setHeader('content-type', 'application/json');
        return res.end(JSON.stringify(HOOKED));
      }
      if (route === 'GET /getLogs') return res.end('line 1\nline 2\n');
      res.statusCode = 404;
      res.end('404 page not found\n');
    });
    await new Promise<void>((r) => plugin.listen(socket, r));
    api = await startApi({
      listen: 'tcp',
      pluginSocket: socket,
      logger: captureLogger().logger,
      overrides: { 'auth.tokenFile': await writeTokenFile(t.dir) },
    });
  });
  afterAll(async () => {
    await api?.close();
    await new Promise((r) => plugin?.close(r));
    await cleanup?.();
  });

  it('/pinglink falls back to GET /status with [] and answers what the plugin said', async () => {
    seen.length = 0;
    const res = await api.client.request('POST', '/pinglink', undefined, { [SESSION_HEADER]: 'ping#legacy' });
    expect(res.status, res.text).toBe(200);
    expect(res.text).toBe('null');
    expect(seen.map((s) => `${s.method} ${s.url}`)).toEqual(['GET /ping', 'GET /status']);
    expect(seen[1]!.body).toEqual([]);
    expect(seen.every((s) => s.session === 'ping#legacy')).toBe(true);
  });

  it('a /status body reaches the plugin as the caller sent it; the answer comes back as the plugin sent it', async () => {
    seen.length = 0;
    // Fields the API does not model, an odd key order and spacing: forwarded byte for byte.
    const p = { ...pod('as-sent', 'u-as-sent'), extra: { nested: [1, 'two'] } };
    const sent = ` [ ${JSON.stringify({ spec: p.spec, extra: p.extra, metadata: p.metadata })} ]`;
    const res = await api.client.request('GET', '/status', sent);
    expect(res.status, res.text).toBe(200);
    expect(seen.map((s) => s.raw)).toEqual([sent]);
    expect(res.text).toMatch(/^\[\{"name":"as-sent","UID":"u-as-sent",/);
    // An empty list (or none) is sent as [] and a Go plugin's null answer comes back as [].
    seen.length = 0;
    expect((await api.client.request('GET', '/status', 'null')).text).toBe('[]');
    expect(seen.map((s) => s.raw)).toEqual(['[]']);
  });

  it('a /status pod with a container name that is not a DNS label is refused by the API, not forwarded', async () => {
    seen.length = 0;
    const res = await api.client.request('GET', '/status', [pod('bad', 'u-bad', {}, ['../../etc'])]);
    expect(res.status, res.text).toBe(400);
    expect(res.json()).toMatchObject({ code: 'INVALID_INPUT' });
    expect(res.text).toContain('containers');
    expect(seen).toEqual([]);
  });

  it('create sends RetrievedPodData (an object) by POST; status and logs are GETs with JSON bodies', async () => {
    seen.length = 0;
    const p = pod('legacy', 'u-legacy');
    expect(
      (await api.client.request('POST', '/create', { pod: p }, { [SESSION_HEADER]: 'create#1' })).json(),
    ).toEqual({ PodUID: 'u-legacy', PodJID: '4242' });
    const status = await api.client.request('GET', '/status', [p], { [SESSION_HEADER]: 'status#1' });
    expect(status.json()[0]).toMatchObject({ UID: 'u-legacy', JID: '4242', initContainers: null });
    expect((await api.client.request('GET', '/status', [])).json()).toEqual([]);
    const logs = await api.client.request('GET', '/getLogs', {
      Namespace: 'default',
      PodUID: 'u-legacy',
      PodName: 'legacy',
      ContainerName: 'main',
      Opts: { Tail: 5 },
    });
    expect(logs.text).toBe('line 1\nline 2\n');
    expect((await api.client.request('DELETE', '/delete', p)).text).toBe('Pod deleted');

    const [create, st, empty, getLogs, del] = seen;
    expect(create).toMatchObject({ method: 'POST', url: '/create', session: 'create#1' });
    expect(create!.body).toEqual({
      pod: p,
      container: [{ name: 'main', configMaps: [], projectedvolumemaps: [], secrets: [], emptyDirs: [] }],
    });
    expect(st).toMatchObject({ method: 'GET', url: '/status', session: 'status#1', body: [p] });
    expect(empty).toMatchObject({ method: 'GET', url: '/status', body: [] });
    expect(getLogs).toMatchObject({
      method: 'GET',
      url: '/getLogs',
      body: { PodUID: 'u-legacy', Opts: { Tail: 5 } },
    });
    expect(del).toMatchObject({ method: 'POST', url: '/delete', body: p });
  });

  it('a delete answered with a DeleteAnswer (our plugins, a failed preStop hook) reaches the VK as JSON', async () => {
    const res = await api.client.request('DELETE', '/delete', pod('hooked', 'u-hooked'));
    expect(res.status, res.text).toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(res.json()).toEqual(HOOKED);
  });

  it('a plugin without stats answers 404 through the API', async () => {
    const res = await api.client.request('GET', '/stats/summary');
    expect(res.status).toBe(404);
    expect(res.json()).toMatchObject({ code: 'NOT_FOUND' });
  });
});
