/**
 * The VK's kubeconfig loader (src/vk/kubeconfig.ts) and connection (src/vk/kube-connection.ts):
 * kubeconfig fixtures, table-driven; the token-file and exec-credential life cycles with an
 * injected clock; and real requests over TLS (a local https server that checks the client
 * certificate and the bearer token), through a local CONNECT proxy, and with real exec
 * plugins (small node scripts).
 */
import { once } from 'node:events';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer as createHttpServer } from 'node:http';
import { createServer, type Server } from 'node:https';
import { type AddressInfo, connect as netConnect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { codeOf, ErrorCode } from '../../src/errors/index.ts';
import { connectKube, KubeApiError, kubeRequest } from '../../src/vk/kube.ts';
import { execInfo, KubeConnection, parseExecCredential, spawnExec } from '../../src/vk/kube-connection.ts';
import {
  type ExecConfig,
  inClusterTarget,
  type KubeTarget,
  parseKubeconfig,
  readKubeconfigs,
  resolveTarget,
} from '../../src/vk/kubeconfig.ts';
import { type Ca, makeCa, type Pair } from './kubelet/tls-fixtures.ts';

const b64 = (s: string) => Buffer.from(s).toString('base64');

function kubeconfig(o: {
  clusters?: object[];
  users?: object[];
  contexts?: object[];
  current?: string;
}): string {
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: o.clusters ?? [{ name: 'c', cluster: { server: 'https://k8s.example:6443' } }],
    users: o.users ?? [{ name: 'u', user: { token: 'tok' } }],
    contexts: o.contexts ?? [{ name: 'ctx', context: { cluster: 'c', user: 'u' } }],
    ...(o.current === '' ? {} : { 'current-context': o.current ?? 'ctx' }),
  });
}

const user = (u: object) => kubeconfig({ users: [{ name: 'u', user: u }] });
const cluster = (c: object) =>
  kubeconfig({ clusters: [{ name: 'c', cluster: { server: 'https://k8s.example:6443', ...c } }] });

