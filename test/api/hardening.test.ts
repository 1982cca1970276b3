/**
 * Attacks on the API and its plugin over real sockets (issue #12): probe storms, slow and
 * greedy clients, deep JSON, odd content types and UIDs, OIDC fetch amplification. Each
 * case performs the attack and checks the server's answer, its log and its backend calls.
 */
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { Agent } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type ApiUnderTest,
  captureLogger,
  eventually,
  pod,
  RawClient,
  startApi,
  startMock,
  TOKEN,
  tempDir,
  writeTokenFile,
} from './harness.ts';

/** A raw TCP connection that records what the server sends and when it hangs up. */
function rawConnection(url: string): { socket: Socket; received: () => string; closed: Promise<void> } {
  const u = new URL(url);
  const socket = connect(Number(u.port), u.hostname);
  let data = '';
  socket.setEncoding('utf8');
  socket.on('data', (d) => {
    data += d;
  });
  socket.on('error', () => {});
  const closed = new Promise<void>((r) => socket.once('close', () => r()));
  return { socket, received: () => data, closed };
}

/** Send one byte every `everyMs` until the server closes the connection (the attack). */
function trickle(socket: Socket, everyMs: number): () => void {
  // The server cutting us off is the point: a write racing the cut fails with EPIPE, which is
  // expected here (the tests assert the cut by the answer and the close), not an error.
  socket.on('error', () => {});
  const t = setInterval(() => {
    if (!socket.destroyed) socket.write('a');
  }, everyMs);
  return () => clearInterval(t);
}

const deep = (n: number) => `${'['.repeat(n)}${']'.repeat(n)}`;

