/**
 * Kubernetes clients for the VK, without `@kubernetes/client-node` at run time (its
 * `KubeConfig` loads the generated index of every API group: ~85 MiB of RSS; only its types
 * are used here, and they are erased).
 *
 * A KubeConnection (src/vk/kube-connection.ts) keeps one pooled undici dispatcher and
 * applies the credentials per request (tokens from exec plugins or a rotated
 * service-account file). `kubeRequest` is one raw JSON call and `kubeWatch` one watch:
 * objects stay exactly as the apiserver sent them (timestamps as strings, quantities
 * untouched), which is what the informer cache holds and what we forward to interLink.
 * src/vk/kube-api.ts names the few typed calls of the node side on top of them.
 */
import { invalidInput } from '../errors/index.ts';
import { authenticationV1, authorizationV1, certificatesV1, coordinationV1, coreV1 } from './kube-api.ts';
import { KubeConnection, type KubeConnectionOptions } from './kube-connection.ts';
import { inClusterTarget, readKubeconfigs, resolveTarget } from './kubeconfig.ts';
import type { KubeClients } from './types.ts';

export { KubeConnection } from './kube-connection.ts';

export interface KubeConnectionSpec {
  /** A kubeconfig file, or a `:`-separated list of them (KUBECONFIG); absent: in-cluster. */
  kubeconfig?: string | undefined;
  /** A context other than the current-context. */
  context?: string | undefined;
}

/** The connection a kubeconfig (or the in-cluster service account) describes. */
export function connectKube(
  spec: KubeConnectionSpec,
  env: NodeJS.ProcessEnv = process.env,
  opts: KubeConnectionOptions = {},
): KubeConnection {
  if (spec.kubeconfig)
    return new KubeConnection(resolveTarget(readKubeconfigs(spec.kubeconfig), spec.context), opts);
  if (env.KUBERNETES_SERVICE_HOST) return new KubeConnection(inClusterTarget(env), opts);
  throw invalidInput(
    'no kubeconfig: pass --kubeconfig, set KUBECONFIG, or run inside a cluster',
    'kubeconfig',
  );
}

/** A kubeconfig file when given, else the in-cluster service account. */
export function makeKubeClients(
  kubeconfig: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
  context?: string,
): KubeClients {
  return clientsFor(connectKube({ kubeconfig, context }, env));
}

export function clientsFor(kc: KubeConnection): KubeClients {
  return {
    kubeConfig: kc,
    core: coreV1(kc),
    coordination: coordinationV1(kc),
    certificates: certificatesV1(kc),
    authentication: authenticationV1(kc),
    authorization: authorizationV1(kc),
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

/** The HTTP status of an error from kubeRequest (or client-node), if it has one. */
export function httpStatusOf(err: unknown): number | undefined {
  const code = (err as { code?: unknown } | undefined)?.code;
  return typeof code === 'number' ? code : undefined;
}

const USER_AGENT = { 'user-agent': 'interlink-vk' };

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
  /**
   * The caller has no use for a successful answer (an Event written, a pod deleted): its
   * body is read and dropped unparsed, and the call resolves with undefined. Error answers
   * are parsed as always.
   */
  discard?: boolean;
}

/** `path?query` of a request, the query's undefined values left out. */
function pathWithQuery(path: string, query: KubeRequest['query'], extra?: string): string {
  const q = new URLSearchParams(extra);
  for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined) q.set(k, String(v));
  const s = q.toString();
  return s === '' ? path : `${path}?${s}`;
}

/** The apiserver's error answer as a KubeApiError (its Status message and reason when it sent one). */
function apiError(status: number, what: string, text: string): KubeApiError {
  let parsed: unknown = text;
  try {
    parsed = text === '' ? undefined : JSON.parse(text);
  } catch {
    // not JSON: keep the text
  }
  const st =
    typeof parsed === 'object' ? (parsed as { message?: string; reason?: string } | null) : undefined;
  const message = st?.message ? st.message : text.slice(0, 500) || `HTTP ${status}`;
  return new KubeApiError(status, `${what}: ${message}`, st?.reason, parsed);
}

/**
 * One raw JSON call to the apiserver. Throws KubeApiError for error answers.
 *
 * Through the dispatcher's `request`, not WHATWG `fetch`: fetch builds Request/Response
 * objects, a Headers list and a web stream per call, which was the largest block of the
 * VK's CPU profile (docs/performance.md, "VK CPU per pod").
 */
export async function kubeRequest<T = unknown>(kc: KubeConnection, req: KubeRequest): Promise<T> {
  const path = pathWithQuery(req.path, req.query);
  const url = new URL(kc.server + path);
  const { headers: auth, dispatcher } = await kc.prepare(req.method, url);
  const headers: Record<string, string> = {
    ...auth,
    ...USER_AGENT,
    accept: req.accept ?? 'application/json',
  };
  let body: string | undefined;
  if (req.body !== undefined) {
    body = JSON.stringify(req.body);
    headers['content-type'] =
      req.method === 'PATCH' ? (req.contentType ?? 'application/merge-patch+json') : 'application/json';
  }
  const timeout = AbortSignal.timeout(req.timeoutMs ?? 30_000);
  const signal = req.signal ? AbortSignal.any([req.signal, timeout]) : timeout;
  const res = await dispatcher.request({
    origin: url.origin,
    path: url.pathname + url.search,
    method: req.method,
    headers,
    body,
    signal,
  });
  if (res.statusCode === 401) kc.unauthorized();
  if (req.discard && res.statusCode < 400) {
    await res.body.dump();
    return undefined as T;
  }
  const text = await res.body.text();
  if (res.statusCode >= 400) throw apiError(res.statusCode, `${req.method} ${req.path}`, text);
  if (text === '') return undefined as T;
  try {
    return JSON.parse(text) as T;
  } catch {
    return text as T;
  }
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
  kc: KubeConnection,
  req: KubeWatchRequest,
  onEvent: (type: string, object: unknown) => void,
): Promise<void> {
  const url = new URL(kc.server + pathWithQuery(req.path, req.query, 'watch=true'));
  const { headers, dispatcher } = await kc.prepare('GET', url);
  const idle = new AbortController();
  // One timer for the whole watch, pushed back by each chunk (refresh, not a new timer).
  const timer = setTimeout(
    () => idle.abort(new DOMException('watch idle', 'TimeoutError')),
    req.idleTimeoutMs,
  ).unref();
  try {
    const res = await dispatcher.request({
      origin: url.origin,
      path: url.pathname + url.search,
      method: 'GET',
      headers: { ...headers, ...USER_AGENT, accept: req.accept ?? 'application/json' },
      signal: AbortSignal.any([req.signal, idle.signal]),
    });
    if (res.statusCode === 401) kc.unauthorized();
    if (res.statusCode >= 400) throw apiError(res.statusCode, `WATCH ${req.path}`, await res.body.text());
    const decoder = new TextDecoder();
    let buf = '';
    for await (const chunk of res.body) {
      timer.refresh();
      buf += decoder.decode(chunk as Buffer, { stream: true });
      let start = 0;
      for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n', start)) {
        const line = buf.slice(start, nl);
        start = nl + 1;
        if (line.trim() === '') continue;
        const ev = JSON.parse(line) as { type?: string; object?: unknown };
        if (ev.type) onEvent(ev.type, ev.object);
      }
      buf = buf.slice(start);
    }
  } catch (err) {
    if (req.signal.aborted) return;
    if (idle.signal.aborted) throw idle.signal.reason;
    throw err;
  } finally {
    clearTimeout(timer);
  }
}
