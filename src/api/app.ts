/**
 * The interLink API (DESIGN.md §2, VK → API), built without listening (tests `inject`
 * or listen on a port or socket; `startApi` in server.ts listens for real).
 *
 * Each route validates its body with the wire schema, forwards ONE call to the plugin
 * carrying the request's `InterLink-Http-Session` (taken from the VK, or generated), and
 * maps failures through the shared error handler: plugin unreachable → 503, never stale
 * cached data. The plugin's address and the transport cause go to the log, not to the
 * caller; a caller's mistake is a 4xx, never a 503.
 */
import { Gauge, Histogram } from 'prom-client';
import { z } from 'zod';
import { type Authenticator, authHook } from '../core/auth.ts';
import { registerDebugRoutes } from '../core/debug-routes.ts';
import type { Endpoint } from '../core/endpoint.ts';
import type { TlsClientOptions } from '../core/http-client.ts';
import {
  createServer,
  DEFAULT_BODY_LIMIT,
  type Readiness,
  rawBodyOf,
  type ServerOptions,
  type ServerParts,
  type ZodApp,
} from '../core/http-server.ts';
import type { Logger } from '../core/logger.ts';
import { codeOf, ErrorCode, InterlinkError, invalidInput } from '../errors/index.ts';
import {
  CreateStruct,
  PingResponse,
  PodCreateRequests,
  StatsSummary,
  TextAnswer,
} from '../wire/interlink.ts';
import { Pod } from '../wire/k8s.ts';
import { API_STATUS_ROUTE, WIRE_ROUTES } from '../wire/routes.ts';
import { listRoute, type ViaPlugin } from './list.ts';
import { PluginClient } from './plugin-client.ts';
import { toRetrievedPodData } from './retrieve.ts';
import { StatusCache } from './status-cache.ts';
import { registerStatusPage } from './status-page.ts';
import { registerApiStreamRoutes } from './streams.ts';
import { viaPluginOf } from './via-plugin.ts';

export interface ApiAppOptions {
  logger: Logger;
  /** Where the plugin listens, and how to reach it. */
  plugin: {
    endpoint: Endpoint;
    tls?: TlsClientOptions;
    timeoutMs?: number;
    token?: () => Promise<string | undefined>;
  };
  auth: Authenticator;
  bodyLimit?: number;
  limits?: ServerOptions['limits'];
  https?: ServerOptions['https'];
  /** How long /readyz waits for the plugin's ping, ms (default 2 s). */
  readyTimeoutMs?: number;
  /** Serve /debug/pprof/profile and /debug/pprof/heap (behind `auth`); default false. */
  debugEndpoints?: boolean;
}

export interface ApiApp extends ServerParts {
  cache: StatusCache;
  plugin: PluginClient;
}

const podRef = (p: Pod) => `${p.metadata.namespace}/${p.metadata.name}`;

export function buildApiApp(opts: ApiAppOptions): ApiApp {
  const log = opts.logger.child({ component: 'api' });
  let plugin!: PluginClient;
  const parts = createServer({
    logger: log,
    bodyLimit: opts.bodyLimit ?? DEFAULT_BODY_LIMIT,
    metricsPrefix: 'interlink_api',
    ...(opts.https ? { https: opts.https } : {}),
    ...(opts.limits ? { limits: opts.limits } : {}),
    notReadyReason: async () => {
      try {
        await plugin.ping(`readyz#${Date.now().toString(36)}`, opts.readyTimeoutMs ?? 2_000);
        return undefined;
      } catch (err) {
        return `plugin at ${plugin.describe()} is not answering: ${(err as Error).message}`;
      }
    },
  });
  const { app, registry, readiness } = parts;
  const cache = new StatusCache();

  const pluginLatency = new Histogram({
    name: 'interlink_api_plugin_call_duration_seconds',
    help: 'Latency of calls from the API to the plugin, by operation and outcome',
    labelNames: ['op', 'outcome'],
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [registry],
  });
  new Gauge({
    name: 'interlink_api_cached_pods',
    help: 'Pods whose last status is in the status cache',
    registers: [registry],
    collect() {
      this.set(cache.size);
    },
  });
  plugin = new PluginClient({
    ...opts.plugin,
    observe: (op, outcome, seconds) => pluginLatency.observe({ op, outcome }, seconds),
  });
  // Follow streams never end on their own: cut them when the server closes (kubectl re-asks).
  const followers = new Set<AbortController>();
  app.addHook('preClose', async () => {
    for (const ctl of followers) ctl.abort(new Error('API shutting down'));
  });
  app.addHook('onClose', async () => {
    await plugin.close();
  });
  app.addHook('onRequest', authHook(opts.auth));

  const viaPlugin = viaPluginOf(plugin);
  registerPodRoutes(app, { plugin, cache, viaPlugin, followers });
  registerLinkRoutes(app, { plugin, cache, viaPlugin, readiness });
  // The read-only status page, behind the same auth hook.
  registerStatusPage(app, { cache, plugin, viaPlugin });
  if (opts.debugEndpoints) registerDebugRoutes(app, { name: 'api' });

  // exec, attach, port-forward: WebSocket upgrades relayed to the plugin (src/api/streams.ts).
  registerApiStreamRoutes(app, { log, auth: opts.auth, plugin: opts.plugin });

  return { ...parts, cache, plugin };
}

