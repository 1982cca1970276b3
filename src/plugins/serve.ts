/**
 * `interlink plugin <name>`: load the plugin module, merge the serving keys every plugin
 * shares with the module's own configuration, create the plugin, serve it, close on signal.
 *
 * Serving keys (any plugin): `sidecarUrl` (`http://host`, or `unix:///path` for a socket),
 * `sidecarPort` (default: the module's, docker 4000 / slurm 4001), `socket` (a socket path,
 * overrides both), `bodyLimit`, `headersTimeoutMs`, `requestTimeoutMs`, `maxConnections`, `logLevel`,
 * `auth.tokenFile`, `insecureTcp`, `debugEndpoints`.
 *
 * Who may call a plugin: on a unix socket (0600), only its owner. On TCP (loopback
 * included: on a login node every user shares it) the plugin must authenticate callers with
 * `auth.tokenFile` (the API sends the token from its `pluginTokenFile`) or the admin
 * acknowledges the risk with `insecureTcp: true`; otherwise it refuses to start. Environment: SIDECARURL, SIDECARPORT,
 * SIDECARSOCKET, plus the module's own variables. The configuration file is `configFile`,
 * else `<NAME>CONFIGPATH` (SLURMCONFIGPATH as in interLink 0.6, DOCKERCONFIGPATH, MOCKCONFIGPATH).
 */
import { isIP } from 'node:net';
import { z } from 'zod';
import { createAuthenticator } from '../core/auth.ts';
import { BoolLike, configNames, loadConfig, Port } from '../core/config.ts';
import { type Endpoint, formatEndpoint, parseEndpoint, parseEndpointWithDefault } from '../core/endpoint.ts';
import { DEFAULT_BODY_LIMIT, DEFAULT_LIMITS, listenOn, type ServerParts } from '../core/http-server.ts';
import { type Logger, LogLevel } from '../core/logger.ts';
import { invalidInput } from '../errors/index.ts';
import { loadPluginModule, PLUGIN_NAMES, type PluginName } from './registry.ts';
import { buildPluginApp } from './sdk/server.ts';
import type { Plugin } from './sdk/types.ts';

/** The keys `servePlugin` reads itself; the rest of the configuration goes to the module. */
export const ServingShape = {
  sidecarUrl: z.string().min(1).default('http://127.0.0.1'),
  sidecarPort: Port.optional(),
  socket: z.string().min(1).optional(),
  bodyLimit: z.coerce.number().int().positive().default(DEFAULT_BODY_LIMIT),
  /** Time a caller has to send a request's headers, in ms. */
  headersTimeoutMs: z.coerce.number().int().positive().default(DEFAULT_LIMITS.headersTimeoutMs),
  /** Time a caller has to send a whole request (headers and body), in ms; answers are not bounded. */
  requestTimeoutMs: z.coerce.number().int().positive().default(DEFAULT_LIMITS.requestTimeoutMs),
  /** Open connections at most; further ones are closed on accept. */
  maxConnections: z.coerce.number().int().positive().default(DEFAULT_LIMITS.maxConnections),
  logLevel: LogLevel.optional(),
  /** Callers must send `Authorization: Bearer <token>` with a token from this file (format of the API's auth.tokenFile). */
  auth: z
    .object({
      /** File of accepted bearer tokens, one per line (`token [label]`); re-read when it changes. */
      tokenFile: z.string().min(1).optional(),
    })
    .prefault({}),
  /** Serve plain TCP without auth.tokenFile, loopback included (every local user, or anyone who reaches it, can run pods). */
  insecureTcp: BoolLike.default(false),
  /** Serve on-demand CPU profiles and heap snapshots at /debug/pprof/* to callers of the plugin (a unix socket, or TCP with auth.tokenFile; not with insecureTcp). */
  debugEndpoints: BoolLike.default(false),
  /** interLink 0.6: debug logging. */
  verboseLogging: z.union([z.boolean(), z.string()]).optional(),
};

/** Other names of the serving keys: `$` environment variables, interLink 0.6 keys. */
export const SERVING_CONFIG_SPEC = configNames({
  sidecarUrl: ['$SIDECARURL', 'SidecarAddress'],
  sidecarPort: ['$SIDECARPORT'],
  socket: ['$SIDECARSOCKET', 'socketPath'],
});

export interface ServePluginOptions {
  /** YAML configuration; default `$<NAME>CONFIGPATH`. */
  configFile?: string | undefined;
  env?: NodeJS.ProcessEnv;
  /** Dotted config keys that win over file and env (command-line flags, `interlink up`). */
  overrides?: Record<string, unknown>;
  logger: Logger;
  /** Aborting closes the server and the plugin. */
  signal?: AbortSignal;
}

export interface ServedPlugin {
  name: PluginName;
  plugin: Plugin;
  parts: ServerParts;
  endpoint: Endpoint;
  /** The URL it listens on (`http://127.0.0.1:4000`, `unix:///run/x.sock`). */
  url: string;
  /** Stop serving and release the plugin. Idempotent. */
  close(): Promise<void>;
  /** Settles when closed. */
  closed: Promise<void>;
}

export function isPluginName(name: string): name is PluginName {
  return (PLUGIN_NAMES as readonly string[]).includes(name);
}

