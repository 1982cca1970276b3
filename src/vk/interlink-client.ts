/**
 * The VK's view of the interLink API (DESIGN §2, STYLE habit 1): six calls over one
 * keep-alive HttpClient. The bearer token file is re-read when the copy in memory is a
 * second old (a sidecar may rotate it); each call carries the session header `<op>#<id>`
 * so one request can be followed through VK, API and plugin logs.
 *
 * With tracing on (core/tracing.ts) create, delete, status (one span for the whole batch)
 * and logs are each a span carrying the pod's UID, namespace and name (and, for create, the
 * backend job id the plugin answered); the HTTP client sends its `traceparent`, so the API's
 * and the plugin's spans, down to the backend command, join the same trace.
 *
 * Errors are InterlinkErrors with a code (UNAVAILABLE/TIMEOUT: the API is down or slow;
 * BACKEND: the API or plugin failed; NOT_FOUND, INVALID_INPUT: refused). Callers decide
 * retries (the pod queue does); nothing here retries on its own.
 */
import { readFileSync } from 'node:fs';
import type { Readable } from 'node:stream';
import { type Endpoint, formatEndpoint } from '../core/endpoint.ts';
import { type CallOptions, HttpClient, type TlsClientOptions } from '../core/http-client.ts';
import {
  Attr,
  type Attributes,
  podAttributes,
  podsAttributes,
  type Span,
  SpanKind,
  withSpan,
} from '../core/tracing.ts';
import { unavailable } from '../errors/index.ts';
import { newSessionId } from '../wire/headers.ts';
import {
  type BackendPod,
  BackendPodList,
  CreateStruct,
  DeleteAnswer,
  type LogStruct,
  PingResponse,
  type PodCreateRequests,
  type PodStatus,
  PodStatusList,
} from '../wire/interlink.ts';
import type { Pod } from '../wire/k8s.ts';

export interface InterlinkClient {
  /** Where the API is, for messages. */
  describe(): string;
  /**
   * Submit a pod. Idempotent per pod UID on our API and plugins (a second create returns
   * the existing job id); may block while the plugin accepts. Does not mutate `req`.
   */
  create(req: PodCreateRequests, signal?: AbortSignal): Promise<CreateStruct>;
  /**
   * Delete a pod's backend job. Resolves once the API answered 2xx (the API waits for the
   * plugin's confirmation); deleting an unknown pod resolves too. Throws to be retried.
   * Resolves with the answer's DeleteAnswer when it sent one (e.g. a failed preStop hook).
   */
  delete(pod: Pod, signal?: AbortSignal): Promise<DeleteAnswer | undefined>;
  /**
   * Status of many pods in ONE call. Pods the backend does not know are absent from the
   * answer. An empty `pods` is a valid call (it answers `[]`).
   */
  status(pods: Pod[], signal?: AbortSignal): Promise<PodStatus[]>;
  /**
   * A container's log as a byte stream; with `Opts.Follow` it stays open until the
   * container ends or `signal` aborts. The caller must consume or destroy it.
   */
  logs(req: LogStruct, signal: AbortSignal): Promise<Readable>;
  /** Health of the API and its plugin: the plugin's PingResponse, or its text answer. Throws when down (503). */
  ping(signal?: AbortSignal): Promise<PingResponse | string>;
  /** Tell the API to drop its cached status of `pod` (after a token refresh, a re-adoption). */
  updateCache(pod: Pod, signal?: AbortSignal): Promise<void>;
  /**
   * A kubelet `/stats/summary`-shaped document from the plugin, when the API offers it
   * (our extension `GET /stats/summary`); NOT_FOUND / NOT_SUPPORTED otherwise.
   */
  stats(signal?: AbortSignal): Promise<unknown>;
  /**
   * Every pod the backend runs or holds (our `GET /list`), for the orphan sweep. Throws
   * NOT_SUPPORTED (501) when the API or its plugin cannot list (interLink 0.6), NOT_FOUND
   * from an interLink 0.6 API (no such route). Optional so fakes and older clients compile.
   */
  list?(signal?: AbortSignal): Promise<BackendPod[]>;
  close(): Promise<void>;
}

export interface InterlinkClientOptions {
  endpoint: Endpoint;
  /** Bearer token file, re-read when the copy in memory is TOKEN_TTL_MS old. Absent: no Authorization header. */
  tokenFile?: string | undefined;
  /** The clock of the token's age (ms; default Date.now). */
  now?: () => number;
  tls?: TlsClientOptions;
  timeoutMs?: number;
  connections?: number;
}

/**
 * How long a token read from its file is used before the file is read again (ms). A
 * rotated token is in use within a second; a burst of calls (hundreds a second) reads the
 * file once a second instead of once a call (the reads were 2 % of a busy VK's CPU).
 */
