/**
 * A keep-alive HTTP client over TCP, TLS or a unix socket (undici), used on every hop:
 * VK → API and API → plugin. It owns connection pooling, timeouts, the bearer token and
 * the session header, the W3C `traceparent` of the active span (core/tracing.ts; also over a
 * unix socket), and turns transport failures and error answers into classified
 * InterlinkErrors, so callers only decide what to do with a code.
 */
import type { Readable } from 'node:stream';
import { Agent, type Dispatcher, errors as undiciErrors } from 'undici';
import type { z } from 'zod';
import { ErrorCode, fromHttpStatus, InterlinkError } from '../errors/index.ts';
import { SESSION_HEADER } from '../wire/headers.ts';
import { type Endpoint, formatEndpoint } from './endpoint.ts';
import { injectTraceHeaders } from './tracing.ts';

export interface TlsClientOptions {
  ca?: string | Buffer;
  cert?: string | Buffer;
  key?: string | Buffer;
  /** Skip server certificate verification (explicit opt-in only). */
  insecureSkipVerify?: boolean;
}

export interface HttpClientOptions {
  endpoint: Endpoint;
  tls?: TlsClientOptions;
  /** Default timeout for a whole non-streaming call, in ms (default 30 s). */
  timeoutMs?: number;
  /** Connect timeout in ms (default 5 s). */
  connectTimeoutMs?: number;
  /** Max sockets to the peer (default 32). */
  connections?: number;
  /** Returns the bearer token to send, read fresh for each call (a sidecar may rotate it). */
  token?: () => Promise<string | undefined> | string | undefined;
  /** Extra headers on every call. */
  headers?: Record<string, string>;
}

export interface CallOptions {
  method: 'GET' | 'POST' | 'DELETE' | 'PUT' | 'PATCH';
  path: string;
  body?: unknown;
  session?: string;
  signal?: AbortSignal;
  timeoutMs?: number;
  headers?: Record<string, string>;
}

export interface StreamAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Readable;
}

export class HttpClient {
  readonly endpoint: Endpoint;
  readonly #agent: Agent;
  readonly #origin: string;
  readonly #opts: HttpClientOptions;

