/**
 * Exec, attach and port-forward on the kubelet API, as a kubelet serves them:
 *
 *   /exec/{ns}/{pod}[/{uid}]/{container}?command=..&stdin=1&stdout=1&stderr=1&tty=0
 *   /attach/{ns}/{pod}[/{uid}]/{container}?stdin=..
 *   /portForward/{ns}/{pod}[/{uid}]
 *
 * upgraded to SPDY/3.1 (what the kube-apiserver dials, also when kubectl spoke WebSocket to
 * it) or, for exec/attach, to a WebSocket with `v5.channel.k8s.io`/`v4.channel.k8s.io` (clients
 * that reach the kubelet directly). The protocol is negotiated from `X-Stream-Protocol-Version`
 * as client-go's httpstream.Handshake does (first client choice the server supports; 403
 * listing ours when none). Each stream is relayed to the interLink API (client.ts); the
 * error stream carries the final metav1.Status (v4: JSON, older: its message as text).
 *
 * Authentication and authorization happen before this (server.ts). Limits: streams per
 * node and per pod (429 beyond), stream creation timeout, idle timeout.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { V1Pod } from '@kubernetes/client-node';
import { ChannelSocket, type ExecIO, terminalSizes } from '../../../core/channel-ws.ts';
import type { Logger } from '../../../core/logger.ts';
import { acceptWebSocket, refuseUpgrade } from '../../../core/stream-upgrade.ts';
import { codeOf, ErrorCode, InterlinkError, invalidInput, notFound } from '../../../errors/index.ts';
import {
  ExecChannel,
  ExecQuery,
  exitCodeOf,
  type MetaStatus,
  PORT_FORWARD_PROTOCOL,
  queryObject,
  STREAM_PROTOCOL_V1,
  STREAM_PROTOCOL_V2,
  STREAM_PROTOCOL_V3,
  STREAM_PROTOCOL_V4,
  STREAM_PROTOCOL_V5,
} from '../../../wire/streams.ts';
import type { StreamBackend } from './client.ts';
import { SpdySession, type SpdyStream } from './spdy.ts';

export const EXEC_SPDY_PROTOCOLS = [
  STREAM_PROTOCOL_V4,
  STREAM_PROTOCOL_V3,
  STREAM_PROTOCOL_V2,
  STREAM_PROTOCOL_V1,
];
export const EXEC_WS_PROTOCOLS = [STREAM_PROTOCOL_V5, STREAM_PROTOCOL_V4];

export interface StreamLimits {
  /** Exec/attach sessions and port-forward connections open at once on the node (default 64). */
  maxPerNode: number;
  /** ... per pod (default 16). */
  maxPerPod: number;
  /** Time the client has to open the streams it announced (default 30 s, as the kubelet). */
  creationTimeoutMs: number;
  /** A session with no traffic either way for this long is closed (default 4 h, as the kubelet). */
  idleTimeoutMs: number;
}

export const DEFAULT_STREAM_LIMITS: StreamLimits = {
  maxPerNode: 64,
  maxPerPod: 16,
  creationTimeoutMs: 30_000,
  idleTimeoutMs: 4 * 60 * 60_000,
};

export type StreamKind = 'exec' | 'attach' | 'portForward';

export interface ParsedStreamPath {
  kind: StreamKind;
  namespace: string;
  pod: string;
  uid?: string | undefined;
  container?: string | undefined;
}

/** `/exec/ns/pod[/uid]/container`, `/portForward/ns/pod[/uid]` → parts; undefined if not one. Pure. */
export function parseStreamPath(pathname: string): ParsedStreamPath | undefined {
  const parts = pathname.split('/').slice(1).map(decodeURIComponent);
  const [head, ...rest] = parts;
  if (head === 'exec' || head === 'attach') {
    if (rest.length === 3) return { kind: head, namespace: rest[0]!, pod: rest[1]!, container: rest[2]! };
    if (rest.length === 4)
      return { kind: head, namespace: rest[0]!, pod: rest[1]!, uid: rest[2]!, container: rest[3]! };
    return undefined;
  }
  if (head === 'portForward') {
    if (rest.length === 2) return { kind: head, namespace: rest[0]!, pod: rest[1]! };
    if (rest.length === 3) return { kind: head, namespace: rest[0]!, pod: rest[1]!, uid: rest[2]! };
  }
  return undefined;
}

