/**
 * The HTTP server base shared by the interLink API and every plugin: Fastify with zod
 * schemas (one schema per route validates, types and documents), GET-with-body (the
 * interLink 0.6 wire sends JSON bodies on GET /status and GET /getLogs), one error
 * mapping, health and metrics routes, the session header in every request's logs, and (when
 * tracing is on, core/tracing.ts) a server span per request continuing the caller's
 * `traceparent`.
 *
 * Building never listens (tests use `inject`); `listenOn` binds TCP or a unix socket.
 *
 * Beside it: http-json.ts (request bodies), http-errors.ts (error → answer),
 * http-tracing.ts (a span per request), http-listen.ts (`listenOn`).
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { SecureServerOptions } from 'node:http2';
import Fastify, {
  type FastifyBaseLogger,
  type FastifyError,
  type FastifyInstance,
  LogController,
  type RouteOptions,
} from 'fastify';
import { serializerCompiler, validatorCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod';
import { Counter, collectDefaultMetrics, Histogram, Registry } from 'prom-client';
import { ErrorCode, type InterlinkError } from '../errors/index.ts';
import { SESSION_HEADER } from '../wire/headers.ts';
import { TextAnswer } from '../wire/interlink.ts';
import { errorBody } from './http-errors.ts';
import { parseJsonBody } from './http-json.ts';
import { traceRequests } from './http-tracing.ts';
import type { Logger } from './logger.ts';
import { tracingOn } from './tracing.ts';

export { errorBody } from './http-errors.ts';
export { describeContentType, jsonDeeperThan, parseJsonBody } from './http-json.ts';
export { listenOn } from './http-listen.ts';

export type ZodApp = FastifyInstance<
  Server,
  IncomingMessage,
  ServerResponse,
  FastifyBaseLogger,
  ZodTypeProvider
>;

export interface ServerOptions {
  logger: Logger;
  /** Largest request body accepted, in bytes. */
  bodyLimit?: number;
  /** TLS material for https; with `ca` and `requestCert` the server demands client certificates (mTLS). */
  https?: Pick<SecureServerOptions, 'cert' | 'key' | 'ca' | 'requestCert' | 'rejectUnauthorized'>;
  /** Metrics registry; a fresh one per app so tests and co-hosted apps do not collide. */
  registry?: Registry;
  /**
   * Readiness check for /readyz; resolves to an explanation when not ready. Called at most
   * once per `readyCacheMs` however many probes arrive (see Readiness).
   */
  notReadyReason?: () => Promise<string | undefined> | string | undefined;
  /** How long a readiness answer is reused, ms (default 5 s). */
  readyCacheMs?: number;
  /** Timeouts and the connection cap (defaults: DEFAULT_LIMITS). */
  limits?: Partial<ServerLimits>;
  /** Deepest JSON nesting a request body may have (default 512). */
  maxJsonDepth?: number;
  /** Prefix of metric names (`interlink_api`, `interlink_plugin`). */
  metricsPrefix: string;
}

export interface ServerParts {
  app: ZodApp;
  registry: Registry;
  /** The /readyz answer cache; owners that learn the truth otherwise (a ping) record it. */
  readiness: Readiness;
  /** Every route registered on `app`, in order, with its schema (scripts/wire/openapi.ts documents them). */
  routes: readonly RouteOptions[];
}

export const DEFAULT_BODY_LIMIT = 16 * 1024 * 1024;
/** Far deeper than any Kubernetes object; far shallower than what overflows a stack when re-serialised. */
export const DEFAULT_MAX_JSON_DEPTH = 512;

/**
 * What a slow or greedy client may hold. A request (headers and body) must arrive within
 * `requestTimeoutMs` of its first byte, its headers within `headersTimeoutMs`; answers are
 * not bounded (log followers stream for hours), idle keep-alive connections close after 65 s.
 */
export interface ServerLimits {
  /** Time to receive a request's headers, ms. */
  headersTimeoutMs: number;
  /** Time to receive a whole request, headers and body, ms. */
  requestTimeoutMs: number;
  /** Open connections at most; more are closed on accept. */
  maxConnections: number;
}

export const DEFAULT_LIMITS: ServerLimits = {
  headersTimeoutMs: 30_000,
  requestTimeoutMs: 120_000,
  maxConnections: 1024,
};

