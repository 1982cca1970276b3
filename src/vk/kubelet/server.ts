/**
 * The kubelet HTTPS API of the virtual node (DESIGN.md §3), which the apiserver dials for
 * `kubectl logs` and which metrics pipelines scrape:
 *
 *   GET /containerLogs/{ns}/{pod}/{container}   → interLink /getLogs, streamed (follow stays open)
 *   GET /pods, /runningpods/                    → the pod informer cache
 *   GET /stats/summary                          → the plugin's summary, or a well-formed empty one
 *   GET /metrics/resource                       → that summary as the kubelet's resource metrics
 *   GET /healthz, /readyz, /metrics             → (core/http-server)
 *   GET /debug/pprof/profile, /debug/pprof/heap → core/debug-routes.ts, with `debugEndpoints: true`
 *   /exec, /attach, /portForward (upgrades)     → streams/handler.ts: SPDY/3.1 or WebSocket, relayed
 *                                                 to the interLink API's streaming routes
 *   /run, and those paths without an upgrade     → 501, "not supported" as a metav1.Status
 *
 * Every request is authenticated (client certificate against the client CA, or a bearer
 * token by TokenReview) and authorized (SubjectAccessReview on nodes/<node>), as the
 * kubelet does. Built on core/http-server (Fastify): streaming a log is a hijacked
 * response piped from the upstream body, so the headers go out at once (a silent
 * `logs -f` still connects) and a caller's disconnect destroys the upstream request.
 * Exec and friends arrive as SPDY/WebSocket upgrade requests, which Node gives to the
 * server's `upgrade` listener (not to Fastify): it authenticates and authorizes them as the
 * hook does for every other request, then hands the socket to streams/handler.ts.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Server as TlsServer } from 'node:tls';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { registerDebugRoutes } from '../../core/debug-routes.ts';
import { createServer, errorBody, listenOn, type ZodApp } from '../../core/http-server.ts';
import { refuseUpgrade } from '../../core/stream-upgrade.ts';
import { codeOf, ErrorCode, notFound } from '../../errors/index.ts';
import { resolveInternalIp } from '../node/address.ts';
import type { KPod } from '../pods/kpod.ts';
import type { Controller, KubeletServerDeps } from '../types.ts';
import { controllerShell } from '../types.ts';
import { type Authorizer, createAuthorizer, kubeReviewer } from './auth.ts';
import { requestAttributes } from './authz-attributes.ts';
import { createServingCerts, type ServingCerts, type TlsMaterial } from './certs.ts';
import { logOptsFromQuery, logStruct } from './log-query.ts';
import { renderResourceMetrics } from './metrics-resource.ts';
import { emptySummary, mergeSummary } from './stats.ts';
import { createStreamClient, type StreamBackend, streamClientOptions } from './streams/client.ts';
import { createKubeletStreams, parseStreamPath, type StreamLimits } from './streams/handler.ts';
import { statusJson } from './streams/protocol.ts';

export interface KubeletAppOptions {
  deps: Pick<KubeletServerDeps, 'config' | 'logger' | 'interlink' | 'pods' | 'registry'>;
  authorizer: Authorizer;
  /** TLS material; absent: plain HTTP (kubeletHttp.insecure, tests). */
  tls?: TlsMaterial | undefined;
  /** When the VK started (stats summary). */
  startTime: Date;
  /** Where exec/attach/port-forward go; absent: those routes answer 501. */
  streams?: StreamBackend | undefined;
  streamLimits?: Partial<StreamLimits> | undefined;
}

const UNSUPPORTED = ['exec', 'attach', 'portForward', 'run'] as const;
type Unsupported = (typeof UNSUPPORTED)[number];