/**
 * The apiserver calls the kubelet with `input`, `output`, `error` (the kubelet's names,
 * pkg/apis/core ExecStdinParam...); direct clients may use the pod API's `stdin`, `stdout`,
 * `stderr`. Both → the wire's names. Pure.
 */
export function kubeletExecQuery(q: Record<string, string | string[]>): Record<string, string | string[]> {
  const out = { ...q };
  for (const [kubelet, wire] of [
    ['input', 'stdin'],
    ['output', 'stdout'],
    ['error', 'stderr'],
  ] as const) {
    const v = q[kubelet];
    if (v !== undefined && out[wire] === undefined) out[wire] = v;
    delete out[kubelet];
  }
  return out;
}

/** httpstream.Handshake's choice: the first client protocol we support. Pure. */
export function negotiate(
  headerValues: string | string[] | undefined,
  supported: readonly string[],
): string | undefined {
  const offered = (Array.isArray(headerValues) ? headerValues : headerValues ? [headerValues] : [])
    .flatMap((v) => v.split(','))
    .map((v) => v.trim())
    .filter(Boolean);
  return offered.find((p) => supported.includes(p));
}

/** Which SPDY streams the client opens for an exec/attach, as the kubelet expects them. Pure. */
export function expectedStreams(
  protocol: string,
  q: Pick<ExecQuery, 'stdin' | 'stdout' | 'stderr' | 'tty'>,
): string[] {
  const out = ['error'];
  if (q.stdin) out.push('stdin');
  if (q.stdout) out.push('stdout');
  if (q.stderr && (!q.tty || protocol === STREAM_PROTOCOL_V1)) out.push('stderr');
  if (q.tty && (protocol === STREAM_PROTOCOL_V3 || protocol === STREAM_PROTOCOL_V4)) out.push('resize');
  return out;
}

/** The bytes of the error stream for a status: v4 JSON, older protocols the message only. Pure. */
export function errorStreamBytes(protocol: string, status: MetaStatus): Buffer {
  if (protocol === STREAM_PROTOCOL_V4 || protocol === STREAM_PROTOCOL_V5)
    return Buffer.from(JSON.stringify({ kind: 'Status', apiVersion: 'v1', ...status }));
  if (status.status === 'Success') return Buffer.alloc(0);
  const code = exitCodeOf(status);
  return Buffer.from(
    code !== undefined ? `command terminated with non-zero exit code: ${code}` : (status.message ?? 'error'),
  );
}

/** The body of a refused upgrade: a metav1.Status, which client-go prints as the reason. */
export function statusJson(code: number, reason: string, message: string): string {
  return JSON.stringify({
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message,
    reason,
    code,
  });
}

const REASON: Partial<Record<ErrorCode, string>> = {
  NOT_FOUND: 'NotFound',
  NOT_SUPPORTED: 'NotImplemented',
  INVALID_INPUT: 'BadRequest',
  UNAVAILABLE: 'ServiceUnavailable',
  FORBIDDEN: 'Forbidden',
  TIMEOUT: 'Timeout',
};

export interface KubeletStreamsDeps {
  nodeName: string;
  log: Logger;
  backend: StreamBackend;
  findPod(namespace: string, name: string): V1Pod | undefined;
  limits?: Partial<StreamLimits>;
}

export interface KubeletStreams {
  /** Serve one authorized upgrade request (the socket is ours from here on). */
  serve(req: IncomingMessage, socket: Duplex, head: Buffer, path: ParsedStreamPath, url: URL): Promise<void>;
  /** Sessions open now, by pod key. */
  open(): Map<string, number>;
  closeAll(): void;
}

