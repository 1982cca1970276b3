/**
 * `interlink up`: the API and a plugin in one process for local use. The plugin listens on
 * a unix socket in a fresh temp dir (mode 0700, socket 0600); the API listens on
 * 127.0.0.1:<port> and authenticates with a random token written to `<dir>/token`, unless
 * auth is turned off explicitly. Everything in the temp dir is removed on close.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadApiConfig, resolveApiConfig } from '../api/config.ts';
import { prepareApi } from '../api/server.ts';
import type { Logger } from '../core/logger.ts';
import { servePlugin } from '../plugins/serve.ts';

export interface UpOptions {
  plugin: string;
  port: number;
  host: string;
  /** Serve without authentication (warns). */
  noAuth: boolean;
  /** API configuration file (keys `up` sets itself win over it). */
  configFile?: string | undefined;
  /** Plugin configuration file. */
  pluginConfigFile?: string | undefined;
  env: NodeJS.ProcessEnv;
  logger: Logger;
  signal: AbortSignal;
}

export interface UpHandle {
  apiUrl: string;
  pluginUrl: string;
  dir: string;
  tokenFile: string | undefined;
  /** Human instructions, printed on stdout. */
  banner: string;
  close(): Promise<void>;
}

/** Start both; on any start-up failure what was started is closed again. */
export async function startUp(opts: UpOptions): Promise<UpHandle> {
  const dir = await mkdtemp(join(tmpdir(), 'interlink-up-'));
  const cleanups: Array<() => Promise<void>> = [() => rm(dir, { recursive: true, force: true })];
  const close = async () => {
    for (const c of cleanups.splice(0).reverse()) await c().catch(() => {});
  };
  try {
    const socket = join(dir, 'plugin.sock');
    const tokenFile = opts.noAuth ? undefined : join(dir, 'token');
    if (tokenFile) await writeFile(tokenFile, `${randomBytes(32).toString('base64url')}\n`, { mode: 0o600 });

    const cfg = loadApiConfig({
      file: opts.configFile,
      env: opts.env,
      logger: opts.logger,
      overrides: {
        interlinkUrl: `http://${opts.host}`,
        interlinkPort: opts.port,
        sidecarUrl: `unix://${socket}`,
        ...(tokenFile ? { 'auth.tokenFile': tokenFile } : { 'auth.disabled': true }),
      },
    });
    const resolved = resolveApiConfig(cfg);
    const api = prepareApi(resolved, opts.logger);
    cleanups.push(() => api.close());

    const served = await servePlugin(opts.plugin, {
      configFile: opts.pluginConfigFile,
      env: opts.env,
      logger: opts.logger,
      overrides: { socket },
    });
    // Closed after the API (cleanups run in reverse order of registration).
    cleanups.splice(1, 0, () => served.close());

    const apiUrl = await api.listen();
    const auth = tokenFile ? ` -H "Authorization: Bearer $(cat ${tokenFile})"` : '';
    const banner = [
      `interLink API  ${apiUrl}`,
      `plugin         ${opts.plugin} on ${served.url}`,
      tokenFile ? `token file     ${tokenFile}` : 'auth           DISABLED (--no-auth)',
      `try            curl -sS -X POST${auth} ${apiUrl}/pinglink`,
      'stop           Ctrl-C',
    ].join('\n');
    const handle: UpHandle = { apiUrl, pluginUrl: served.url, dir, tokenFile, banner, close };
    if (opts.signal.aborted) await close();
    else opts.signal.addEventListener('abort', () => void close(), { once: true });
    return handle;
  } catch (err) {
    await close();
    throw err;
  }
}