/** Build the app without listening (tests use inject or listen themselves). */
export function buildKubeletApp(opts: KubeletAppOptions): ZodApp {
  const { deps } = opts;
  const nodeName = deps.config.nodeName;
  const { app } = createServer({
    logger: deps.logger,
    metricsPrefix: 'interlink_vk_kubelet',
    registry: deps.registry,
    ...(opts.tls
      ? {
          https: {
            cert: opts.tls.cert,
            key: opts.tls.key,
            ...(opts.tls.clientCa ? { ca: opts.tls.clientCa } : {}),
            // Ask for a certificate but let token callers (no certificate) through to the hooks.
            requestCert: true,
            rejectUnauthorized: false,
          },
        }
      : {}),
  });

  // Authentication + authorization for every route, answered in plain text as the kubelet does.
  app.addHook('onRequest', authorizeRequest(opts.authorizer, nodeName));

  if (opts.streams) serveKubeletStreams(app, opts, opts.streams);

  app.register(async (plain) => kubeletRoutes(plain.withTypeProvider<ZodTypeProvider>(), opts, nodeName));
  return app;
}

/** The onRequest hook: authenticate, then authorize the request's kubelet attributes. */
function authorizeRequest(authorizer: KubeletAppOptions['authorizer'], nodeName: string) {
  return async (req: FastifyRequest, reply: FastifyReply) => {
    try {
      const user = await authorizer.authenticate({ socket: req.raw.socket, headers: req.headers });
      await authorizer.authorize(user, requestAttributes(req.method, req.url, nodeName));
    } catch (err) {
      const mapped = errorBody(err);
      if (mapped.status >= 500) req.log.error({ err }, 'kubelet API authentication/authorization failed');
      else req.log.info({ url: req.url, code: mapped.code }, mapped.message);
      return reply.code(mapped.status).type('text/plain; charset=utf-8').send(mapped.message);
    }
  };
}

/**
 * exec, attach, port-forward: upgrade requests, authenticated and authorized as every
 * other request (nodes/proxy), then served by streams/handler.ts.
 */
function serveKubeletStreams(
  app: ZodApp,
  opts: KubeletAppOptions,
  backend: NonNullable<KubeletAppOptions['streams']>,
): void {
  const { deps } = opts;
  const nodeName = deps.config.nodeName;
  const streams = createKubeletStreams({
    nodeName,
    log: deps.logger,
    backend,
    findPod: (ns, name) => deps.pods.get(ns, name),
    limits: opts.streamLimits,
  });
  app.server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => {});
    void (async () => {
      try {
        const user = await opts.authorizer.authenticate({ socket: req.socket, headers: req.headers });
        await opts.authorizer.authorize(
          user,
          requestAttributes(req.method ?? 'GET', req.url ?? '/', nodeName),
        );
      } catch (err) {
        const mapped = errorBody(err);
        if (mapped.status >= 500)
          deps.logger.error({ err }, 'kubelet API authentication/authorization failed');
        return refuseUpgrade(socket, mapped.status, mapped.message);
      }
      const url = new URL(req.url ?? '/', 'http://kubelet.invalid');
      const path = parseStreamPath(url.pathname);
      if (!path) return refuseUpgrade(socket, 404, `no streaming route ${url.pathname}`);
      await streams.serve(req, socket, head, path, url);
    })();
  });
  app.addHook('preClose', async () => streams.closeAll());
}

