/**
 * Running the API: configuration → app → listening, and closing on a signal. Split in
 * two so callers can tell a configuration mistake (`prepareApi` throws INVALID_INPUT
 * naming the key, before anything binds) from a runtime failure (`listen`).
 */
import { formatEndpoint } from '../core/endpoint.ts';
import { listenOn } from '../core/http-server.ts';
import type { Logger } from '../core/logger.ts';
import { type ApiApp, buildApiApp } from './app.ts';
import { createAuthenticator } from './auth.ts';
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
      timeoutMs: cfg.pluginTimeoutMs,
    },
    auth: authn,
    bodyLimit: cfg.bodyLimit,
    limits: cfg.limits,
    ...(cfg.https ? { https: cfg.https } : {}),
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
