/**
 * Exec, attach and port-forward through the layers, with real processes' code but no
 * cluster: a client speaking SPDY/3.1 (as the apiserver) or a WebSocket (as a direct client)
 * to the kubelet API → the real interLink API → the real mock plugin.
 */
import { once } from 'node:events';
import { request as httpRequest } from 'node:http';
import type { Socket } from 'node:net';
import { join } from 'node:path';
import { createDeflate, constants as zc } from 'node:zlib';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { listenOn } from '../../../../src/core/http-server.ts';
import { silentLogger } from '../../../../src/core/logger.ts';
import { VkConfigSchema } from '../../../../src/vk/config.ts';
import type { Authorizer } from '../../../../src/vk/kubelet/auth.ts';
import { buildKubeletApp } from '../../../../src/vk/kubelet/server.ts';
import { createStreamClient } from '../../../../src/vk/kubelet/streams/client.ts';
import {
  decodeHeaderBlock,
  encodeFrame,
  encodeHeaderBlock,
  FLAG_FIN,
  type Frame,
  FrameParser,
  HeaderDecompressor,
} from '../../../../src/vk/kubelet/streams/spdy.ts';
import { SPDY3_DICTIONARY } from '../../../../src/vk/kubelet/streams/spdy-dictionary.ts';
import type { KPod } from '../../../../src/vk/pods/kpod.ts';
import {
  type ApiUnderTest,
  startApi,
  startMock,
  TOKEN,
  tempDir,
  writeTokenFile,
} from '../../../api/harness.ts';

const UID = 'aaaa-1111';
const pod: KPod = {
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name: 'web', namespace: 'team', uid: UID },
  spec: { containers: [{ name: 'main', image: 'busybox' }] },
  status: { phase: 'Running' },
};

const allowAll: Authorizer = {
  authenticate: async () => ({ username: 'system:apiserver', groups: [] }),
  authorize: async () => {},
};

let kubeletPort: number;
let api: ApiUnderTest;
let cleanup: () => Promise<void>;

beforeAll(async () => {
  const logger = silentLogger();
  const t = await tempDir('vk-streams-');
  const pluginSocket = join(t.dir, 'plugin.sock');
  const mock = await startMock(pluginSocket, logger, { startDelay: '0s' });
  await mock.mock.create({ pod: pod as never, container: [] }, {} as never);
  const tokenFile = await writeTokenFile(t.dir);
  api = await startApi({ listen: 'tcp', pluginSocket, logger, overrides: { 'auth.tokenFile': tokenFile } });
  const vkToken = join(t.dir, 'vk-token');
  await (await import('node:fs/promises')).writeFile(vkToken, TOKEN);
  const apiUrl = new URL(api.url);
  const config = VkConfigSchema.parse({
    nodeName: 'vk-streams',
    interlinkUrl: api.url,
    vkTokenFile: vkToken,
  });
  const app = buildKubeletApp({
    deps: {
      config,
      logger,
      interlink: {} as never,
      pods: { list: () => [pod], get: (ns, n) => (ns === 'team' && n === 'web' ? pod : undefined) },
      registry: new Registry(),
    },
    authorizer: allowAll,
    startTime: new Date(),
    streams: createStreamClient({
      endpoint: { kind: 'tcp', protocol: 'http', host: '127.0.0.1', port: Number(apiUrl.port) },
      tokenFile: vkToken,
    }),
  });
  const where = await listenOn(app, { kind: 'tcp', protocol: 'http', host: '127.0.0.1', port: 0 });
  kubeletPort = Number(new URL(where).port);
  cleanup = async () => {
    await app.close();
    await api.close();
    await mock.close();
    await t.cleanup();
  };
});

afterAll(async () => cleanup?.());

/** A WebSocket client of the kubelet API: channel bytes collected per channel. */
async function wsExec(path: string, protocol: string, send: (ws: WebSocket) => void = () => {}) {
  const ws = new WebSocket(`ws://127.0.0.1:${kubeletPort}${path}`, [protocol]);
  const got = new Map<number, Buffer[]>();
  ws.on('message', (d: Buffer) => {
    const list = got.get(d[0]!) ?? [];
    list.push(d.subarray(1));
    got.set(d[0]!, list);
  });
  await once(ws, 'open');
  send(ws);
  await once(ws, 'close');
  const text = (ch: number) => Buffer.concat(got.get(ch) ?? []).toString();
  return { text, status: () => JSON.parse(text(3)) };
}

