/**
 * Serving HTTP upgrades (WebSocket, SPDY) beside a Fastify app. Node hands a request with
 * `Connection: Upgrade` to the server's `upgrade` listeners, not to Fastify, and detaches
 * the HTTP parser from the socket; these helpers answer on the raw socket.
 *
 * `serveUpgrades` registers one listener that routes by path; a path no route claims gets
 * 404, or 501 when it is a known streaming path the server does not implement. Upgraded
 * sockets are tracked and cut when the app closes.
 */
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import type { WebSocket } from 'ws';
import { codeOf, InterlinkError, invalidInput, toHttpStatus } from '../errors/index.ts';
import { SESSION_HEADER } from '../wire/headers.ts';
import { queryObject } from '../wire/streams.ts';
import type { Logger } from './logger.ts';
import {
  Attr,
  context,
  extractTraceContext,
  failSpan,
  SpanKind,
  trace,
  tracer,
  tracingOn,
} from './tracing.ts';

const REASONS: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  409: 'Conflict',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  501: 'Not Implemented',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
};

/** Answer an upgrade request with a plain HTTP response and close the socket. */
export function refuseUpgrade(
  socket: Duplex,
  status: number,
  body: string,
  opts: { contentType?: string; headers?: Record<string, string> } = {},
): void {
  if (socket.destroyed) return;
  const payload = Buffer.from(body, 'utf8');
  const lines = [
    `HTTP/1.1 ${status} ${REASONS[status] ?? 'Error'}`,
    `Content-Type: ${opts.contentType ?? 'text/plain; charset=utf-8'}`,
    `Content-Length: ${payload.length}`,
    'Connection: close',
    ...Object.entries(opts.headers ?? {}).map(([k, v]) => `${k}: ${v}`),
    '',
    '',
  ];
  socket.end(Buffer.concat([Buffer.from(lines.join('\r\n'), 'latin1'), payload]));
}

/** Status and message of an error for an upgrade answer (INTERNAL ones are not detailed). */
export function upgradeError(err: unknown): { status: number; message: string } {
  const status = toHttpStatus(codeOf(err));
  const message = err instanceof InterlinkError ? err.message : 'internal error';
  return { status, message };
}

export interface UpgradeContext {
  req: IncomingMessage;
  socket: Duplex;
  head: Buffer;
  url: URL;
  log: Logger;
  /** Complete a WebSocket handshake choosing the first of `protocols` the client offered. */
  acceptWebSocket(protocols: readonly string[]): Promise<WebSocket>;
}

export type UpgradeRoute = (ctx: UpgradeContext) => Promise<void>;

export interface ServeUpgradesOptions {
  app: FastifyInstance;
  log: Logger;
  /** path (exact) → handler. */
  routes: Record<string, UpgradeRoute | undefined>;
  /** Paths that exist in the protocol but not here: 501 instead of 404. */
  unsupported?: readonly string[];
}

const served = new WeakMap<FastifyInstance, string[]>();

/** The upgrade paths `app` serves (those with a handler), for scripts/wire/openapi.ts. */
export function upgradePaths(app: FastifyInstance): readonly string[] {
  return served.get(app) ?? [];
}

export function serveUpgrades(opts: ServeUpgradesOptions): void {
  served.set(opts.app, [
    ...upgradePaths(opts.app),
    ...Object.entries(opts.routes).flatMap(([path, route]) => (route ? [path] : [])),
  ]);
  const sockets = new Set<Duplex>();
  const server = opts.app.server as Server;
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    const url = new URL(req.url ?? '/', 'http://upgrade.invalid');
    const route = opts.routes[url.pathname];
    if (!route) {
      if (opts.unsupported?.includes(url.pathname))
        return refuseUpgrade(socket, 501, `${url.pathname.slice(1)} is not supported by this server`);
      return refuseUpgrade(socket, 404, `no streaming route ${url.pathname}`);
    }
    const ctx: UpgradeContext = {
      req,
      socket,
      head,
      url,
      log: opts.log,
      acceptWebSocket: (protocols) => acceptWebSocket(req, socket, head, protocols),
    };
    const span = traceUpgrade(req, socket, url.pathname);
    const run = () => route(ctx);
    const handled = span ? context.with(trace.setSpan(context.active(), span), run) : run();
    handled.catch((err) => {
      const { status, message } = upgradeError(err);
      if (status >= 500) opts.log.error({ err, path: url.pathname }, 'streaming request failed');
      if (span) {
        span.setAttribute('http.response.status_code', status);
        failSpan(span, err);
      }
      refuseUpgrade(socket, status, message);
    });
  });
  opts.app.addHook('preClose', async () => {
    for (const s of sockets) s.destroy();
  });
}

/**
 * With tracing on, a SERVER span for one streaming request (exec, attach, port-forward),
 * child of the caller's `traceparent`, named by the route's fixed path (never the query,
 * which carries pod names), active while the route connects its next hop (which then
 * carries the trace on), and ended when the stream's socket closes.
 */
function traceUpgrade(req: IncomingMessage, socket: Duplex, path: string) {
  if (!tracingOn()) return undefined;
  const parent = extractTraceContext(req.headers);
  const span = tracer().startSpan(
    `WS ${path}`,
    { kind: SpanKind.SERVER, attributes: { 'http.route': path, ...sessionOf(req) } },
    parent,
  );
  socket.once('close', () => span.end());
  return span;
}

const sessionOf = (req: IncomingMessage) => {
  const v = req.headers[SESSION_HEADER];
  const s = (Array.isArray(v) ? v[0] : v)?.slice(0, 128);
  return s ? { [Attr.session]: s } : {};
};

/**
 * The WebSocket handshake on a raw upgrade; refuses (400) a client offering none of `protocols`.
 * `ws` is imported on the first stream, not at start: most API and plugin processes never
 * serve one, and the module and what it loads are several MiB of every process's RSS.
 */
export async function acceptWebSocket(
  req: IncomingMessage,
  socket: Duplex,
  head: Buffer,
  protocols: readonly string[],
): Promise<WebSocket> {
  const offered = String(req.headers['sec-websocket-protocol'] ?? '')
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean);
  const chosen = offered.find((p) => protocols.includes(p));
  if (!chosen) {
    throw new InterlinkError(
      'INVALID_INPUT',
      `WebSocket subprotocol required: one of ${protocols.join(', ')} (offered: ${offered.join(', ') || 'none'})`,
    );
  }
  const { WebSocketServer } = await import('ws');
  const wss = new WebSocketServer({
    noServer: true,
    perMessageDeflate: false,
    maxPayload: 16 * 1024 * 1024,
    handleProtocols: () => chosen,
  });
  return new Promise((resolve) => wss.handleUpgrade(req, socket, head, (ws) => resolve(ws)));
}

/** An upgrade request's query, checked by a wire schema; the message names the field and rule, never the value. */
export function parseQuery<T>(
  schema: {
    safeParse(
      v: unknown,
    ):
      | { success: true; data: T }
      | { success: false; error: { issues: Array<{ path: PropertyKey[]; message: string }> } };
  },
  url: URL,
): T {
  const r = schema.safeParse(queryObject(url.searchParams));
  if (!r.success) {
    const i = r.error.issues[0];
    const field = i?.path.map(String).join('.') ?? '';
    // The message names the field and the rule, never the value.
    throw invalidInput(`query ${field}: ${i?.message ?? 'invalid'}`, field);
  }
  return r.data;
}