/** Node options that enforce `limits`: checked every quarter timeout (≥100 ms, ≤ 5 s). */
export function nodeServerLimits(limits: ServerLimits): {
  headersTimeout: number;
  requestTimeout: number;
  connectionsCheckingInterval: number;
} {
  const headersTimeout = Math.min(limits.headersTimeoutMs, limits.requestTimeoutMs);
  return {
    headersTimeout,
    requestTimeout: limits.requestTimeoutMs,
    connectionsCheckingInterval: Math.max(100, Math.min(5_000, Math.floor(headersTimeout / 4))),
  };
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /**
     * Keep the body text as received, for rawBodyOf (the API forwards a `/status` body as
     * sent). Other routes drop it once parsed: a poll of thousands of pods is megabytes.
     */
    keepRawBody?: boolean;
  }
}

/** The bodies of requests to routes with `config.keepRawBody`, as received. */
const rawBodies = new WeakMap<object, string>();

/** The body of `req` as the caller sent it (routes with `config.keepRawBody`); undefined otherwise. */
export function rawBodyOf(req: object): string | undefined {
  return rawBodies.get(req);
}

export function createServer(opts: ServerOptions): ServerParts {
  const registry = opts.registry ?? new Registry();
  const limits = { ...DEFAULT_LIMITS, ...opts.limits };
  const nodeLimits = nodeServerLimits(limits);
  const fastify = Fastify({
    loggerInstance: opts.logger,
    bodyLimit: opts.bodyLimit ?? DEFAULT_BODY_LIMIT,
    logController: new LogController({ disableRequestLogging: true, requestIdLogLabel: 'session' }),
    // Upstream sends bodies on GET; keep connections open for the callers' keep-alive pools.
    keepAliveTimeout: 65_000,
    exposeHeadRoutes: false,
    requestIdHeader: SESSION_HEADER,
    genReqId: () => `req#${Math.floor(Math.random() * 2 ** 48).toString(36)}`,
    requestTimeout: nodeLimits.requestTimeout,
    http: nodeLimits,
    ...(opts.https ? { https: { ...opts.https, ...nodeLimits } } : {}),
    // Every route validates and serializes with zod. Given as the factories (not set after
    // construction), Fastify never loads its default ajv and fast-json-stringify compilers:
    // ~100 modules and several MiB of every process's memory.
    schemaController: {
      compilersFactory: {
        buildValidator: () => validatorCompiler,
        buildSerializer: () => serializerCompiler,
      },
    },
  } as Parameters<typeof Fastify>[0]) as unknown as FastifyInstance;
  fastify.server.maxConnections = limits.maxConnections;
  const routes: RouteOptions[] = [];
  fastify.addHook('onRoute', (route) => {
    routes.push(route);
  });
  fastify.addHttpMethod('GET', { hasBody: true, overrideExisting: true });
  // JSON in whatever content type the caller sent (interLink 0.6 SDKs and curl omit or vary
  // it, and Fastify's own text/plain parser would hand the handler a string); an empty body
  // (upstream pings send none) is undefined, not an error.
  fastify.removeContentTypeParser(['application/json', 'text/plain']);
  const maxDepth = opts.maxJsonDepth ?? DEFAULT_MAX_JSON_DEPTH;
  fastify.addContentTypeParser('*', { parseAs: 'string' }, (req, body, done) => {
    try {
      if (req.routeOptions.config.keepRawBody) rawBodies.set(req, String(body));
      done(null, parseJsonBody(String(body), req.headers['content-type'], maxDepth));
    } catch (err) {
      done(err as Error, undefined);
    }
  });

  // `interlink_api_process_resident_memory_bytes`, `interlink_api_nodejs_heap_size_used_bytes`, ...
  collectDefaultMetrics({ register: registry, prefix: `${opts.metricsPrefix}_` });
  const requests = new Counter({
    name: `${opts.metricsPrefix}_http_requests_total`,
    help: 'HTTP requests served, by route and status code',
    labelNames: ['method', 'route', 'code'],
    registers: [registry],
  });
  const latency = new Histogram({
    name: `${opts.metricsPrefix}_http_request_duration_seconds`,
    help: 'HTTP request latency by route and status code',
    labelNames: ['method', 'route', 'code'],
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [registry],
  });
  fastify.addHook('onResponse', async (req, reply) => {
    const route = req.routeOptions.url ?? 'unknown';
    const labels = { method: req.method, route, code: String(reply.statusCode) };
    requests.inc(labels);
    latency.observe(labels, reply.elapsedTime / 1000);
    req.log.debug(
      { method: req.method, url: req.url, code: reply.statusCode, ms: Math.round(reply.elapsedTime) },
      'request',
    );
  });
  fastify.addHook('onSend', async (req, reply, payload) => {
    reply.header(SESSION_HEADER, req.id);
    return payload;
  });
  if (tracingOn()) traceRequests(fastify);

  fastify.setErrorHandler((err: FastifyError | InterlinkError | Error, req, reply) => {
    const body = errorBody(err);
    const status = body.status;
    if (status >= 500) req.log.error({ err }, body.message);
    else req.log.info({ code: body.code, field: body.field }, body.message);
    reply
      .status(status)
      .type('application/json')
      .send(
        JSON.stringify({
          code: body.code,
          message: body.message,
          ...(body.field ? { field: body.field } : {}),
        }),
      );
  });
  fastify.setNotFoundHandler((req, reply) => {
    reply.status(404).send({ code: ErrorCode.NOT_FOUND, message: `no route ${req.method} ${req.url}` });
  });

  const text = { schema: { response: { 200: TextAnswer } } };
  fastify.get('/healthz', text, async () => 'ok');
  // Anyone may probe: the answer is one word, the reason goes to the log (Readiness).
  const readiness = new Readiness(opts.notReadyReason ?? (() => undefined), opts.logger, {
    ttlMs: opts.readyCacheMs ?? 5_000,
  });
  fastify.get(
    '/readyz',
    { schema: { response: { 200: TextAnswer, 503: TextAnswer } } },
    async (_req, reply) => {
      const reason = await readiness.check();
      if (reason !== undefined) return reply.status(503).type('text/plain').send('not ready');
      return reply.type('text/plain').send('ok');
    },
  );
  fastify.get('/metrics', text, async (_req, reply) => {
    reply.type(registry.contentType);
    return registry.metrics();
  });

  return { app: fastify.withTypeProvider<ZodTypeProvider>(), registry, readiness, routes };
}

