/**
 * Serves a Plugin over the interLink 0.6 plugin wire (DESIGN.md §2, API → plugin):
 * POST /create, POST|DELETE /delete, GET|POST /status, GET|POST /getLogs, plus our
 * additive GET /ping, GET /list and GET /stats/summary, and the shared /healthz, /readyz,
 * /metrics. An optional route exists only when its method does: without it the caller
 * gets 404, which the API reads as an interLink 0.6 plugin (ping falls back to
 * `GET /status []`, list is NOT_SUPPORTED, stats NOT_FOUND).
 */
import { Readable } from 'node:stream';
import type { FastifyRequest } from 'fastify';
import { Gauge, Histogram, type Registry } from 'prom-client';
import { type Authenticator, authHook } from '../../core/auth.ts';
import { registerDebugRoutes } from '../../core/debug-routes.ts';
import {
  createServer,
  DEFAULT_BODY_LIMIT,
  type ServerLimits,
  type ServerParts,
} from '../../core/http-server.ts';
import type { Logger } from '../../core/logger.ts';
import { invalidInput } from '../../errors/index.ts';
import {
  BackendPodList,
  CreateStruct,
  type DeleteAnswer,
  PingResponse,
  RetrievedPodDataBody,
  StatsSummary,
} from '../../wire/interlink.ts';
import { WIRE_ROUTES } from '../../wire/routes.ts';
import { registerCommandMetrics } from './command-metrics.ts';
import { registerPluginStreamRoutes } from './streams.ts';
import type { CallContext, Plugin } from './types.ts';

export interface PluginServerOptions {
  logger: Logger;
  /** Callers must authenticate (bearer token) on every route but /healthz and /readyz. */
  auth?: Authenticator;
  bodyLimit?: number;
  /** Timeouts and the connection cap (defaults: DEFAULT_LIMITS). */
  limits?: Partial<ServerLimits>;
  /** How long a /readyz answer (one backend check) is reused, ms (default 5 s). */
  readyCacheMs?: number;
  /**
   * Serve /debug/pprof/profile and /debug/pprof/heap (default false). Only with `auth`, or
   * on a unix socket whose mode admits the owner alone (servePlugin checks which).
   */
  debugEndpoints?: boolean;
}

/** `timed(op, fn)`: fn's latency in interlink_plugin_backend_call_duration_seconds, by op and outcome. */
function backendCallTimer(registry: Registry) {
  const callLatency = new Histogram({
    name: 'interlink_plugin_backend_call_duration_seconds',
    help: 'Latency of plugin backend operations',
    labelNames: ['op', 'outcome'],
    buckets: [0.001, 0.01, 0.05, 0.1, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers: [registry],
  });
  return async function timed<T>(op: string, fn: () => Promise<T>): Promise<T> {
    const end = callLatency.startTimer({ op });
    try {
      const v = await fn();
      end({ outcome: 'ok' });
      return v;
    } catch (err) {
      end({ outcome: 'error' });
      throw err;
    }
  };
}

export function buildPluginApp(plugin: Plugin, opts: PluginServerOptions): ServerParts {
  const parts = createServer({
    logger: opts.logger.child({ component: `plugin-${plugin.name}` }),
    bodyLimit: opts.bodyLimit ?? DEFAULT_BODY_LIMIT,
    metricsPrefix: 'interlink_plugin',
    // Cached and single-flight in the base: a probe storm is one `docker info`/`sinfo`.
    notReadyReason: () => plugin.notReadyReason?.(),
    ...(opts.limits ? { limits: opts.limits } : {}),
    ...(opts.readyCacheMs === undefined ? {} : { readyCacheMs: opts.readyCacheMs }),
  });
  const { app, registry } = parts;
  if (opts.auth) app.addHook('onRequest', authHook(opts.auth));
  const timed = backendCallTimer(registry);
  registerCommandMetrics(registry);
  const openStreams = new Gauge({
    name: 'interlink_plugin_log_streams',
    help: 'Log streams currently open',
    registers: [registry],
  });

  const ctxOf = (req: FastifyRequest, signal?: AbortSignal): CallContext => ({
    session: req.id,
    log: req.log as Logger,
    signal: signal ?? AbortSignal.timeout(10 * 60_000),
  });

  app.post(
    '/create',
    { schema: { body: RetrievedPodDataBody, response: { 200: CreateStruct } } },
    async (req) => {
      const data = Array.isArray(req.body) ? req.body[0]! : req.body;
      if (!data.pod.spec) throw invalidInput('pod.spec: required for create', 'pod.spec');
      return timed('create', () => plugin.create(data, ctxOf(req)));
    },
  );

  app.route({
    ...WIRE_ROUTES.delete,
    handler: async (req, reply) => {
      const m = req.body.metadata;
      const result = await timed('delete', () => plugin.delete(req.body, ctxOf(req)));
      const message = `pod ${m.namespace}/${m.name} (${m.uid}) deleted`;
      // Text, as interLink 0.6 plugins answer, unless there is more to tell.
      if (!result?.containers?.length) return reply.type('text/plain; charset=utf-8').send(message);
      const answer: DeleteAnswer = { message, containers: result.containers };
      return reply.type('application/json').send(JSON.stringify(answer));
    },
  });

  app.route({
    ...WIRE_ROUTES.status,
    handler: async (req) => timed('status', () => plugin.status(req.body ?? [], ctxOf(req))),
  });

  app.route({
    ...WIRE_ROUTES.getLogs,
    handler: async (req, reply) => {
      const ctl = new AbortController();
      // The reply socket closing means the follower is gone: stop reading the backend.
      reply.raw.once('close', () => ctl.abort(new Error('client went away')));
      const stream = await timed('logs', () => plugin.logs(req.body, ctxOf(req, ctl.signal)));
      openStreams.inc();
      stream.once('close', () => openStreams.dec());
      reply.type('text/plain; charset=utf-8');
      reply.header('cache-control', 'no-cache');
      // Fastify sends a stream's headers with its first chunk; a follower of a quiet
      // container would then wait (and its client time out) for headers. Send them now.
      if (req.body.Opts.Follow) reply.raw.once('pipe', () => reply.raw.flushHeaders());
      return reply.send(stream instanceof Readable ? stream : Readable.from(stream));
    },
  });

  if (plugin.ping) {
    const ping = plugin.ping.bind(plugin);
    app.get('/ping', { schema: { response: { 200: PingResponse } } }, async (req) =>
      timed('ping', () => ping(ctxOf(req))),
    );
  }
  // Our addition (the orphan sweep); the API answers the VK 501 without it, so the VK knows
  // no sweep is possible.
  if (plugin.list) {
    const list = plugin.list.bind(plugin);
    app.get('/list', { schema: { response: { 200: BackendPodList } } }, async (req) =>
      timed('list', () => list(ctxOf(req))),
    );
  }
  if (plugin.stats) {
    const stats = plugin.stats.bind(plugin);
    app.get('/stats/summary', { schema: { response: { 200: StatsSummary } } }, async (req) =>
      timed('stats', () => stats(ctxOf(req))),
    );
  }

  if (opts.debugEndpoints) registerDebugRoutes(app, { name: `plugin-${plugin.name}` });
  plugin.routes?.(app);
  // exec, attach, port-forward: WebSocket upgrades, each only when the plugin has the method.
  registerPluginStreamRoutes(app, plugin, {
    log: opts.logger.child({ component: `plugin-${plugin.name}` }),
    registry,
  });
  return parts;
}
