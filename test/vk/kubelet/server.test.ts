import { createServer as createHttpServer, type IncomingMessage, type Server } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { AddressInfo } from 'node:net';
import { Registry } from 'prom-client';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { FakeClock } from '../../../src/core/clock.ts';
import type { ZodApp } from '../../../src/core/http-server.ts';
import { silentLogger } from '../../../src/core/logger.ts';
import { VkConfigSchema } from '../../../src/vk/config.ts';
import { createInterlinkClient, type InterlinkClient } from '../../../src/vk/interlink-client.ts';
import {
  type AccessReviewResult,
  createAuthorizer,
  type Reviewer,
  type UserInfo,
} from '../../../src/vk/kubelet/auth.ts';
import { buildKubeletApp } from '../../../src/vk/kubelet/server.ts';
import type { KPod } from '../../../src/vk/pods/kpod.ts';
import { type Ca, makeCa } from './tls-fixtures.ts';

const NODE = 'vk-test';
const pod: KPod = {
  metadata: { name: 'web', namespace: 'team', uid: '1111-2222' },
  spec: {
    containers: [{ name: 'main', image: 'busybox' }],
    initContainers: [{ name: 'setup', image: 'busybox' }],
  },
  status: { phase: 'Running' },
};
const done: KPod = {
  metadata: { name: 'old', namespace: 'team', uid: '3333' },
  spec: { containers: [{ name: 'c' }] },
  status: { phase: 'Succeeded' },
};

/** A stand-in interLink API: records each LogStruct, streams lines, and notices when its caller leaves. */
interface Upstream {
  server: Server;
  port: number;
  logRequests: unknown[];
  closedFollows: number;
  stats: 'none' | 'summary';
  waitClosed(): Promise<void>;
}

async function startUpstream(): Promise<Upstream> {
  const closeWaiters: Array<() => void> = [];
  const up: Upstream = {
    server: undefined as unknown as Server,
    port: 0,
    logRequests: [],
    closedFollows: 0,
    stats: 'none',
    waitClosed: () => new Promise<void>((r) => closeWaiters.push(r)),
  };
  const body = async (req: IncomingMessage) => {
    let text = '';
    for await (const chunk of req) text += chunk;
    return text;
  };
  up.server = createHttpServer(async (req, res) => {
    if (req.url === '/getLogs') {
      const ls = JSON.parse(await body(req)) as { ContainerName: string; Opts: { Follow?: boolean } };
      up.logRequests.push(ls);
      if (ls.ContainerName === 'missing') {
        res.writeHead(404, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ code: 'NOT_FOUND', message: 'no such container in the backend' }));
        return;
      }
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('line 1\nline 2\n');
      if (!ls.Opts.Follow) {
        res.end();
        return;
      }
      res.on('close', () => {
        up.closedFollows++;
        for (const w of closeWaiters.splice(0)) w();
      });
      return; // follow: stays open until the caller goes away
    }
    if (req.url === '/stats/summary') {
      if (up.stats === 'none') {
        res.writeHead(404, { 'content-type': 'text/plain' });
        res.end('404 page not found');
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          node: { nodeName: 'remote' },
          pods: [{ podRef: { name: 'web', namespace: 'team', uid: '1111-2222' } }],
        }),
      );
      return;
    }
    res.writeHead(404);
    res.end();
  });
  await new Promise<void>((r) => up.server.listen(0, '127.0.0.1', r));
  up.port = (up.server.address() as AddressInfo).port;
  return up;
}

/** Reviewer stand-in: tokens and allowed (user, subresource) pairs from tables; records the calls. */
function fakeReviewer(tokens: Record<string, UserInfo>, allowed: Array<[string, string, string]>) {
  const calls: Array<{ kind: 'token' | 'access'; args: unknown[] }> = [];
  const reviewer: Reviewer = {
    async reviewToken(token) {
      calls.push({ kind: 'token', args: [token] });
      const user = tokens[token];
      return user ? { authenticated: true, user } : { authenticated: false, error: 'token not found' };
    },
    async reviewAccess(user, verb, resource, name, subresource): Promise<AccessReviewResult> {
      calls.push({ kind: 'access', args: [user.username, verb, resource, name, subresource] });
      if (name !== NODE || resource !== 'nodes') return { allowed: false, reason: 'wrong object' };
      const ok = allowed.some(([u, v, s]) => u === user.username && v === verb && s === subresource);
      return ok
        ? { allowed: true }
        : { allowed: false, reason: `RBAC: ${user.username} may not ${verb} nodes/${subresource}` };
    },
  };
  return { reviewer, calls };
}

