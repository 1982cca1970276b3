/**
 * /exec and /attach on the kubelet API: SPDY/3.1 (what the kube-apiserver dials) or a
 * WebSocket with `v5.channel.k8s.io`/`v4.channel.k8s.io` (clients that reach the kubelet
 * directly), each relayed to the interLink API; the error stream carries the final status.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { channelExecIO, type ExecIO, terminalSizes } from '../../../core/channel-ws.ts';
import { invalidInput } from '../../../errors/index.ts';
import {
  ExecChannel,
  ExecQuery,
  type MetaStatus,
  queryObject,
  STREAM_PROTOCOL_V4,
  STREAM_PROTOCOL_V5,
} from '../../../wire/streams.ts';
import { acceptChannel, endAndWait, type StreamContext, type StreamServer } from './context.ts';
import {
  EXEC_SPDY_PROTOCOLS,
  EXEC_WS_PROTOCOLS,
  errorStreamBytes,
  expectedStreams,
  kubeletExecQuery,
  negotiate,
  refuseProtocol,
} from './protocol.ts';
import { SpdySession, type SpdyStream } from './spdy.ts';

export const serveExec: StreamServer = async (ctx, req, socket, head, p, url) => {
  const { uid } = ctx.resolvePod(p);
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
    refuseProtocol(
      socket,
      `unable to negotiate protocol: client supports ${String(req.headers['x-stream-protocol-version'] ?? 'none')}, server supports ${EXEC_SPDY_PROTOCOLS.join(', ')}`,
      EXEC_SPDY_PROTOCOLS,
    );
    return;
  }
  const release = ctx.acquire(`${p.namespace}/${p.pod}`);
  try {
    // Ask the API first: a plugin without exec is refused here, with its reason.
    const upstream = await ctx.deps.backend.openExec(kind, q);
    if (isWs) await execOverWebSocket(ctx, req, socket, head, q, upstream);
    else await execOverSpdy(ctx, socket, head, protocol!, q, upstream);
  } finally {
    release();
  }
};

async function execOverSpdy(
  ctx: StreamContext,
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
  ctx.live.add(socket);
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
    ctx.live.delete(socket);
    ctl.abort(new Error('client went away'));
  });
  session.on('protocol-error', (err: Error) =>
    ctx.deps.log.info({ err: err.message }, 'SPDY protocol error; closing'),
  );
  ctx.watchIdle(socket, () => session.destroy());
  const timer = setTimeout(
    () => ctl.abort(new Error('streams not created in time')),
    ctx.limits.creationTimeoutMs,
  );
  timer.unref();
  await Promise.race([allThere, new Promise((r) => ctl.signal.addEventListener('abort', r, { once: true }))]);
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
  ctx: StreamContext,
  req: IncomingMessage,
  socket: Duplex,
  head: Buffer,
  q: ExecQuery,
  upstream: { run(io: ExecIO): Promise<MetaStatus> },
) {
  // v5 adds the close channel, so the client can half-close stdin.
  const { cs, signal } = await acceptChannel(
    ctx,
    req,
    socket,
    head,
    EXEC_WS_PROTOCOLS,
    (p) => p === STREAM_PROTOCOL_V5,
  );
  const io = channelExecIO(cs, q, signal);
  const status = await upstream.run(io);
  if (cs.isClosed) return;
  await Promise.all([io.stdout, io.stderr].map((w) => endAndWait(w)));
  await cs.send(ExecChannel.ERROR, errorStreamBytes(STREAM_PROTOCOL_V4, status)).catch(() => {});
  cs.close();
}
