/**
 * The HTTP server base shared by the interLink API and every plugin: Fastify with zod
 * schemas (one schema per route validates, types and documents), GET-with-body (the
 * interLink 0.6 wire sends JSON bodies on GET /status and GET /getLogs), one error
 * mapping, health and metrics routes, and the session header in every request's logs.
 *
 * Building never listens (tests use `inject`); `listenOn` binds TCP or a unix socket.
 */
import { chmod, rm, stat } from 'node:fs/promises';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { SecureServerOptions } from 'node:http2';
import Fastify, {
  type FastifyBaseLogger,
  type FastifyError,
  type FastifyInstance,
  LogController,
} from 'fastify';
import { serializerCompiler, validatorCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod';
import { Counter, collectDefaultMetrics, Histogram, Registry } from 'prom-client';
import { ErrorCode, InterlinkError, toHttpStatus } from '../errors/index.ts';
import { SESSION_HEADER } from '../wire/headers.ts';
import type { Endpoint } from './endpoint.ts';
import type { Logger } from './logger.ts';

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
  /** Readiness check for /readyz; resolves to an explanation when not ready. */
  notReadyReason?: () => Promise<string | undefined> | string | undefined;
  /** Prefix of metric names (`interlink_api`, `interlink_plugin`). */
  metricsPrefix: string;
}

export interface ServerParts {
  app: ZodApp;
  registry: Registry;
}

export const DEFAULT_BODY_LIMIT = 16 * 1024 * 1024;

export function createServer(opts: ServerOptions): ServerParts {
  const registry = opts.registry ?? new Registry();
  const fastify = Fastify({
    loggerInstance: opts.logger,
    bodyLimit: opts.bodyLimit ?? DEFAULT_BODY_LIMIT,
    logController: new LogController({ disableRequestLogging: true, requestIdLogLabel: 'session' }),
    // Upstream sends bodies on GET; keep connections open for the callers' keep-alive pools.
    keepAliveTimeout: 65_000,
    exposeHeadRoutes: false,
    requestIdHeader: SESSION_HEADER,
    genReqId: () => `req#${Math.floor(Math.random() * 2 ** 48).toString(36)}`,
    ...(opts.https ? { https: opts.https } : {}),
  } as Parameters<typeof Fastify>[0]) as unknown as FastifyInstance;
  fastify.addHttpMethod('GET', { hasBody: true, overrideExisting: true });
  fastify.setValidatorCompiler(validatorCompiler);
  fastify.setSerializerCompiler(serializerCompiler);
  // An empty JSON body (upstream pings send none) parses as undefined, not an error.
  fastify.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, body, done) => {
    const text = typeof body === 'string' ? body : body.toString('utf8');
    if (text.trim() === '') return done(null, undefined);
    try {
      done(null, JSON.parse(text));
    } catch (err) {
      done(
        new InterlinkError(ErrorCode.INVALID_INPUT, `malformed JSON body: ${(err as Error).message}`),
        undefined,
      );
    }
  });
  // Some clients (interLink 0.6 plugins' SDKs, curl) omit or vary the content type: treat as JSON.
  fastify.addContentTypeParser('*', { parseAs: 'string' }, (req, body, done) => {
    const parser = fastify.getDefaultJsonParser('ignore', 'ignore');
    const text = typeof body === 'string' ? body : body.toString('utf8');
    if (text.trim() === '') return done(null, undefined);
    parser(req, text, (err, value) => {
      if (err)
        done(new InterlinkError(ErrorCode.INVALID_INPUT, `malformed JSON body: ${err.message}`), undefined);
      else done(null, value);
    });
  });

  collectDefaultMetrics({ register: registry, prefix: `${opts.metricsPrefix}_process_` });
  const requests = new Counter({
    name: `${opts.metricsPrefix}_http_requests_total`,
    help: 'HTTP requests served, by route and status code',
    labelNames: ['method', 'route', 'code'],
    registers: [registry],
  });
  const latency = new Histogram({
    name: `${opts.metricsPrefix}_http_request_duration_seconds`,
    help: 'HTTP request latency by route',
    labelNames: ['method', 'route'],
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [registry],
  });
  fastify.addHook('onResponse', async (req, reply) => {
    const route = req.routeOptions.url ?? 'unknown';
    requests.inc({ method: req.method, route, code: String(reply.statusCode) });
    latency.observe({ method: req.method, route }, reply.elapsedTime / 1000);
    req.log.debug(
      { method: req.method, url: req.url, code: reply.statusCode, ms: Math.round(reply.elapsedTime) },
      'request',
    );
  });
  fastify.addHook('onSend', async (req, reply, payload) => {
    reply.header(SESSION_HEADER, req.id);
    return payload;
  });

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

  fastify.get('/healthz', async () => 'ok');
  fastify.get('/readyz', async (_req, reply) => {
    const reason = await opts.notReadyReason?.();
    if (reason) return reply.status(503).type('text/plain').send(`not ready: ${reason}`);
    return reply.type('text/plain').send('ok');
  });
  fastify.get('/metrics', async (_req, reply) => {
    reply.type(registry.contentType);
    return registry.metrics();
  });

  return { app: fastify.withTypeProvider<ZodTypeProvider>(), registry };
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
 * Bind a built app. A unix socket is created with mode 0600 (only the owner may call);
 * a stale socket file from a killed process is replaced, anything else at the path is an error.
 */
export async function listenOn(app: FastifyInstance | ZodApp, ep: Endpoint): Promise<string> {
  if (ep.kind === 'unix') {
    const st = await stat(ep.path).catch(() => undefined);
    if (st) {
      if (!st.isSocket())
        throw new InterlinkError(
          ErrorCode.INVALID_INPUT,
          `${ep.path} exists and is not a socket; refusing to replace it`,
        );
      await rm(ep.path);
    }
    const previous = process.umask(0o177);
    try {
      await app.listen({ path: ep.path });
    } finally {
      process.umask(previous);
    }
    await chmod(ep.path, 0o600);
    return `unix://${ep.path}`;
  }
  await app.listen({ host: ep.host, port: ep.port });
  const addr = app.server.address();
  const port = typeof addr === 'object' && addr ? addr.port : ep.port;
  return `${ep.protocol}://${ep.host.includes(':') ? `[${ep.host}]` : ep.host}:${port}`;
}