describe('kubelet HTTPS API', () => {
  let ca: Ca;
  let otherCa: Ca;
  let up: Upstream;
  let interlink: InterlinkClient;
  let app: ZodApp;
  let base: string;
  let calls: Array<{ kind: string; args: unknown[] }>;
  const agents: Agent[] = [];

  // Issued once in beforeAll (issuing is async); every request presents the same client certificate.
  let apiserverPair: { cert: string; key: string };
  const apiserverClient = () => apiserverPair;

  function agentWith(opts: { cert?: { cert: string; key: string } } = {}): Agent {
    const a = new Agent({ connect: { ca: ca.cert, servername: 'localhost', ...(opts.cert ?? {}) } });
    agents.push(a);
    return a;
  }

  async function get(
    path: string,
    opts: { agent?: Agent; token?: string; method?: 'GET' | 'POST'; headers?: Record<string, string> } = {},
  ) {
    const res = await request(`${base}${path}`, {
      method: opts.method ?? 'GET',
      dispatcher: opts.agent ?? agentWith({ cert: apiserverClient() }),
      headers: { ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}), ...opts.headers },
    });
    return { status: res.statusCode, headers: res.headers, text: await res.body.text() };
  }

  beforeAll(async () => {
    ca = await makeCa('cluster-ca');
    otherCa = await makeCa('rogue-ca');
    apiserverPair = await ca.issue({
      cn: 'kube-apiserver-kubelet-client',
      orgs: ['kubelet-api'],
      usage: 'client',
    });
    up = await startUpstream();
    interlink = createInterlinkClient({
      endpoint: { kind: 'tcp', protocol: 'http', host: '127.0.0.1', port: up.port },
    });
    const serving = await ca.issue({
      cn: `system:node:${NODE}`,
      orgs: ['system:nodes'],
      dns: ['localhost'],
      ips: ['127.0.0.1'],
      usage: 'server',
    });
    const fake = fakeReviewer(
      {
        'good-token': {
          username: 'system:serviceaccount:monitoring:prometheus',
          groups: ['system:serviceaccounts'],
        },
        'weak-token': { username: 'alice', groups: [] },
      },
      [
        ['kube-apiserver-kubelet-client', 'get', 'proxy'],
        ['kube-apiserver-kubelet-client', 'create', 'proxy'],
        ['kube-apiserver-kubelet-client', 'get', 'stats'],
        ['system:serviceaccount:monitoring:prometheus', 'get', 'stats'],
        ['system:serviceaccount:monitoring:prometheus', 'get', 'metrics'],
        ['system:serviceaccount:monitoring:prometheus', 'get', 'pods'],
      ],
    );
    calls = fake.calls;
    const config = VkConfigSchema.parse({ nodeName: NODE, debugEndpoints: true });
    app = buildKubeletApp({
      deps: {
        config,
        logger: silentLogger(),
        interlink,
        registry: new Registry(),
        pods: {
          list: () => [pod, done],
          get: (ns, name) =>
            [pod, done].find((p) => p.metadata?.namespace === ns && p.metadata?.name === name),
        },
      },
      authorizer: createAuthorizer({
        reviewer: fake.reviewer,
        nodeName: NODE,
        clock: new FakeClock(),
        trustClientCerts: () => true,
      }),
      tls: { ...serving, clientCa: ca.cert, source: 'files', notAfter: new Date() },
      startTime: new Date('2026-01-01T00:00:00Z'),
    });
    await app.listen({ host: '127.0.0.1', port: 0 });
    base = `https://localhost:${(app.server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    await Promise.all(agents.map((a) => a.close()));
    await app.close();
    await interlink.close();
    await new Promise<void>((r) => up.server.close(() => r()));
  });

  beforeEach(() => {
    up.logRequests.length = 0;
    up.stats = 'none';
  });

  describe('authentication and authorization', () => {
    it('anonymous → 401', async () => {
      const res = await get('/pods', { agent: agentWith() });
      expect(res.status).toBe(401);
      expect(res.text).toContain('Unauthorized');
    });

    it.each(['/healthz', '/metrics', '/containerLogs/team/web/main'])(
      'anonymous %s → 401 (every route is authenticated, as on a kubelet)',
      async (path) => {
        expect((await get(path, { agent: agentWith() })).status).toBe(401);
      },
    );

    it('a client certificate from another CA is not a user → 401', async () => {
      const res = await get('/pods', {
        agent: agentWith({
          cert: await otherCa.issue({ cn: 'kube-apiserver-kubelet-client', usage: 'client' }),
        }),
      });
      expect(res.status).toBe(401);
    });

    it('an invalid bearer token → 401', async () => {
      const res = await get('/pods', { agent: agentWith(), token: 'nope' });
      expect(res.status).toBe(401);
      expect(res.text).toContain('invalid bearer token');
    });

    it('a valid token without the permission → 403 with the reason', async () => {
      const res = await get('/stats/summary', { agent: agentWith(), token: 'weak-token' });
      expect(res.status).toBe(403);
      expect(res.text).toContain('user=alice, verb=get, resource=nodes, subresource(s)=[stats]');
      expect(res.text).toContain('RBAC: alice may not get nodes/stats');
    });

    it('a valid token with the permission → 200; /pods asks the fine-grained subresource first', async () => {
      calls.length = 0;
      const res = await get('/pods', { agent: agentWith(), token: 'good-token' });
      expect(res.status).toBe(200);
      expect(calls.filter((c) => c.kind === 'access').map((c) => c.args[4])).toEqual(['pods']);
    });

    it('caches decisions: a second call makes no review', async () => {
      await get('/stats/summary', { agent: agentWith(), token: 'good-token' });
      calls.length = 0;
      await get('/stats/summary', { agent: agentWith(), token: 'good-token' });
      expect(calls).toEqual([]);
    });

    it('the client certificate names the user (CN) for the SubjectAccessReview', async () => {
      calls.length = 0;
      const res = await get('/runningpods/');
      expect(res.status).toBe(200);
      // No 'pods' permission for this user, so the kubelet's fallback to 'proxy' decides.
      expect(calls.map((c) => c.args)).toEqual([
        ['kube-apiserver-kubelet-client', 'get', 'nodes', NODE, 'pods'],
        ['kube-apiserver-kubelet-client', 'get', 'nodes', NODE, 'proxy'],
      ]);
    });
  });

  describe('/debug/pprof (debugEndpoints: true)', () => {
    it('anonymous → 401; a token without nodes/proxy → 403 (profiles are nodes/proxy, as on a kubelet)', async () => {
      expect((await get('/debug/pprof/heap', { agent: agentWith() })).status).toBe(401);
      const res = await get('/debug/pprof/profile?seconds=1', { agent: agentWith(), token: 'good-token' });
      expect(res.status).toBe(403);
      expect(res.text).toContain('subresource(s)=[proxy]');
    });

    it('the apiserver (nodes/proxy) gets a CPU profile DevTools loads', async () => {
      const res = await get('/debug/pprof/profile?seconds=1');
      expect(res.status, res.text).toBe(200);
      expect(res.headers['content-disposition']).toContain(`interlink-vk-${NODE}-`);
      const profile = JSON.parse(res.text);
      expect(profile.nodes[0].callFrame.functionName).toBe('(root)');
    });

    it('a bad duration → 400 in plain text', async () => {
      const res = await get('/debug/pprof/profile?seconds=600');
      expect(res.status).toBe(400);
      expect(res.text).toContain('seconds');
    });
  });

  describe('/containerLogs', () => {
    it('maps the query to a LogStruct and returns the lines', async () => {
      const res = await get('/containerLogs/team/web/main?tailLines=2&timestamps=true&limitBytes=100');
      expect(res.status).toBe(200);
      expect(res.headers['content-type']).toContain('text/plain');
      expect(res.text).toBe('line 1\nline 2\n');
      expect(up.logRequests).toEqual([
        {
          Namespace: 'team',
          PodUID: '1111-2222',
          PodName: 'web',
          ContainerName: 'main',
          Opts: { Tail: 2, Timestamps: true, Bytes: 100, LimitBytes: 100 },
        },
      ]);
    });

    it('serves init containers too', async () => {
      const res = await get('/containerLogs/team/web/setup');
      expect(res.status).toBe(200);
    });

    it('unknown pod → 404 without asking the API', async () => {
      const res = await get('/containerLogs/team/ghost/main');
      expect(res.status).toBe(404);
      expect(res.text).toBe('pod "team/ghost" does not exist on node vk-test');
      expect(up.logRequests).toEqual([]);
    });

    it('unknown container → 404', async () => {
      const res = await get('/containerLogs/team/web/sidecar');
      expect(res.status).toBe(404);
      expect(res.text).toContain('container "sidecar" not found');
    });

    it('a bad option → 400 naming it', async () => {
      const res = await get('/containerLogs/team/web/main?tailLines=-3');
      expect(res.status).toBe(400);
      expect(res.text).toContain('tailLines');
    });

    it('follow streams and a caller disconnect closes the upstream request', async () => {
      const closed = up.waitClosed();
      const before = up.closedFollows;
      const res = await request(`${base}/containerLogs/team/web/main?follow=true&tailLines=2`, {
        dispatcher: agentWith({ cert: apiserverClient() }),
      });
      expect(res.statusCode).toBe(200);
      let seen = '';
      for await (const chunk of res.body) {
        seen += chunk;
        if (seen.includes('line 2\n')) break; // leaves the loop: destroys the body, like Ctrl-C on kubectl logs -f
      }
      expect(seen).toBe('line 1\nline 2\n');
      await closed;
      expect(up.closedFollows).toBe(before + 1);
      expect(up.logRequests).toMatchObject([{ Opts: { Follow: true, Tail: 2 } }]);
    });
  });

  it('/pods lists the informer cache as a PodList', async () => {
    const res = await get('/pods');
    const body = JSON.parse(res.text);
    expect(body).toMatchObject({ kind: 'PodList', apiVersion: 'v1' });
    expect(body.items.map((p: KPod) => p.metadata?.name)).toEqual(['web', 'old']);
  });

  it('/runningpods/ lists only running pods, trimmed', async () => {
    const body = JSON.parse((await get('/runningpods/')).text);
    expect(body.items).toEqual([
      {
        metadata: { name: 'web', namespace: 'team', uid: '1111-2222' },
        spec: { containers: [{ name: 'main', image: 'busybox' }] },
        status: {},
      },
    ]);
  });

  it('/stats/summary is a well-formed empty summary when the API has no stats', async () => {
    const res = await get('/stats/summary');
    expect(res.status).toBe(200);
    expect(JSON.parse(res.text)).toEqual({
      node: { nodeName: NODE, startTime: '2026-01-01T00:00:00Z' },
      pods: [],
    });
  });

  it("/stats/summary carries the plugin's pods when it has them", async () => {
    up.stats = 'summary';
    const body = JSON.parse((await get('/stats/summary')).text);
    expect(body.node.nodeName).toBe(NODE);
    expect(body.pods).toEqual([{ podRef: { name: 'web', namespace: 'team', uid: '1111-2222' } }]);
  });

  it('/metrics/resource (nodes/metrics) renders the summary as kubelet resource metrics', async () => {
    const res = await get('/metrics/resource', { agent: agentWith(), token: 'good-token' });
    expect(res.status).toBe(200);
    expect(res.text).toContain('# TYPE container_cpu_usage_seconds_total counter');
    expect(res.text).toContain('scrape_error 0');
  });

  it.each([
    ['POST', '/exec/team/web/main?command=sh&stdin=true&stdout=true&tty=true', 'exec'],
    ['POST', '/attach/team/web/main?stdout=true', 'attach'],
    ['POST', '/portForward/team/web', 'portForward'],
    ['POST', '/run/team/web/main', 'run'],
  ] as const)(
    '%s %s → 501 "not supported" as a Status, even as an SPDY upgrade',
    async (method, path, what) => {
      // The apiserver asks for an SPDY upgrade (undici refuses to send one): node:https does.
      const res = await new Promise<{ status: number; text: string }>((resolve, reject) => {
        const req = httpsRequest(`${base}${path}`, {
          method,
          ca: ca.cert,
          ...apiserverClient(),
          headers: {
            connection: 'Upgrade',
            upgrade: 'SPDY/3.1',
            'x-stream-protocol-version': 'v4.channel.k8s.io',
          },
        });
        req.on('upgrade', () => reject(new Error('the kubelet API must not upgrade')));
        req.on('response', async (r) => {
          let text = '';
          for await (const chunk of r) text += chunk;
          resolve({ status: r.statusCode ?? 0, text });
        });
        req.on('error', reject);
        req.end();
      });
      expect(res.status).toBe(501);
      const status = JSON.parse(res.text);
      expect(status).toMatchObject({
        kind: 'Status',
        status: 'Failure',
        code: 501,
        reason: 'NotImplemented',
      });
      expect(status.message).toContain(
        `${what} is not supported by the interLink virtual kubelet (node ${NODE})`,
      );
    },
  );

  it('rotates the serving certificate without a restart', async () => {
    const next = await makeCa('next-ca');
    const serving = await next.issue({ cn: `system:node:${NODE}`, dns: ['localhost'], usage: 'server' });
    (app.server as unknown as import('node:tls').Server).setSecureContext({ ...serving, ca: ca.cert });
    const a = new Agent({ connect: { ca: next.cert, servername: 'localhost', ...apiserverClient() } });
    agents.push(a);
    const res = await get('/healthz', { agent: a });
    expect(res.status).toBe(200);
    // The old CA no longer validates the server.
    await expect(get('/healthz', { agent: agentWith({ cert: apiserverClient() }) })).rejects.toThrow();
  });
});