describe('exec over WebSocket (direct client)', () => {
  it.each(['v5.channel.k8s.io', 'v4.channel.k8s.io'])('%s: output, then a Success status', async (proto) => {
    const r = await wsExec('/exec/team/web/main?command=echo&command=hello%20world&stdout=1&stderr=1', proto);
    expect(r.text(1)).toBe('hello world\n');
    expect(r.status()).toMatchObject({ status: 'Success' });
  });

  it('v5: stdin to the process until the client closes it; a non-zero exit code', async () => {
    const r = await wsExec('/exec/team/web/main?command=cat&stdin=1&stdout=1', 'v5.channel.k8s.io', (ws) => {
      ws.send(Buffer.from([0, ...Buffer.from('line 1\n')]));
      ws.send(Buffer.from([0, ...Buffer.from('line 2\n')]));
      ws.send(Buffer.from([255, 0]));
    });
    expect(r.text(1)).toBe('line 1\nline 2\n');
    const exit = await wsExec('/exec/team/web/main?command=exit&command=3&stdout=1', 'v5.channel.k8s.io');
    expect(exit.status()).toMatchObject({
      status: 'Failure',
      reason: 'NonZeroExitCode',
      details: { causes: [{ reason: 'ExitCode', message: '3' }] },
    });
  });
});

/** Upgrade to SPDY as the apiserver does; returns the socket and the answer's status line and headers. */
async function spdyUpgrade(path: string, protocols: string[]) {
  const req = httpRequest({
    host: '127.0.0.1',
    port: kubeletPort,
    path,
    method: 'POST',
    headers: { Connection: 'Upgrade', Upgrade: 'SPDY/3.1', 'X-Stream-Protocol-Version': protocols },
  });
  req.end();
  return new Promise<{ socket?: Socket; status: number; headers: Record<string, unknown>; body?: string }>(
    (resolve) => {
      req.on('upgrade', (res, socket) => resolve({ socket, status: res.statusCode!, headers: res.headers }));
      req.on('response', async (res) => {
        let body = '';
        for await (const c of res) body += c;
        resolve({ status: res.statusCode!, headers: res.headers, body });
      });
    },
  );
}

