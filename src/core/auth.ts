/**
 * Authentication of the API's callers (the VK), built in where interLink 0.6 needed an
 * oauth2-proxy in front: bearer tokens from a static token file and/or OIDC JWTs checked
 * with `jose` (issuer, JWKS, audience, `exp` required, optional group). A missing or bad
 * token is a 401 that says only "invalid token" (what exactly is wrong, and the expected
 * issuer, audience and key location, go to the log: callers are anonymous until proven
 * otherwise); the signing keys being unreachable is a 503 (the token may be fine).
 * Discovery and JWKS fetches are single-flight and a failure is remembered for
 * `FAILURE_TTL_MS`, so a stream of JWT-shaped garbage costs one outbound fetch, not one each.
 * Only `auth.disabled: true` turns it off, and start-up warns when it does.
 *
 * Token file format: one token per line, optionally followed by a label used in logs
 * (`s3cr3t  vk-cluster-a`); blank lines and `#` comments are ignored. The file is
 * stat'ed on each check and re-read when it changed, so a rotated file (rewritten in place
 * or renamed over) is picked up without a restart. An unreadable file fails closed.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { createRemoteJWKSet, JWTPayload } from 'jose';
import { ErrorCode, InterlinkError } from '../errors/index.ts';
import type { AuthConfig, OidcConfig } from './auth-config.ts';
import type { Logger } from './logger.ts';

export interface Principal {
  method: 'token' | 'oidc' | 'none';
  /** Token label, JWT subject, or `anonymous`. */
  name: string;
}

export interface Authenticator {
  /** Check an `Authorization` header value. Throws UNAUTHENTICATED (401) or UNAVAILABLE (503). */
  authenticate(header: string | undefined): Promise<Principal>;
  /** One line for the start-up log. */
  describe(): string;
}

const unauthenticated = (message: string) => new InterlinkError(ErrorCode.UNAUTHENTICATED, message);
const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

/** Parse a token file's text: token → label. Pure. */
export function parseTokenFile(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.replace(/(^|\s)#.*$/, '').trim();
    if (line === '') continue;
    const [token, ...label] = line.split(/\s+/);
    out.set(token!, label.join(' '));
  }
  return out;
}

/** The static token file, re-read when its inode, size, mtime or ctime change. */
export class TokenFile {
  readonly path: string;
  readonly #log: Logger;
  /** sha256(token) → label: no plain token stays in memory longer than a reload. */
  #tokens = new Map<string, string>();
  #signature: string | undefined;
  #failure: string | undefined;
  #refreshing: Promise<void> | undefined;

  constructor(path: string, log: Logger) {
    this.path = path;
    this.#log = log;
    // Read once synchronously so a missing file fails start-up instead of every request.
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (err) {
      throw new InterlinkError(
        ErrorCode.INVALID_INPUT,
        `invalid configuration: auth.tokenFile: cannot read ${path}: ${(err as Error).message}`,
        {
          field: 'auth.tokenFile',
        },
      );
    }
    this.#install(text);
  }

  get size(): number {
    return this.#tokens.size;
  }