export function createKubeletStreams(deps: KubeletStreamsDeps): KubeletStreams {
  const limits = { ...DEFAULT_STREAM_LIMITS, ...deps.limits };
  const perPod = new Map<string, number>();
  let total = 0;
  const live = new Set<Duplex>();

  const acquire = (key: string): (() => void) => {
    if (total >= limits.maxPerNode)
      throw new InterlinkError(
        ErrorCode.UNAVAILABLE,
        `node ${deps.nodeName}: ${limits.maxPerNode} streams already open`,
      );
    if ((perPod.get(key) ?? 0) >= limits.maxPerPod)
      throw new InterlinkError(ErrorCode.UNAVAILABLE, `pod ${key}: ${limits.maxPerPod} streams already open`);
    total++;
    perPod.set(key, (perPod.get(key) ?? 0) + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      total--;
      const n = (perPod.get(key) ?? 1) - 1;
      if (n <= 0) perPod.delete(key);
      else perPod.set(key, n);
    };
  };

  const resolvePod = (p: ParsedStreamPath): { pod: V1Pod; uid: string } => {
    const pod = deps.findPod(p.namespace, p.pod);
    const uid = pod?.metadata?.uid;
    if (!pod || !uid || (p.uid && p.uid !== uid))
      throw notFound(`pod "${p.namespace}/${p.pod}" does not exist on node ${deps.nodeName}`);
    if (p.container) {
      const names = [...(pod.spec?.containers ?? []), ...(pod.spec?.initContainers ?? [])].map((c) => c.name);
      if (!names.includes(p.container))
        throw notFound(`container "${p.container}" not found in pod "${p.namespace}/${p.pod}"`);
    }
    return { pod, uid };
  };

  const watchIdle = (socket: Duplex, onIdle: () => void) => {
    const s = socket as Duplex & { setTimeout?: (ms: number, cb: () => void) => void };
    s.setTimeout?.(limits.idleTimeoutMs, onIdle);
  };

  async function serveExec(
    req: IncomingMessage,
    socket: Duplex,
    head: Buffer,
    p: ParsedStreamPath,
    url: URL,
  ) {
    const { uid } = resolvePod(p);
    const raw = kubeletExecQuery(queryObject(url.searchParams));
    const parsed = ExecQuery.safeParse({
      ...raw,
      namespace: p.namespace,
      name: p.pod,
      uid,
      container: p.container,
      command: raw.command ?? [],
    });
    if (!parsed.success) {
      const i = parsed.error.issues[0];
      throw invalidInput(`${i?.path.join('.') ?? 'query'}: ${i?.message ?? 'invalid'}`);
    }
    const q = parsed.data;
    const kind = p.kind === 'attach' ? 'attach' : 'exec';
    if (kind === 'exec' && q.command.length === 0)
      throw invalidInput('you must specify at least one command for the container');
    if (!q.stdin && !q.stdout && !q.stderr)
      throw invalidInput('you must specify at least one of stdin, stdout, stderr');
    const isWs = String(req.headers.upgrade ?? '').toLowerCase() === 'websocket';
    const protocol = isWs
      ? undefined
      : negotiate(req.headers['x-stream-protocol-version'], EXEC_SPDY_PROTOCOLS);
    if (!isWs && !protocol) {
      refuseUpgrade(
        socket,
        403,
        statusJson(
          403,
          'Forbidden',
          `unable to upgrade: unable to negotiate protocol: client supports ${String(req.headers['x-stream-protocol-version'] ?? 'none')}, server supports ${EXEC_SPDY_PROTOCOLS.join(', ')}`,
        ),
        {
          contentType: 'application/json',
          headers: { 'X-Accepted-Stream-Protocol-Versions': EXEC_SPDY_PROTOCOLS.join(', ') },
        },
      );
      return;
    }
    const release = acquire(`${p.namespace}/${p.pod}`);
    try {
      // Ask the API first: a plugin without exec is refused here, with its reason.
      const upstream = await deps.backend.openExec(kind, q);
      if (isWs) await execOverWebSocket(req, socket, head, q, upstream);
      else await execOverSpdy(socket, head, protocol!, q, upstream);
    } finally {
      release();
    }
  }

  async function execOverSpdy(
    socket: Duplex,
    head: Buffer,
    protocol: string,
    q: ExecQuery,
    upstream: { run(io: ExecIO): Promise<MetaStatus> },
  ) {
    const want = expectedStreams(protocol, q);
    socket.write(
      'HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\n' +
        `X-Stream-Protocol-Version: ${protocol}\r\n\r\n`,
    );
    if (head.length > 0) socket.unshift(head);
    live.add(socket);
    const streams = new Map<string, SpdyStream>();
    const ctl = new AbortController();
    let ready!: () => void;
    const allThere = new Promise<void>((r) => {
      ready = r;
    });
    const session = new SpdySession(socket, {
      maxStreams: want.length + 2,
      onStream: (s) => {
        const t = s.header('streamtype') ?? '';
        if (!want.includes(t) || streams.has(t)) {
          s.reset();
          return;
        }
        streams.set(t, s);
        if (streams.size === want.length) ready();
      },
    });
    session.on('close', () => {
      live.delete(socket);
      ctl.abort(new Error('client went away'));
    });
    session.on('protocol-error', (err: Error) =>
      deps.log.info({ err: err.message }, 'SPDY protocol error; closing'),
    );
    watchIdle(socket, () => session.destroy());
    const timer = setTimeout(
      () => ctl.abort(new Error('streams not created in time')),
      limits.creationTimeoutMs,
    );
    timer.unref();
    await Promise.race([
      allThere,
      new Promise((r) => ctl.signal.addEventListener('abort', r, { once: true })),
    ]);
    clearTimeout(timer);
    if (ctl.signal.aborted) {
      const io: ExecIO = { signal: ctl.signal };
      await upstream.run(io).catch(() => {});
      session.destroy();
      return;
    }
    const io: ExecIO = {
      stdin: streams.get('stdin'),
      stdout: streams.get('stdout'),
      stderr: streams.get('stderr'),
      resizes: streams.get('resize') ? terminalSizes(streams.get('resize')!) : undefined,
      signal: ctl.signal,
    };
    const status = await upstream.run(io);
    if (session.closed) return;
    await Promise.all([io.stdout, io.stderr].map((w) => endAndWait(w)));
    const err = streams.get('error')!;
    const bytes = errorStreamBytes(protocol, status);
    if (bytes.length > 0) err.write(bytes);
    await endAndWait(err);
    session.close();
  }

  async function execOverWebSocket(
    req: IncomingMessage,
    socket: Duplex,
    head: Buffer,
    q: ExecQuery,
    upstream: { run(io: ExecIO): Promise<MetaStatus> },
  ) {
    const ws = await acceptWebSocket(req, socket, head, EXEC_WS_PROTOCOLS);
    live.add(socket);
    const v5 = ws.protocol === STREAM_PROTOCOL_V5;
    const cs = new ChannelSocket(ws, { halfClose: v5 });
    const ctl = new AbortController();
    void cs.closed.then(() => {
      live.delete(socket);
      ctl.abort(new Error('client went away'));
    });
    watchIdle(socket, () => cs.terminate());
    const io: ExecIO = {
      stdin: q.stdin ? cs.readable(ExecChannel.STDIN) : undefined,
      stdout: q.stdout ? cs.writable(ExecChannel.STDOUT) : undefined,
      stderr: q.stderr && !q.tty ? cs.writable(ExecChannel.STDERR) : undefined,
      resizes: q.tty ? terminalSizes(cs.readable(ExecChannel.RESIZE)) : undefined,
      signal: ctl.signal,
    };
    const status = await upstream.run(io);
    if (cs.isClosed) return;
    await Promise.all([io.stdout, io.stderr].map((w) => endAndWait(w)));
    await cs.send(ExecChannel.ERROR, errorStreamBytes(STREAM_PROTOCOL_V4, status)).catch(() => {});
    cs.close();
  }

  async function servePortForward(req: IncomingMessage, socket: Duplex, head: Buffer, p: ParsedStreamPath) {
    const { uid } = resolvePod(p);
    const protocol = negotiate(req.headers['x-stream-protocol-version'], [PORT_FORWARD_PROTOCOL]);
    if (String(req.headers.upgrade ?? '').toLowerCase() === 'websocket' || !protocol) {
      refuseUpgrade(
        socket,
        403,
        statusJson(
          403,
          'Forbidden',
          `unable to upgrade: port-forward needs SPDY/3.1 with ${PORT_FORWARD_PROTOCOL}`,
        ),
        {
          contentType: 'application/json',
          headers: { 'X-Accepted-Stream-Protocol-Versions': PORT_FORWARD_PROTOCOL },
        },
      );
      return;
    }
    const key = `${p.namespace}/${p.pod}`;
    const releaseSession = acquire(key);
    socket.write(
      'HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\n' +
        `X-Stream-Protocol-Version: ${protocol}\r\n\r\n`,
    );
    if (head.length > 0) socket.unshift(head);
    live.add(socket);
    const ctl = new AbortController();
    /** requestID → the pair as it arrives (error first, then data, in client-go). */
    const pairs = new Map<string, { error?: SpdyStream; data?: SpdyStream; timer: NodeJS.Timeout }>();
    const session = new SpdySession(socket, {
      maxStreams: 2 * limits.maxPerPod + 2,
      onStream: (s) => {
        const type = s.header('streamtype');
        const id = s.header('requestid') ?? '';
        const portText = s.header('port') ?? '';
        const port = Number(portText);
        if (
          (type !== 'error' && type !== 'data') ||
          !/^\d{1,5}$/.test(portText) ||
          port < 1 ||
          port > 65535
        ) {
          s.reset();
          return;
        }
        let pair = pairs.get(id);
        if (!pair) {
          const timer = setTimeout(() => {
            const p2 = pairs.get(id);
            pairs.delete(id);
            p2?.error?.reset();
            p2?.data?.reset();
          }, limits.creationTimeoutMs);
          timer.unref();
          pair = { timer };
          pairs.set(id, pair);
        }
        if (pair[type]) {
          s.reset();
          return;
        }
        pair[type] = s;
        if (pair.error && pair.data) {
          clearTimeout(pair.timer);
          pairs.delete(id);
          void forward(pair.error, pair.data, port);
        }
      },
    });
    const forward = async (errStream: SpdyStream, data: SpdyStream, port: number) => {
      let release: (() => void) | undefined;
      try {
        release = acquire(key);
        // Our side of the error stream is only for a failure message; the data stream
        // carries the connection both ways and is ended (FIN) when the target closes.
        await deps.backend.portForward({ namespace: p.namespace, name: p.pod, uid, port }, data, ctl.signal);
        errStream.end();
      } catch (err) {
        const message = portForwardError(err, key, port);
        deps.log.info({ pod: key, port, code: codeOf(err) }, 'port-forward connection failed');
        if (!errStream.destroyed) errStream.end(message);
        if (!data.destroyed) data.end();
      } finally {
        release?.();
      }
    };
    session.on('close', () => {
      live.delete(socket);
      ctl.abort(new Error('client went away'));
      for (const pair of pairs.values()) clearTimeout(pair.timer);
      releaseSession();
    });
    watchIdle(socket, () => session.destroy());
  }

  return {
    async serve(req, socket, head, p, url) {
      try {
        if (p.kind === 'portForward') await servePortForward(req, socket, head, p);
        else await serveExec(req, socket, head, p, url);
      } catch (err) {
        const code = codeOf(err);
        const status =
          code === ErrorCode.UNAVAILABLE && /streams already open/.test((err as Error).message)
            ? 429
            : undefined;
        const mapped = mapError(err, p.kind, deps.nodeName);
        if (mapped.code >= 500)
          deps.log.warn({ err: (err as Error).message, kind: p.kind }, 'stream refused');
        refuseUpgrade(
          socket,
          status ?? mapped.code,
          statusJson(status ?? mapped.code, mapped.reason, mapped.message),
          {
            contentType: 'application/json',
          },
        );
      }
    },
    open: () => new Map(perPod),
    closeAll() {
      for (const s of live) s.destroy();
    },
  };
}

