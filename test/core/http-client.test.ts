/**
 * HttpClient on Node's http/https (src/core/http-client.ts), against real servers on a unix
 * socket and on TCP: what every hop (VK → API, API → plugin) relies on — one kept
 * connection for calls in a row, bodies on GET and DELETE, the token and session headers,
 * answers and error answers, streams, and how transport failures are classified.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { HttpClient } from '../../src/core/http-client.ts';
import { codeOf, type InterlinkError } from '../../src/errors/index.ts';
import { SESSION_HEADER } from '../../src/wire/headers.ts';
import { tempDir } from '../api/harness.ts';

interface Seen {
  method: string;
  url: string;
  body: string;
  headers: IncomingMessage['headers'];
}

/** The error a call fails with (a call that succeeds fails the test). */
const failure = (p: Promise<unknown>): Promise<InterlinkError> =>
  p.then(
    () => {
      throw new Error('expected the call to fail');
    },
    (e: unknown) => e as InterlinkError,
  );

function handler(seen: Seen[]) {
  return async (req: IncomingMessage, res: ServerResponse) => {
    let body = '';
    for await (const c of req) body += c;
    seen.push({ method: req.method ?? '', url: req.url ?? '', body, headers: req.headers });
    if (req.url === '/json') {
      res.setHeader('content-type', 'application/json');
      return res.end(JSON.stringify({ echo: body === '' ? null : JSON.parse(body) }));
    }
    if (req.url === '/text') return res.end('plain answer');
    if (req.url === '/bad-input') {
      res.statusCode = 400;
      res.setHeader('content-type', 'application/json');
      return res.end(
        JSON.stringify({ code: 'INVALID_INPUT', message: 'pod name is not a DNS label', field: 'name' }),
      );
    }
    if (req.url === '/not-json') {
      res.setHeader('content-type', 'application/json');
      return res.end('<html>');
    }
    if (req.url === '/stream') {
      res.write('line 1\n');
      setTimeout(() => res.end('line 2\n'), 50);
      return;
    }
    if (req.url === '/silent') return; // never answers
    res.statusCode = 404;
    res.end('404 page not found');
  };
}