  /** The label of a known token (empty string when it has none), undefined when unknown. */
  async lookup(token: string): Promise<string | undefined> {
    this.#refreshing ??= this.#refresh().finally(() => {
      this.#refreshing = undefined;
    });
    await this.#refreshing;
    return this.#tokens.get(sha256(token));
  }

  #install(text: string) {
    const parsed = parseTokenFile(text);
    this.#tokens = new Map(
      [...parsed].map(([t, label]) => [sha256(t), label || `token#${sha256(t).slice(0, 8)}`]),
    );
  }

  async #refresh(): Promise<void> {
    try {
      const st = await stat(this.path);
      const sig = `${st.ino}:${st.size}:${st.mtimeMs}:${st.ctimeMs}`;
      if (sig === this.#signature) return;
      const text = await readFile(this.path, 'utf8');
      this.#install(text);
      if (this.#signature !== undefined)
        this.#log.info({ file: this.path, tokens: this.#tokens.size }, 'token file reloaded');
      this.#signature = sig;
      this.#failure = undefined;
    } catch (err) {
      const msg = (err as Error).message;
      if (this.#failure !== msg)
        this.#log.error({ file: this.path, err: msg }, 'token file unreadable: rejecting all static tokens');
      this.#failure = msg;
      this.#signature = undefined;
      this.#tokens = new Map();
    }
  }
}

function claimAt(payload: JWTPayload, dotted: string): unknown {
  let cur: unknown = payload;
  for (const part of dotted.split('.')) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur;
}

/** How long a failed discovery or JWKS fetch is remembered before trying again, ms. */
export const FAILURE_TTL_MS = 30_000;

/** The 401 message for every token that does not pass: details go to the log only. */
export const INVALID_TOKEN = 'invalid token';
const KEYS_UNAVAILABLE = 'cannot verify tokens now: the token issuer is unavailable';

/**
 * A JWT verifier for one issuer; keys from `jwksUrl` or discovered from the issuer on first
 * use. Errors carry the detailed reason (for the log); createAuthenticator hides it from callers.
 */
export class OidcVerifier {
  readonly #cfg: OidcConfig;
  readonly #now: () => number;
  readonly #failureTtlMs: number;
  #jwks: ReturnType<typeof createRemoteJWKSet> | undefined;
  #jwksUrl: string | undefined;
  #discovering: Promise<ReturnType<typeof createRemoteJWKSet>> | undefined;
  /** The last discovery/JWKS failure, replayed until `until`. */
  #failure: { error: InterlinkError; until: number } | undefined;

  constructor(cfg: OidcConfig, opts: { now?: () => number; failureTtlMs?: number } = {}) {
    this.#cfg = cfg;
    this.#now = opts.now ?? Date.now;
    this.#failureTtlMs = opts.failureTtlMs ?? FAILURE_TTL_MS;
    this.#jwksUrl = cfg.jwksUrl;
  }

  describe(): string {
    const aud = Array.isArray(this.#cfg.audience) ? this.#cfg.audience.join('|') : this.#cfg.audience;
    const group = this.#cfg.requiredGroup
      ? `, group "${this.#cfg.requiredGroup}" in claim ${this.#cfg.groupsClaim}`
      : '';
    return `OIDC (issuer ${this.#cfg.issuer}, audience ${aud}${group})`;
  }

  /** `jose` is loaded with the first token to verify: a process without OIDC never holds it. */
  async #setJwks(url: string): Promise<ReturnType<typeof createRemoteJWKSet>> {
    const { createRemoteJWKSet } = await import('jose');
    this.#jwksUrl = url;
    this.#jwks = createRemoteJWKSet(new URL(url), { timeoutDuration: 5_000, cooldownDuration: 30_000 });
    return this.#jwks;
  }

  #remember(error: InterlinkError): InterlinkError {
    this.#failure = { error, until: this.#now() + this.#failureTtlMs };
    return error;
  }

  #keys(): Promise<ReturnType<typeof createRemoteJWKSet>> {
    if (this.#jwks) return Promise.resolve(this.#jwks);
    this.#discovering ??= (this.#jwksUrl ? this.#setJwks(this.#jwksUrl) : this.#discover())
      .catch((err: InterlinkError) => {
        throw this.#remember(err);
      })
      .finally(() => {
        this.#discovering = undefined;
      });
    return this.#discovering;
  }

  async #discover(): Promise<ReturnType<typeof createRemoteJWKSet>> {
    const discovery = `${this.#cfg.issuer.replace(/\/+$/, '')}/.well-known/openid-configuration`;
    let doc: { jwks_uri?: unknown };
    try {
      const res = await fetch(discovery, { signal: AbortSignal.timeout(5_000) });
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      doc = (await res.json()) as { jwks_uri?: unknown };
    } catch (err) {
      throw new InterlinkError(
        ErrorCode.UNAVAILABLE,
        `cannot verify tokens: OIDC discovery at ${discovery} failed (${(err as Error).message})`,
        { cause: err },
      );
    }
    if (typeof doc.jwks_uri !== 'string') {
      throw new InterlinkError(ErrorCode.UNAVAILABLE, `cannot verify tokens: ${discovery} names no jwks_uri`);
    }
    return this.#setJwks(doc.jwks_uri);
  }

  async verify(token: string): Promise<Principal> {
    const cfg = this.#cfg;
    const failed = this.#failure;
    if (failed && this.#now() < failed.until) throw failed.error;
    const keys = await this.#keys();
    const { jwtVerify } = await import('jose');
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, keys, {
        issuer: cfg.issuer,
        audience: cfg.audience,
        clockTolerance: cfg.clockToleranceSeconds,
        // A token without an expiry would be valid forever.
        requiredClaims: ['exp'],
      }));
    } catch (err) {
      const explained = this.#explain(err);
      throw explained.code === ErrorCode.UNAVAILABLE ? this.#remember(explained) : explained;
    }
    if (cfg.requiredGroup) {
      const groups = claimAt(payload, cfg.groupsClaim);
      const list = Array.isArray(groups)
        ? groups.map(String)
        : typeof groups === 'string'
          ? groups.split(/[\s,]+/)
          : [];
      if (!list.includes(cfg.requiredGroup)) {
        throw unauthenticated(
          `missing group: the token's "${cfg.groupsClaim}" claim does not contain "${cfg.requiredGroup}"`,
        );
      }
    }
    return { method: 'oidc', name: typeof payload.sub === 'string' ? payload.sub : 'unknown-subject' };
  }

  #explain(err: unknown): InterlinkError {
    const e = err as { code?: string; claim?: string; payload?: JWTPayload; message?: string };
    const cfg = this.#cfg;
    switch (e.code) {
      case 'ERR_JWT_EXPIRED': {
        const exp =
          typeof e.payload?.exp === 'number' ? ` at ${new Date(e.payload.exp * 1000).toISOString()}` : '';
        return unauthenticated(`token expired${exp}`);
      }
      case 'ERR_JWT_CLAIM_VALIDATION_FAILED': {
        if (e.claim === 'aud') {
          const expected = Array.isArray(cfg.audience) ? cfg.audience.join(' or ') : cfg.audience;
          const got = e.payload?.aud === undefined ? 'none' : JSON.stringify(e.payload.aud);
          return unauthenticated(`wrong audience: token is for ${got}, expected ${expected}`);
        }
        if (e.claim === 'iss')
          return unauthenticated(
            `wrong issuer: token is from ${JSON.stringify(e.payload?.iss ?? null)}, expected ${cfg.issuer}`,
          );
        if (e.claim === 'nbf') return unauthenticated('token is not valid yet (nbf in the future)');
        if (e.claim === 'exp') return unauthenticated('token has no expiry (exp claim required)');
        return unauthenticated(`token claim "${e.claim}" is invalid: ${e.message}`);
      }
      case 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED':
        return unauthenticated('bad token signature');
      case 'ERR_JWKS_NO_MATCHING_KEY':
        return unauthenticated(`token is signed by a key the issuer does not publish (${this.#jwksUrl})`);
      case 'ERR_JWKS_MULTIPLE_MATCHING_KEYS':
        return unauthenticated('token names no key id (kid) and the issuer publishes several keys');
      case 'ERR_JWS_INVALID':
      case 'ERR_JWT_INVALID':
        return unauthenticated(`malformed token: ${e.message}`);
      case 'ERR_JOSE_ALG_NOT_ALLOWED':
      case 'ERR_JOSE_NOT_SUPPORTED':
        return unauthenticated(`token algorithm not accepted: ${e.message}`);
    }
    return new InterlinkError(
      ErrorCode.UNAVAILABLE,
      `cannot verify tokens: signing keys at ${this.#jwksUrl} unavailable (${e.message ?? String(err)})`,
      { cause: err },
    );
  }
}