/** The apiserver's side of a SPDY session, enough for the tests. */
class SpdyClient {
  readonly parser = new FrameParser();
  readonly frames: Frame[] = [];
  readonly deflate = createDeflate({ dictionary: SPDY3_DICTIONARY });
  readonly inflate = new HeaderDecompressor();
  next = 1;
  closed: Promise<unknown>;
  #waiters: Array<() => void> = [];
  readonly sock: Socket;
  constructor(sock: Socket) {
    this.sock = sock;
    sock.on('data', (c: Buffer) => {
      this.frames.push(...this.parser.push(c));
      for (const w of this.#waiters.splice(0)) w();
    });
    this.closed = once(sock, 'close');
  }
  async open(headers: Record<string, string>): Promise<number> {
    const id = this.next;
    this.next += 2;
    const out: Buffer[] = [];
    const onData = (c: Buffer) => out.push(c);
    this.deflate.on('data', onData);
    this.deflate.write(encodeHeaderBlock(headers));
    await new Promise<void>((r) => this.deflate.flush(zc.Z_SYNC_FLUSH, () => r()));
    this.deflate.off('data', onData);
    const headerBlock = Buffer.concat(out);
    this.sock.write(
      encodeFrame({
        type: 'syn_stream',
        streamId: id,
        associatedId: 0,
        priority: 0,
        slot: 0,
        flags: 0,
        headerBlock,
      }),
    );
    return id;
  }
  data(id: number, data: Buffer | string, fin = false): void {
    this.sock.write(
      encodeFrame({ type: 'data', streamId: id, flags: fin ? FLAG_FIN : 0, data: Buffer.from(data) }),
    );
  }
  async until(pred: () => boolean): Promise<void> {
    while (!pred()) await new Promise<void>((r) => this.#waiters.push(r));
  }
  received(id: number): string {
    return Buffer.concat(
      this.frames.flatMap((f) => (f.type === 'data' && f.streamId === id ? [f.data] : [])),
    ).toString();
  }
  finished(id: number): boolean {
    return this.frames.some((f) => f.type === 'data' && f.streamId === id && (f.flags & FLAG_FIN) !== 0);
  }
}

describe('exec over SPDY/3.1 (the apiserver)', () => {
  it('negotiates v4, wires stdin/stdout/stderr streams, reports the exit code as a Status', async () => {
    const up = await spdyUpgrade('/exec/team/web/main?command=cat&stdin=1&stdout=1&stderr=1', [
      'v4.channel.k8s.io',
      'v3.channel.k8s.io',
    ]);
    expect(up.status).toBe(101);
    expect(up.headers['x-stream-protocol-version']).toBe('v4.channel.k8s.io');
    const c = new SpdyClient(up.socket!);
    const error = await c.open({ streamType: 'error' });
    const stdin = await c.open({ streamType: 'stdin' });
    const stdout = await c.open({ streamType: 'stdout' });
    const stderr = await c.open({ streamType: 'stderr' });
    await c.until(() => c.frames.filter((f) => f.type === 'syn_reply').length === 4);
    for (const f of c.frames.filter((x) => x.type === 'syn_reply'))
      expect(
        decodeHeaderBlock(await c.inflate.decompress((f as { headerBlock: Buffer }).headerBlock)),
      ).toEqual({});
    const big = 'x'.repeat(200_000);
    c.data(stdin, 'first\n');
    c.data(stdin, big);
    c.data(stdin, '', true);
    await c.until(() => c.finished(error));
    expect(c.received(stdout)).toBe(`first\n${big}`);
    expect(c.finished(stdout) && c.finished(stderr)).toBe(true);
    expect(JSON.parse(c.received(error))).toMatchObject({ status: 'Success' });
    await c.closed;
  });

  it('v4: a non-zero exit → NonZeroExitCode with the ExitCode cause; v2: the text kubectl prints', async () => {
    for (const [proto, check] of [
      [
        'v4.channel.k8s.io',
        (s: string) => expect(JSON.parse(s).details.causes).toEqual([{ reason: 'ExitCode', message: '7' }]),
      ],
      ['v2.channel.k8s.io', (s: string) => expect(s).toBe('command terminated with non-zero exit code: 7')],
    ] as const) {
      const up = await spdyUpgrade('/exec/team/web/main?command=exit&command=7&stdout=1', [proto]);
      const c = new SpdyClient(up.socket!);
      const error = await c.open({ streamType: 'error' });
      await c.open({ streamType: 'stdout' });
      await c.until(() => c.finished(error));
      check(c.received(error));
      up.socket!.destroy();
    }
  });

  it('refuses unknown protocols (403 listing ours), unknown pods and containers (404)', async () => {
    const bad = await spdyUpgrade('/exec/team/web/main?command=echo&stdout=1', ['v9.channel.k8s.io']);
    expect(bad.status).toBe(403);
    expect(bad.headers['x-accepted-stream-protocol-versions']).toContain('v4.channel.k8s.io');
    const nopod = await spdyUpgrade('/exec/team/nope/main?command=echo&stdout=1', ['v4.channel.k8s.io']);
    expect(nopod.status).toBe(404);
    expect(JSON.parse(nopod.body!).message).toBe('pod "team/nope" does not exist on node vk-streams');
    const noctr = await spdyUpgrade('/exec/team/web/other?command=echo&stdout=1', ['v4.channel.k8s.io']);
    expect(noctr.status).toBe(404);
  });
});

describe('port-forward over WebSocket (direct client, v4.channel.k8s.io)', () => {
  it('one connection per port: the port first on both channels, then the bytes both ways', async () => {
    const ws = new WebSocket(`ws://127.0.0.1:${kubeletPort}/portForward/team/web?ports=8080&ports=9090`, [
      'v4.channel.k8s.io',
    ]);
    const got = new Map<number, Buffer[]>();
    const payloads = new Map([
      [0, Buffer.alloc(300_000, 'a')],
      [2, Buffer.alloc(200_000, 'b')],
    ]);
    const done = new Promise<void>((resolve) => {
      ws.on('message', (d: Buffer) => {
        const list = got.get(d[0]!) ?? [];
        list.push(Buffer.from(d.subarray(1)));
        got.set(d[0]!, list);
        const echoed = (ch: number) =>
          Buffer.concat((got.get(ch) ?? []).slice(1)).length >= payloads.get(ch)!.length;
        if (echoed(0) && echoed(2)) resolve();
      });
    });
    await once(ws, 'open');
    expect(ws.protocol).toBe('v4.channel.k8s.io');
    for (const [ch, data] of payloads)
      for (let i = 0; i < data.length; i += 32_768)
        ws.send(Buffer.concat([Buffer.from([ch]), data.subarray(i, i + 32_768)]));
    await done;
    ws.close();
    await once(ws, 'close');
    const le = (n: number) => [n & 0xff, n >> 8];
    expect([...got.get(0)![0]!]).toEqual(le(8080));
    expect([...got.get(1)![0]!]).toEqual(le(8080));
    expect([...got.get(2)![0]!]).toEqual(le(9090));
    expect([...got.get(3)![0]!]).toEqual(le(9090));
    for (const [ch, data] of payloads) expect(Buffer.concat(got.get(ch)!.slice(1)).equals(data)).toBe(true);
    expect(got.get(1)!.length).toBe(1);
    expect(got.get(3)!.length).toBe(1);
  });

  it.each([
    ['no ports', '/portForward/team/web', 'v4.channel.k8s.io', 400],
    ['a port out of range', '/portForward/team/web?ports=70000', 'v4.channel.k8s.io', 400],
    ['a port that is an option', '/portForward/team/web?ports=-1', 'v4.channel.k8s.io', 400],
    ['an unknown pod', '/portForward/team/ghost?ports=80', 'v4.channel.k8s.io', 404],
    ['no subprotocol of ours', '/portForward/team/web?ports=80', 'v5.channel.k8s.io', 400],
  ])('refuses %s', async (_what, path, protocol, status) => {
    const ws = new WebSocket(`ws://127.0.0.1:${kubeletPort}${path}`, [protocol]);
    ws.on('error', () => {});
    const [, res] = (await once(ws, 'unexpected-response')) as [unknown, { statusCode: number }];
    expect(res.statusCode).toBe(status);
    ws.terminate();
  });
});

describe('port-forward over SPDY/3.1', () => {
  it('pairs error and data streams by requestID and carries each connection both ways', async () => {
    const up = await spdyUpgrade('/portForward/team/web', ['portforward.k8s.io']);
    expect(up.status).toBe(101);
    const c = new SpdyClient(up.socket!);
    const conns: Array<{ error: number; data: number; payload: string }> = [];
    for (const rid of ['0', '1']) {
      const error = await c.open({ streamType: 'error', port: '8080', requestID: rid });
      c.data(error, '', true);
      const data = await c.open({ streamType: 'data', port: '8080', requestID: rid });
      conns.push({ error, data, payload: `${rid}:`.padEnd(100_000, rid) });
    }
    for (const k of conns) c.data(k.data, k.payload, true);
    await c.until(() => conns.every((k) => c.finished(k.data) && c.finished(k.error)));
    for (const k of conns) {
      expect(c.received(k.data)).toBe(k.payload);
      expect(c.received(k.error)).toBe('');
    }
    up.socket!.destroy();
  });
});

// Placed last on purpose: a session the client ended used to leave the server's side of the
// socket half-open (forgotten by the handler), which held the kubelet server's close() — and
// this file's cleanup — for ever once the session had been torn down before the cleanup ran.
describe('after a SPDY session', () => {
  it('the server ends its side when the client ends the connection (FIN), and the kubelet API still serves', async () => {
    for (const path of ['/portForward/team/web', '/exec/team/web/main?command=cat&stdin=1&stdout=1']) {
      const up = await spdyUpgrade(
        path,
        path.startsWith('/exec') ? ['v4.channel.k8s.io'] : ['portforward.k8s.io'],
      );
      expect(up.status).toBe(101);
      const c = new SpdyClient(up.socket!);
      await c.open(
        path.startsWith('/exec')
          ? { streamType: 'error' }
          : { streamType: 'error', port: '8080', requestID: '0' },
      );
      await c.until(() => c.frames.some((f) => f.type === 'syn_reply'));
      up.socket!.end();
      // Both sides closed: the server answered our FIN with its own.
      await c.closed;
    }
    const r = await wsExec('/exec/team/web/main?command=echo&command=still&stdout=1', 'v5.channel.k8s.io');
    expect(r.text(1)).toBe('still\n');
  });
});