/** The kubelet's HTTP routes, in a scope whose errors are plain text. */
function kubeletRoutes(scope: ZodApp, opts: KubeletAppOptions, nodeName: string): void {
  const { deps } = opts;
  // Plain-text errors: the apiserver relays the body to kubectl verbatim.
  scope.setErrorHandler((err, req, reply) => {
    const mapped = errorBody(err);
    if (mapped.status >= 500) req.log.error({ err }, mapped.message);
    reply.code(mapped.status).type('text/plain; charset=utf-8').send(mapped.message);
  });

  containerLogsRoute(scope, deps, nodeName);
  // Behind the hook above like every route: authenticated, authorized as nodes/<node>/proxy.
  if (deps.config.debugEndpoints) registerDebugRoutes(scope, { name: `vk-${nodeName}` });

  scope.get('/pods', async (_req, reply) => {
    reply.type('application/json');
    return JSON.stringify({ kind: 'PodList', apiVersion: 'v1', metadata: {}, items: deps.pods.list() });
  });

  const runningPods = async (_req: unknown, reply: FastifyReply) => {
    reply.type('application/json');
    const items = deps.pods
      .list()
      .filter((p) => p.status?.phase === 'Running')
      .map((p) => ({
        metadata: { name: p.metadata?.name, namespace: p.metadata?.namespace, uid: p.metadata?.uid },
        spec: { containers: (p.spec?.containers ?? []).map((c) => ({ name: c.name, image: c.image })) },
        status: {},
      }));
    return JSON.stringify({ kind: 'PodList', apiVersion: 'v1', metadata: {}, items });
  };
  scope.get('/runningpods/', runningPods);
  scope.get('/runningpods', runningPods);

  const summaryOf = async (log: FastifyRequest['log']): Promise<unknown> => {
    const base = emptySummary(nodeName, opts.startTime);
    try {
      return mergeSummary(base, await deps.interlink.stats());
    } catch (err) {
      const code = codeOf(err);
      // The API or its plugin has no stats: a well-formed empty summary, as the issue asks.
      if (
        code !== ErrorCode.NOT_FOUND &&
        code !== ErrorCode.NOT_SUPPORTED &&
        code !== ErrorCode.INVALID_INPUT
      )
        throw err;
      log.debug({ err: (err as Error).message }, 'no stats from the interLink API; empty summary');
      return base;
    }
  };
  scope.get('/stats/summary', async (req, reply) => {
    const summary = await summaryOf(req.log);
    reply.type('application/json');
    return JSON.stringify(summary);
  });
  // What metrics-server scrapes; a failing API is `scrape_error 1`, not an HTTP error.
  scope.get('/metrics/resource', async (req, reply) => {
    let text: string;
    try {
      text = renderResourceMetrics(await summaryOf(req.log), new Date());
    } catch (err) {
      req.log.warn({ err: (err as Error).message }, 'resource metrics: no stats from the interLink API');
      text = renderResourceMetrics(undefined, new Date(), true);
    }
    reply.type('text/plain; version=0.0.4; charset=utf-8');
    return text;
  });

  // Reached only without a stream backend, or by a request that is not an upgrade.
  for (const what of UNSUPPORTED as readonly Unsupported[]) {
    const handler = async (_req: unknown, reply: FastifyReply) => {
      const message =
        `${what} is not supported by the interLink virtual kubelet (node ${nodeName}): ` +
        'containers run on a remote Docker host or HPC site; use `kubectl logs` to follow their output';
      return reply
        .code(501)
        .type('application/json')
        .send(statusJson(501, 'NotImplemented', message));
    };
    scope.all(`/${what}`, handler);
    scope.all(`/${what}/*`, handler);
  }
}

/** `GET /containerLogs/...`: the container's log relayed from the interLink API as it comes. */
function containerLogsRoute(scope: ZodApp, deps: KubeletAppOptions['deps'], nodeName: string): void {
  scope.get(
    '/containerLogs/:namespace/:pod/:container',
    {
      schema: {
        params: z.object({ namespace: z.string(), pod: z.string(), container: z.string() }),
        querystring: z.record(z.string(), z.union([z.string(), z.array(z.string())])),
      },
    },
    async (req, reply) => {
      const { namespace, pod: podName, container } = req.params;
      const pod = deps.pods.get(namespace, podName);
      if (!pod) throw notFound(`pod "${namespace}/${podName}" does not exist on node ${nodeName}`);
      if (!containerNames(pod).includes(container)) {
        throw notFound(`container "${container}" not found in pod "${namespace}/${podName}"`);
      }
      const opts = logOptsFromQuery(req.query);
      const request = logStruct({ namespace, podName, podUid: pod.metadata?.uid ?? '', container }, opts);
      const aborter = new AbortController();
      const res = reply.raw as ServerResponse;
      const onClose = () => {
        if (!res.writableFinished) aborter.abort(new Error('kubelet API caller went away'));
      };
      res.once('close', onClose);
      let body: NodeJS.ReadableStream & { destroy?: (err?: Error) => void };
      try {
        body = await deps.interlink.logs(request, aborter.signal);
      } catch (err) {
        res.off('close', onClose);
        if (aborter.signal.aborted) return reply.hijack();
        throw err;
      }
      reply.hijack();
      res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-cache' });
      res.flushHeaders();
      try {
        await pipeline(body, res);
      } catch (err) {
        // The caller left (follow ended by Ctrl-C) or the upstream broke mid-stream: the
        // response cannot carry an error any more; end it so the caller sees the cut.
        if (!aborter.signal.aborted)
          req.log.info(
            { err: (err as Error).message, pod: `${namespace}/${podName}`, container },
            'log stream ended early',
          );
        res.destroy();
      } finally {
        res.off('close', onClose);
      }
      return reply;
    },
  );
}

