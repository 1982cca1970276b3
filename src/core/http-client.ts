/**
 * A keep-alive HTTP client over TCP, TLS or a unix socket, used on every hop: VK → API and
 * API → plugin. It owns connection pooling, timeouts, the bearer token and the session
 * header, the W3C `traceparent` of the active span (core/tracing.ts; also over a unix
 * socket), and turns transport failures and error answers into classified InterlinkErrors,
 * so callers only decide what to do with a code.
 *
 * On Node's own `http`/`https` (native llhttp), not undici: undici parses HTTP/1.1 with
 * llhttp compiled to WebAssembly and, driven with the same 2,000 calls, left a process 24
 * MiB larger (docs/performance.md, Memory) — most of the interLink API's budget, whose only
 * client this is. The VK's HTTP/2 calls to the apiserver stay on undici (vk/kube-connection.ts).
 */
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { Readable } from 'node:stream';
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

/** No connection within connectTimeoutMs. */
class ConnectTimeoutError extends Error {
  override name = 'ConnectTimeoutError';
}

export class HttpClient {
  readonly endpoint: Endpoint;
  readonly #agent: HttpAgent;
  readonly #https: boolean;
  readonly #opts: HttpClientOptions;

  constructor(opts: HttpClientOptions) {
    this.#opts = opts;
    this.endpoint = opts.endpoint;
    const ep = opts.endpoint;
    const tls = opts.tls;
    this.#https = ep.kind === 'tcp' && ep.protocol === 'https';
    const pool = {
      keepAlive: true,
      maxSockets: opts.connections ?? 32,
      maxFreeSockets: opts.connections ?? 32,
      // The most recently used socket first: the others idle out instead of all staying warm.
      scheduling: 'lifo' as const,
      // An idle pooled socket is closed after 30 s, well before our servers' 65 s keep-alive
      // timeout, so a call never races a server closing the socket it reuses. (Sockets in
      // use are not cut: a quiet `logs -f` stream stays open; per-call timeouts bound calls.)
      timeout: 30_000,
    };
    this.#agent = this.#https
      ? new HttpsAgent({
          ...pool,
          ...(tls?.ca ? { ca: tls.ca } : {}),
          ...(tls?.cert ? { cert: tls.cert } : {}),
          ...(tls?.key ? { key: tls.key } : {}),
          ...(tls?.insecureSkipVerify ? { rejectUnauthorized: false } : {}),
        })
      : new HttpAgent(pool);
  }

  describe(): string {
    return formatEndpoint(this.endpoint);
  }

  /** One call; the answer is parsed as JSON when it says so (or `schema` is given), else text. */
  async call<S extends z.ZodType>(opts: CallOptions & { schema: S }): Promise<z.output<S>>;
  async call(opts: CallOptions): Promise<unknown>;
  async call(opts: CallOptions & { schema?: z.ZodType }): Promise<unknown> {
    const { text, contentType } = await this.text(opts);
    if (!opts.schema) {
      if (contentType.includes('json') && text !== '') return JSON.parse(text);
      return text;
    }
    return this.check(opts, text, opts.schema);
  }

  /** One call; its answer as text and content type (error answers throw, as with `call`). */
  async text(opts: CallOptions): Promise<{ text: string; contentType: string }> {
    const timeoutMs = opts.timeoutMs ?? this.#opts.timeoutMs ?? 30_000;
    const timeout = AbortSignal.timeout(timeoutMs);
    const signal = opts.signal ? AbortSignal.any([opts.signal, timeout]) : timeout;
    let res: IncomingMessage;
    try {
      res = await this.#request(opts, signal);
    } catch (err) {
      throw this.#transportError(err, opts, timeout.aborted ? timeoutMs : undefined);
    }
    let text: string;
    try {
      text = await readText(res);
    } catch (err) {
      throw this.#transportError(err, opts, timeout.aborted ? timeoutMs : undefined);
    }
    const status = res.statusCode ?? 0;
    if (status >= 400) throw answerError(status, text, `${opts.method} ${opts.path}`);
    return { text, contentType: String(res.headers['content-type'] ?? '') };
  }

  /** An answer's text parsed as JSON and checked against `schema`; BACKEND errors say what is wrong. */
  check<S extends z.ZodType>(
    opts: Pick<CallOptions, 'method' | 'path'>,
    text: string,
    schema: S,
  ): z.output<S> {
    let value: unknown;
    try {
      value = text === '' ? undefined : JSON.parse(text);
    } catch {
      throw new InterlinkError(
        ErrorCode.BACKEND,
        `${opts.method} ${opts.path} on ${this.describe()}: answer is not JSON: ${text.slice(0, 200)}`,
      );
    }
    const parsed = schema.safeParse(value);
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
    let res: IncomingMessage;
    try {
      res = await this.#request(opts, ctl.signal);
    } catch (err) {
      opts.signal?.removeEventListener('abort', onAbort);
      throw this.#transportError(err, opts, timedOut ? headersTimeoutMs : undefined);
    } finally {
      clearTimeout(timer);
    }
    const status = res.statusCode ?? 0;
    if (status >= 400) {
      const text = await readText(res).catch(() => '');
      opts.signal?.removeEventListener('abort', onAbort);
      throw answerError(status, text, `${opts.method} ${opts.path}`);
    }
    res.once('close', () => opts.signal?.removeEventListener('abort', onAbort));
    return { status, headers: res.headers, body: res };
  }

  async close(): Promise<void> {
    this.#agent.destroy();
  }

  async #request(opts: CallOptions, signal: AbortSignal): Promise<IncomingMessage> {
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
      // On this wire the body of `GET /status`, `GET /getLogs` and `DELETE /delete` IS the
      // request: sent with a content-length every peer reads, on a kept connection.
      headers['content-length'] = String(Buffer.byteLength(body));
    }
    const ep = this.endpoint;
    const connectTimeoutMs = this.#opts.connectTimeoutMs ?? 5_000;
    return new Promise<IncomingMessage>((resolve, reject) => {
      const req = (this.#https ? httpsRequest : httpRequest)({
        ...(ep.kind === 'unix' ? { socketPath: ep.path } : { host: ep.host, port: ep.port }),
        path: opts.path,
        method: opts.method,
        headers,
        agent: this.#agent,
        signal,
      });
      req.once('socket', (socket) => {
        if (!socket.connecting) return;
        const timer = setTimeout(
          () => req.destroy(new ConnectTimeoutError(`no connection within ${connectTimeoutMs} ms`)),
          connectTimeoutMs,
        );
        socket.once('connect', () => clearTimeout(timer));
        socket.once('close', () => clearTimeout(timer));
      });
      req.once('response', resolve);
      req.once('error', reject);
      req.end(body);
    });
  }

  #transportError(err: unknown, opts: CallOptions, timedOutAfter: number | undefined): InterlinkError {
    if (err instanceof InterlinkError) return err;
    const what = `${opts.method} ${opts.path} on ${this.describe()}`;
    if (timedOutAfter !== undefined || err instanceof ConnectTimeoutError) {
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

/** A whole answer body as text (UTF-8). */
async function readText(res: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of res) chunks.push(chunk as Buffer);
  return chunks.length === 1
    ? (chunks[0] as Buffer).toString('utf8')
    : Buffer.concat(chunks).toString('utf8');
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