function mapError(
  err: unknown,
  kind: StreamKind,
  nodeName: string,
): { code: number; reason: string; message: string } {
  const code = codeOf(err);
  const http: Partial<Record<ErrorCode, number>> = {
    NOT_FOUND: 404,
    NOT_SUPPORTED: 501,
    INVALID_INPUT: 400,
    UNAVAILABLE: 503,
    FORBIDDEN: 403,
    TIMEOUT: 504,
  };
  const status = http[code] ?? 500;
  let message = err instanceof InterlinkError ? err.message : 'internal error';
  // 501 from a plugin without the method; 404 for the route itself from an API or plugin
  // that predates streaming (ours says "no streaming route", Go's mux "404 page not found").
  const noRoute = code === ErrorCode.NOT_FOUND && /no streaming route|page not found|^Route /i.test(message);
  if (code === ErrorCode.NOT_SUPPORTED || noRoute) {
    message = `${kind} is not supported by the interLink plugin behind node ${nodeName} (the API or plugin has no streaming routes; interLink 0.6 has none): ${message}`;
    return { code: 501, reason: 'NotImplemented', message };
  }
  return { code: status, reason: REASON[code] ?? 'InternalError', message };
}

function portForwardError(err: unknown, pod: string, port: number): string {
  const code = codeOf(err);
  const text = err instanceof Error ? err.message : 'failed';
  if (code === ErrorCode.NOT_SUPPORTED)
    return `port-forward is not supported by the interLink plugin of pod ${pod}`;
  return `error forwarding port ${port} to pod ${pod}: ${text}`;
}

function endAndWait(w: NodeJS.WritableStream | undefined): Promise<void> {
  const s = w as (Duplex & { writableFinished: boolean }) | undefined;
  return new Promise((resolve) => {
    if (!s || s.destroyed || s.writableFinished) return resolve();
    s.once('finish', () => resolve());
    s.once('close', () => resolve());
    s.end();
  });
}
