/**
 * One-shot GETs for scrapes and probes: over a unix socket (the API and the plugin), TCP
 * (the VK's metrics port) or HTTPS with a client certificate (the apiserver). Resolves
 * with status 0 when the connection fails; never rejects.
 */
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest, type RequestOptions } from 'node:https';

export interface GetResult {
  status: number;
  body: string;
}

export interface GetOptions {
  /** Unix socket to connect to instead of the URL's host. */
  socketPath?: string;
  headers?: Record<string, string>;
  /** TLS options (ca, cert, key) for https URLs. */
  tls?: Pick<RequestOptions, 'ca' | 'cert' | 'key'>;
  timeoutMs?: number;
}

export function httpGet(url: string, opts: GetOptions = {}): Promise<GetResult> {
  return new Promise((resolve) => {
    const u = new URL(url);
    const base = {
      method: 'GET',
      timeout: opts.timeoutMs ?? 30_000,
      headers: opts.headers ?? {},
      ...(opts.socketPath ? { socketPath: opts.socketPath } : {}),
      // One-shot: no pooled socket keeps the event loop alive.
      agent: false as const,
    };
    const onResponse = (res: IncomingMessage) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }),
      );
      res.on('error', (err) => resolve({ status: 0, body: err.message }));
    };
    const req =
      u.protocol === 'https:'
        ? httpsRequest(u, { ...base, ...opts.tls }, onResponse)
        : httpRequest(u, base, onResponse);
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (err) => resolve({ status: 0, body: err.message }));
    req.end();
  });
}

/** GET that must answer 200; throws with the status and body otherwise. */
export async function httpGetOk(url: string, opts: GetOptions = {}): Promise<string> {
  const r = await httpGet(url, opts);
  if (r.status !== 200)
    throw new Error(
      `GET ${url}${opts.socketPath ? ` (via ${opts.socketPath})` : ''}: ${r.status} ${r.body.slice(0, 300)}`,
    );
  return r.body;
}