/**
 * /readyz's answer, computed at most once per `ttlMs` and shared by concurrent probes
 * (single-flight), so unauthenticated probes cannot make the backend run one `docker info`
 * or `sinfo` each. A change of state is logged with its reason. `clock` is injected for tests.
 */
export class Readiness {
  readonly #probe: () => Promise<string | undefined> | string | undefined;
  readonly #log: Logger;
  readonly #ttlMs: number;
  readonly #now: () => number;
  #value: { reason: string | undefined; at: number } | undefined;
  #inflight: Promise<string | undefined> | undefined;
  #logged: string | undefined | null = null;

  constructor(
    probe: () => Promise<string | undefined> | string | undefined,
    log: Logger,
    opts: { ttlMs: number; now?: () => number },
  ) {
    this.#probe = probe;
    this.#log = log;
    this.#ttlMs = opts.ttlMs;
    this.#now = opts.now ?? Date.now;
  }

  /** undefined when ready, else why not (for logs and authenticated callers only). */
  check(): Promise<string | undefined> {
    const v = this.#value;
    if (v && this.#now() - v.at < this.#ttlMs) return Promise.resolve(v.reason);
    this.#inflight ??= (async () => {
      let reason: string | undefined;
      try {
        reason = (await this.#probe()) || undefined;
      } catch (err) {
        reason = `readiness check failed: ${(err as Error).message}`;
      }
      this.record(reason);
      return reason;
    })().finally(() => {
      this.#inflight = undefined;
    });
    return this.#inflight;
  }

  /** A fresher answer learnt elsewhere (an authenticated ping): reused like a probe's. */
  record(reason: string | undefined): void {
    this.#value = { reason, at: this.#now() };
    if (reason !== this.#logged) {
      if (reason === undefined) this.#log.info('ready');
      else this.#log.warn({ reason }, 'not ready');
      this.#logged = reason;
    }
  }
}
