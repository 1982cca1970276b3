/**
 * `GET /list` (our addition, the orphan sweep's input) on both hops: the plugin SDK serves it
 * only from a plugin's `list` (404 without, as any route of a method the plugin lacks), the API relays it uncached and maps a plugin
 * that has no such route to 501.
 */
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/core/logger.ts';
import { buildPluginApp } from '../../src/plugins/sdk/server.ts';
import { definePlugin, type Plugin } from '../../src/plugins/sdk/types.ts';
import { createInterlinkClient } from '../../src/vk/interlink-client.ts';
import {
  type ApiUnderTest,
  captureLogger,
  pod,
  startApi,
  startMock,
  TOKEN,
  tempDir,
  writeTokenFile,
} from './harness.ts';

const base: Plugin = definePlugin({
  name: 'probe',
  create: async (d) => ({ PodUID: d.pod.metadata.uid, PodJID: 'j' }),
  delete: async () => {},
  status: async () => [],
  logs: async () => Readable.from([]),
});

describe('plugin SDK GET /list', () => {
  it.each([
    // No method, no route: the 404 an interLink 0.6 plugin gives (the API turns it into 501).
    ['without list', 404, base, undefined],
    [
      'with list',
      200,
      { ...base, list: async () => [{ UID: 'u1', namespace: 'default', name: 'p1', JID: '7' }] },
      [{ UID: 'u1', namespace: 'default', name: 'p1', JID: '7' }],
    ],
  ])('a plugin %s answers %i', async (_what, status, plugin, body) => {
    const { app } = buildPluginApp(plugin, { logger: silentLogger() });
    try {
      const res = await app.inject({ method: 'GET', url: '/list' });
      expect(res.statusCode).toBe(status);
      if (body) expect(res.json()).toEqual(body);
      else expect(res.json()).toMatchObject({ code: 'NOT_FOUND' });
    } finally {
      await app.close();
    }
  });

  it('refuses to send an entry whose identity is not a valid pod identity', async () => {
    const bad = { ...base, list: async () => [{ UID: '../x', namespace: 'default', name: 'p' }] };
    const { app } = buildPluginApp(bad, { logger: silentLogger() });
    try {
      const res = await app.inject({ method: 'GET', url: '/list' });
      expect(res.statusCode).toBeGreaterThanOrEqual(500);
      expect(res.statusCode).not.toBe(501);
    } finally {
      await app.close();
    }
  });
});

describe('API GET /list → our mock plugin', () => {
  let api: ApiUnderTest;
  let stop: () => Promise<void>;

  beforeAll(async () => {
    const t = await tempDir();
    const { logger } = captureLogger();
    const socket = join(t.dir, 'mock.sock');
    const mock = await startMock(socket, logger);
    api = await startApi({
      listen: 'tcp',
      pluginSocket: socket,
      logger,
      overrides: { 'auth.tokenFile': await writeTokenFile(t.dir) },
    });
    stop = async () => {
      await api.close();
      await mock.close();
      await t.cleanup();
    };
  });
  afterAll(() => stop());

  it('lists what the plugin holds, created and deleted through the API', async () => {
    expect((await api.client.request('GET', '/list')).json()).toEqual([]);
    for (const [name, uid] of [
      ['a', 'uid-a'],
      ['b', 'uid-b'],
    ] as const) {
      const res = await api.client.request('POST', '/create', { pod: pod(name, uid) });
      expect(res.status).toBe(200);
    }
    const listed = (await api.client.request('GET', '/list')).json() as Array<{ UID: string }>;
    expect(listed.map((p) => p.UID).sort()).toEqual(['uid-a', 'uid-b']);
    expect(listed[0]).toMatchObject({ namespace: 'default', JID: expect.stringMatching(/^mock-/) });

    expect((await api.client.request('POST', '/delete', pod('a', 'uid-a'))).status).toBe(200);
    expect((await api.client.request('GET', '/list')).json()).toEqual([
      { UID: 'uid-b', namespace: 'default', name: 'b', JID: expect.any(String) },
    ]);
  });

  it('needs the bearer token like every route', async () => {
    const res = await api.client.request('GET', '/list', undefined, { authorization: 'Bearer nope' });
    expect(res.status).toBe(401);
  });

  it("is what the VK's client reads", async () => {
    const t = await tempDir();
    try {
      const client = createInterlinkClient({
        endpoint: { kind: 'tcp', protocol: 'http', host: '127.0.0.1', port: Number(new URL(api.url).port) },
        tokenFile: await writeTokenFile(t.dir, `${TOKEN}\n`),
      });
      const listed = await client.list!();
      expect(listed.map((p) => p.UID)).toEqual(['uid-b']);
      await client.close();
    } finally {
      await t.cleanup();
    }
  });
});

describe('API GET /list → a plugin without /list', () => {
  // 404 in plain text: an interLink 0.6 plugin (Go mux / FastAPI); 501: ours without `list`.
  for (const [what, status, body] of [
    ['an interLink 0.6 plugin (404)', 404, '404 page not found\n'],
    ['a plugin of ours without list (501)', 501, '{"code":"NOT_SUPPORTED","message":"no list"}'],
  ] as const) {
    it(`answers 501 for ${what}`, async () => {
      const t = await tempDir();
      const socket = join(t.dir, 'legacy.sock');
      const plugin: Server = createServer((_req, res) => {
        res.statusCode = status;
        res.end(body);
      });
      await new Promise<void>((r) => plugin.listen(socket, r));
      const { logger } = captureLogger();
      const api = await startApi({
        listen: 'tcp',
        pluginSocket: socket,
        logger,
        overrides: { 'auth.tokenFile': await writeTokenFile(t.dir) },
      });
      try {
        const res = await api.client.request('GET', '/list');
        expect(res.status).toBe(501);
        expect(res.json()).toMatchObject({ code: 'NOT_SUPPORTED' });
        // What the VK's orphan sweep sees: NOT_SUPPORTED, its cue to sweep nothing.
        const client = createInterlinkClient({
          endpoint: {
            kind: 'tcp',
            protocol: 'http',
            host: '127.0.0.1',
            port: Number(new URL(api.url).port),
          },
          tokenFile: await writeTokenFile(t.dir, `${TOKEN}\n`, 'vk-token'),
        });
        await expect(client.list!()).rejects.toMatchObject({ code: 'NOT_SUPPORTED' });
        await client.close();
      } finally {
        await api.close();
        await new Promise((r) => plugin.close(r));
        await t.cleanup();
      }
    });
  }
});