/** Configuration phase: module + merged configuration. Throws INVALID_INPUT naming the key. */
export async function loadPluginConfig(name: string, opts: ServePluginOptions) {
  if (!isPluginName(name)) {
    throw invalidInput(`unknown plugin "${name}" (accepted: ${PLUGIN_NAMES.join(', ')})`, 'plugin');
  }
  const mod = await loadPluginModule(name);
  const env = opts.env ?? process.env;
  const schema = mod.configSchema.extend(ServingShape);
  const file = opts.configFile ?? (env[`${name.toUpperCase()}CONFIGPATH`] || undefined);
  const config = loadConfig(
    schema,
    {
      env: { ...SERVING_CONFIG_SPEC.env, ...mod.env },
      aliases: { ...SERVING_CONFIG_SPEC.aliases, ...mod.aliases },
    },
    { file, env, logger: opts.logger, ...(opts.overrides ? { overrides: opts.overrides } : {}) },
  ) as Record<string, unknown> & z.output<z.ZodObject<typeof ServingShape>>;
  const endpoint = config.socket
    ? parseEndpoint(
        config.socket.startsWith('unix://') ? config.socket : `unix://${config.socket}`,
        undefined,
        'socket',
      )
    : parseEndpointWithDefault(config.sidecarUrl, config.sidecarPort, mod.defaultPort, 'sidecarUrl');
  if (endpoint.kind === 'tcp' && endpoint.protocol === 'https') {
    throw invalidInput(
      'invalid configuration: sidecarUrl: plugins serve http or a unix socket; put TLS in front if needed',
      'sidecarUrl',
    );
  }
  if (endpoint.kind === 'tcp' && !config.auth.tokenFile && !config.insecureTcp) {
    // Loopback is no exception: on a login node every user shares it.
    throw invalidInput(
      `invalid configuration: sidecarUrl: a plugin on TCP (${endpoint.host}) without auth.tokenFile would run pods for every local user${isLoopbackHost(endpoint.host) ? '' : ' and anyone who reaches it'}; serve a unix socket (socket: /path), set auth.tokenFile (and the API's pluginTokenFile), or acknowledge with insecureTcp: true`,
      'sidecarUrl',
    );
  }
  if (config.debugEndpoints && endpoint.kind === 'tcp' && !config.auth.tokenFile) {
    throw invalidInput(
      'invalid configuration: debugEndpoints: profiles are only served to authenticated callers; serve a unix socket or set auth.tokenFile',
      'debugEndpoints',
    );
  }
  return { name, mod, config, endpoint };
}

/** Create and serve a plugin. Configuration errors throw before anything listens. */
export async function servePlugin(name: string, opts: ServePluginOptions): Promise<ServedPlugin> {
  const { mod, config, endpoint } = await loadPluginConfig(name, opts);
  const level =
    config.logLevel ??
    (config.verboseLogging === true || config.verboseLogging === 'true' ? 'debug' : undefined);
  const logger = opts.logger.child({ plugin: name }, level ? { level } : {});
  // Before the plugin exists: an unreadable token file is a configuration error.
  const auth = config.auth.tokenFile
    ? createAuthenticator({ disabled: false, tokenFile: config.auth.tokenFile }, logger)
    : undefined;
  if (!auth && endpoint.kind === 'tcp') {
    logger.warn(
      { host: endpoint.host, insecureTcp: config.insecureTcp },
      'plugin on TCP without auth.tokenFile: every local user (or, off loopback, anyone who reaches it) can call it; prefer a unix socket',
    );
  }
  const plugin = await mod.create(config, logger);
  const parts = buildPluginApp(plugin, {
    ...(auth ? { auth } : {}),
    logger,
    bodyLimit: config.bodyLimit,
    limits: {
      headersTimeoutMs: config.headersTimeoutMs,
      requestTimeoutMs: config.requestTimeoutMs,
      maxConnections: config.maxConnections,
    },
    debugEndpoints: config.debugEndpoints,
  });
  let url: string;
  try {
    url = await listenOn(parts.app, endpoint);
  } catch (err) {
    await parts.app.close().catch(() => {});
    await plugin.close?.();
    throw err;
  }
  logger.info({ url }, `plugin ${name} listening on ${url}`);

  let resolveClosed!: () => void;
  const closed = new Promise<void>((r) => {
    resolveClosed = r;
  });
  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= (async () => {
      parts.app.server.closeIdleConnections?.();
      const force = setTimeout(() => parts.app.server.closeAllConnections?.(), 5_000);
      try {
        await parts.app.close();
        await plugin.close?.();
      } finally {
        clearTimeout(force);
        resolveClosed();
      }
    })();
    return closing;
  };
  if (opts.signal?.aborted) await close();
  else opts.signal?.addEventListener('abort', () => void close(), { once: true });
  return {
    name: name as PluginName,
    plugin,
    parts,
    endpoint,
    url: url || formatEndpoint(endpoint),
    close,
    closed,
  };
}

/** 127.0.0.0/8, ::1 and localhost: reachable from this machine only. */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (h === 'localhost' || h === '::1') return true;
  return isIP(h) === 4 && h.startsWith('127.');
}
