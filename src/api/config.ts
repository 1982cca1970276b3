/**
 * Configuration of `interlink api`: YAML file + environment, env over file over defaults
 * (src/core/config.ts does the merging). Keys accept our camelCase, their lower-case forms
 * and interLink 0.6's CamelCase (`InterlinkURL`, `SidecarPort`, `TLS.CertFile`, ...).
 *
 * `resolveApiConfig` turns the parsed values into what the server needs (endpoints, TLS
 * material read from disk, a log level) and fails with a message naming the key, so every
 * configuration mistake is reported at start-up, before anything listens.
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { AuthConfig } from '../core/auth-config.ts';
import { BoolLike, type ConfigInput, configNames, loadConfig, Port } from '../core/config.ts';
import { type Endpoint, parseEndpointWithDefault } from '../core/endpoint.ts';
import type { TlsClientOptions } from '../core/http-client.ts';
import { DEFAULT_BODY_LIMIT, DEFAULT_LIMITS, type ServerLimits } from '../core/http-server.ts';
import { LogLevel } from '../core/logger.ts';
import { invalidInput } from '../errors/index.ts';

const PositiveInt = z.coerce.number().int().positive();

/** interLink 0.6 defaults: the API on 3000; the docker plugin on 4000, the slurm plugin on 4001. */
export const DEFAULT_API_PORT = 3000;
export function defaultSidecarPort(service: string | undefined): number {
  return service?.trim().toLowerCase() === 'slurm' ? 4001 : 4000;
}

export const ApiConfigSchema = z.object({
  /** Where the API listens: `http://host`, `https://host` or `unix:///path`. */
  interlinkUrl: z.string().min(1).default('http://127.0.0.1'),
  interlinkPort: Port.optional(),
  /** Where the plugin listens: `http://host`, `https://host` or `unix:///path`. */
  sidecarUrl: z.string().min(1).default('http://127.0.0.1'),
  sidecarPort: Port.optional(),
  /** Which plugin is behind `sidecarUrl`; only chooses the default port (slurm → 4001, else 4000). */
  sidecarService: z.string().optional(),
  /** Serving TLS (interLink 0.6 `TLS:` block). With `clientCaFile`, clients need a certificate (mTLS). */
  tls: z
    .object({
      enabled: BoolLike.default(false),
      certFile: z.string().min(1).optional(),
      keyFile: z.string().min(1).optional(),
      clientCaFile: z.string().min(1).optional(),
    })
    .prefault({}),
  /** TLS towards an https plugin. */
  pluginTls: z
    .object({
      caFile: z.string().min(1).optional(),
      certFile: z.string().min(1).optional(),
      keyFile: z.string().min(1).optional(),
      insecureSkipVerify: BoolLike.default(false),
    })
    .prefault({}),
  auth: AuthConfig.prefault({}),
  /** Bearer token sent to the plugin (its `auth.tokenFile` holds it): the file's first token, re-read on each call. */
  pluginTokenFile: z.string().min(1).optional(),
  /** Largest request body, in bytes. */
  bodyLimit: PositiveInt.default(DEFAULT_BODY_LIMIT),
  /** Time a caller has to send a request's headers, in ms. */
  headersTimeoutMs: PositiveInt.default(DEFAULT_LIMITS.headersTimeoutMs),
  /** Time a caller has to send a whole request (headers and body), in ms; answers are not bounded. */
  requestTimeoutMs: PositiveInt.default(DEFAULT_LIMITS.requestTimeoutMs),
  /** Open connections at most; further ones are closed on accept. */
  maxConnections: PositiveInt.default(DEFAULT_LIMITS.maxConnections),
  /** Timeout of one plugin call (log streams: the wait for their first byte), in ms. */
  pluginTimeoutMs: PositiveInt.default(30_000),
  logLevel: LogLevel.optional(),
  /** Serve on-demand CPU profiles and heap snapshots at /debug/pprof/* (authenticated like every route; not with auth.disabled). */
  debugEndpoints: BoolLike.default(false),
  /** interLink 0.6: debug logging. */
  verboseLogging: BoolLike.default(false),
  /** interLink 0.6: errors only. */
  errorsOnlyLogging: BoolLike.default(false),
  /** interLink 0.6 key, accepted and unused: plugins own their data directories. */
  dataRootFolder: z.string().optional(),
});
export type ApiConfig = z.output<typeof ApiConfigSchema>;

/** Other names of the settings: `$` environment variables, interLink 0.6 and earlier keys. */
export const API_CONFIG_SPEC = configNames({
  interlinkUrl: ['$INTERLINKURL', 'InterlinkAddress'],
  interlinkPort: ['$INTERLINKPORT'],
  sidecarUrl: ['$SIDECARURL'],
  sidecarPort: ['$SIDECARPORT'],
  sidecarService: ['$SIDECARSERVICE'],
  'tls.clientCaFile': ['TLS.CACertFile', 'TLS.CAFile'],
  'auth.tokenFile': ['auth.tokensFile'],
  'auth.oidc.jwksUrl': ['auth.oidc.jwksUri'],
  'auth.oidc.groupsClaim': ['auth.oidc.groupClaim'],
  'auth.oidc.requiredGroup': ['auth.oidc.group'],
});

/** The environment variable that names the configuration file (interLink 0.6). */
export const CONFIG_PATH_ENV = 'INTERLINKCONFIGPATH';

/** Parse the API configuration from a file (or `INTERLINKCONFIGPATH`) and the environment. */
export function loadApiConfig(input: ConfigInput = {}): ApiConfig {
  const env = input.env ?? process.env;
  const file = input.file ?? (env[CONFIG_PATH_ENV] || undefined);
  return loadConfig(ApiConfigSchema, API_CONFIG_SPEC, { ...input, env, file });
}

