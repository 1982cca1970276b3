/**
 * How the VK reaches the interLink API: endpoint, TLS material, token file and timeout,
 * read once from the configuration. The HTTP client (makeInterlinkClient) and the stream
 * client (kubelet/streams/client.ts) both dial with it, so they cannot disagree on TLS.
 */
import { readFileSync } from 'node:fs';
import type { Endpoint } from '../core/endpoint.ts';
import type { TlsClientOptions } from '../core/http-client.ts';
import { invalidInput } from '../errors/index.ts';
import { interlinkEndpoint, type VkConfig } from './config.ts';

export interface InterlinkConnection {
  endpoint: Endpoint;
  tls: TlsClientOptions;
  tokenFile: string | undefined;
  timeoutMs: number;
}

/** Throws INVALID_INPUT naming the config key when a certificate or key file cannot be read. */
export function interlinkConnection(config: VkConfig): InterlinkConnection {
  const tls: TlsClientOptions = {};
  const read = (file: string, what: string) => {
    try {
      return readFileSync(file);
    } catch (err) {
      throw invalidInput(`cannot read ${what} ${file}: ${(err as Error).message}`, what);
    }
  };
  const caFile = config.tls.caCertFile ?? config.http.caCert;
  if (caFile) tls.ca = read(caFile, 'http.caCert');
  if (config.tls.enabled && config.tls.certFile && config.tls.keyFile) {
    tls.cert = read(config.tls.certFile, 'tls.certFile');
    tls.key = read(config.tls.keyFile, 'tls.keyFile');
  }
  if (config.http.insecure) tls.insecureSkipVerify = true;
  return {
    endpoint: interlinkEndpoint(config),
    tls,
    tokenFile: config.vkTokenFile,
    timeoutMs: config.interlinkTimeoutMs,
  };
}
