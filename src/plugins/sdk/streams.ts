/**
 * The plugin side of the streaming wire (wire/streams.ts): /exec, /attach and /portforward
 * upgraded to channel WebSockets, each route present only when the plugin has the method
 * (else 501, as for an interLink 0.6 plugin the VK reports "not supported"). Limits: at
 * most `maxStreams` at once (429 beyond).
 */
import { Duplex } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { Gauge, type Registry } from 'prom-client';
import { ChannelSocket, channelExecIO } from '../../core/channel-ws.ts';
import type { Logger } from '../../core/logger.ts';
import {
  parseQuery,
  serveUpgrades,
  type UpgradeContext,
  type UpgradeRoute,
} from '../../core/stream-upgrade.ts';
import { codeOf, ErrorCode, InterlinkError, invalidInput, toHttpStatus } from '../../errors/index.ts';
import { newSessionId, SESSION_HEADER } from '../../wire/headers.ts';
import {
  ExecChannel,
  ExecQuery,
  exitStatus,
  failureStatus,
  type MetaStatus,
  PortForwardChannel,
  PortForwardQuery,
  STREAM_PATHS,
  STREAM_PROTOCOL_V5,
} from '../../wire/streams.ts';
import type { CallContext, Plugin } from './types.ts';

export interface StreamRouteOptions {
  log: Logger;
  registry?: Registry;
  /** Streams open at once (default 64). */
  maxStreams?: number;
}

/** metav1.Status reasons by HTTP status, as the apiserver names them. */
const STATUS_REASON: Record<number, string> = {
  400: 'BadRequest',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'NotFound',
  409: 'Conflict',
  501: 'NotImplemented',
  503: 'ServiceUnavailable',
  504: 'Timeout',
};

/**
 * An error as the error channel's Status, its code mapped to HTTP status by the one table in
 * src/errors; INTERNAL errors keep their detail out.
 */
export function statusOfError(err: unknown): MetaStatus {
  const status = toHttpStatus(codeOf(err));
  const message = err instanceof InterlinkError ? err.message : 'internal error in the plugin';
  return failureStatus(message, STATUS_REASON[status] ?? 'InternalError', status);
}

export function registerPluginStreamRoutes(
  app: FastifyInstance,
  plugin: Plugin,
  opts: StreamRouteOptions,
): void {
  const max = opts.maxStreams ?? 64;
  let open = 0;
  const gauge = new Gauge({
    name: 'interlink_plugin_exec_streams',
    help: 'exec, attach and port-forward streams open in the plugin',
    registers: opts.registry ? [opts.registry] : [],
  });
  const ctxOf = (c: UpgradeContext, signal: AbortSignal): CallContext => {
    const h = c.req.headers[SESSION_HEADER];
    const session = typeof h === 'string' && h.length <= 128 ? h : newSessionId('stream');
    return { session, log: opts.log.child({ session }), signal };
  };
  const bounded =
    (route: UpgradeRoute): UpgradeRoute =>
    async (c) => {
      if (open >= max)
        throw new InterlinkError(ErrorCode.UNAVAILABLE, `plugin ${plugin.name}: ${max} streams already open`);
      gauge.set(++open);
      try {
        await route(c);
      } finally {
        gauge.set(--open);
      }
    };

  const execLike = (method: 'exec' | 'attach'): UpgradeRoute | undefined => {
    const fn = plugin[method]?.bind(plugin);
    if (!fn) return undefined;
    return bounded(async (c) => {
      const q = parseQuery(ExecQuery, c.url);
      if (method === 'exec' && q.command.length === 0)
        throw invalidInput('query command: required for exec', 'command');
      const ws = await c.acceptWebSocket([STREAM_PROTOCOL_V5]);
      const cs = new ChannelSocket(ws, { halfClose: true });
      const ctl = new AbortController();
      void cs.closed.then(() => ctl.abort(new Error('caller went away')));
      const io = channelExecIO(cs, q, ctl.signal);
      let status: MetaStatus;
      try {
        status = exitStatus(await fn(q, io, ctxOf(c, ctl.signal)));
      } catch (err) {
        status = statusOfError(err);
        if (status.code === 500) opts.log.error({ err }, `${method} failed`);
      }
      await finish(cs, [io.stdout, io.stderr], status);
    });
  };

  const portForward: UpgradeRoute | undefined = plugin.portForward
    ? bounded(async (c) => {
        const q = parseQuery(PortForwardQuery, c.url);
        const ws = await c.acceptWebSocket([STREAM_PROTOCOL_V5]);
        const cs = new ChannelSocket(ws, { halfClose: true });
        const ctl = new AbortController();
        void cs.closed.then(() => ctl.abort(new Error('caller went away')));
        const data = cs.writable(PortForwardChannel.DATA);
        const conn = Duplex.from({ readable: cs.readable(PortForwardChannel.DATA), writable: data });
        try {
          await plugin.portForward!(q, conn, ctxOf(c, ctl.signal));
        } catch (err) {
          const s = statusOfError(err);
          if (s.code === 500) opts.log.error({ err }, 'port-forward failed');
          await cs.send(PortForwardChannel.ERROR, s.message ?? 'port-forward failed').catch(() => {});
        }
        // End through `conn`, never `data` directly: conn may still hold written chunks that it
        // has not handed to `data` yet (backpressure), and ending `data` first drops them (a
        // 10 MiB download came back short). conn finishes after `data` has.
        if (!conn.writableEnded) conn.end();
        await new Promise<void>((r) =>
          conn.writableFinished || conn.destroyed
            ? r()
            : conn.once('close', () => r()).once('finish', () => r()),
        );
        cs.close();
      })
    : undefined;

  serveUpgrades({
    app,
    log: opts.log,
    routes: {
      [STREAM_PATHS.exec]: execLike('exec'),
      [STREAM_PATHS.attach]: execLike('attach'),
      [STREAM_PATHS.portForward]: portForward,
    },
    unsupported: Object.values(STREAM_PATHS),
  });
}

/** End the output channels, send the status, close the socket. */
async function finish(
  cs: ChannelSocket,
  outs: Array<NodeJS.WritableStream | undefined>,
  status: MetaStatus,
): Promise<void> {
  await Promise.all(
    outs.map(
      (w) =>
        new Promise<void>((resolve) => {
          const s = w as import('node:stream').Writable | undefined;
          if (!s || s.destroyed || s.writableFinished) return resolve();
          s.once('finish', () => resolve());
          s.once('close', () => resolve());
          s.end();
        }),
    ),
  );
  await cs.send(ExecChannel.ERROR, JSON.stringify(status)).catch(() => {});
  cs.close();
}
