/**
 * Kubernetes clients for the VK.
 *
 * `@kubernetes/client-node` 2.0.1 builds a new undici Agent for every request (one TLS
 * handshake per call, no keep-alive); with a thousand pods that is the bottleneck. A
 * PooledKubeConfig keeps the first dispatcher it builds and hands it to every later
 * request (generated API clients and Watch alike), while credentials (headers: tokens
 * from exec plugins or a rotated service-account file) are still applied per request.
 *
 * `kubeRequest` is a small raw-JSON call for the pod hot path (list, get, status patch):
 * objects stay exactly as the apiserver sent them (timestamps as strings, quantities
 * untouched), which is what the informer cache holds and what we forward to interLink.
 */
import {
  AuthenticationV1Api,
  AuthorizationV1Api,
  CertificatesV1Api,
  CoordinationV1Api,
  CoreV1Api,
  HttpMethod,
  KubeConfig,
  RequestContext,
} from '@kubernetes/client-node';
import { type Dispatcher, fetch } from 'undici';
import { invalidInput } from '../errors/index.ts';
import type { KubeClients } from './types.ts';

export class PooledKubeConfig extends KubeConfig {
  #dispatcher: Dispatcher | undefined;
  #cluster: string | undefined;

  override async applySecurityAuthentication(context: RequestContext): Promise<void> {
    await super.applySecurityAuthentication(context);
    const cluster = this.getCurrentCluster()?.server;
    const fresh = context.getDispatcher();
    if (!fresh) return;
    if (this.#dispatcher && this.#cluster === cluster) {
      if (fresh !== this.#dispatcher) void (fresh as Dispatcher).close().catch(() => {});
      context.setDispatcher(this.#dispatcher as never);
      return;
    }
    this.#dispatcher = fresh as Dispatcher;
    this.#cluster = cluster;
  }
}

/** A kubeconfig file when given, else the in-cluster service account. */
export function makeKubeClients(
  kubeconfig: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
): KubeClients {
  const kc = new PooledKubeConfig();
  if (kubeconfig) {
    kc.loadFromFile(kubeconfig);
  } else if (env.KUBERNETES_SERVICE_HOST) {
    kc.loadFromCluster();
  } else {
    throw invalidInput(
      'no kubeconfig: pass --kubeconfig, set KUBECONFIG, or run inside a cluster',
      'kubeconfig',
    );
  }
  return clientsFor(kc);
}

export function clientsFor(kc: KubeConfig): KubeClients {
  return {
    kubeConfig: kc,
    core: kc.makeApiClient(CoreV1Api),
    coordination: kc.makeApiClient(CoordinationV1Api),
    certificates: kc.makeApiClient(CertificatesV1Api),
    authentication: kc.makeApiClient(AuthenticationV1Api),
    authorization: kc.makeApiClient(AuthorizationV1Api),
  };
}

/** An apiserver error: `code` is the HTTP status (as client-node's ApiException), `reason` the Status reason. */
export class KubeApiError extends Error {
  readonly code: number;
  readonly reason: string | undefined;
  readonly body: unknown;
  constructor(code: number, message: string, reason?: string, body?: unknown) {
    super(message);
    this.name = 'KubeApiError';
    this.code = code;
    this.reason = reason;
    this.body = body;
  }
}

/** The HTTP status of an error from client-node or kubeRequest, if it has one. */
export function httpStatusOf(err: unknown): number | undefined {
  const code = (err as { code?: unknown } | undefined)?.code;
  return typeof code === 'number' ? code : undefined;
}

export interface KubeRequest {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /** Path from the server root, e.g. `/api/v1/pods`. */
  path: string;
  query?: Record<string, string | number | boolean | undefined>;
  body?: unknown;
  /** For PATCH: the patch type (default merge patch). */
  contentType?: string;
  signal?: AbortSignal;
  /** Whole-call timeout, ms (default 30 s). */
  timeoutMs?: number;
  /** Accept header (default `application/json`; e.g. a metadata-only `as=PartialObjectMetadataList`). */
  accept?: string;
}

/** One raw JSON call to the apiserver. Throws KubeApiError for error answers. */
export async function kubeRequest<T = unknown>(kc: KubeConfig, req: KubeRequest): Promise<T> {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw invalidInput('kubeconfig has no current cluster', 'kubeconfig');
  const url = new URL(cluster.server.replace(/\/+$/, '') + req.path);
  for (const [k, v] of Object.entries(req.query ?? {}))
    if (v !== undefined) url.searchParams.set(k, String(v));
  const ctx = new RequestContext(url.toString(), HttpMethod[req.method]);
  await kc.applySecurityAuthentication(ctx);
  const headers: Record<string, string> = { ...ctx.getHeaders(), accept: req.accept ?? 'application/json' };
  let body: string | undefined;
  if (req.body !== undefined) {
    body = JSON.stringify(req.body);
    headers['content-type'] =
      req.method === 'PATCH' ? (req.contentType ?? 'application/merge-patch+json') : 'application/json';
  }
  const timeout = AbortSignal.timeout(req.timeoutMs ?? 30_000);
  const signal = req.signal ? AbortSignal.any([req.signal, timeout]) : timeout;
  const dispatcher = ctx.getDispatcher() as Dispatcher | undefined;
  const res = await fetch(url, {
    method: req.method,
    headers,
    body,
    signal,
    ...(dispatcher ? { dispatcher } : {}),
  });
  const text = await res.text();
  let parsed: unknown;
  try {
    parsed = text === '' ? undefined : JSON.parse(text);
  } catch {
    parsed = text;
  }
  if (res.status >= 400) {
    const st = parsed as { message?: string; reason?: string } | undefined;
    const message =
      typeof st === 'object' && st?.message ? st.message : text.slice(0, 500) || `HTTP ${res.status}`;
    throw new KubeApiError(
      res.status,
      `${req.method} ${req.path}: ${message}`,
      typeof st === 'object' ? st?.reason : undefined,
      parsed,
    );
  }
  return parsed as T;
}

export interface KubeWatchRequest {
  /** Collection path from the server root, e.g. `/api/v1/namespaces/ns/configmaps`. */
  path: string;
  query?: Record<string, string | number | boolean | undefined>;
  accept?: string;
  signal: AbortSignal;
  /** No byte for this long and the connection is taken for dead (ms). */
  idleTimeoutMs: number;
}

/**
 * One raw watch (`?watch=true`): `onEvent` gets each event's type and object as the
 * apiserver sent them. Resolves when the server ends the watch (its `timeoutSeconds`) or
 * `signal` aborts; rejects with a KubeApiError for an error answer and with a TimeoutError
 * after `idleTimeoutMs` without a byte. Unlike client-node's Watch, headers are ours (a
 * metadata-only Accept) and a quiet watch is not cut after 30 s.
 */
export async function kubeWatch(
  kc: KubeConfig,
  req: KubeWatchRequest,
  onEvent: (type: string, object: unknown) => void,
): Promise<void> {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw invalidInput('kubeconfig has no current cluster', 'kubeconfig');
  const url = new URL(cluster.server.replace(/\/+$/, '') + req.path);
  url.searchParams.set('watch', 'true');
  for (const [k, v] of Object.entries(req.query ?? {}))
    if (v !== undefined) url.searchParams.set(k, String(v));
  const ctx = new RequestContext(url.toString(), HttpMethod.GET);
  await kc.applySecurityAuthentication(ctx);
  const idle = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const touch = () => {
    clearTimeout(timer);
    timer = setTimeout(
      () => idle.abort(new DOMException('watch idle', 'TimeoutError')),
      req.idleTimeoutMs,
    ).unref();
  };
  const dispatcher = ctx.getDispatcher() as Dispatcher | undefined;
  try {
    touch();
    const res = await fetch(url, {
      method: 'GET',
      headers: { ...ctx.getHeaders(), accept: req.accept ?? 'application/json' },
      signal: AbortSignal.any([req.signal, idle.signal]),
      ...(dispatcher ? { dispatcher } : {}),
    });
    if (res.status >= 400) {
      const text = await res.text();
      const st = (() => {
        try {
          return JSON.parse(text) as { message?: string; reason?: string };
        } catch {
          return undefined;
        }
      })();
      throw new KubeApiError(
        res.status,
        `WATCH ${req.path}: ${st?.message ?? `HTTP ${res.status}`}`,
        st?.reason,
      );
    }
    if (!res.body) return;
    const decoder = new TextDecoder();
    let buf = '';
    for await (const chunk of res.body) {
      touch();
      buf += decoder.decode(chunk, { stream: true });
      let nl = buf.indexOf('\n');
      while (nl >= 0) {
        const line = buf.slice(0, nl).trim();
        buf = buf.slice(nl + 1);
        nl = buf.indexOf('\n');
        if (!line) continue;
        const ev = JSON.parse(line) as { type?: string; object?: unknown };
        if (ev.type) onEvent(ev.type, ev.object);
      }
    }
  } catch (err) {
    if (req.signal.aborted) return;
    if (idle.signal.aborted) throw idle.signal.reason;
    throw err;
  } finally {
    clearTimeout(timer);
  }
}
