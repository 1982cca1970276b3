/**
 * Where a server listens or a client connects. interLink 0.6 configured this as a URL
 * plus a separate port (`InterlinkURL` + `InterlinkPort`, `SidecarURL` + `SidecarPort`);
 * `unix:///path` selects a unix socket and ignores the port.
 */
import { invalidInput } from '../errors/index.ts';

export type Endpoint =
  | { kind: 'tcp'; protocol: 'http' | 'https'; host: string; port: number }
  | { kind: 'unix'; path: string };

export function parseEndpoint(url: string, port?: number | string, what = 'url'): Endpoint {
  const raw = url.trim();
  if (raw.startsWith('unix://')) {
    const path = raw.slice('unix://'.length);
    if (!path.startsWith('/'))
      throw invalidInput(
        `${what}: a unix socket URL needs an absolute path (unix:///run/x.sock), got "${url}"`,
        what,
      );
    return { kind: 'unix', path };
  }
  const withScheme = /^[a-z]+:\/\//i.test(raw) ? raw : `http://${raw}`;
  let parsed: URL;
  try {
    parsed = new URL(withScheme);
  } catch {
    throw invalidInput(
      `${what}: "${url}" is not a URL (expected http://host, https://host or unix:///path)`,
      what,
    );
  }
  const protocol = parsed.protocol.replace(':', '');
  if (protocol !== 'http' && protocol !== 'https') {
    throw invalidInput(`${what}: scheme "${protocol}" is not supported (use http, https or unix)`, what);
  }
  const explicit = port === undefined || port === '' ? undefined : Number(port);
  if (explicit !== undefined && (!Number.isInteger(explicit) || explicit < 0 || explicit > 65535)) {
    throw invalidInput(`${what}: port "${port}" is not a number between 0 and 65535`, what);
  }
  const fromUrl = parsed.port === '' ? undefined : Number(parsed.port);
  const resolved = explicit ?? fromUrl ?? (protocol === 'https' ? 443 : 80);
  const host = parsed.hostname.replace(/^\[(.*)\]$/, '$1');
  return { kind: 'tcp', protocol, host, port: resolved };
}

export function formatEndpoint(ep: Endpoint): string {
  if (ep.kind === 'unix') return `unix://${ep.path}`;
  const host = ep.host.includes(':') ? `[${ep.host}]` : ep.host;
  return `${ep.protocol}://${host}:${ep.port}`;
}

/**
 * `parseEndpoint` with a fallback port: an explicit `port` wins, then a port written in the
 * URL, then `defaultPort` (not the scheme's 80/443: interLink's services have their own).
 */
export function parseEndpointWithDefault(
  url: string,
  port: number | string | undefined,
  defaultPort: number,
  what = 'url',
): Endpoint {
  const hasPort = /^(?:[a-z]+:\/\/)?(?:\[[^\]]*\]|[^/:[\]]+):\d+(?:[/?#]|$)/i.test(url.trim());
  const explicit = port === undefined || port === '' ? undefined : port;
  return parseEndpoint(url, explicit ?? (hasPort ? undefined : defaultPort), what);
}
