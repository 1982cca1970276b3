/**
 * On-demand profiles (src/core/debug-routes.ts) on the real servers that register them: the
 * interLink API on TCP with a token file, and the mock plugin on TCP with its own token
 * file, each taking real profiles of this process through node:inspector. The VK's kubelet
 * API (nodes/proxy authorization) is covered in test/vk/kubelet/server.test.ts.
 */
import { join } from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadApiConfig, resolveApiConfig } from '../../src/api/config.ts';
import { runningProfile } from '../../src/core/debug-routes.ts';
import { silentLogger } from '../../src/core/logger.ts';
import { loadPluginConfig, type ServedPlugin, servePlugin } from '../../src/plugins/serve.ts';
import { VkConfigSchema } from '../../src/vk/config.ts';
import {
  type ApiUnderTest,
  RawClient,
  startApi,
  startMock,
  TOKEN,
  tempDir,
  writeTokenFile,
} from '../api/harness.ts';
import { eventually } from '../vk/pods-harness.ts';

interface Target {
  name: string;
  client: () => RawClient;
}

describe('debug endpoints', () => {
  let cleanup: () => Promise<void>;
  let mock: Awaited<ReturnType<typeof startMock>>;
  let api: ApiUnderTest;
  let apiOff: ApiUnderTest;
  let plugin: ServedPlugin;
  let pluginClient: RawClient;
  let pluginOff: ServedPlugin;
  let pluginOffClient: RawClient;
  let dir: string;

  beforeAll(async () => {
    const t = await tempDir();
    cleanup = t.cleanup;
    dir = t.dir;
    const logger = silentLogger();
    const tokenFile = await writeTokenFile(dir);
    const pluginSocket = join(dir, 'plugin.sock');
    mock = await startMock(pluginSocket, logger);
    const auth = { 'auth.tokenFile': tokenFile };
    api = await startApi({
      listen: 'tcp',
      pluginSocket,
      logger,
      overrides: { ...auth, debugEndpoints: true },
    });
    apiOff = await startApi({ listen: 'tcp', pluginSocket, logger, overrides: auth });
    const tcp = { sidecarUrl: 'http://127.0.0.1', sidecarPort: 0, ...auth };
    plugin = await servePlugin('mock', { env: {}, logger, overrides: { ...tcp, debugEndpoints: true } });
    pluginClient = new RawClient(plugin.url);
    pluginOff = await servePlugin('mock', { env: {}, logger, overrides: tcp });
    pluginOffClient = new RawClient(pluginOff.url);
  });
  afterAll(async () => {
    await pluginClient?.close();
    await pluginOffClient?.close();
    await plugin?.close();
    await pluginOff?.close();
    await api?.close();
    await apiOff?.close();
    await mock?.close();
    await cleanup?.();
  });

  const targets: Target[] = [
    { name: 'interLink API', client: () => api.client },
    { name: 'mock plugin', client: () => pluginClient },
  ];

  describe.each(targets)('on the $name', (target) => {
    it('a CPU profile of N seconds is a DevTools .cpuprofile (JSON with nodes, samples, times)', async () => {
      const res = await target.client().request('GET', '/debug/pprof/profile?seconds=1');
      expect(res.status, res.text).toBe(200);
      expect(res.headers['content-type']).toContain('application/json');
      expect(res.headers['content-disposition']).toMatch(/^attachment; filename="interlink-.+\.cpuprofile"$/);
      const profile = res.json();
      expect(Array.isArray(profile.nodes)).toBe(true);
      expect(profile.nodes.length).toBeGreaterThan(0);
      expect(profile.nodes[0].callFrame.functionName).toBe('(root)');
      expect(Array.isArray(profile.samples)).toBe(true);
      expect(profile.endTime - profile.startTime).toBeGreaterThanOrEqual(900_000); // µs
    });

    it('a heap snapshot is a DevTools .heapsnapshot (starts {"snapshot":, parses as JSON)', async () => {
      const res = await target.client().request('GET', '/debug/pprof/heap');
      expect(res.status).toBe(200);
      expect(res.headers['content-disposition']).toMatch(/\.heapsnapshot"$/);
      expect(res.text.startsWith('{"snapshot":')).toBe(true);
      const snap = JSON.parse(res.text);
      expect(snap.snapshot.node_count).toBeGreaterThan(1000);
      expect(snap.strings.length).toBeGreaterThan(0);
    });

    it.each(['0', '61', '1.5', 'abc', '-3'])('seconds=%s → 400 naming the bounds', async (n) => {
      const res = await target.client().request('GET', `/debug/pprof/profile?seconds=${n}`);
      expect(res.status).toBe(400);
      expect(res.json().message).toContain('seconds');
    });

    it.each(['/debug/pprof/profile?seconds=1', '/debug/pprof/heap'])(
      'unauthenticated %s → 401, wrong token → 401',
      async (path) => {
        const anon = await target.client().request('GET', path, undefined, { authorization: '' });
        expect(anon.status).toBe(401);
        const wrong = await target
          .client()
          .request('GET', path, undefined, { authorization: 'Bearer not-the-token' });
        expect(wrong.status).toBe(401);
      },
    );
  });

  it('one profile at a time per process: a second caller gets 409; a hang-up ends the profile', async () => {
    // The API and the plugin share this process, as under `interlink up`. The first profile
    // is long (60 s) and ended by its caller hanging up, so load cannot make it end too soon.
    const hangUp = new AbortController();
    const first = request(`${api.url}/debug/pprof/profile?seconds=60`, {
      headers: { authorization: `Bearer ${TOKEN}` },
      signal: hangUp.signal,
    }).catch((err: unknown) => err);
    await eventually('the first profile running', async () => runningProfile() === 'CPU', 30_000);
    const [heap, cpu] = await Promise.all([
      pluginClient.request('GET', '/debug/pprof/heap'),
      api.client.request('GET', '/debug/pprof/profile?seconds=1'),
    ]);
    expect(heap.status).toBe(409);
    expect(heap.json().message).toContain('a CPU profile is already being taken');
    expect(cpu.status).toBe(409);
    hangUp.abort();
    await first;
    await eventually('the profile ended by the hang-up', async () => runningProfile() === undefined, 30_000);
    expect((await pluginClient.request('GET', '/debug/pprof/profile?seconds=1')).status).toBe(200);
  });

  it.each([
    ['interLink API', () => apiOff.client],
    ['mock plugin', () => pluginOffClient],
  ])('off by default on the %s → 404', async (_name, client) => {
    for (const path of ['/debug/pprof/profile?seconds=1', '/debug/pprof/heap']) {
      expect((await client().request('GET', path)).status).toBe(404);
    }
  });

  it('off by default on the VK too (config default)', () => {
    expect(VkConfigSchema.parse({ nodeName: 'n' }).debugEndpoints).toBe(false);
  });

  it('never unauthenticated: refused with auth.disabled (API) or on TCP without a token file (plugin)', async () => {
    const logger = silentLogger();
    expect(() =>
      resolveApiConfig(
        loadApiConfig({ env: {}, logger, overrides: { 'auth.disabled': true, debugEndpoints: true } }),
      ),
    ).toThrow(/debugEndpoints: profiles are only served to authenticated callers/);
    await expect(
      loadPluginConfig('mock', {
        env: {},
        logger,
        overrides: { sidecarUrl: 'http://127.0.0.1', insecureTcp: true, debugEndpoints: true },
      }),
    ).rejects.toThrow(/debugEndpoints: profiles are only served to authenticated callers/);
    // On a unix socket (mode 0600: its owner only) the plugin serves them, as its other routes.
    const cfg = await loadPluginConfig('mock', {
      env: {},
      logger,
      overrides: { socket: join(dir, 'x.sock'), debugEndpoints: true },
    });
    expect(cfg.config.debugEndpoints).toBe(true);
  });
});