const looksLikeJwt = (t: string) => /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/.test(t);

/**
 * The authenticator for a config. With neither a token file nor OIDC (and auth not
 * disabled) every request is refused — resolveApiConfig refuses that configuration unless
 * mTLS authenticates at the TLS layer, in which case callers here are `none`.
 */
export function createAuthenticator(
  cfg: AuthConfig,
  log: Logger,
  opts: { mtls?: boolean; oidc?: ConstructorParameters<typeof OidcVerifier>[1] } = {},
): Authenticator {
  if (cfg.disabled) {
    return { authenticate: async () => ({ method: 'none', name: 'anonymous' }), describe: () => 'disabled' };
  }
  const file = cfg.tokenFile ? new TokenFile(cfg.tokenFile, log) : undefined;
  const oidc = cfg.oidc ? new OidcVerifier(cfg.oidc, opts.oidc) : undefined;
  if (!file && !oidc) {
    return {
      authenticate: async () => ({ method: 'none', name: opts.mtls ? 'client-certificate' : 'anonymous' }),
      describe: () => (opts.mtls ? 'client certificates (mTLS)' : 'none'),
    };
  }
  const parts = [
    file ? `token file ${file.path} (${file.size} tokens)` : '',
    oidc ? oidc.describe() : '',
  ].filter(Boolean);
  return {
    describe: () => parts.join(' + ') + (opts.mtls ? ' + client certificates (mTLS)' : ''),
    async authenticate(header) {
      if (header === undefined || header.trim() === '') {
        throw unauthenticated('missing Authorization header (expected "Authorization: Bearer <token>")');
      }
      const m = /^Bearer[ \t]+(\S+)\s*$/i.exec(header);
      if (!m) throw unauthenticated('Authorization header must be "Bearer <token>"');
      const token = m[1]!;
      try {
        if (file) {
          const label = await file.lookup(token);
          if (label !== undefined) return { method: 'token', name: label };
        }
        if (oidc && looksLikeJwt(token)) return await oidc.verify(token);
        if (oidc && !file) throw unauthenticated('malformed token: not a JWT');
        throw unauthenticated(oidc ? 'unknown token: not in the token file and not a JWT' : 'unknown token');
      } catch (err) {
        // The reason (expected issuer, audience, key location) is for the admin, not the caller.
        if (err instanceof InterlinkError && err.code === ErrorCode.UNAUTHENTICATED) {
          log.info({ reason: err.message }, 'request with an invalid token refused');
          throw unauthenticated(INVALID_TOKEN);
        }
        if (err instanceof InterlinkError && err.code === ErrorCode.UNAVAILABLE) {
          log.warn({ reason: err.message }, 'cannot verify a token');
          throw new InterlinkError(ErrorCode.UNAVAILABLE, KEYS_UNAVAILABLE);
        }
        throw err;
      }
    },
  };
}

/** Routes anyone may call: probes need no credentials. */
export const PUBLIC_ROUTES: ReadonlySet<string> = new Set(['/healthz', '/readyz']);

/** A Fastify onRequest hook enforcing `authn` on every route but the public ones. */
export function authHook(authn: Authenticator) {
  return async (req: FastifyRequest, reply: FastifyReply) => {
    if (PUBLIC_ROUTES.has(req.routeOptions.url ?? '')) return;
    try {
      const who = await authn.authenticate(req.headers.authorization);
      if (who.method !== 'none') req.log = req.log.child({ caller: who.name });
    } catch (err) {
      // A refused caller may still be trickling a body: do not keep its connection for more.
      reply.header('connection', 'close');
      if (err instanceof InterlinkError && err.code === ErrorCode.UNAUTHENTICATED) {
        const desc = err.message.replaceAll('"', "'").replace(/[^\x20-\x7e]/g, ' ');
        reply.header(
          'www-authenticate',
          `Bearer realm="interlink", error="invalid_token", error_description="${desc}"`,
        );
      }
      throw err;
    }
  };
}
