/**
 * /portForward on the kubelet API over SPDY/3.1: the client opens an error and a data
 * stream per connection (paired by `requestid`); each pair is one connection to the pod's
 * port through the interLink API. A WebSocket upgrade (direct clients) goes to portforward-ws.ts.
 */
import { codeOf } from '../../../errors/index.ts';
import { PORT_FORWARD_PROTOCOL } from '../../../wire/streams.ts';
import type { StreamServer } from './context.ts';
import { servePortForwardWs } from './portforward-ws.ts';
import { negotiate, portForwardError, refuseProtocol } from './protocol.ts';
import { SpdySession, type SpdyStream } from './spdy.ts';

export const servePortForward: StreamServer = async (ctx, req, socket, head, p, url) => {
  const { uid } = ctx.resolvePod(p);
  if (String(req.headers.upgrade ?? '').toLowerCase() === 'websocket')
    return servePortForwardWs(ctx, req, socket, head, p, uid, url);
  const protocol = negotiate(req.headers['x-stream-protocol-version'], [PORT_FORWARD_PROTOCOL]);
  if (!protocol) {
    refuseProtocol(socket, `port-forward needs SPDY/3.1 with ${PORT_FORWARD_PROTOCOL}`, [
      PORT_FORWARD_PROTOCOL,
    ]);
    return;
  }
  const key = `${p.namespace}/${p.pod}`;
  const releaseSession = ctx.acquire(key);
  socket.write(
    'HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\n' +
      `X-Stream-Protocol-Version: ${protocol}\r\n\r\n`,
  );
  if (head.length > 0) socket.unshift(head);
  ctx.live.add(socket);
  const ctl = new AbortController();
  /** requestID → the pair as it arrives (error first, then data, in client-go). */
  const pairs = new Map<string, { error?: SpdyStream; data?: SpdyStream; timer: NodeJS.Timeout }>();
  const session = new SpdySession(socket, {
    maxStreams: 2 * ctx.limits.maxPerPod + 2,
    onStream: (s) => {
      const type = s.header('streamtype');
      const id = s.header('requestid') ?? '';
      const portText = s.header('port') ?? '';
      const port = Number(portText);
      if ((type !== 'error' && type !== 'data') || !/^\d{1,5}$/.test(portText) || port < 1 || port > 65535) {
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
        }, ctx.limits.creationTimeoutMs);
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
      release = ctx.acquire(key);
      // Our side of the error stream is only for a failure message; the data stream
      // carries the connection both ways and is ended (FIN) when the target closes.
      await ctx.deps.backend.portForward(
        { namespace: p.namespace, name: p.pod, uid, port },
        data,
        ctl.signal,
      );
      errStream.end();
    } catch (err) {
      const message = portForwardError(err, key, port);
      ctx.deps.log.info({ pod: key, port, code: codeOf(err) }, 'port-forward connection failed');
      if (!errStream.destroyed) errStream.end(message);
      if (!data.destroyed) data.end();
    } finally {
      release?.();
    }
  };
  session.on('close', () => {
    ctx.live.delete(socket);
    ctl.abort(new Error('client went away'));
    for (const pair of pairs.values()) clearTimeout(pair.timer);
    releaseSession();
  });
  ctx.watchIdle(socket, () => session.destroy());
};