export interface ResolvedApiConfig {
  listen: Endpoint;
  plugin: Endpoint;
  /** Serving TLS material when listening on https. */
  https?: { cert: Buffer; key: Buffer; ca?: Buffer; requestCert?: boolean; rejectUnauthorized?: boolean };
  pluginTls?: TlsClientOptions;
  /** File holding the bearer token for the plugin. */
  pluginTokenFile?: string;
  auth: AuthConfig;
  bodyLimit: number;
  limits: ServerLimits;
  pluginTimeoutMs: number;
  logLevel: LogLevel;
  debugEndpoints: boolean;
}

function readKeyFile(path: string, key: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw invalidInput(`invalid configuration: ${key}: cannot read ${path}: ${(err as Error).message}`, key);
  }
}

/**
 * Endpoints, TLS material and the effective log level. Throws INVALID_INPUT naming the key.
 * Reads the TLS files (not the token file: auth.ts owns that).
 */
export function resolveApiConfig(cfg: ApiConfig): ResolvedApiConfig {
  // An explicit port key wins, then a port in the URL, then the service default.
  const listen = parseEndpointWithDefault(
    cfg.interlinkUrl,
    cfg.interlinkPort,
    DEFAULT_API_PORT,
    'interlinkUrl',
  );
  const plugin = parseEndpointWithDefault(
    cfg.sidecarUrl,
    cfg.sidecarPort,
    defaultSidecarPort(cfg.sidecarService),
    'sidecarUrl',
  );

  let https: ResolvedApiConfig['https'];
  const wantTls = cfg.tls.enabled || (listen.kind === 'tcp' && listen.protocol === 'https');
  if (wantTls) {
    if (listen.kind === 'unix') {
      throw invalidInput(
        'invalid configuration: tls.enabled: TLS is not supported on a unix socket (interlinkUrl is unix://)',
        'tls.enabled',
      );
    }
    if (!cfg.tls.certFile)
      throw invalidInput('invalid configuration: tls.certFile: required when serving https', 'tls.certFile');
    if (!cfg.tls.keyFile)
      throw invalidInput('invalid configuration: tls.keyFile: required when serving https', 'tls.keyFile');
    https = {
      cert: readKeyFile(cfg.tls.certFile, 'tls.certFile'),
      key: readKeyFile(cfg.tls.keyFile, 'tls.keyFile'),
    };
    if (cfg.tls.clientCaFile) {
      https.ca = readKeyFile(cfg.tls.clientCaFile, 'tls.clientCaFile');
      https.requestCert = true;
      https.rejectUnauthorized = true;
    }
    if (listen.kind === 'tcp') listen.protocol = 'https';
  } else if (cfg.tls.clientCaFile) {
    throw invalidInput(
      'invalid configuration: tls.clientCaFile: client certificates need TLS (set tls.enabled or an https interlinkUrl)',
      'tls.clientCaFile',
    );
  }

  let pluginTls: TlsClientOptions | undefined;
  const pt = cfg.pluginTls;
  if (pt.caFile || pt.certFile || pt.keyFile || pt.insecureSkipVerify) {
    if (plugin.kind === 'tcp' && plugin.protocol === 'http') {
      throw invalidInput(
        'invalid configuration: pluginTls: set, but sidecarUrl is plain http (use https://)',
        'pluginTls',
      );
    }
    if (Boolean(pt.certFile) !== Boolean(pt.keyFile)) {
      throw invalidInput(
        'invalid configuration: pluginTls.certFile and pluginTls.keyFile: give both or neither',
        pt.certFile ? 'pluginTls.keyFile' : 'pluginTls.certFile',
      );
    }
    pluginTls = {
      ...(pt.caFile ? { ca: readKeyFile(pt.caFile, 'pluginTls.caFile') } : {}),
      ...(pt.certFile ? { cert: readKeyFile(pt.certFile, 'pluginTls.certFile') } : {}),
      ...(pt.keyFile ? { key: readKeyFile(pt.keyFile, 'pluginTls.keyFile') } : {}),
      ...(pt.insecureSkipVerify ? { insecureSkipVerify: true } : {}),
    };
  }

  if (cfg.pluginTokenFile) readKeyFile(cfg.pluginTokenFile, 'pluginTokenFile');

  const mtls = Boolean(https?.requestCert);
  const a = cfg.auth;
  if (!a.disabled && !a.tokenFile && !a.oidc && !mtls) {
    throw invalidInput(
      'invalid configuration: auth: no authentication configured; set auth.tokenFile, auth.oidc or tls.clientCaFile (mTLS), or turn it off explicitly with auth.disabled: true',
      'auth',
    );
  }
  if (cfg.debugEndpoints && a.disabled) {
    throw invalidInput(
      'invalid configuration: debugEndpoints: profiles are only served to authenticated callers; configure auth.tokenFile, auth.oidc or mTLS instead of auth.disabled',
      'debugEndpoints',
    );
  }

  const logLevel: LogLevel =
    cfg.logLevel ?? (cfg.verboseLogging ? 'debug' : cfg.errorsOnlyLogging ? 'error' : 'info');
  return {
    listen,
    plugin,
    https,
    pluginTls,
    ...(cfg.pluginTokenFile ? { pluginTokenFile: cfg.pluginTokenFile } : {}),
    auth: a,
    bodyLimit: cfg.bodyLimit,
    limits: {
      headersTimeoutMs: cfg.headersTimeoutMs,
      requestTimeoutMs: cfg.requestTimeoutMs,
      maxConnections: cfg.maxConnections,
    },
    pluginTimeoutMs: cfg.pluginTimeoutMs,
    logLevel,
    debugEndpoints: cfg.debugEndpoints,
  };
}
