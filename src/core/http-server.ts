/**
 * The HTTP server base shared by the interLink API and every plugin: Fastify with zod
 * schemas (one schema per route validates, types and documents), GET-with-body (the
 * interLink 0.6 wire sends JSON bodies on GET /status and GET /getLogs), one error
 * mapping, health and metrics routes, the session header in every request's logs, and (when
 * tracing is on, core/tracing.ts) a server span per request continuing the caller's
 * `traceparent`.
 *
 * Building never listens (tests use `inject`); `listenOn` binds TCP or a unix socket.
 */
import { rmSync, statSync } from 'node:fs';
import { chmod, mkdtemp, rename, rm, rmdir, stat } from 'node:fs/promises';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { SecureServerOptions } from 'node:http2';
import { dirname, join } from 'node:path';
import Fastify, {
  type FastifyBaseLogger,
  type FastifyError,
  type FastifyInstance,
  LogController,
  type RouteOptions,
} from 'fastify';
import { serializerCompiler, validatorCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod';
import { Counter, collectDefaultMetrics, Histogram, Registry } from 'prom-client';
import { ErrorCode, InterlinkError, toHttpStatus } from '../errors/index.ts';
import { SESSION_HEADER } from '../wire/headers.ts';
import { TextAnswer } from '../wire/interlink.ts';
import type { Endpoint } from './endpoint.ts';
import type { Logger } from './logger.ts';
import {
  Attr,
  type Context,
  context,
  extractTraceContext,
  jobIdsIn,
  podsAttributes,
  podsInBody,
  type Span,
  SpanKind,
  SpanStatusCode,
  trace,
  tracer,
  tracingOn,
} from './tracing.ts';

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
  } as Parameters<typeof Fastify>[0]) as unknown as FastifyInstance;
  fastify.server.maxConnections = limits.maxConnections;
  const routes: RouteOptions[] = [];
  fastify.addHook('onRoute', (route) => {
    routes.push(route);
  });
  fastify.addHttpMethod('GET', { hasBody: true, overrideExisting: true });
  fastify.setValidatorCompiler(validatorCompiler);
  fastify.setSerializerCompiler(serializerCompiler);
  // JSON in whatever content type the caller sent (interLink 0.6 SDKs and curl omit or vary
  // it, and Fastify's own text/plain parser would hand the handler a string); an empty body
  // (upstream pings send none) is undefined, not an error.
  fastify.removeContentTypeParser(['application/json', 'text/plain']);
  const maxDepth = opts.maxJsonDepth ?? DEFAULT_MAX_JSON_DEPTH;
  fastify.addContentTypeParser('*', { parseAs: 'string' }, (req, body, done) => {
    try {
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

/** Probes and scrapes: frequent, and nothing to follow across processes. */
const UNTRACED = new Set(['/healthz', '/readyz', '/metrics']);

/**
 * A SERVER span per routed request, child of the caller's `traceparent` (W3C), named by the
 * route template (never the URL, which may carry pod names) and active while the route's
 * hooks and handler run: the handler may add the pod's attributes, and what it calls (the
 * plugin, a backend command) continues the trace. Ends when the answer is sent or the
 * client goes away.
 */
function traceRequests(fastify: FastifyInstance): void {
  const spans = new WeakMap<object, { span: Span; ctx: Context }>();
  fastify.addHook('onRequest', (req, _reply, done) => {
    const route = req.routeOptions.url;
    if (route === undefined || UNTRACED.has(route)) return done();
    const parent = extractTraceContext(req.headers);
    const span = tracer().startSpan(
      `${req.method} ${route}`,
      {
        kind: SpanKind.SERVER,
        attributes: {
          'http.request.method': req.method,
          'http.route': route,
          [Attr.session]: String(req.id).slice(0, 128),
        },
      },
      parent,
    );
    const ctx = trace.setSpan(parent, span);
    spans.set(req, { span, ctx });
    context.with(ctx, done);
  });
  // Body parsing runs outside the request's async context: re-enter it for the handler. The
  // body is validated by now: the pods it names become attributes.
  fastify.addHook('preHandler', (req, _reply, done) => {
    const s = spans.get(req);
    if (!s) return done();
    const pods = podsInBody(req.body);
    if (pods.length > 0) s.span.setAttributes(podsAttributes(pods));
    context.with(s.ctx, done);
  });
  fastify.addHook('preSerialization', async (req, _reply, payload) => {
    const jids = spans.get(req) ? jobIdsIn(payload) : [];
    if (jids.length > 0) spans.get(req)!.span.setAttribute(Attr.jobId, jids.length === 1 ? jids[0]! : jids);
    return payload;
  });
  const end = (req: object, status: number | undefined) => {
    const s = spans.get(req);
    if (!s) return;
    spans.delete(req);
    if (status === undefined) s.span.setStatus({ code: SpanStatusCode.ERROR, message: 'client went away' });
    else {
      s.span.setAttribute('http.response.status_code', status);
      if (status >= 500) s.span.setStatus({ code: SpanStatusCode.ERROR });
    }
    s.span.end();
  };
  fastify.addHook('onResponse', async (req, reply) => end(req, reply.statusCode));
  fastify.addHook('onRequestAbort', async (req) => end(req, undefined));
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

/**
 * Whether `text` nests arrays/objects deeper than `max`. One linear pass that skips
 * strings; run before JSON.parse so a hostile body is refused before it is built.
 */
export function jsonDeeperThan(text: string, max: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c)
        i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) {
      if (++depth > max) return true;
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
  return false;
}

/** The media type of a Content-Type header, for messages: only a plain `type/subtype` is echoed. */
export function describeContentType(header: string | undefined): string {
  if (header === undefined || header.trim() === '') return 'no content type';
  const media = header.split(';')[0]!.trim().toLowerCase();
  return /^[a-z0-9][a-z0-9!#$&^_.+-]{0,63}\/[a-z0-9][a-z0-9!#$&^_.+-]{0,63}$/.test(media)
    ? `content type ${media}`
    : 'an unrecognised content type';
}

/**
 * A request body as JSON, whatever content type it came with. Empty → undefined. Throws
 * INVALID_INPUT (400) naming what was sent and what is expected, never echoing the body.
 */
export function parseJsonBody(text: string, contentType: string | undefined, maxDepth: number): unknown {
  if (text.trim() === '') return undefined;
  if (jsonDeeperThan(text, maxDepth)) {
    throw new InterlinkError(
      ErrorCode.INVALID_INPUT,
      `request body nests JSON deeper than ${maxDepth} levels`,
    );
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new InterlinkError(
      ErrorCode.INVALID_INPUT,
      `malformed JSON body (sent with ${describeContentType(contentType)}): expected a JSON document, Content-Type: application/json`,
    );
  }
}

interface MappedError {
  status: number;
  code: string;
  message: string;
  field?: string | undefined;
}

/** The one place an error becomes an HTTP answer. */
export function errorBody(err: unknown): MappedError {
  if (err instanceof InterlinkError) {
    return { status: toHttpStatus(err.code), code: err.code, message: err.message, field: err.field };
  }
  const fe = err as FastifyError & {
    validation?: Array<{
      instancePath?: string;
      message?: string;
      params?: { issue?: { path?: unknown[] } };
    }>;
  };
  if (Array.isArray(fe.validation) && fe.validation.length > 0) {
    const parts = fe.validation.slice(0, 5).map((v) => {
      const path = v.instancePath?.replace(/^\//, '').replaceAll('/', '.') || '(body)';
      return { path, text: `${path}: ${v.message ?? 'invalid'}` };
    });
    const where = fe.validationContext ?? 'body';
    return {
      status: 400,
      code: ErrorCode.INVALID_INPUT,
      message: `invalid ${where}: ${parts.map((p) => p.text).join('; ')}`,
      field: parts[0]?.path,
    };
  }
  switch (fe.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return {
        status: 413,
        code: ErrorCode.TOO_LARGE,
        message: `request body is larger than the limit (${fe.message})`,
      };
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return { status: 400, code: ErrorCode.INVALID_INPUT, message: fe.message };
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return { status: 415, code: ErrorCode.INVALID_INPUT, message: fe.message };
  }
  if (err instanceof SyntaxError) {
    return { status: 400, code: ErrorCode.INVALID_INPUT, message: `malformed JSON body: ${err.message}` };
  }
  const status = typeof fe.statusCode === 'number' && fe.statusCode >= 400 ? fe.statusCode : 500;
  return {
    status,
    code: status < 500 ? ErrorCode.INVALID_INPUT : ErrorCode.INTERNAL,
    message: fe.message || 'internal error',
  };
}

/**
 * Bind a built app. A unix socket ends up with mode 0600 (only the owner may call); a stale
 * socket file from a killed process is replaced, anything else at the path is an error.
 *
 * The socket is bound inside a fresh 0700 directory beside the target, chmod'ed, then
 * renamed into place: it is never reachable by others with the umask's mode, and the
 * process-wide umask is left alone (the API, a plugin and the VK may share one process).
 * The directory must be on the same filesystem as the target, hence beside it, not in /tmp.
 */
export async function listenOn(app: FastifyInstance | ZodApp, ep: Endpoint): Promise<string> {
  if (ep.kind === 'unix') {
    const st = await stat(ep.path).catch(() => undefined);
    if (st && !st.isSocket())
      throw new InterlinkError(
        ErrorCode.INVALID_INPUT,
        `${ep.path} exists and is not a socket; refusing to replace it`,
      );
    // Short names: a socket path has ~107 bytes at most, and the staging one is 12 longer.
    const priv = await mkdtemp(join(dirname(ep.path), '.il-'));
    const staging = join(priv, 's');
    try {
      await app.listen({ path: staging });
      await chmod(staging, 0o600);
      // rename(2) replaces a stale socket atomically.
      await rename(staging, ep.path);
    } catch (err) {
      await app.close().catch(() => {});
      throw err;
    } finally {
      await rm(staging, { force: true }).catch(() => {});
      await rmdir(priv).catch(() => {});
    }
    // The server unlinks the path it bound (gone), not the one it was renamed to.
    // Synchronous, so the file is gone before close()'s own callbacks run.
    const bound = await stat(ep.path);
    app.server.once('close', () => {
      try {
        const now = statSync(ep.path);
        if (now.ino === bound.ino && now.dev === bound.dev) rmSync(ep.path, { force: true });
      } catch {
        // already gone
      }
    });
    return `unix://${ep.path}`;
  }
  await app.listen({ host: ep.host, port: ep.port });
  const addr = app.server.address();
  const port = typeof addr === 'object' && addr ? addr.port : ep.port;
  return `${ep.protocol}://${ep.host.includes(':') ? `[${ep.host}]` : ep.host}:${port}`;
}
