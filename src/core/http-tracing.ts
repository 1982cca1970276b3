/**
 * Tracing of the shared HTTP server (http-server.ts): a server span per routed request,
 * when tracing is on (core/tracing.ts).
 */
import type { FastifyInstance } from 'fastify';
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
} from './tracing.ts';

/** Probes and scrapes: frequent, and nothing to follow across processes. */
const UNTRACED = new Set(['/healthz', '/readyz', '/metrics']);

/**
 * A SERVER span per routed request, child of the caller's `traceparent` (W3C), named by the
 * route template (never the URL, which may carry pod names) and active while the route's
 * hooks and handler run: the handler may add the pod's attributes, and what it calls (the
 * plugin, a backend command) continues the trace. Ends when the answer is sent or the
 * client goes away.
 */
export function traceRequests(fastify: FastifyInstance): void {
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
