/**
 * Authentication and authorization of kubelet API callers, as the kubelet does them
 * (webhook mode): a client certificate that chains to the client CA names the user (CN)
 * and groups (O); otherwise a bearer token is checked with a TokenReview. The user is
 * then authorized by a SubjectAccessReview on `nodes/<node>` with the request's verb and
 * subresource. Anonymous callers get 401, denied ones 403 with the reason.
 *
 * Both reviews are cached like the kubelet's webhook caches (token: 2 min; allowed: 5 min;
 * denied: 30 s) so `kubectl logs -f` reconnects and /stats scrapes don't hammer the
 * apiserver. Time is injected.
 */
import type { TLSSocket } from 'node:tls';
import type { Clock } from '../../core/clock.ts';
import { ErrorCode, InterlinkError } from '../../errors/index.ts';
import type { AuthenticationApi, AuthorizationApi } from '../kube-api.ts';
import type { RequestAttributes } from './authz-attributes.ts';

export interface UserInfo {
  username: string;
  uid?: string | undefined;
  groups: string[];
  extra?: Record<string, string[]> | undefined;
}

export interface TokenReviewResult {
  authenticated: boolean;
  user?: UserInfo;
  error?: string;
}

export interface AccessReviewResult {
  allowed: boolean;
  reason?: string;
}

/** The two apiserver calls we depend on, as an interface so tests can stand in for them. */
export interface Reviewer {
  reviewToken(token: string): Promise<TokenReviewResult>;
  reviewAccess(
    user: UserInfo,
    verb: string,
    resource: string,
    name: string,
    subresource: string,
  ): Promise<AccessReviewResult>;
}

export function kubeReviewer(authentication: AuthenticationApi, authorization: AuthorizationApi): Reviewer {
  return {
    async reviewToken(token) {
      const review = await authentication.createTokenReview({
        body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token } },
      });
      const s = review.status;
      if (!s?.authenticated || !s.user?.username)
        return { authenticated: false, ...(s?.error ? { error: s.error } : {}) };
      return {
        authenticated: true,
        user: {
          username: s.user.username,
          uid: s.user.uid,
          groups: s.user.groups ?? [],
          extra: s.user.extra,
        },
      };
    },
    async reviewAccess(user, verb, resource, name, subresource) {
      const review = await authorization.createSubjectAccessReview({
        body: {
          apiVersion: 'authorization.k8s.io/v1',
          kind: 'SubjectAccessReview',
          spec: {
            user: user.username,
            groups: user.groups,
            ...(user.uid ? { uid: user.uid } : {}),
            ...(user.extra ? { extra: user.extra } : {}),
            resourceAttributes: { verb, resource, name, subresource, group: '', version: 'v1' },
          },
        },
      });
      return {
        allowed: review.status?.allowed === true,
        ...(review.status?.reason ? { reason: review.status.reason } : {}),
      };
    },
  };
}

/** The user a verified client certificate names: CN is the user, each O a group. */
export function userFromCertificate(
  subject: Record<string, string | string[] | undefined>,
): UserInfo | undefined {
  const cn = subject.CN;
  const username = Array.isArray(cn) ? cn[0] : cn;
  if (!username) return undefined;
  const o = subject.O;
  const groups = o === undefined ? [] : Array.isArray(o) ? o : [o];
  return { username, groups: [...groups, 'system:authenticated'] };
}

export interface AuthOptions {
  reviewer: Reviewer;
  nodeName: string;
  clock: Clock;
  /**
   * Whether a verified client certificate counts: only when the server verifies them
   * against a client CA we chose (without one, Node would verify against public roots).
   */
  trustClientCerts: () => boolean;
  tokenTtlMs?: number;
  allowedTtlMs?: number;
  deniedTtlMs?: number;
  /** Bound on each cache (oldest entries evicted). */
  cacheSize?: number;
}

export interface AuthRequest {
  socket: unknown;
  headers: Record<string, string | string[] | undefined>;
}

interface Cached<T> {
  value: T;
  until: number;
}