interface RouteDeps {
  plugin: PluginClient;
  cache: StatusCache;
  viaPlugin: ViaPlugin;
}

/** The pod routes of the interLink 0.6 wire: create, delete, status, getLogs. */
function registerPodRoutes(app: ZodApp, deps: RouteDeps & { followers: Set<AbortController> }): void {
  const { plugin, cache, viaPlugin, followers } = deps;
  // Creates still at the plugin, by pod UID. A VK killed while its create was in flight asks
  // again after its restart (status, then create): both wait for the first create instead
  // of racing it, so the plugin gets one create per UID (it must be idempotent anyway).
  const creating = new Map<string, Promise<CreateStruct>>();
  const settled = (uids: string[]) =>
    Promise.all(uids.map((u) => creating.get(u)?.catch(() => undefined)).filter(Boolean));

  app.post(
    '/create',
    { schema: { body: PodCreateRequests, response: { 200: CreateStruct } } },
    async (req) => {
      const pod = req.body.pod;
      const uid = pod.metadata.uid;
      const inFlight = creating.get(uid);
      if (inFlight) {
        req.log.info({ pod: podRef(pod), uid }, 'create of a pod whose create is in flight: waiting for it');
        return inFlight;
      }
      const { data, warnings } = toRetrievedPodData(req.body);
      for (const w of warnings) req.log.warn({ pod: podRef(pod) }, w);
      const answer = viaPlugin(req, 'create', () => plugin.create(data, req.id)).then(
        (a) => {
          cache.noteCreate(pod, { jid: a.PodJID });
          req.log.info({ pod: podRef(pod), uid, jid: a.PodJID }, 'pod created');
          return a;
        },
        (err: unknown) => {
          cache.noteCreate(pod, { error: (err as Error).message });
          throw err;
        },
      );
      creating.set(uid, answer);
      try {
        return await answer;
      } finally {
        creating.delete(uid);
      }
    },
  );

  // The plugin's answer as it sent it: text, or a DeleteAnswer (the VK records its Events).
  app.route({
    ...WIRE_ROUTES.delete,
    handler: async (req, reply) => {
      const pod = req.body;
      const answer = await viaPlugin(req, 'delete', () => plugin.delete(pod, req.id));
      cache.drop(pod.metadata.uid);
      req.log.info({ pod: podRef(pod), uid: pod.metadata.uid }, 'pod deleted');
      if (typeof answer !== 'string') return reply.type('application/json').send(JSON.stringify(answer));
      return reply.type('text/plain; charset=utf-8').send(answer || `pod ${podRef(pod)} deleted`);
    },
  });

  app.route({
    ...API_STATUS_ROUTE,
    config: { keepRawBody: true },
    handler: async (req, reply) => {
      const pods = req.body ?? [];
      // A pod asked about while its create is in flight (a restarted VK adopting): the answer
      // after that create, not a "not found" that would make the VK create it again.
      await settled(pods.map((p) => p.metadata.uid));
      // Checked for identity and container names (API_STATUS_ROUTE), forwarded as sent: the
      // plugin validates each pod whole, and a poll of thousands is not parsed twice here.
      const body = pods.length > 0 ? (rawBodyOf(req) ?? pods) : [];
      const { statuses, json } = await viaPlugin(req, 'status', () => plugin.status(body, req.id));
      cache.update(statuses);
      req.log.debug({ asked: pods.length, answered: statuses.length }, 'status');
      // The plugin's answer, checked (PodStatusList) and cached, goes back as it came: a string
      // with a JSON content type is sent as is (Fastify serialises objects only), hence the
      // cast past the route's declared answer type.
      return reply.type('application/json').send(json as never);
    },
  });

  app.route({
    ...WIRE_ROUTES.getLogs,
    handler: async (req, reply) => {
      const opts = req.body.Opts;
      if (opts.SinceSeconds && opts.SinceTime && opts.SinceTime !== '0001-01-01T00:00:00Z') {
        throw invalidInput(
          'Opts.SinceTime: give at most one of Opts.SinceSeconds and Opts.SinceTime',
          'Opts.SinceTime',
        );
      }
      const ctl = new AbortController();
      followers.add(ctl);
      // The caller hanging up (kubectl logs -f interrupted) ends the plugin's stream too.
      reply.raw.once('close', () => {
        followers.delete(ctl);
        ctl.abort(new Error('log reader went away'));
      });
      const answer = await viaPlugin(req, 'getLogs', () => plugin.logs(req.body, req.id, ctl.signal));
      req.log.debug(
        {
          pod: `${req.body.Namespace}/${req.body.PodName}`,
          container: req.body.ContainerName,
          follow: opts.Follow === true,
        },
        'log stream',
      );
      const type = answer.headers['content-type'];
      reply.type(typeof type === 'string' ? type : 'text/plain; charset=utf-8');
      reply.header('cache-control', 'no-cache');
      reply.header('x-content-type-options', 'nosniff');
      // Headers go out with the first chunk; a follower of a quiet container must not wait for them.
      if (opts.Follow) reply.raw.once('pipe', () => reply.raw.flushHeaders());
      return reply.send(answer.body);
    },
  });
}

