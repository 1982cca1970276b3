/**
 * The plugin going away and coming back: /pinglink, /status and /readyz answer 503 (never
 * stale cached data) and recover by themselves. The plugin's address and the transport
 * cause go to the log, never to the caller.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type ApiUnderTest,
  captureLogger,
  pod,
  startApi,
  startMock,
  tempDir,
  writeTokenFile,
} from './harness.ts';

describe('plugin down', () => {
  let api: ApiUnderTest;
  let dir: string;
  let cleanup: () => Promise<void>;
  let pluginSocket: string;
  const { logger, lines } = captureLogger();

  beforeAll(async () => {
    ({ dir, cleanup } = await tempDir());
    pluginSocket = join(dir, 'plugin.sock');
    api = await startApi({
      listen: 'tcp',
      pluginSocket,
      logger,
      overrides: { 'auth.tokenFile': await writeTokenFile(dir), pluginTimeoutMs: 2000 },
    });
  });
  afterAll(async () => {
    await api?.close();
    await cleanup?.();
  });

  async function expectDown(cause: RegExp) {
    const before = lines().length;
    const ping = await api.client.request('POST', '/pinglink');
    expect(ping.status).toBe(503);
    expect(ping.json()).toEqual({ code: 'UNAVAILABLE', message: 'the plugin is not answering' });
    const status = await api.client.request('GET', '/status', [pod('p', 'u-down')]);
    expect(status.status).toBe(503);
    expect(status.json()).toEqual({ code: 'UNAVAILABLE', message: 'status: the plugin is unreachable' });
    // The ping's answer is /readyz's until it ages: no extra probe, no detail for anonymous callers.
    const ready = await api.client.request('GET', '/readyz');
    expect(ready.status).toBe(503);
    expect(ready.text).toBe('not ready');
    const logged = lines()
      .slice(before)
      .filter((l) => l.msg === 'status: plugin unreachable' || l.msg === 'ping: plugin unreachable');
    expect(logged).toHaveLength(2);
    for (const l of logged) {
      expect(l.plugin).toBe(`unix://${pluginSocket}`);
      expect(String(l.err)).toMatch(cause);
    }
    // The API itself is alive.
    expect((await api.client.request('GET', '/healthz')).status).toBe(200);
  }

  it('answers 503 naming the plugin and the cause, then recovers when the plugin returns, twice', async () => {
    // Never started: the socket does not exist.
    await expectDown(/ENOENT/);

    let mock = await startMock(pluginSocket, logger);
    const p = pod('p', 'u-down');
    expect((await api.client.request('POST', '/create', { pod: p })).status).toBe(200);
    const ok = await api.client.request('GET', '/status', [p]);
    expect(ok.status).toBe(200);
    expect(ok.json()[0].UID).toBe('u-down');
    expect(api.api.api.cache.get('u-down')).toBeDefined();
    expect((await api.client.request('POST', '/pinglink')).status).toBe(200);

    // Gone again while the API holds keep-alive connections to it: no stale status.
    await mock.close();
    await expectDown(/ENOENT|ECONNREFUSED|ECONNRESET|closed|other side/);

    mock = await startMock(pluginSocket, logger);
    expect((await api.client.request('POST', '/pinglink')).status).toBe(200);
    expect((await api.client.request('GET', '/readyz')).status).toBe(200);
    // A new mock knows no pods: the answer is the truth, not the cache.
    const fresh = await api.client.request('GET', '/status', [p]);
    expect(fresh.status).toBe(200);
    expect(fresh.json()).toEqual([]);
    await mock.close();
  });

  it('a failing backend (plugin up, status fails) is a 502 with the plugin message, not cached data', async () => {
    const mock = await startMock(pluginSocket, logger);
    try {
      const p = pod('p2', 'u-fail');
      await api.client.request('POST', '/create', { pod: p });
      expect((await api.client.request('GET', '/status', [p])).status).toBe(200);
      mock.mock.setFaults({
        statusFails: 'squeue: slurm_load_jobs error: Unable to contact slurm controller',
      });
      const res = await api.client.request('GET', '/status', [p]);
      expect(res.status).toBe(502);
      expect(res.json()).toMatchObject({
        code: 'BACKEND',
        message: expect.stringContaining('Unable to contact slurm controller'),
      });
      mock.mock.setFaults({ pingFails: true });
      const ping = await api.client.request('POST', '/pinglink');
      expect(ping.status).toBe(503);
      expect(ping.json().message).toMatch(/injected ping failure/);
    } finally {
      await mock.close();
    }
  });
});