describe('hardening: API and plugin servers', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let pluginSocket: string;
  let mock: Awaited<ReturnType<typeof startMock>>;
  let api: ApiUnderTest;
  const logs = captureLogger();

  beforeAll(async () => {
    ({ dir, cleanup } = await tempDir());
    pluginSocket = join(dir, 'plugin.sock');
    mock = await startMock(pluginSocket, logs.logger, { requestTimeoutMs: 1_000, headersTimeoutMs: 500 });
    api = await startApi({
      listen: 'tcp',
      pluginSocket,
      logger: logs.logger,
      overrides: {
        'auth.tokenFile': await writeTokenFile(dir),
        requestTimeoutMs: 1_000,
        headersTimeoutMs: 500,
      },
    });
  });
  afterAll(async () => {
    await api?.close();
    await mock?.close();
    await cleanup?.();
  });

  it('a /readyz storm costs one plugin ping, and anonymous callers read one word', async () => {
    const before = mock.mock.calls().ping;
    // Two connections, 50 requests queued on them at once.
    const agent = new Agent({ connections: 2, pipelining: 1 });
    try {
      const answers = await Promise.all(
        Array.from({ length: 50 }, async () => {
          const res = await agent.request({ origin: api.url, path: '/readyz', method: 'GET' });
          return `${res.statusCode} ${await res.body.text()}`;
        }),
      );
      expect(answers).toEqual(answers.map(() => '200 ok'));
      // Single-flight and a 5 s cache: one ping (two if the machine is so slow the cache aged).
      expect(mock.mock.calls().ping - before).toBeGreaterThanOrEqual(1);
      expect(mock.mock.calls().ping - before).toBeLessThanOrEqual(2);
    } finally {
      await agent.close();
    }
  });

  it('a body trickled after a 401 is not waited for: the connection closes', async () => {
    const c = rawConnection(api.url);
    c.socket.write(
      'POST /create HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{',
    );
    const stop = trickle(c.socket, 100);
    await c.closed;
    stop();
    expect(c.received()).toMatch(/^HTTP\/1\.1 401 /);
    expect(c.received()).toMatch(/\r\nconnection: close\r\n/i);
  });

  it('an authenticated caller trickling a body is cut at requestTimeoutMs (408)', async () => {
    const c = rawConnection(api.url);
    c.socket.write(
      `POST /create HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${TOKEN}\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{`,
    );
    const stop = trickle(c.socket, 100);
    await c.closed;
    stop();
    expect(c.received()).toMatch(/^HTTP\/1\.1 408 /);
  });

  it('headers that never end are cut at headersTimeoutMs', async () => {
    const c = rawConnection(api.url);
    c.socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\n');
    const stop = trickle(c.socket, 100);
    await c.closed;
    stop();
    expect(c.received()).toMatch(/^HTTP\/1\.1 408 /);
  });

  it('the plugin server has the same timeouts (trickled body to /create)', async () => {
    const { createConnection } = await import('node:net');
    const socket = createConnection(pluginSocket);
    let data = '';
    socket.setEncoding('utf8');
    socket.on('data', (d) => {
      data += d;
    });
    const closed = new Promise<void>((r) => socket.once('close', () => r()));
    socket.write(
      'POST /create HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{',
    );
    const stop = trickle(socket, 100);
    await closed;
    stop();
    expect(data).toMatch(/^HTTP\/1\.1 408 /);
  });

  it('the request timeout bounds receiving, not answering: a log follower outlives it', async () => {
    // 20 lines 100 ms apart: the stream lasts about twice this API's requestTimeoutMs.
    const p = pod('follow', 'u-follow', {
      'mock.interlink.io/run-time': 'forever',
      'mock.interlink.io/log-lines': '20',
      'mock.interlink.io/log-interval': '100ms',
    });
    expect((await api.client.request('POST', '/create', { pod: p })).status).toBe(200);
    const ctl = new AbortController();
    const res = await api.client.stream(
      'POST',
      '/getLogs',
      {
        Namespace: 'default',
        PodUID: 'u-follow',
        PodName: 'follow',
        ContainerName: 'main',
        Opts: { Follow: true },
      },
      ctl.signal,
    );
    expect(res.statusCode).toBe(200);
    let text = '';
    try {
      for await (const chunk of res.body) {
        text += String(chunk);
        if (text.split('\n').filter(Boolean).length >= 20) break;
      }
    } finally {
      ctl.abort();
    }
    expect(text.split('\n').filter(Boolean)).toHaveLength(20);
  });

  it('connections beyond maxConnections are closed on accept; capacity comes back', async () => {
    // An API of its own: nobody else holds connections to it.
    const capped = await startApi({
      listen: 'tcp',
      pluginSocket,
      logger: logs.logger,
      overrides: { 'auth.tokenFile': await writeTokenFile(dir), maxConnections: 2 },
    });
    const held: RawClient[] = [];
    try {
      // Each client holds one keep-alive connection once it has been answered.
      for (let i = 0; i < 2; i++) {
        const c = new RawClient(capped.url);
        expect((await c.request('GET', '/healthz')).status).toBe(200);
        held.push(c);
      }
      const extra = rawConnection(capped.url);
      extra.socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
      await extra.closed;
      expect(extra.received()).toBe('');
      await held.pop()!.close();
      const again = new RawClient(capped.url);
      held.push(again);
      await eventually(
        async () => (await again.request('GET', '/healthz').catch(() => undefined))?.status === 200,
        10_000,
        'a free connection slot',
      );
    } finally {
      for (const c of held) await c.close();
      await capped.close();
    }
  });

  it('deep JSON is a 400 at parse time (not a 503 naming the plugin), on the API and the plugin', async () => {
    const p = pod('deep', 'u-deep');
    const body = JSON.stringify({ pod: p }).replace(/}$/, `,"unknownField":${deep(6000)}}`);
    const res = await api.client.request('POST', '/create', body);
    expect(res.status, res.text).toBe(400);
    expect(res.json()).toEqual({
      code: 'INVALID_INPUT',
      message: 'request body nests JSON deeper than 512 levels',
    });
    expect(res.text).not.toContain(pluginSocket);
    expect(mock.mock.calls().create['u-deep']).toBeUndefined();

    const direct = new RawClient(`unix://${pluginSocket}`);
    direct.token = undefined;
    try {
      const r = await direct.request('GET', '/status', `[${deep(6000)}]`);
      expect(r.status).toBe(400);
      expect(r.json().message).toBe('request body nests JSON deeper than 512 levels');
    } finally {
      await direct.close();
    }
    // Moderate nesting in an unknown field still passes and reaches the plugin.
    const ok = await api.client.request(
      'POST',
      '/create',
      JSON.stringify({ pod: pod('deep-ok', 'u-deep-ok') }).replace(/}$/, `,"unknownField":${deep(100)}}`),
    );
    expect(ok.status, ok.text).toBe(200);
  });

  it('a text/plain body that is not JSON is described as what it is', async () => {
    const res = await api.client.request('POST', '/create', 'pod please', { 'content-type': 'text/plain' });
    expect(res.status).toBe(400);
    expect(res.json()).toEqual({
      code: 'INVALID_INPUT',
      message:
        'malformed JSON body (sent with content type text/plain): expected a JSON document, Content-Type: application/json',
    });
    // JSON sent as text/plain (some 0.6 clients) is still accepted.
    const ok = await api.client.request('GET', '/status', '[]', { 'content-type': 'text/plain' });
    expect(ok.status, ok.text).toBe(200);
  });

  it('pod UIDs named like Object.prototype members are counted by the mock', async () => {
    // (`__proto__` is refused earlier: the wire schema's UID syntax does not allow it.)
    for (const uid of ['constructor', 'toString', 'hasOwnProperty', 'valueOf']) {
      const res = await api.client.request('POST', '/create', { pod: pod(`p-${uid.toLowerCase()}`, uid) });
      expect(res.status, res.text).toBe(200);
    }
    const direct = new RawClient(`unix://${pluginSocket}`);
    direct.token = undefined;
    try {
      const calls = await direct.request('GET', '/mock/calls');
      expect(calls.status, calls.text).toBe(200);
      expect(calls.json().create).toMatchObject({
        constructor: 1,
        toString: 1,
        hasOwnProperty: 1,
        valueOf: 1,
      });
    } finally {
      await direct.close();
    }
  });

  it('a plugin failure names no plugin address in the answer', async () => {
    mock.mock.setFaults({ statusFails: true });
    try {
      const res = await api.client.request('GET', '/status', [pod('x', 'u-x')]);
      expect(res.status).toBe(502);
      expect(res.text).not.toContain(pluginSocket);
      expect(res.text).not.toContain('unix://');
    } finally {
      mock.mock.setFaults({});
    }
  });
});