describe('resolveTarget: what a kubeconfig says', () => {
  const exec = {
    apiVersion: 'client.authentication.k8s.io/v1',
    command: './bin/get-token',
    args: ['--cluster', 'x'],
    env: [{ name: 'REGION', value: 'eu' }],
    provideClusterInfo: true,
    interactiveMode: 'Never',
  };
  const cases: Array<[string, string, (t: KubeTarget) => void]> = [
    ['a bearer token', user({ token: 'tok\n' }), (t) => expect(t.auth).toEqual({ token: 'tok' })],
    [
      'a token file, relative to the kubeconfig',
      user({ tokenFile: 'secrets/token' }),
      (t) => expect(t.auth).toEqual({ tokenFile: '/etc/kube/secrets/token' }),
    ],
    [
      "client-node's token-file spelling",
      user({ 'token-file': '/run/token' }),
      (t) => expect(t.auth).toEqual({ tokenFile: '/run/token' }),
    ],
    [
      'inline client certificate and key, CA data',
      kubeconfig({
        clusters: [
          {
            name: 'c',
            cluster: { server: 'https://k8s.example:6443/', 'certificate-authority-data': b64('CA') },
          },
        ],
        users: [
          { name: 'u', user: { 'client-certificate-data': b64('CERT'), 'client-key-data': b64('KEY') } },
        ],
      }),
      (t) => {
        expect(t.server).toBe('https://k8s.example:6443');
        expect(t.tls).toEqual({
          ca: { data: 'CA' },
          cert: { data: 'CERT' },
          key: { data: 'KEY' },
          insecure: false,
        });
        expect(t.auth).toEqual({});
        expect(t.clusterInfo).toEqual({
          server: 'https://k8s.example:6443',
          'certificate-authority-data': b64('CA'),
        });
      },
    ],
    [
      'certificate files, relative and absolute',
      kubeconfig({
        clusters: [
          { name: 'c', cluster: { server: 'https://k8s.example', 'certificate-authority': 'pki/ca.crt' } },
        ],
        users: [{ name: 'u', user: { 'client-certificate': '/abs/u.crt', 'client-key': 'u.key' } }],
      }),
      (t) =>
        expect(t.tls).toEqual({
          ca: { file: '/etc/kube/pki/ca.crt' },
          cert: { file: '/abs/u.crt' },
          key: { file: '/etc/kube/u.key' },
          insecure: false,
        }),
    ],
    [
      'insecure-skip-tls-verify drops the CA; tls-server-name; proxy-url',
      cluster({
        'insecure-skip-tls-verify': true,
        'certificate-authority-data': b64('CA'),
        'tls-server-name': 'kubernetes',
        'proxy-url': 'http://proxy:3128',
      }),
      (t) => {
        expect(t.tls).toEqual({ insecure: true, serverName: 'kubernetes' });
        expect(t.proxyUrl).toBe('http://proxy:3128');
      },
    ],
    [
      'username and password, impersonation',
      user({ username: 'admin', password: 'pw', as: 'jane', 'as-groups': ['devs', 'ops'] }),
      (t) =>
        expect(t.auth).toEqual({
          username: 'admin',
          password: 'pw',
          impersonate: 'jane',
          impersonateGroups: ['devs', 'ops'],
        }),
    ],
    [
      'an exec plugin (v1): a command with a slash is relative to the kubeconfig',
      user({ exec }),
      (t) =>
        expect(t.auth.exec).toEqual({
          ...exec,
          command: '/etc/kube/bin/get-token',
          installHint: undefined,
        }),
    ],
    [
      'an exec plugin (v1beta1) on the PATH',
      user({
        exec: {
          apiVersion: 'client.authentication.k8s.io/v1beta1',
          command: 'aws',
          args: ['eks', 'get-token'],
        },
      }),
      (t) =>
        expect(t.auth.exec).toMatchObject({
          command: 'aws',
          args: ['eks', 'get-token'],
          env: [],
          provideClusterInfo: false,
        }),
    ],
    [
      'a context without a user',
      kubeconfig({ contexts: [{ name: 'ctx', context: { cluster: 'c' } }] }),
      (t) => expect(t.auth).toEqual({}),
    ],
  ];
  it.each(cases)('%s', (_name, text, check) => {
    check(resolveTarget(parseKubeconfig(text, '/etc/kube/config')));
  });

  const errors: Array<[string, string, RegExp, string?]> = [
    ['no current-context', kubeconfig({ current: '' }), /no current-context/],
    ['an unknown context', kubeconfig({}), /no context "other"/, 'other'],
    [
      'a context naming no cluster',
      kubeconfig({ contexts: [{ name: 'ctx', context: { cluster: 'x', user: 'u' } }] }),
      /no cluster "x"/,
    ],
    [
      'a context naming no user',
      kubeconfig({ contexts: [{ name: 'ctx', context: { cluster: 'c', user: 'x' } }] }),
      /no user "x"/,
    ],
    [
      'a cluster without server',
      kubeconfig({ clusters: [{ name: 'c', cluster: {} }] }),
      /cluster.server is missing/,
    ],
    ['a server that is no URL', cluster({ server: 'k8s:6443:x' }), /cluster.server/],
    [
      'an auth-provider',
      user({ 'auth-provider': { name: 'oidc', config: {} } }),
      /auth-provider oidc is not supported.*exec/,
    ],
    ['a socks proxy', cluster({ 'proxy-url': 'socks5://p:1080' }), /socks proxies are not supported/],
    [
      'an exec plugin of another version',
      user({ exec: { apiVersion: 'client.authentication.k8s.io/v1alpha1', command: 'x' } }),
      /exec.apiVersion/,
    ],
    [
      'an exec plugin without command',
      user({ exec: { apiVersion: 'client.authentication.k8s.io/v1' } }),
      /exec.command is missing/,
    ],
    ['a certificate without key', user({ 'client-certificate-data': b64('C') }), /go together/],
    ['a list that is not one', stringify({ clusters: { c: 1 } }), /clusters must be a list/],
    ['a nameless entry', stringify({ users: [{ user: {} }] }), /users\[0\].name is missing/],
    ['not YAML', 'a: [', /not YAML/],
  ];
  it.each(errors)('refuses %s with INVALID_INPUT', (_name, text, message, context) => {
    let err: unknown;
    try {
      resolveTarget(parseKubeconfig(text, '/etc/kube/config'), context);
    } catch (e) {
      err = e;
    }
    expect(codeOf(err)).toBe(ErrorCode.INVALID_INPUT);
    expect((err as Error).message).toMatch(message);
  });
});

