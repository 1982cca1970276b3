/**
 * Running one probe or hook handler for the docker plugin (the I/O half of prober.ts).
 *
 *   exec       docker exec -- <container id> <command...>   (argv; exit 0 = success)
 *   httpGet    from the plugin to the pod's address when it has one the plugin can reach
 *              (host network on a local engine: 127.0.0.1; a bridge network: the infra
 *              container's IP); otherwise inside the pod's network namespace with the
 *              container's own `wget` (busybox has it): status 200..399 = success
 *   tcpSocket  the same, with a TCP connect or `nc` inside the pod
 *   sleep      (hooks) the plugin waits
 *   grpc       not run: fails with a fixed message
 *
 * The pod author's strings only ever are argv elements after the container id (the command,
 * an URL built from a checked port and path, header arguments after `--header`), never a
 * docker option or shell text; handler parsing (core/pod/probes.ts) already refused foreign
 * hosts, bad ports and paths with blanks.
 */
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { connect } from 'node:net';
import type { Clock } from '../../core/clock.ts';
import type { ProbeHandler } from '../../core/pod/probes.ts';
import type { HandlerOutcome, PodAddress } from './prober.ts';
import type { Inspected } from './status.ts';

export type RunDocker = (
  args: string[],
  opts: { timeoutMs: number },
) => Promise<{ code: number; stdout: string; stderr: string }>;

/**
 * The address the plugin reaches the pod's ports at, from the infra container's inspect.
 * `localEngine`: the engine runs on this host (its host network and bridge IPs are ours). Pure.
 */
export function podAddress(infra: Inspected | undefined, localEngine: boolean): PodAddress {
  if (!infra || !localEngine) return { inside: true };
  const raw = infra as unknown as {
    HostConfig?: { NetworkMode?: string };
    NetworkSettings?: { IPAddress?: string; Networks?: Record<string, { IPAddress?: string }> };
  };
  if (raw.HostConfig?.NetworkMode === 'host') return { host: '127.0.0.1' };
  const ns = raw.NetworkSettings;
  const ip = ns?.IPAddress || Object.values(ns?.Networks ?? {}).find((n) => n.IPAddress)?.IPAddress;
  return ip ? { host: ip } : { inside: true };
}

const secs = (ms: number) => String(Math.max(1, Math.ceil(ms / 1000)));

/** argv of a handler run inside the pod (exec, and httpGet/tcpSocket without an address). Pure. */
export function insideArgs(containerId: string, h: ProbeHandler, timeoutMs: number): string[] | undefined {
  switch (h.type) {
    case 'exec':
      return ['exec', '--', containerId, ...h.command];
    case 'tcpSocket':
      // Connects and ends at once (stdin is closed); busybox nc has no -z.
      return ['exec', '--', containerId, 'nc', '-w', secs(timeoutMs), '127.0.0.1', String(h.port)];
    case 'httpGet': {
      const headers = h.headers.flatMap(([n, v]) => ['--header', `${n}: ${v}`]);
      const url = `${h.scheme.toLowerCase()}://127.0.0.1:${h.port}${h.path}`;
      return [
        'exec',
        '--',
        containerId,
        // No -T: busybox 1.35's wget crashes with it; the docker CLI's timeout bounds the run.
        'wget',
        '-q',
        '-O',
        '/dev/null',
        ...headers,
        url,
      ];
    }
    default:
      return undefined;
  }
}

function output(r: { code: number; stdout: string; stderr: string }): string {
  const text = `${r.stdout}${r.stderr}`.trim();
  return text === '' ? `command exited with code ${r.code}` : text;
}

export function httpProbe(
  host: string,
  h: Extract<ProbeHandler, { type: 'httpGet' }>,
  timeoutMs: number,
): Promise<HandlerOutcome> {
  return new Promise((resolve) => {
    const req = (h.scheme === 'HTTPS' ? httpsRequest : httpRequest)(
      {
        host,
        port: h.port,
        path: h.path,
        method: 'GET',
        headers: { 'User-Agent': 'kube-probe/interlink', ...Object.fromEntries(h.headers) },
        timeout: timeoutMs,
        // The kubelet does not verify the certificate of an HTTPS probe either.
        rejectUnauthorized: false,
      },
      (res) => {
        res.resume();
        const code = res.statusCode ?? 0;
        resolve(
          code >= 200 && code < 400
            ? { ok: true, detail: '' }
            : { ok: false, detail: `HTTP probe failed with statuscode: ${code}` },
        );
      },
    );
    req.on('timeout', () =>
      req.destroy(new Error('context deadline exceeded (Client.Timeout exceeded while awaiting headers)')),
    );
    req.on('error', (err) => resolve({ ok: false, detail: `Get "${h.path}": ${err.message}` }));
    req.end();
  });
}

export function tcpProbe(host: string, port: number, timeoutMs: number): Promise<HandlerOutcome> {
  return new Promise((resolve) => {
    const s = connect({ host, port, timeout: timeoutMs });
    s.once('connect', () => {
      s.destroy();
      resolve({ ok: true, detail: '' });
    });
    s.once('timeout', () => {
      s.destroy();
      resolve({ ok: false, detail: `dial tcp :${port}: i/o timeout` });
    });
    s.once('error', (err) => resolve({ ok: false, detail: `dial tcp :${port}: ${err.message}` }));
  });
}

/** Run one handler; never throws. */
export async function runHandler(
  deps: { docker: RunDocker; clock: Clock },
  containerId: string,
  address: PodAddress,
  h: ProbeHandler,
  timeoutMs: number,
): Promise<HandlerOutcome> {
  try {
    if (h.type === 'invalid') return { ok: false, detail: h.reason };
    if (h.type === 'grpc') return { ok: false, detail: 'grpc probes are not supported by the docker plugin' };
    if (h.type === 'sleep') {
      await deps.clock.sleep(h.seconds * 1000);
      return { ok: true, detail: '' };
    }
    if ('host' in address && h.type === 'httpGet') return await httpProbe(address.host, h, timeoutMs);
    if ('host' in address && h.type === 'tcpSocket') return await tcpProbe(address.host, h.port, timeoutMs);
    const args = insideArgs(containerId, h, timeoutMs);
    if (!args) return { ok: false, detail: 'unsupported handler' };
    // The docker CLI itself gets some slack over the probe's own timeout.
    const r = await deps.docker(args, { timeoutMs: timeoutMs + 5_000 });
    return r.code === 0 ? { ok: true, detail: '' } : { ok: false, detail: output(r) };
  } catch (err) {
    return { ok: false, detail: (err as Error).message };
  }
}