  constructor(opts: HttpClientOptions) {
    this.#opts = opts;
    this.endpoint = opts.endpoint;
    const ep = opts.endpoint;
    const tls = opts.tls;
    this.#agent = new Agent({
      connections: opts.connections ?? 32,
      keepAliveTimeout: 30_000,
      keepAliveMaxTimeout: 600_000,
      connectTimeout: opts.connectTimeoutMs ?? 5_000,
      // Follow streams (logs -f) may be silent for long; per-call timeouts cover the rest.
      bodyTimeout: 0,
      headersTimeout: 0,
      connect: {
        ...(ep.kind === 'unix' ? { socketPath: ep.path } : {}),
        ...(tls?.ca ? { ca: tls.ca } : {}),
        ...(tls?.cert ? { cert: tls.cert } : {}),
        ...(tls?.key ? { key: tls.key } : {}),
        ...(tls?.insecureSkipVerify ? { rejectUnauthorized: false } : {}),
      },
    });
    this.#origin = ep.kind === 'unix' ? 'http://localhost' : formatEndpoint(ep);
  }

  describe(): string {
    return formatEndpoint(this.endpoint);
  }

  /** One call; the answer is parsed as JSON when it says so (or `schema` is given), else text. */
  async call<S extends z.ZodType>(opts: CallOptions & { schema: S }): Promise<z.output<S>>;
  async call(opts: CallOptions): Promise<unknown>;
  async call(opts: CallOptions & { schema?: z.ZodType }): Promise<unknown> {
    const timeoutMs = opts.timeoutMs ?? this.#opts.timeoutMs ?? 30_000;
    const timeout = AbortSignal.timeout(timeoutMs);
    const signal = opts.signal ? AbortSignal.any([opts.signal, timeout]) : timeout;
    let res: Dispatcher.ResponseData;
    try {
      res = await this.#request(opts, signal);
    } catch (err) {
      throw this.#transportError(err, opts, timeout.aborted ? timeoutMs : undefined);
    }
    let text: string;
    try {
      text = await res.body.text();
    } catch (err) {
      throw this.#transportError(err, opts, timeout.aborted ? timeoutMs : undefined);
    }
    if (res.statusCode >= 400) throw answerError(res.statusCode, text, `${opts.method} ${opts.path}`);
    const contentType = String(res.headers['content-type'] ?? '');
    if (!opts.schema) {
      if (contentType.includes('json') && text !== '') return JSON.parse(text);
      return text;
    }
    let value: unknown;
    try {
      value = text === '' ? undefined : JSON.parse(text);
    } catch {
      throw new InterlinkError(
        ErrorCode.BACKEND,
        `${opts.method} ${opts.path} on ${this.describe()}: answer is not JSON: ${text.slice(0, 200)}`,
      );
    }
    const parsed = opts.schema.safeParse(value);
    if (!parsed.success) {
      throw new InterlinkError(
        ErrorCode.BACKEND,
        `${opts.method} ${opts.path} on ${this.describe()}: unexpected answer: ${parsed.error.issues
          .slice(0, 3)
          .map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`)
          .join('; ')}`,
      );
    }
    return parsed.data;
  }

  /**
   * A call whose answer body is handed over as a stream (logs). Error answers still throw.
   * The caller must consume or destroy the body; `signal` aborts the transfer.
   */
  async stream(opts: CallOptions): Promise<StreamAnswer> {
    const headersTimeoutMs = opts.timeoutMs ?? this.#opts.timeoutMs ?? 30_000;
    const ctl = new AbortController();
    const onAbort = () => ctl.abort(opts.signal?.reason);
    if (opts.signal?.aborted) onAbort();
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    // Only the wait for headers is bounded; once streaming, the caller's signal ends it.
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      ctl.abort(new Error('headers timeout'));
    }, headersTimeoutMs);
    let res: Dispatcher.ResponseData;
    try {
      res = await this.#request(opts, ctl.signal);
    } catch (err) {
      opts.signal?.removeEventListener('abort', onAbort);
      throw this.#transportError(err, opts, timedOut ? headersTimeoutMs : undefined);
    } finally {
      clearTimeout(timer);
    }
    if (res.statusCode >= 400) {
      const text = await res.body.text().catch(() => '');
      opts.signal?.removeEventListener('abort', onAbort);
      throw answerError(res.statusCode, text, `${opts.method} ${opts.path}`);
    }
    res.body.once('close', () => opts.signal?.removeEventListener('abort', onAbort));
    return { status: res.statusCode, headers: res.headers, body: res.body };
  }

  async close(): Promise<void> {
    await this.#agent.close();
  }

  async #request(opts: CallOptions, signal: AbortSignal): Promise<Dispatcher.ResponseData> {
    const headers: Record<string, string> = { ...this.#opts.headers, ...opts.headers };
    const token = await this.#opts.token?.();
    if (token) headers.authorization = `Bearer ${token}`;
    if (opts.session) headers[SESSION_HEADER] = opts.session;
    injectTraceHeaders(headers);
    let body: string | undefined;
    if (opts.body !== undefined) {
      try {
        body = typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body);
      } catch {
        // Too deep or cyclic: the request's fault, not the peer's (never "unreachable").
        throw new InterlinkError(ErrorCode.INVALID_INPUT, 'request body cannot be serialised as JSON');
      }
      headers['content-type'] ??= 'application/json';
    }
    return this.#agent.request({
      origin: this.#origin,
      path: opts.path,
      method: opts.method,
      headers,
      body,
      signal,
      // undici closes the connection after a GET or DELETE with a body (a server that does
      // not expect one might read it as the next request). On this wire the body of
      // `GET /status`, `GET /getLogs` and `DELETE /delete` IS the request, sent with a
      // content-length every peer reads: keep the connection, instead of a new socket (and
      // on TLS a handshake) for every status poll and every pod's delete.
      ...(body !== undefined ? { reset: false } : {}),
    });
  }

  #transportError(err: unknown, opts: CallOptions, timedOutAfter: number | undefined): InterlinkError {
    if (err instanceof InterlinkError) return err;
    const what = `${opts.method} ${opts.path} on ${this.describe()}`;
    if (timedOutAfter !== undefined || err instanceof undiciErrors.ConnectTimeoutError) {
      return new InterlinkError(
        ErrorCode.TIMEOUT,
        `${what}: no answer within ${timedOutAfter ?? this.#opts.connectTimeoutMs ?? 5000} ms`,
        { cause: err },
      );
    }
    if (opts.signal?.aborted) {
      return new InterlinkError(ErrorCode.UNAVAILABLE, `${what}: aborted by the caller`, { cause: err });
    }
    const code = (err as { code?: string }).code ?? '';
    const message = (err as Error).message ?? String(err);
    return new InterlinkError(ErrorCode.UNAVAILABLE, `${what}: unreachable (${code || message})`, {
      cause: err,
    });
  }
}

/** Turn an error answer into an InterlinkError, keeping the peer's code and message when it sent ours. */
export function answerError(status: number, text: string, what: string): InterlinkError {
  let code = fromHttpStatus(status);
  let message = text.trim().slice(0, 2000) || `HTTP ${status}`;
  let field: string | undefined;
  if (text.startsWith('{')) {
    try {
      const body = JSON.parse(text) as { code?: unknown; message?: unknown; field?: unknown };
      if (typeof body.message === 'string') message = body.message;
      if (typeof body.code === 'string' && body.code in ErrorCode) code = body.code as ErrorCode;
      if (typeof body.field === 'string') field = body.field;
    } catch {
      // not our error body: keep the text
    }
  }
  return new InterlinkError(code, `${what}: ${message}`, field === undefined ? {} : { field });
}