function containerNames(pod: KPod): string[] {
  const s = pod.spec;
  return [...(s?.containers ?? []), ...(s?.initContainers ?? []), ...(s?.ephemeralContainers ?? [])].map(
    (c) => c.name,
  );
}

/**
 * The kubelet API as a Controller: obtains the serving certificate (certs.ts), listens on
 * kubeletHttp.address:port, swaps certificates on rotation without a restart, and closes
 * (cutting open log streams) when the signal aborts. Ready once listening.
 */
export function createKubeletServer(deps: KubeletServerDeps): Controller {
  for (const k of ['config', 'kube', 'logger', 'interlink', 'pods', 'registry', 'clock'] as const) {
    if (!deps[k]) throw new Error(`createKubeletServer: missing dependency "${k}"`);
  }
  const http = deps.config.kubeletHttp;
  const log = deps.logger;
  const certs: ServingCerts | undefined = http.insecure
    ? undefined
    : createServingCerts({
        // The certificate must name the address the node controller publishes as InternalIP.
        config: { ...deps.config, podIp: resolveInternalIp(deps.config.podIp) },
        kube: deps.kube,
        logger: log,
        clock: deps.clock,
      });

  return controllerShell(async (signal, markReady) => {
    const inner = new AbortController();
    const onAbort = () => inner.abort(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    if (signal.aborted) onAbort();
    const certRun = certs?.run(inner.signal);
    try {
      if (certs) await Promise.race([certs.ready, certRun]);
      let material = certs?.current();
      const authorizer = createAuthorizer({
        reviewer: kubeReviewer(deps.kube.authentication, deps.kube.authorization),
        nodeName: deps.config.nodeName,
        clock: deps.clock,
        trustClientCerts: () => Boolean(material?.clientCa),
      });
      const app = buildKubeletApp({
        deps,
        authorizer,
        tls: material,
        startTime: new Date(deps.clock.now()),
        streams: createStreamClient(streamClientOptions(deps.config)),
      });
      certs?.onChange((m) => {
        material = m;
        // Served over TLS whenever there are certificates to rotate (https.Server is a tls.Server).
        if (app.server instanceof TlsServer) {
          app.server.setSecureContext({
            cert: m.cert,
            key: m.key,
            ...(m.clientCa ? { ca: m.clientCa } : {}),
          });
        }
        log.info({ source: m.source, notAfter: m.notAfter }, 'kubelet API certificate rotated');
      });
      if (http.insecure)
        log.warn('kubeletHttp.insecure: the kubelet API serves plain HTTP; the apiserver cannot use it');
      const where = await listenOn(app, {
        kind: 'tcp',
        protocol: http.insecure ? 'http' : 'https',
        host: http.address,
        port: http.port,
      });
      log.info({ address: where, certificate: material?.source }, 'kubelet API listening');
      markReady();
      await new Promise<void>((resolve, reject) => {
        if (inner.signal.aborted) resolve();
        inner.signal.addEventListener('abort', () => resolve(), { once: true });
        certRun?.catch(reject);
      });
      const closing = app.close();
      // Followed log streams would hold the close forever; their callers reconnect.
      app.server.closeAllConnections();
      await closing;
    } finally {
      signal.removeEventListener('abort', onAbort);
      inner.abort();
      await certRun?.catch(() => {});
    }
  });
}
