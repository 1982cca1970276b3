/**
 * Log streaming through the API: follow delivers lines as the mock produces them and ends
 * when the pod ends; a follower hanging up ends the plugin's stream too.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type ApiUnderTest,
  captureLogger,
  eventually,
  pod,
  startApi,
  startMock,
  tempDir,
  writeTokenFile,
} from './harness.ts';

const logReq = (uid: string, name: string, opts: Record<string, unknown>) => ({
  Namespace: 'default',
  PodUID: uid,
  PodName: name,
  ContainerName: 'main',
  Opts: opts,
});

describe('GET /getLogs follow', () => {
  let api: ApiUnderTest;
  let mock: Awaited<ReturnType<typeof startMock>>;
  let cleanup: () => Promise<void>;
  const { logger } = captureLogger();

  beforeAll(async () => {
    const t = await tempDir();
    cleanup = t.cleanup;
    const pluginSocket = join(t.dir, 'plugin.sock');
    mock = await startMock(pluginSocket, logger);
    api = await startApi({
      listen: 'tcp',
      pluginSocket,
      logger,
      overrides: { 'auth.tokenFile': await writeTokenFile(t.dir) },
    });
  });
  afterAll(async () => {
    await api?.close();
    await mock?.close();
    await cleanup?.();
  });

  const pluginStreams = async () => {
    const m = await mock.parts.app.inject({ method: 'GET', url: '/metrics' });
    return Number(/^interlink_plugin_log_streams (\d+)/m.exec(m.body)?.[1]);
  };

  const containerState = async (p: ReturnType<typeof pod>) => {
    const res = await api.client.request('GET', '/status', [p]);
    return Object.keys(res.json()[0].containers[0].state ?? {})[0];
  };

  it('delivers lines while the container runs and ends when the pod ends', async () => {
    const p = pod('follow-me', 'u-follow', {
      'mock.interlink.io/log-lines': '4',
      'mock.interlink.io/log-interval': '500ms',
      'mock.interlink.io/run-time': '2500ms',
    });
    expect((await api.client.request('POST', '/create', { pod: p })).status).toBe(200);
    const res = await api.client.stream(
      'POST',
      '/getLogs',
      logReq('u-follow', 'follow-me', { Follow: true }),
    );
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain/);

    const chunks: string[] = [];
    let stateAtFirstChunk: string | undefined;
    for await (const chunk of res.body) {
      if (chunks.length === 0) stateAtFirstChunk = await containerState(p);
      chunks.push(String(chunk));
    }
    // The first bytes came while the container was still running: streamed, not buffered.
    expect(stateAtFirstChunk).toBe('running');
    expect(chunks.length).toBeGreaterThan(1);
    const lines = chunks.join('').trim().split('\n');
    expect(lines).toHaveLength(4);
    // The stream ended because the pod ended.
    expect(await containerState(p)).toBe('terminated');
  });

  it('a follower that hangs up ends the plugin stream (no leaked follower)', async () => {
    const p = pod('forever', 'u-forever', {
      'mock.interlink.io/log-lines': '1000',
      'mock.interlink.io/log-interval': '100ms',
    });
    await api.client.request('POST', '/create', { pod: p });
    const ctl = new AbortController();
    const res = await api.client.stream(
      'POST',
      '/getLogs',
      logReq('u-forever', 'forever', { Follow: true }),
      ctl.signal,
    );
    const it = res.body[Symbol.asyncIterator]();
    const first = await it.next();
    expect(String(first.value)).toMatch(/\S/);
    expect(await pluginStreams()).toBe(1);
    ctl.abort();
    await eventually(async () => (await pluginStreams()) === 0, 10_000, 'the plugin log stream to close');
    // The API still serves.
    expect((await api.client.request('GET', '/healthz')).status).toBe(200);
  });

  it('closing the API ends its open follow streams (and the plugin side of them)', async () => {
    const p = pod('shutdown', 'u-shutdown', {
      'mock.interlink.io/log-lines': '1000',
      'mock.interlink.io/log-interval': '100ms',
    });
    await api.client.request('POST', '/create', { pod: p });
    const t = await tempDir();
    const second = await startApi({
      listen: 'tcp',
      pluginSocket: mock.url.slice('unix://'.length),
      logger,
      overrides: { 'auth.tokenFile': await writeTokenFile(t.dir) },
    });
    const res = await second.client.stream(
      'GET',
      '/getLogs',
      logReq('u-shutdown', 'shutdown', { Follow: true }),
    );
    const it = res.body[Symbol.asyncIterator]();
    await it.next();
    await second.api.close();
    // The reader sees the end or a cut connection, not an endless stream (a hang fails by timeout).
    let outcome: string;
    try {
      for (;;) if ((await it.next()).done) break;
      outcome = 'ended';
    } catch {
      outcome = 'cut';
    }
    expect(['ended', 'cut']).toContain(outcome);
    await eventually(async () => (await pluginStreams()) === 0, 10_000, 'the plugin log stream to close');
    await second.client.close();
    await t.cleanup();
  });

  it('deleting the pod ends a follow stream', async () => {
    const p = pod('deleted', 'u-deleted', {
      'mock.interlink.io/log-lines': '1000',
      'mock.interlink.io/log-interval': '100ms',
    });
    await api.client.request('POST', '/create', { pod: p });
    const res = await api.client.stream('GET', '/getLogs', logReq('u-deleted', 'deleted', { Follow: true }));
    const it = res.body[Symbol.asyncIterator]();
    await it.next();
    expect((await api.client.request('DELETE', '/delete', p)).status).toBe(200);
    // Drain: the stream must end on its own.
    for (;;) if ((await it.next()).done) break;
  });
});
