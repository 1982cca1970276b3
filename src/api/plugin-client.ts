/**
 * The API's view of the plugin (DESIGN.md §2, API → plugin), over one keep-alive
 * HttpClient (TCP, TLS or a unix socket). Every call carries the request's
 * `InterLink-Http-Session` id and is timed by op for the plugin latency histogram.
 * Failures are InterlinkErrors from HttpClient: UNAVAILABLE when the plugin cannot be
 * reached, TIMEOUT when it does not answer in time, the plugin's own code otherwise.
 *
 * All methods may be called concurrently; none retries (the VK's queue decides that).
 */

import type { Endpoint } from '../core/endpoint.ts';
import { HttpClient, type StreamAnswer, type TlsClientOptions } from '../core/http-client.ts';
import { codeOf, ErrorCode, InterlinkError, isNotFound } from '../errors/index.ts';
import {
  type BackendPod,
  BackendPodList,
  CreateStruct,
  DeleteAnswer,
  type LogStruct,
  type PodStatus,
  PodStatusList,
  type RetrievedPodData,
  StatsSummary,
} from '../wire/interlink.ts';
import type { Pod } from '../wire/k8s.ts';

export type PluginOp = 'create' | 'delete' | 'status' | 'logs' | 'ping' | 'stats' | 'list';

export interface PluginClientOptions {
  endpoint: Endpoint;
  tls?: TlsClientOptions;
  /** The bearer token to send, asked before each call (so a rotated file is picked up). */
  token?: () => Promise<string | undefined>;
  /** Timeout of one call (for log streams: the wait for the answer's headers), ms. Default 30 s. */
  timeoutMs?: number;
  /** Called once per call with its duration, for metrics. */
  observe?: (op: PluginOp, outcome: 'ok' | 'error', seconds: number) => void;
}

/** The plugin's ping answer, as it sent it: JSON (a PingResponse, or `[]` from a 0.6 plugin) or text. */
export type PingAnswer = { json: unknown } | { text: string };

// interLink 0.6 plugins written in Go answer `null` for an empty status list.
const StatusAnswer = PodStatusList.nullable();

export class PluginClient {
  readonly #http: HttpClient;
  readonly #observe: PluginClientOptions['observe'];

  constructor(opts: PluginClientOptions) {
    this.#http = new HttpClient({
      endpoint: opts.endpoint,
      ...(opts.tls ? { tls: opts.tls } : {}),
      ...(opts.token ? { token: opts.token } : {}),
      timeoutMs: opts.timeoutMs ?? 30_000,
    });
    this.#observe = opts.observe;
  }

  /** `http://host:port` or `unix:///path`, for messages. */
  describe(): string {
    return this.#http.describe();
  }

  async #timed<T>(op: PluginOp, fn: () => Promise<T>): Promise<T> {
    const start = performance.now();
    try {
      const v = await fn();
      this.#observe?.(op, 'ok', (performance.now() - start) / 1000);
      return v;
    } catch (err) {
      this.#observe?.(op, 'error', (performance.now() - start) / 1000);
      throw err;
    }
  }

  /** Submit a pod. Idempotency is the plugin's (per pod UID). */
  create(data: RetrievedPodData, session: string): Promise<CreateStruct> {
    return this.#timed('create', () =>
      this.#http.call({ method: 'POST', path: '/create', body: data, schema: CreateStruct, session }),
    );
  }

  /**
   * Delete a pod's backend job; resolves once it confirms with the plugin's text, or its
   * DeleteAnswer (JSON: what happened to the containers meanwhile, e.g. a failed preStop hook).
   */
  delete(pod: Pod, session: string): Promise<string | DeleteAnswer> {
    return this.#timed('delete', async () => {
      const answer = await this.#http.call({ method: 'POST', path: '/delete', body: pod, session });
      if (typeof answer === 'string') return answer;
      const parsed = DeleteAnswer.safeParse(answer);
      return parsed.success ? parsed.data : JSON.stringify(answer);
    });
  }

  /**
   * Statuses of many pods in ONE call (GET with a JSON body, as 0.6 plugins expect).
   * `pods` is the list, or its JSON as the caller sent it (forwarded unchanged). Resolves
   * with the checked statuses and the answer's JSON (a 0.6 plugin's `null` as `[]`), which
   * the API forwards unchanged too.
   */
  status(pods: Pod[] | string, session: string): Promise<{ statuses: PodStatus[]; json: string }> {
    return this.#timed('status', async () => {
      const call = { method: 'GET', path: '/status', body: pods, session } as const;
      const { text } = await this.#http.text(call);
      const statuses = this.#http.check(call, text, StatusAnswer);
      return statuses ? { statuses, json: text } : { statuses: [], json: '[]' };
    });
  }

  /**
   * A log stream. The caller must consume or destroy `body`; aborting `signal` (the
   * follower went away) ends the transfer, which closes the plugin's side too.
   */
  logs(req: LogStruct, session: string, signal: AbortSignal): Promise<StreamAnswer> {
    return this.#timed('logs', () =>
      this.#http.stream({ method: 'GET', path: '/getLogs', body: req, session, signal }),
    );
  }

  /**
   * Our SDK's `GET /ping`; when the plugin has none (404: an interLink 0.6 plugin) the
   * 0.6 ping, `GET /status` with `[]`. Throws like any call when the plugin is down.
   */
  ping(session: string, timeoutMs?: number): Promise<PingAnswer> {
    return this.#timed('ping', async () => {
      const t = timeoutMs === undefined ? {} : { timeoutMs };
      let answer: unknown;
      try {
        answer = await this.#http.call({ method: 'GET', path: '/ping', session, ...t });
      } catch (err) {
        if (!isNotFound(err)) throw err;
        answer = await this.#http.call({ method: 'GET', path: '/status', body: [], session, ...t });
      }
      return typeof answer === 'string' ? { text: answer } : { json: answer };
    });
  }

  /**
   * Every pod the plugin's backend runs or holds (our `GET /list`). NOT_SUPPORTED when the
   * plugin has no list: ours answer 501, an interLink 0.6 plugin 404 (it has no such route).
   */
  list(session: string): Promise<BackendPod[]> {
    return this.#timed('list', async () => {
      try {
        return await this.#http.call({ method: 'GET', path: '/list', session, schema: BackendPodList });
      } catch (err) {
        if (isNotFound(err) || codeOf(err) === ErrorCode.NOT_SUPPORTED) {
          throw new InterlinkError(
            ErrorCode.NOT_SUPPORTED,
            `the plugin at ${this.describe()} cannot list its pods (GET /list: ${(err as Error).message})`,
            { cause: err },
          );
        }
        throw err;
      }
    });
  }

  /** A kubelet `/stats/summary` document, when the plugin offers one (else NOT_FOUND). */
  stats(session: string): Promise<StatsSummary> {
    return this.#timed('stats', async () => {
      const answer = StatsSummary.safeParse(
        await this.#http.call({ method: 'GET', path: '/stats/summary', session }),
      );
      if (!answer.success) {
        throw new InterlinkError(
          ErrorCode.BACKEND,
          `GET /stats/summary on ${this.describe()}: answer is not a JSON object`,
        );
      }
      return answer.data;
    });
  }

  async close(): Promise<void> {
    await this.#http.close();
  }
}