describe('readKubeconfigs: KUBECONFIG lists and --context', () => {
  const files: Record<string, string> = {
    '/a/config': kubeconfig({
      clusters: [{ name: 'c', cluster: { server: 'https://a.example' } }],
      users: [{ name: 'u', user: { tokenFile: 'tok' } }],
      contexts: [{ name: 'ctx', context: { cluster: 'c', user: 'u' } }],
      current: 'ctx',
    }),
    '/b/config': kubeconfig({
      clusters: [
        { name: 'c', cluster: { server: 'https://b.example' } },
        { name: 'd', cluster: { server: 'https://d.example' } },
      ],
      users: [{ name: 'v', user: { tokenFile: 'tok' } }],
      contexts: [{ name: 'other', context: { cluster: 'd', user: 'v' } }],
      current: 'other',
    }),
  };
  const read = (p: string) => {
    const text = files[p];
    if (text === undefined) throw Object.assign(new Error(`ENOENT: ${p}`), { code: 'ENOENT' });
    return text;
  };
  const cases: Array<
    [string, string, string | undefined, { server: string; context: string; tokenFile: string }]
  > = [
    [
      'one file',
      '/a/config',
      undefined,
      { server: 'https://a.example', context: 'ctx', tokenFile: '/a/tok' },
    ],
    [
      'the first file wins names and current-context',
      '/a/config:/b/config',
      undefined,
      { server: 'https://a.example', context: 'ctx', tokenFile: '/a/tok' },
    ],
    [
      'the other order',
      '/b/config:/a/config',
      undefined,
      { server: 'https://d.example', context: 'other', tokenFile: '/b/tok' },
    ],
    [
      '--context picks a context of a later file, paths relative to it',
      '/a/config:/b/config',
      'other',
      { server: 'https://d.example', context: 'other', tokenFile: '/b/tok' },
    ],
    [
      'a missing file of a list is skipped',
      '/missing:/b/config',
      undefined,
      { server: 'https://d.example', context: 'other', tokenFile: '/b/tok' },
    ],
  ];
  it.each(cases)('%s', (_name, spec, context, want) => {
    const t = resolveTarget(readKubeconfigs(spec, read), context);
    expect({ server: t.server, context: t.context, tokenFile: t.auth.tokenFile }).toEqual(want);
  });

  it('refuses a missing file named alone', () => {
    expect(() => readKubeconfigs('/missing', read)).toThrow(/kubeconfig \/missing: ENOENT/);
  });
});

describe('inClusterTarget', () => {
  it.each([
    ['10.96.0.1', '443', 'https://10.96.0.1:443'],
    ['fd00::1', '443', 'https://[fd00::1]:443'],
  ])('%s:%s → %s, with the service account CA and token file', (host, port, server) => {
    const t = inClusterTarget({ KUBERNETES_SERVICE_HOST: host, KUBERNETES_SERVICE_PORT: port }, '/sa');
    expect(t).toMatchObject({
      server,
      tls: { ca: { file: '/sa/ca.crt' }, insecure: false },
      auth: { tokenFile: '/sa/token' },
    });
  });

  it('needs both variables', () => {
    expect(() => inClusterTarget({ KUBERNETES_SERVICE_HOST: 'h' })).toThrow(/KUBERNETES_SERVICE_PORT/);
  });
});

const target = (auth: KubeTarget['auth'], extra: Partial<KubeTarget> = {}): KubeTarget => ({
  context: 'ctx',
  server: 'https://k8s.example',
  tls: { insecure: false },
  auth,
  clusterInfo: { server: 'https://k8s.example' },
  ...extra,
});
const url = new URL('https://k8s.example/api');

