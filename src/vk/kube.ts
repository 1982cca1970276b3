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
import { fetch } from 'undici';
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
}

/** One raw JSON call to the apiserver. Throws KubeApiError for error answers. */
export async function kubeRequest<T = unknown>(kc: KubeConnection, req: KubeRequest): Promise<T> {
  const url = new URL(kc.server + req.path);
  for (const [k, v] of Object.entries(req.query ?? {}))
    if (v !== undefined) url.searchParams.set(k, String(v));
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
  const res = await fetch(url, { method: req.method, headers, body, signal, dispatcher });
  if (res.status === 401) kc.unauthorized();
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
  kc: KubeConnection,
  req: KubeWatchRequest,
  onEvent: (type: string, object: unknown) => void,
): Promise<void> {
  const url = new URL(kc.server + req.path);
  url.searchParams.set('watch', 'true');
  for (const [k, v] of Object.entries(req.query ?? {}))
    if (v !== undefined) url.searchParams.set(k, String(v));
  const { headers, dispatcher } = await kc.prepare('GET', url);
  const idle = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const touch = () => {
    clearTimeout(timer);
    timer = setTimeout(
      () => idle.abort(new DOMException('watch idle', 'TimeoutError')),
      req.idleTimeoutMs,
    ).unref();
  };
  try {
    touch();
    const res = await fetch(url, {
      method: 'GET',
      headers: { ...headers, ...USER_AGENT, accept: req.accept ?? 'application/json' },
      signal: AbortSignal.any([req.signal, idle.signal]),
      dispatcher,
    });
    if (res.status === 401) kc.unauthorized();
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