describe('HttpClient', () => {
  const seen: Seen[] = [];
  let unix: Server;
  let tcp: Server;
  let socket: string;
  let connections = 0;
  let cleanup: () => Promise<void>;

  beforeAll(async () => {
    const t = await tempDir('interlink-http-client-');
    cleanup = t.cleanup;
    socket = join(t.dir, 'peer.sock');
    unix = createServer(handler(seen));
    unix.on('connection', () => connections++);
    tcp = createServer(handler(seen));
    await new Promise<void>((r) => unix.listen(socket, r));
    await new Promise<void>((r) => tcp.listen(0, '127.0.0.1', r));
  });
  afterAll(async () => {
    unix.closeAllConnections();
    tcp.closeAllConnections();
    await new Promise((r) => unix.close(r));
    await new Promise((r) => tcp.close(r));
    await cleanup();
  });

  const overUnix = (extra: Partial<ConstructorParameters<typeof HttpClient>[0]> = {}) =>
    new HttpClient({ endpoint: { kind: 'unix', path: socket }, ...extra });

  it('sends JSON bodies on GET and DELETE with a content-length and keeps one connection for calls in a row', async () => {
    const c = overUnix();
    const before = connections;
    seen.length = 0;
    for (let i = 0; i < 5; i++) {
      expect(await c.call({ method: 'GET', path: '/json', body: [{ i }] })).toEqual({ echo: [{ i }] });
      expect(await c.call({ method: 'DELETE', path: '/text', body: { i } })).toBe('plain answer');
    }
    await c.close();
    expect(connections - before).toBe(1);
    expect(seen[0]).toMatchObject({ method: 'GET', url: '/json', body: '[{"i":0}]' });
    expect(seen[0]?.headers['content-length']).toBe('9');
    expect(seen[0]?.headers['content-type']).toBe('application/json');
    expect(seen[1]).toMatchObject({ method: 'DELETE', body: '{"i":0}' });
  });

  it('sends a string body as it is, the token read for each call, the session and extra headers', async () => {
    let n = 0;
    const c = overUnix({ token: () => `t${++n}`, headers: { 'x-extra': 'yes' } });
    seen.length = 0;
    await c.call({ method: 'POST', path: '/json', body: ' [ 1 ] ', session: 'status#7' });
    await c.call({ method: 'POST', path: '/json', body: '[2]' });
    await c.close();
    expect(seen.map((s) => [s.body, s.headers.authorization])).toEqual([
      [' [ 1 ] ', 'Bearer t1'],
      ['[2]', 'Bearer t2'],
    ]);
    expect(seen[0]?.headers[SESSION_HEADER]).toBe('status#7');
    expect(seen[0]?.headers['x-extra']).toBe('yes');
  });

  it('talks TCP as well, and checks an answer against a schema', async () => {
    const { port } = tcp.address() as AddressInfo;
    const c = new HttpClient({ endpoint: { kind: 'tcp', protocol: 'http', host: '127.0.0.1', port } });
    const answer = await c.call({
      method: 'POST',
      path: '/json',
      body: { a: 1 },
      schema: z.object({ echo: z.unknown() }),
    });
    expect(answer).toEqual({ echo: { a: 1 } });
    const wrong = await failure(
      c.call({ method: 'POST', path: '/json', body: {}, schema: z.object({ other: z.string() }) }),
    );
    expect(codeOf(wrong)).toBe('BACKEND');
    expect(wrong.message).toMatch(/unexpected answer: other/);
    await c.close();
  });

  it('text() gives the answer as sent, check() parses it against a schema', async () => {
    const c = overUnix();
    const { text, contentType } = await c.text({ method: 'GET', path: '/json', body: [3] });
    expect(text).toBe('{"echo":[3]}');
    expect(contentType).toBe('application/json');
    expect(c.check({ method: 'GET', path: '/json' }, text, z.object({ echo: z.array(z.number()) }))).toEqual({
      echo: [3],
    });
    const notJson = await failure(c.call({ method: 'GET', path: '/not-json', schema: z.unknown() }));
    expect(codeOf(notJson)).toBe('BACKEND');
    expect(notJson.message).toMatch(/answer is not JSON: <html>/);
    await c.close();
  });

  it('an error answer keeps the peer’s code, message and field; a plain one gets the status’s code', async () => {
    const c = overUnix();
    const bad = await failure(c.call({ method: 'POST', path: '/bad-input', body: {} }));
    expect(codeOf(bad)).toBe('INVALID_INPUT');
    expect(bad.message).toBe('POST /bad-input: pod name is not a DNS label');
    expect(bad.field).toBe('name');
    const missing = await failure(c.call({ method: 'GET', path: '/nothing' }));
    expect(codeOf(missing)).toBe('NOT_FOUND');
    expect(missing.message).toBe('GET /nothing: 404 page not found');
    await c.close();
  });

  it('streams an answer body; the caller’s abort ends it', async () => {
    const c = overUnix();
    const s = await c.stream({ method: 'GET', path: '/stream', body: {} });
    expect(s.status).toBe(200);
    let text = '';
    for await (const chunk of s.body) text += chunk;
    expect(text).toBe('line 1\nline 2\n');
    const ctl = new AbortController();
    const silent = c.stream({ method: 'GET', path: '/silent', signal: ctl.signal, timeoutMs: 10_000 });
    ctl.abort();
    expect(codeOf(await failure(silent))).toBe('UNAVAILABLE');
    await c.close();
  });

  it('classifies failures: no answer in time is TIMEOUT, nobody listening is UNAVAILABLE, so is the caller’s abort', async () => {
    const c = overUnix();
    const late = await failure(c.call({ method: 'GET', path: '/silent', timeoutMs: 200 }));
    expect(codeOf(late)).toBe('TIMEOUT');
    expect(late.message).toMatch(/^GET \/silent on unix:\/\/.*: no answer within 200 ms$/);
    const ctl = new AbortController();
    const call = c.call({ method: 'GET', path: '/silent', signal: ctl.signal });
    ctl.abort();
    const aborted = await failure(call);
    expect(codeOf(aborted)).toBe('UNAVAILABLE');
    expect(aborted.message).toMatch(/aborted by the caller/);
    await c.close();
    const nobody = new HttpClient({ endpoint: { kind: 'unix', path: `${socket}.absent` } });
    const down = await failure(nobody.call({ method: 'GET', path: '/json' }));
    expect(codeOf(down)).toBe('UNAVAILABLE');
    expect(down.message).toMatch(/unreachable \(ENOENT\)/);
    await nobody.close();
  });
});
