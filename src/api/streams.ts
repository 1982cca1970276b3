/**
 * The streaming routes of the interLink API (wire/streams.ts): /exec, /attach and
 * /portforward arrive from the VK as channel WebSockets; each is authenticated like every
 * other route, its query validated, then relayed message for message to the same route of
 * the plugin. The plugin's refusal (501 from a plugin without the route, 404 from an
 * interLink 0.6 plugin, 404 for an unknown pod) is passed back as the upgrade's answer, so
 * the VK can tell kubectl why. Either side closing closes the other.
 */
import type { FastifyInstance } from 'fastify';
import type { WebSocket } from 'ws';
import type { Authenticator } from '../core/auth.ts';
import { dialWebSocket } from '../core/channel-ws.ts';
import type { Endpoint } from '../core/endpoint.ts';
import type { TlsClientOptions } from '../core/http-client.ts';
import type { Logger } from '../core/logger.ts';
import { parseQuery, serveUpgrades, type UpgradeRoute } from '../core/stream-upgrade.ts';
import { ErrorCode, InterlinkError } from '../errors/index.ts';
import { newSessionId, SESSION_HEADER } from '../wire/headers.ts';
import {
  ExecQuery,
  execSearch,
  PortForwardQuery,
  portForwardSearch,
  STREAM_PATHS,
  STREAM_PROTOCOL_V5,
} from '../wire/streams.ts';

export interface ApiStreamOptions {
  log: Logger;
  auth: Authenticator;
  plugin: { endpoint: Endpoint; tls?: TlsClientOptions | undefined };
  /** Relayed streams open at once (default 256); more get 503. */
  maxStreams?: number;
}

/** Bytes in flight towards one side before the other side is paused. */
const HIGH_WATER = 1024 * 1024;

/** Relay messages both ways with back-pressure; close codes pass through. */
export function relay(a: WebSocket, b: WebSocket): Promise<void> {
  const pipe = (from: WebSocket, to: WebSocket) => {
    let inFlight = 0;
    from.on('message', (data: Buffer, isBinary: boolean) => {
      if (to.readyState !== to.OPEN) return;
      inFlight += data.length;
      if (inFlight > HIGH_WATER) from.pause();
      to.send(data, { binary: isBinary }, () => {
        inFlight -= data.length;
        if (inFlight <= HIGH_WATER) from.resume();
      });
    });
    from.once('close', (code: number, reason: Buffer) => {
      const c = code === 1005 || code === 1006 ? 1000 : code;
      if (to.readyState === to.OPEN) to.close(c, reason.toString().slice(0, 120));
      else to.terminate();
    });
    from.on('error', () => to.terminate());
  };
  pipe(a, b);
  pipe(b, a);
  // A dialled side comes paused so that nothing it said before now was lost.
  a.resume();
  b.resume();
  const closed = (ws: WebSocket) =>
    new Promise<void>((r) => (ws.readyState === ws.CLOSED ? r() : ws.once('close', () => r())));
  return Promise.all([closed(a), closed(b)]).then(() => undefined);
}

export function registerApiStreamRoutes(app: FastifyInstance, opts: ApiStreamOptions): void {
  const max = opts.maxStreams ?? 256;
  let open = 0;
  const route =
    (path: string, search: (url: URL) => string): UpgradeRoute =>
    async (c) => {
      const who = await opts.auth.authenticate(c.req.headers.authorization);
      const query = search(c.url);
      if (open >= max)
        throw new InterlinkError(ErrorCode.UNAVAILABLE, `${max} streams already open on this API`);
      const h = c.req.headers[SESSION_HEADER];
      const session = typeof h === 'string' && h.length <= 128 ? h : newSessionId('stream');
      const upstream = await dialWebSocket({
        endpoint: opts.plugin.endpoint,
        tls: opts.plugin.tls,
        path: `${path}?${query}`,
        protocol: STREAM_PROTOCOL_V5,
        headers: { [SESSION_HEADER]: session },
      });
      const down = await c.acceptWebSocket([STREAM_PROTOCOL_V5]).catch((err) => {
        upstream.terminate();
        throw err;
      });
      open++;
      c.log.info({ session, caller: who.name, path }, 'stream opened');
      void relay(down, upstream).finally(() => {
        open--;
        c.log.debug({ session, path }, 'stream closed');
      });
    };
  serveUpgrades({
    app,
    log: opts.log,
    routes: {
      [STREAM_PATHS.exec]: route(STREAM_PATHS.exec, (u) => execSearch(parseQuery(ExecQuery, u))),
      [STREAM_PATHS.attach]: route(STREAM_PATHS.attach, (u) => execSearch(parseQuery(ExecQuery, u))),
      [STREAM_PATHS.portForward]: route(STREAM_PATHS.portForward, (u) =>
        portForwardSearch(parseQuery(PortForwardQuery, u)),
      ),
    },
  });
}
