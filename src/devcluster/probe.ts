/**
 * Small HTTP(S) probes for start-up waits, and free loopback ports.
 */
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';

export interface ProbeTls {
  ca?: string | Buffer;
  cert?: string | Buffer;
  key?: string | Buffer;
  /**
   * Skip server verification: only for liveness probes of the controller-manager and
   * scheduler on loopback, which serve a self-signed cert of their own and get no credentials.
   */
  insecure?: boolean;
}

export interface ProbeResult {
  status: number;
  body: string;
}

/** One GET; resolves with the status (0 when the connection failed). Never rejects. */
export function probe(url: string, tls: ProbeTls = {}, timeoutMs = 2_000): Promise<ProbeResult> {
  return new Promise((resolve) => {
    const u = new URL(url);
    const opts = { method: 'GET', timeout: timeoutMs, headers: { accept: 'application/json' } };
    const onResponse = (res: import('node:http').IncomingMessage) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }),
      );
      res.on('error', () => resolve({ status: 0, body: '' }));
    };
    const req =
      u.protocol === 'https:'
        ? httpsRequest(
            u,
            { ...opts, ca: tls.ca, cert: tls.cert, key: tls.key, rejectUnauthorized: !tls.insecure },
            onResponse,
          )
        : httpRequest(u, opts, onResponse);
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (err) => resolve({ status: 0, body: err.message }));
    req.end();
  });
}
