/**
 * Running the API: configuration → app → listening, and closing on a signal. Split in
 * two so callers can tell a configuration mistake (`prepareApi` throws INVALID_INPUT
 * naming the key, before anything binds) from a runtime failure (`listen`).
 */

import { readFile } from 'node:fs/promises';
import { createAuthenticator, parseTokenFile } from '../core/auth.ts';
import { formatEndpoint } from '../core/endpoint.ts';
import { listenOn } from '../core/http-server.ts';
import type { Logger } from '../core/logger.ts';
import { ErrorCode, InterlinkError } from '../errors/index.ts';
import { type ApiApp, buildApiApp } from './app.ts';
import type { ResolvedApiConfig } from './config.ts';

export interface PreparedApi {
  api: ApiApp;
  /** Bind the configured address; resolves with the URL it listens on. */
  listen(): Promise<string>;
  /** Stop accepting, finish in-flight requests (log followers are cut), close plugin connections. Idempotent. */
  close(): Promise<void>;
}

export function prepareApi(cfg: ResolvedApiConfig, logger: Logger): PreparedApi {
  const mtls = Boolean(cfg.https?.requestCert);
  const authn = createAuthenticator(cfg.auth, logger, { mtls });
  if (cfg.auth.disabled) {
    logger.warn(
      'authentication is DISABLED (auth.disabled: true): anyone who can reach the API can run pods',
    );
  }
  const api = buildApiApp({
    logger,
    plugin: {
      endpoint: cfg.plugin,
      ...(cfg.pluginTls ? { tls: cfg.pluginTls } : {}),
      ...(cfg.pluginTokenFile ? { token: pluginToken(cfg.pluginTokenFile) } : {}),
      timeoutMs: cfg.pluginTimeoutMs,
    },
    auth: authn,
    bodyLimit: cfg.bodyLimit,
    limits: cfg.limits,
    ...(cfg.https ? { https: cfg.https } : {}),
    debugEndpoints: cfg.debugEndpoints,
  });
  let closing: Promise<void> | undefined;
  return {
    api,
    async listen() {
      const url = await listenOn(api.app, cfg.listen);
      logger.info(
        { url, plugin: formatEndpoint(cfg.plugin), auth: authn.describe() },
        `interLink API listening on ${url}`,
      );
      return url;
    },
    close() {
      closing ??= (async () => {
        // Follow streams would hold close() forever: cut idle and streaming connections.
        api.app.server.closeIdleConnections?.();
        const force = setTimeout(() => api.app.server.closeAllConnections?.(), 5_000);
        try {
          await api.app.close();
        } finally {
          clearTimeout(force);
        }
      })();
      return closing;
    },
  };
}

/**
 * The plugin's bearer token: the first token of `file`, read for each call so a rotated
 * file is used at once. An unreadable or empty file fails the call, not the process.
 */
export function pluginToken(file: string): () => Promise<string> {
  return async () => {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      throw new InterlinkError(
        ErrorCode.INTERNAL,
        `pluginTokenFile: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`,
      );
    }
    const [token] = parseTokenFile(text).keys();
    if (!token) throw new InterlinkError(ErrorCode.INTERNAL, `pluginTokenFile: ${file} holds no token`);
    return token;
  };
}
