/**
 * How a server of ours authenticates its callers (the interLink API, and a plugin on TCP):
 * the config keys, shared by both; the checks are in ./auth.ts.
 */
import { z } from 'zod';
import { BoolLike } from './config.ts';

export const OidcConfig = z.object({
  /** Expected `iss`; also where discovery looks (`<issuer>/.well-known/openid-configuration`). */
  issuer: z.url(),
  /** JWKS location; discovered from the issuer when absent. */
  jwksUrl: z.url().optional(),
  /** Expected `aud` (one value, or a list of which one must match). */
  audience: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]),
  /** A group the token must carry in `groupsClaim` (optional). */
  requiredGroup: z.string().min(1).optional(),
  /** Claim holding the groups, dotted for nested claims (`realm_access.roles`). */
  groupsClaim: z.string().min(1).default('groups'),
  /** Allowed clock skew when checking exp/nbf/iat, in seconds. */
  clockToleranceSeconds: z.coerce.number().int().min(0).default(30),
});
export type OidcConfig = z.infer<typeof OidcConfig>;

export const AuthConfig = z.object({
  /** Turn authentication off. Only this explicit switch does it, and start-up warns. */
  disabled: BoolLike.default(false),
  /** File of accepted bearer tokens: one per line (`token [label]`), `#` comments; re-read when it changes. */
  tokenFile: z.string().min(1).optional(),
  oidc: OidcConfig.optional(),
});
export type AuthConfig = z.infer<typeof AuthConfig>;