/** The link and cache routes: pinglink, updateCache, stats, list. */
function registerLinkRoutes(app: ZodApp, deps: RouteDeps & { readiness: Readiness }): void {
  const { plugin, cache, viaPlugin, readiness } = deps;
  app.route({
    method: ['POST', 'GET'],
    url: '/pinglink',
    // The plugin's answer as it sent it: a PingResponse, or text from older plugins.
    schema: { response: { 200: z.union([PingResponse, TextAnswer]) } },
    handler: async (req, reply) => {
      let answer: Awaited<ReturnType<PluginClient['ping']>>;
      try {
        answer = await plugin.ping(req.id);
      } catch (err) {
        const msg = (err as Error).message;
        req.log.warn({ err: msg, plugin: plugin.describe() }, 'ping: plugin unreachable');
        readiness.record(`plugin at ${plugin.describe()} is not answering: ${msg}`);
        // Whatever the failure (refused, timeout, plugin error), the link is not usable: 503.
        // The plugin's own error message is relayed; transport detail (its address) is not.
        const code = codeOf(err);
        const detail =
          code === ErrorCode.UNAVAILABLE || code === ErrorCode.TIMEOUT
            ? ''
            : `: ${msg.replaceAll(plugin.describe(), 'the plugin')}`;
        throw new InterlinkError(ErrorCode.UNAVAILABLE, `the plugin is not answering${detail}`, {
          cause: err,
        });
      }
      readiness.record(undefined);
      if ('json' in answer) return reply.type('application/json').send(JSON.stringify(answer.json));
      return reply.type('text/plain; charset=utf-8').send(answer.text);
    },
  });

  app.post('/updateCache', { schema: { body: Pod, response: { 200: TextAnswer } } }, async (req, reply) => {
    const pod = req.body;
    const dropped = cache.drop(pod.metadata.uid);
    req.log.debug({ pod: podRef(pod), uid: pod.metadata.uid, dropped }, 'cache entry dropped');
    return reply.type('text/plain; charset=utf-8').send('Updated cache');
  });

  app.get('/stats/summary', { schema: { response: { 200: StatsSummary } } }, async (req) =>
    viaPlugin(req, 'stats', () => plugin.stats(req.id)),
  );
  listRoute(app, plugin, viaPlugin);
}