describe('KubeConnection credentials', () => {
  it.each([
    ['a token', { token: 't' }, { authorization: 'Bearer t' }],
    ['basic auth', { username: 'a', password: 'b' }, { authorization: `Basic ${b64('a:b')}` }],
    [
      'impersonation',
      { token: 't', impersonate: 'jane', impersonateGroups: ['x', 'y'] },
      { authorization: 'Bearer t', 'impersonate-user': 'jane', 'impersonate-group': 'x,y' },
    ],
    ['nothing', {}, {}],
  ])('%s', async (_name, auth, headers) => {
    const kc = new KubeConnection(target(auth));
    expect((await kc.prepare('GET', url)).headers).toEqual(headers);
  });

  it('re-reads a token file once it is a minute old (the service account token rotates)', async () => {
    let now = 0;
    let token = 'one\n';
    let reads = 0;
    const kc = new KubeConnection(target({ tokenFile: '/sa/token' }), {
      now: () => now,
      readText: async () => {
        reads++;
        return token;
      },
    });
    const auth = async () => (await kc.prepare('GET', url)).headers.authorization;
    expect(await auth()).toBe('Bearer one');
    token = 'two';
    now = 59_000;
    expect(await auth()).toBe('Bearer one');
    now = 60_000;
    expect(await auth()).toBe('Bearer two');
    expect(reads).toBe(2);
    // A 401 forces a fresh read.
    token = 'three';
    kc.unauthorized();
    expect(await auth()).toBe('Bearer three');
  });

  it('runs an exec plugin once for concurrent requests, again when the credential expired or after a 401', async () => {
    let now = Date.parse('2026-12-04T10:00:00Z');
    const runs: string[] = [];
    const execCfg: ExecConfig = {
      apiVersion: 'client.authentication.k8s.io/v1',
      command: 'x',
      args: [],
      env: [],
      provideClusterInfo: true,
      interactiveMode: undefined,
      installHint: undefined,
    };
    const kc = new KubeConnection(target({ exec: execCfg }), {
      now: () => now,
      runExec: async (_cfg, info) => {
        runs.push(info);
        return JSON.stringify({
          apiVersion: 'client.authentication.k8s.io/v1',
          kind: 'ExecCredential',
          status: { token: `t${runs.length}`, expirationTimestamp: '2026-12-04T11:00:00Z' },
        });
      },
    });
    const auth = async () => (await kc.prepare('GET', url)).headers.authorization;
    expect(await Promise.all([auth(), auth(), auth()])).toEqual(['Bearer t1', 'Bearer t1', 'Bearer t1']);
    expect(JSON.parse(runs[0] as string)).toEqual({
      apiVersion: 'client.authentication.k8s.io/v1',
      kind: 'ExecCredential',
      spec: { interactive: false, cluster: { server: 'https://k8s.example' } },
    });
    now = Date.parse('2026-12-04T10:59:59Z');
    expect(await auth()).toBe('Bearer t1');
    now = Date.parse('2026-12-04T11:00:00Z');
    expect(await auth()).toBe('Bearer t2');
    kc.unauthorized();
    expect(await auth()).toBe('Bearer t3');
  });

  it.each([
    ['no JSON', 'oops', /no JSON/],
    [
      'another version',
      JSON.stringify({
        apiVersion: 'client.authentication.k8s.io/v1beta1',
        kind: 'ExecCredential',
        status: { token: 't' },
      }),
      /not client.authentication.k8s.io\/v1\/ExecCredential/,
    ],
    [
      'no credential',
      JSON.stringify({ apiVersion: 'client.authentication.k8s.io/v1', kind: 'ExecCredential', status: {} }),
      /neither a token nor a client certificate/,
    ],
    [
      'a certificate without key',
      JSON.stringify({
        apiVersion: 'client.authentication.k8s.io/v1',
        kind: 'ExecCredential',
        status: { clientCertificateData: 'C' },
      }),
      /without clientKeyData/,
    ],
  ])('refuses an exec answer with %s', (_name, out, message) => {
    expect(() => parseExecCredential(out, 'client.authentication.k8s.io/v1')).toThrow(message);
  });

  it('refuses an interactive-only exec plugin and unreadable certificate files at start', () => {
    const execCfg: ExecConfig = {
      apiVersion: 'client.authentication.k8s.io/v1',
      command: 'x',
      args: [],
      env: [],
      provideClusterInfo: false,
      interactiveMode: 'Always',
      installHint: undefined,
    };
    expect(() => new KubeConnection(target({ exec: execCfg }))).toThrow(/interactiveMode Always/);
    expect(
      () => new KubeConnection(target({}, { tls: { ca: { file: '/nonexistent/ca.crt' }, insecure: false } })),
    ).toThrow(/cannot read certificate-authority \/nonexistent\/ca.crt/);
  });
});