export const TOKEN_TTL_MS = 1_000;

/**
 * The token in `path`, read again once the copy in memory is TOKEN_TTL_MS old.
 * Synchronous on purpose: a token file is a few hundred bytes on a local (often tmpfs)
 * mount, and the promise API's open/stat/read/close round trips through the thread pool
 * cost more CPU than the read itself. A read that fails after an earlier one worked keeps
 * the last token (a rotation in progress); a first read that fails is UNAVAILABLE.
 */
export function tokenFileReader(path: string, now: () => number): () => string | undefined {
  let cached: { value: string | undefined; at: number } | undefined;
  return () => {
    const t = now();
    if (cached && t - cached.at < TOKEN_TTL_MS) return cached.value;
    try {
      cached = { value: readFileSync(path, 'utf8').trim() || undefined, at: t };
    } catch (err) {
      if (cached) return cached.value;
      throw unavailable(`cannot read the interLink token file ${path}: ${(err as Error).message}`, err);
    }
    return cached.value;
  };
}

/** Build the client. Never connects by itself (undici connects lazily). */
export function createInterlinkClient(opts: InterlinkClientOptions): InterlinkClient {
  const tokenFile = opts.tokenFile;
  const http = new HttpClient({
    endpoint: opts.endpoint,
    ...(opts.tls ? { tls: opts.tls } : {}),
    ...(opts.timeoutMs ? { timeoutMs: opts.timeoutMs } : {}),
    ...(opts.connections ? { connections: opts.connections } : {}),
    token: tokenFile ? tokenFileReader(tokenFile, opts.now ?? Date.now) : undefined,
  } as ConstructorParameters<typeof HttpClient>[0]);
  /** A call named `op` (its session id carries the name), with a body and a signal when given. */
  const request = (
    op: string,
    method: CallOptions['method'],
    path: string,
    signal: AbortSignal | undefined,
    body?: unknown,
  ): CallOptions => ({
    method,
    path,
    session: newSessionId(op),
    ...(body === undefined ? {} : { body }),
    ...(signal ? { signal } : {}),
  });

  const traced = <T>(name: string, attrs: Attributes, fn: (span: Span) => Promise<T>) =>
    withSpan(`vk ${name}`, attrs, fn, SpanKind.CLIENT);

  return {
    describe: () => formatEndpoint(opts.endpoint),
    create: (req, signal) =>
      traced('pod.create', podAttributes(req.pod), async (span) => {
        const answer = await http.call({
          ...request('create', 'POST', '/create', signal, req),
          schema: CreateStruct,
        });
        if (answer.PodJID) span.setAttribute(Attr.jobId, answer.PodJID);
        return answer;
      }),
    delete: (pod, signal) =>
      traced('pod.delete', podAttributes(pod), async () => {
        const answer = await http.call(request('delete', 'DELETE', '/delete', signal, pod));
        if (typeof answer !== 'object' || answer === null) return undefined;
        const parsed = DeleteAnswer.safeParse(answer);
        return parsed.success ? parsed.data : undefined;
      }),
    status: (pods, signal) =>
      traced('pod.status', podsAttributes(pods), async () => {
        // GET with a body, as interLink 0.6 APIs expect (ours accepts POST too).
        const answer = await http.call({
          ...request('status', 'GET', '/status', signal, pods),
          schema: PodStatusList.nullish(),
        });
        return answer ?? [];
      }),
    // The span covers the call up to the answer's headers, not the stream that follows.
    logs: (req, signal) =>
      traced(
        'pod.logs',
        podAttributes({ metadata: { uid: req.PodUID, name: req.PodName, namespace: req.Namespace } }),
        async () => (await http.stream(request('logs', 'GET', '/getLogs', signal, req))).body,
      ),
    async ping(signal) {
      const answer = await http.call(request('ping', 'POST', '/pinglink', signal));
      if (typeof answer === 'string') {
        // Some plugins answer JSON without saying so.
        const trimmed = answer.trim();
        if (trimmed.startsWith('{')) {
          try {
            const parsed = PingResponse.safeParse(JSON.parse(trimmed));
            if (parsed.success) return parsed.data;
          } catch {
            // plain text after all
          }
        }
        return answer;
      }
      const parsed = PingResponse.safeParse(answer);
      return parsed.success ? parsed.data : JSON.stringify(answer);
    },
    async updateCache(pod, signal) {
      await http.call(request('updateCache', 'POST', '/updateCache', signal, pod));
    },
    stats: (signal) => http.call(request('stats', 'GET', '/stats/summary', signal)),
    list: (signal) => http.call({ ...request('list', 'GET', '/list', signal), schema: BackendPodList }),
    close: () => http.close(),
  };
}
