import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { codeOf } from '../../src/errors/index.ts';
import { createInterlinkClient, TOKEN_TTL_MS } from '../../src/vk/interlink-client.ts';

interface Seen {
  method: string;
  url: string;
  auth: string | undefined;
  session: string | undefined;
  body: string;
}

const dir = mkdtempSync(join(tmpdir(), 'vk-ilc-'));
const socket = join(dir, 'api.sock');
const tokenFile = join(dir, 'token');
const seen: Seen[] = [];
let pingAnswer: { type: string; body: string; status?: number } = {
  type: 'application/json',
  body: '{"status":"ok","resources":{"cpu":"4"}}',
};
let server: Server;
let connections = 0;

const pod = { metadata: { name: 'p', namespace: 'ns', uid: 'u-1' }, spec: { containers: [{ name: 'c' }] } };
const hooked = {
  message: 'pod ns/hooked deleted',
  containers: [
    { name: 'c', probeEvents: [{ reason: 'FailedPreStopHook', message: 'PreStopHook failed', count: 1 }] },
  ],
};

beforeAll(async () => {
  server = createServer(async (req: IncomingMessage, res) => {
    let body = '';
    for await (const chunk of req) body += chunk;
    seen.push({
      method: req.method!,
      url: req.url!,
      auth: req.headers.authorization,
      session: req.headers['interlink-http-session'] as string,
      body,
    });
    const json = (v: unknown) => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify(v));
    };
    if (req.url === '/create') return json({ PodUID: 'u-1', PodJID: 'job-9' });
    if (req.url === '/status')
      return json(
        JSON.parse(body).map((p: typeof pod) => ({
          name: p.metadata.name,
          namespace: 'ns',
          UID: p.metadata.uid,
          JID: 'j',
          containers: [],
        })),
      );
    if (req.url === '/delete' && JSON.parse(body).metadata.name === 'text') return res.end('pod deleted');
    if (req.url === '/delete' && JSON.parse(body).metadata.name === 'hooked') return json(hooked);
    if (req.url === '/delete') {
      res.statusCode = 503;
      res.setHeader('content-type', 'application/json');
      return res.end(JSON.stringify({ code: 'UNAVAILABLE', message: 'plugin down' }));
    }
    if (req.url === '/pinglink') {
      res.statusCode = pingAnswer.status ?? 200;
      res.setHeader('content-type', pingAnswer.type);
      return res.end(pingAnswer.body);
    }
    if (req.url === '/getLogs') {
      res.setHeader('content-type', 'text/plain');
      res.write('line 1\n');
      setTimeout(() => res.end('line 2\n'), 20);
      return;
    }
    res.end('ok');
  });
  server.on('connection', () => connections++);
  server.listen(socket);
  await once(server, 'listening');
});
afterAll(() => {
  server.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('InterlinkClient over a unix socket', () => {
  let clock = 0;
  const client = createInterlinkClient({
    endpoint: { kind: 'unix', path: socket },
    tokenFile,
    now: () => clock,
  });

  it('create: POST /create with the request; token and session header sent', async () => {
    writeFileSync(tokenFile, 'tok-A\n');
    const answer = await client.create({
      pod,
      configmaps: [],
      secrets: [],
      projectedvolumesmaps: [],
    } as never);
    expect(answer).toMatchObject({ PodUID: 'u-1', PodJID: 'job-9' });
    const s = seen.at(-1)!;
    expect(s).toMatchObject({ method: 'POST', url: '/create', auth: 'Bearer tok-A' });
    expect(s.session).toMatch(/^create#/);
    expect(JSON.parse(s.body).pod.metadata.uid).toBe('u-1');
  });

  it('re-reads the token file once its copy is a second old (rotation without restart)', async () => {
    writeFileSync(tokenFile, 'tok-B');
    clock += TOKEN_TTL_MS - 1;
    await client.updateCache(pod as never);
    expect(seen.at(-1)).toMatchObject({ auth: 'Bearer tok-A' });
    clock += 1;
    await client.updateCache(pod as never);
    expect(seen.at(-1)).toMatchObject({ method: 'POST', url: '/updateCache', auth: 'Bearer tok-B' });
  });

  it('keeps the last token while the file cannot be read (a rotation in progress)', async () => {
    rmSync(tokenFile);
    clock += TOKEN_TTL_MS;
    await client.updateCache(pod as never);
    expect(seen.at(-1)).toMatchObject({ auth: 'Bearer tok-B' });
    writeFileSync(tokenFile, 'tok-C');
    clock += TOKEN_TTL_MS;
    await client.updateCache(pod as never);
    expect(seen.at(-1)).toMatchObject({ auth: 'Bearer tok-C' });
  });

  it('status: ONE GET /status with all pods in the body', async () => {
    const before = seen.length;
    const pods = [1, 2, 3].map((i) => ({
      ...pod,
      metadata: { ...pod.metadata, name: `p${i}`, uid: `u-${i}` },
    }));
    const answer = await client.status(pods as never);
    expect(answer.map((a) => a.UID)).toEqual(['u-1', 'u-2', 'u-3']);
    expect(seen.length - before).toBe(1);
    expect(seen.at(-1)).toMatchObject({ method: 'GET', url: '/status' });
    expect(seen.at(-1)!.session).toMatch(/^status#/);
  });

  it('delete: DELETE /delete; an error answer keeps its code', async () => {
    const err = await client.delete(pod as never).catch((e) => e);
    expect(seen.at(-1)).toMatchObject({ method: 'DELETE', url: '/delete' });
    expect(codeOf(err)).toBe('UNAVAILABLE');
    expect(err.message).toMatch(/plugin down/);
  });

  it('delete: a text answer resolves with nothing, a DeleteAnswer with itself', async () => {
    const named = (name: string) => ({ ...pod, metadata: { ...pod.metadata, name } }) as never;
    expect(await client.delete(named('text'))).toBeUndefined();
    expect(await client.delete(named('hooked'))).toEqual(hooked);
  });

  it('ping: JSON answers parse, text answers pass through, 503 throws', async () => {
    expect(await client.ping()).toMatchObject({ status: 'ok', resources: { cpu: '4' } });
    pingAnswer = { type: 'text/plain', body: '{"status":"ok"}' };
    expect(await client.ping()).toEqual({ status: 'ok' });
    pingAnswer = { type: 'text/plain', body: 'pong' };
    expect(await client.ping()).toBe('pong');
    pingAnswer = { type: 'text/plain', body: 'down', status: 503 };
    expect(codeOf(await client.ping().catch((e) => e))).toBe('UNAVAILABLE');
  });

  it('logs: a stream of the body', async () => {
    const stream = await client.logs(
      { Namespace: 'ns', PodUID: 'u-1', PodName: 'p', ContainerName: 'c', Opts: { Follow: true } },
      new AbortController().signal,
    );
    let text = '';
    for await (const chunk of stream) text += chunk;
    expect(text).toBe('line 1\nline 2\n');
    expect(JSON.parse(seen.at(-1)!.body)).toMatchObject({ PodName: 'p', Opts: { Follow: true } });
  });

  it('status and delete calls (GET and DELETE with a body) keep their connection', async () => {
    const c = createInterlinkClient({ endpoint: { kind: 'unix', path: socket }, tokenFile });
    const before = connections;
    for (let i = 0; i < 5; i++) {
      await c.status([pod] as never);
      await c.delete({ ...pod, metadata: { ...pod.metadata, name: 'text' } } as never);
    }
    await c.close();
    // Ten calls one after the other: one connection, or two when the pool had not yet taken
    // the first one back when the next call started; a connection closed after each call
    // (undici's default for a GET or DELETE with a body) would make ten.
    expect(connections - before).toBeLessThanOrEqual(2);
  });

  it('an unreadable token file fails the call as UNAVAILABLE, naming the file', async () => {
    const c = createInterlinkClient({
      endpoint: { kind: 'unix', path: socket },
      tokenFile: join(dir, 'absent'),
    });
    const err = await c.status([]).catch((e) => e);
    expect(codeOf(err)).toBe('UNAVAILABLE');
    expect(err.message).toMatch(/absent/);
  });
});