describe('real requests: TLS, client certificates, exec plugins', () => {
  let dir: string;
  let ca: Ca;
  let client: Pair;
  let server: Server;
  let port: number;
  const seen: Array<{ cn: string | undefined; authorization: string | undefined; path: string | undefined }> =
    [];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'vk-kubeconfig-'));
    ca = await makeCa('apiserver-ca');
    const serving = await ca.issue({
      cn: 'kube-apiserver',
      ips: ['127.0.0.1'],
      dns: ['kubernetes'],
      usage: 'server',
    });
    client = await ca.issue({ cn: 'vk-user', usage: 'client' });
    server = createServer(
      { cert: serving.cert, key: serving.key, ca: ca.cert, requestCert: true, rejectUnauthorized: false },
      (req, res) => {
        const peer = (req.socket as TLSSocket).getPeerCertificate();
        const cn = (req.socket as TLSSocket).authorized
          ? (peer.subject?.CN as string | undefined)
          : undefined;
        seen.push({ cn, authorization: req.headers.authorization, path: req.url });
        if (!cn && !req.headers.authorization) {
          res.writeHead(401, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ kind: 'Status', reason: 'Unauthorized', message: 'Unauthorized' }));
          return;
        }
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ kind: 'Node', metadata: { name: 'n' } }));
      },
    );
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    port = (server.address() as AddressInfo).port;
    await writeFile(join(dir, 'ca.crt'), ca.cert);
    await writeFile(join(dir, 'client.crt'), client.cert);
    await writeFile(join(dir, 'client.key'), client.key);
    await writeFile(join(dir, 'token'), 'file-token\n');
  });
  afterAll(async () => {
    server?.close();
    await rm(dir, { recursive: true, force: true });
  });

  async function exec(name: string, body: string): Promise<string> {
    const file = join(dir, name);
    await writeFile(file, `#!${process.execPath}\n${body}\n`);
    await chmod(file, 0o755);
    return file;
  }

  async function call(config: string, context?: string) {
    const file = join(dir, `config-${seen.length}`);
    await writeFile(file, config);
    const kc = connectKube({ kubeconfig: file, context }, {});
    try {
      return await kubeRequest<{ metadata: { name: string } }>(kc, {
        method: 'GET',
        path: '/api/v1/nodes/n',
      });
    } finally {
      await kc.close();
    }
  }

  const srv = () => `https://127.0.0.1:${port}`;

  it('client certificate files and the CA file, paths relative to the kubeconfig', async () => {
    const cfg = kubeconfig({
      clusters: [{ name: 'c', cluster: { server: srv(), 'certificate-authority': 'ca.crt' } }],
      users: [{ name: 'u', user: { 'client-certificate': 'client.crt', 'client-key': 'client.key' } }],
    });
    expect((await call(cfg)).metadata.name).toBe('n');
    expect(seen.at(-1)).toEqual({ cn: 'vk-user', authorization: undefined, path: '/api/v1/nodes/n' });
  });

  it('inline data, tls-server-name, and a token file', async () => {
    const cfg = kubeconfig({
      clusters: [
        {
          name: 'c',
          cluster: {
            server: srv(),
            'certificate-authority-data': b64(ca.cert),
            'tls-server-name': 'kubernetes',
          },
        },
      ],
      users: [
        {
          name: 'u',
          user: {
            'client-certificate-data': b64(client.cert),
            'client-key-data': b64(client.key),
            tokenFile: 'token',
          },
        },
      ],
    });
    await call(cfg);
    expect(seen.at(-1)).toMatchObject({ cn: 'vk-user', authorization: 'Bearer file-token' });
  });

  it('refuses a server whose certificate the CA did not sign, unless insecure-skip-tls-verify', async () => {
    const other = await makeCa('other');
    const users = [{ name: 'u', user: { token: 'tok' } }];
    await expect(
      call(
        kubeconfig({
          clusters: [
            { name: 'c', cluster: { server: srv(), 'certificate-authority-data': b64(other.cert) } },
          ],
          users,
        }),
      ),
    ).rejects.toThrow();
    await call(
      kubeconfig({
        clusters: [{ name: 'c', cluster: { server: srv(), 'insecure-skip-tls-verify': true } }],
        users,
      }),
    );
    expect(seen.at(-1)).toMatchObject({ cn: undefined, authorization: 'Bearer tok' });
  });

  it('discard: a success resolves with nothing, an error answer still throws with its status', async () => {
    const cluster = { name: 'c', cluster: { server: srv(), 'insecure-skip-tls-verify': true } };
    const discarded = async (user: Record<string, unknown>) => {
      const file = join(dir, `config-discard-${seen.length}`);
      await writeFile(file, kubeconfig({ clusters: [cluster], users: [{ name: 'u', user }] }));
      const kc = connectKube({ kubeconfig: file }, {});
      try {
        return await kubeRequest(kc, { method: 'DELETE', path: '/api/v1/nodes/n', discard: true });
      } finally {
        await kc.close();
      }
    };
    expect(await discarded({ token: 'tok' })).toBeUndefined();
    expect(seen.at(-1)).toMatchObject({ authorization: 'Bearer tok', path: '/api/v1/nodes/n' });
    const err = await discarded({}).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KubeApiError);
    expect(err).toMatchObject({ code: 401, reason: 'Unauthorized' });
  });

  it('proxy-url: an http proxy tunnels the TLS connection (CONNECT)', async () => {
    const tunnels: string[] = [];
    const proxy = createHttpServer();
    proxy.on('connect', (req, socket: Socket, head) => {
      tunnels.push(req.url ?? '');
      const [host, p] = (req.url ?? '').split(':');
      const upstream = netConnect(Number(p), host, () => {
        socket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
        upstream.write(head);
        upstream.pipe(socket);
        socket.pipe(upstream);
      });
      upstream.on('error', () => socket.destroy());
      socket.on('error', () => upstream.destroy());
    });
    proxy.listen(0, '127.0.0.1');
    await once(proxy, 'listening');
    try {
      const proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
      const cfg = kubeconfig({
        clusters: [
          { name: 'c', cluster: { server: srv(), 'certificate-authority': 'ca.crt', 'proxy-url': proxyUrl } },
        ],
        users: [{ name: 'u', user: { token: 'via-proxy' } }],
      });
      await call(cfg);
      expect(tunnels).toEqual([`127.0.0.1:${port}`]);
      expect(seen.at(-1)).toMatchObject({ authorization: 'Bearer via-proxy' });
    } finally {
      proxy.close();
      proxy.closeAllConnections();
    }
  });

  it('an apiserver error is a KubeApiError with the status code', async () => {
    const cfg = kubeconfig({
      clusters: [{ name: 'c', cluster: { server: srv(), 'insecure-skip-tls-verify': true } }],
      users: [{ name: 'u', user: {} }],
    });
    const err = await call(cfg).catch((e) => e);
    expect(err).toBeInstanceOf(KubeApiError);
    expect(err).toMatchObject({ code: 401, reason: 'Unauthorized' });
  });

  it.each(['client.authentication.k8s.io/v1', 'client.authentication.k8s.io/v1beta1'])(
    'exec plugin %s: token, with its env and KUBERNETES_EXEC_INFO',
    async (apiVersion) => {
      const plugin = await exec(
        `token-${apiVersion.split('/')[1]}`,
        `const info = JSON.parse(process.env.KUBERNETES_EXEC_INFO);
process.stdout.write(JSON.stringify({ apiVersion: info.apiVersion, kind: 'ExecCredential',
  status: { token: process.env.PREFIX + '-' + process.argv[2] + '-' + info.spec.cluster.server } }));`,
      );
      const cfg = kubeconfig({
        clusters: [{ name: 'c', cluster: { server: srv(), 'certificate-authority': 'ca.crt' } }],
        users: [
          {
            name: 'u',
            user: {
              exec: {
                apiVersion,
                command: plugin,
                args: ['arg'],
                env: [{ name: 'PREFIX', value: 'p' }],
                provideClusterInfo: true,
              },
            },
          },
        ],
      });
      await call(cfg);
      expect(seen.at(-1)).toMatchObject({ cn: undefined, authorization: `Bearer p-arg-${srv()}` });
    },
  );

  it('exec plugin: a client certificate', async () => {
    const plugin = await exec(
      'cert',
      `process.stdout.write(JSON.stringify({ apiVersion: 'client.authentication.k8s.io/v1', kind: 'ExecCredential',
  status: { clientCertificateData: ${JSON.stringify(client.cert)}, clientKeyData: ${JSON.stringify(client.key)} } }));`,
    );
    const cfg = kubeconfig({
      clusters: [{ name: 'c', cluster: { server: srv(), 'certificate-authority': 'ca.crt' } }],
      users: [
        { name: 'u', user: { exec: { apiVersion: 'client.authentication.k8s.io/v1', command: plugin } } },
      ],
    });
    await call(cfg);
    expect(seen.at(-1)).toMatchObject({ cn: 'vk-user', authorization: undefined });
  });

  it('exec plugin failures name the command, its stderr and the install hint', async () => {
    const failing = await exec('fail', `process.stderr.write('no session'); process.exit(3);`);
    const cfg = (command: string) => ({
      apiVersion: 'client.authentication.k8s.io/v1' as const,
      command,
      args: [],
      env: [],
      provideClusterInfo: false,
      interactiveMode: undefined,
      installHint: 'install it from the cloud console',
    });
    await expect(spawnExec(cfg(failing), execInfo(cfg(failing), {}))).rejects.toThrow(
      /fail exited 3: no session/,
    );
    await expect(spawnExec(cfg('/nonexistent/plugin'), '{}')).rejects.toThrow(
      /ENOENT.*install it from the cloud console/,
    );
  });
});