class TtlCache<T> {
  readonly #map = new Map<string, Cached<T>>();
  readonly #max: number;
  readonly #clock: Clock;
  constructor(max: number, clock: Clock) {
    this.#max = max;
    this.#clock = clock;
  }
  get(key: string): T | undefined {
    const e = this.#map.get(key);
    if (!e) return undefined;
    if (e.until <= this.#clock.now()) {
      this.#map.delete(key);
      return undefined;
    }
    return e.value;
  }
  set(key: string, value: T, ttlMs: number): void {
    this.#map.delete(key);
    this.#map.set(key, { value, until: this.#clock.now() + ttlMs });
    while (this.#map.size > this.#max) this.#map.delete(this.#map.keys().next().value as string);
  }
}

export interface Authorizer {
  /** The caller, or throws UNAUTHENTICATED. May call the apiserver (TokenReview). */
  authenticate(req: AuthRequest): Promise<UserInfo>;
  /** Resolves when allowed; throws FORBIDDEN naming user, verb, resource and subresource. */
  authorize(user: UserInfo, attrs: RequestAttributes): Promise<void>;
}

export function createAuthorizer(opts: AuthOptions): Authorizer {
  const size = opts.cacheSize ?? 1024;
  const tokens = new TtlCache<TokenReviewResult>(size, opts.clock);
  const decisions = new TtlCache<AccessReviewResult>(size, opts.clock);
  const tokenTtl = opts.tokenTtlMs ?? 120_000;
  const allowedTtl = opts.allowedTtlMs ?? 300_000;
  const deniedTtl = opts.deniedTtlMs ?? 30_000;

  return {
    async authenticate(req) {
      const tls = req.socket as Partial<TLSSocket>;
      if (
        opts.trustClientCerts() &&
        tls.authorized === true &&
        typeof tls.getPeerCertificate === 'function'
      ) {
        const peer = tls.getPeerCertificate();
        const user = peer?.subject ? userFromCertificate({ ...peer.subject }) : undefined;
        if (user) return user;
      }
      const header = req.headers.authorization;
      const auth = Array.isArray(header) ? header[0] : header;
      const match = auth ? /^Bearer\s+(\S+)\s*$/i.exec(auth) : null;
      if (match?.[1]) {
        const token = match[1];
        let result = tokens.get(token);
        if (!result) {
          try {
            result = await opts.reviewer.reviewToken(token);
          } catch (err) {
            throw new InterlinkError(
              ErrorCode.UNAVAILABLE,
              `cannot review the bearer token with the apiserver: ${(err as Error).message}`,
              { cause: err },
            );
          }
          tokens.set(token, result, tokenTtl);
        }
        if (result.authenticated && result.user) return result.user;
        throw new InterlinkError(
          ErrorCode.UNAUTHENTICATED,
          `Unauthorized: invalid bearer token${result.error ? ` (${result.error})` : ''}`,
        );
      }
      if (
        opts.trustClientCerts() &&
        tls.authorizationError &&
        typeof tls.getPeerCertificate === 'function' &&
        tls.getPeerCertificate()?.subject
      ) {
        throw new InterlinkError(
          ErrorCode.UNAUTHENTICATED,
          `Unauthorized: client certificate not accepted (${String(tls.authorizationError)})`,
        );
      }
      throw new InterlinkError(
        ErrorCode.UNAUTHENTICATED,
        'Unauthorized: a client certificate or bearer token is required',
      );
    },

    async authorize(user, attrs) {
      let last: AccessReviewResult | undefined;
      for (const sub of attrs.subresources) {
        const key = JSON.stringify([
          user.username,
          user.uid ?? '',
          user.groups,
          user.extra ?? {},
          attrs.verb,
          attrs.name,
          sub,
        ]);
        let decision = decisions.get(key);
        if (!decision) {
          try {
            decision = await opts.reviewer.reviewAccess(user, attrs.verb, attrs.resource, attrs.name, sub);
          } catch (err) {
            throw new InterlinkError(
              ErrorCode.UNAVAILABLE,
              `cannot review access with the apiserver: ${(err as Error).message}`,
              { cause: err },
            );
          }
          decisions.set(key, decision, decision.allowed ? allowedTtl : deniedTtl);
        }
        if (decision.allowed) return;
        last = decision;
      }
      const subs = attrs.subresources.join(',');
      throw new InterlinkError(
        ErrorCode.FORBIDDEN,
        `Forbidden (user=${user.username}, verb=${attrs.verb}, resource=${attrs.resource}, subresource(s)=[${subs}])${last?.reason ? `: ${last.reason}` : ''}`,
      );
    },
  };
}
