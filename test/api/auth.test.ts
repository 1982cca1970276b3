/**
 * Authentication over real HTTP: static token file (re-read on change) and OIDC JWTs
 * verified against a JWKS generated here with jose and served by a local HTTP server.
 */

import { rename, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { exportJWK, generateKeyPair, type JWTPayload, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadApiConfig, resolveApiConfig } from '../../src/api/config.ts';
import { parseTokenFile } from '../../src/core/auth.ts';
import {
  type ApiUnderTest,
  captureLogger,
  startApi,
  startMock,
  TOKEN,
  tempDir,
  writeTokenFile,
} from './harness.ts';

type Key = Awaited<ReturnType<typeof generateKeyPair>>['privateKey'];

describe('parseTokenFile', () => {
  it.each([
    ['', []],
    ['# only a comment\n\n   \n', []],
    ['abc\n', [['abc', '']]],
    [
      'abc  vk-a\r\ndef\tvk b # trailing comment\n',
      [
        ['abc', 'vk-a'],
        ['def', 'vk b'],
      ],
    ],
    [
      '  spaced  \n#x\nlast',
      [
        ['spaced', ''],
        ['last', ''],
      ],
    ],
  ])('%j', (text, want) => {
    expect([...parseTokenFile(text)]).toEqual(want);
  });
});

describe('API authentication', () => {
  let idp: Server;
  let issuer: string;
  let key: Key;
  let otherKey: Key;
  let jwksHits = 0;
  let dir: string;
  let cleanup: () => Promise<void>;
  let tokenFile: string;
  let mock: Awaited<ReturnType<typeof startMock>>;
  let pluginSocket: string;
  const logs = captureLogger();
  const apis: ApiUnderTest[] = [];

  const sign = (
    claims: JWTPayload,
    opts: { key?: Key; exp?: string | number; aud?: string; iss?: string } = {},
  ) =>
    new SignJWT({ groups: ['hpc-users'], ...claims })
      .setProtectedHeader({ alg: 'RS256', kid: 'k1' })
      .setSubject('system:serviceaccount:interlink:vk')
      .setIssuer(opts.iss ?? issuer)
      .setAudience(opts.aud ?? 'interlink')
      .setIssuedAt()
      .setExpirationTime(opts.exp ?? '5m')
      .sign(opts.key ?? key);

  async function api(auth: Record<string, unknown>): Promise<ApiUnderTest> {
    const overrides = Object.fromEntries(Object.entries(auth).map(([k, v]) => [`auth.${k}`, v]));
    const a = await startApi({ listen: 'tcp', pluginSocket, logger: logs.logger, overrides });
    apis.push(a);
    return a;
  }

  beforeAll(async () => {
    ({ dir, cleanup } = await tempDir());
    pluginSocket = join(dir, 'plugin.sock');
    mock = await startMock(pluginSocket, logs.logger);
    tokenFile = await writeTokenFile(dir);
    const pair = await generateKeyPair('RS256');
    key = pair.privateKey;
    otherKey = (await generateKeyPair('RS256')).privateKey;
    const jwk = { ...(await exportJWK(pair.publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' };
    idp = createServer((req, res) => {
      if (req.url === '/.well-known/openid-configuration') {
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ issuer, jwks_uri: `${issuer}/keys` }));
      } else if (req.url === '/keys') {
        jwksHits++;
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ keys: [jwk] }));
      } else {
        res.statusCode = 404;
        res.end();
      }
    });
    await new Promise<void>((r) => idp.listen(0, '127.0.0.1', r));
    issuer = `http://127.0.0.1:${(idp.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    for (const a of apis) await a.close();
    await mock?.close();
    await new Promise((r) => idp?.close(r));
    await cleanup?.();
  });

  /**
   * A refused token: the caller reads only "invalid token" (body and WWW-Authenticate);
   * the reason, naming issuer, audience or key location, is in the log.
   */
  async function expect401(a: ApiUnderTest, authorization: string | undefined, reason: RegExp) {
    a.client.token = undefined;
    const before = logs.lines().length;
    const res = await a.client.request(
      'POST',
      '/pinglink',
      undefined,
      authorization === undefined ? {} : { authorization },
    );
    expect(res.status, res.text).toBe(401);
    expect(res.headers['www-authenticate']).toMatch(/^Bearer realm="interlink"/);
    if (authorization === undefined || !/^Bearer /.test(authorization)) {
      expect(res.json()).toEqual({ code: 'UNAUTHENTICATED', message: expect.stringMatching(reason) });
      return;
    }
    expect(res.json()).toEqual({ code: 'UNAUTHENTICATED', message: 'invalid token' });
    expect(res.headers['www-authenticate']).toBe(
      'Bearer realm="interlink", error="invalid_token", error_description="invalid token"',
    );
    expect(res.text).not.toContain(issuer);
    const logged = logs
      .lines()
      .slice(before)
      .find((l) => l.msg === 'request with an invalid token refused');
    expect(String(logged?.reason)).toMatch(reason);
  }

  it('static token file: no header, wrong scheme, unknown token → 401; the right token passes', async () => {
    const a = await api({ tokenFile });
    await expect401(a, undefined, /missing Authorization header/);
    await expect401(a, 'Basic dXNlcjpwYXNz', /Bearer <token>/);
    await expect401(a, 'Bearer not-the-token', /^unknown token$/);
    const ok = await a.client.request('POST', '/pinglink', undefined, { authorization: `Bearer ${TOKEN}` });
    expect(ok.status).toBe(200);
  });

  it('probes need no token; everything else, /metrics and unknown routes included, does', async () => {
    const a = await api({ tokenFile });
    a.client.token = undefined;
    expect((await a.client.request('GET', '/healthz')).status).toBe(200);
    expect((await a.client.request('GET', '/readyz')).status).toBe(200);
    for (const [method, path] of [
      ['GET', '/metrics'],
      ['GET', '/status'],
      ['POST', '/create'],
      ['POST', '/updateCache'],
      ['GET', '/stats/summary'],
      ['GET', '/no-such-route'],
    ] as const) {
      expect((await a.client.request(method, path)).status, `${method} ${path}`).toBe(401);
    }
  });

  it('a rotated token file is picked up without restart (rewritten in place, and renamed over)', async () => {
    const rotating = await writeTokenFile(dir, 'first-token\n', 'rotating-tokens');
    const a = await api({ tokenFile: rotating });
    a.client.token = 'first-token';
    expect((await a.client.request('POST', '/pinglink')).status).toBe(200);

    await writeFile(rotating, '# rotated\nsecond-token vk\n');
    expect((await a.client.request('POST', '/pinglink')).status).toBe(401);
    a.client.token = 'second-token';
    expect((await a.client.request('POST', '/pinglink')).status).toBe(200);

    const next = join(dir, 'tokens.new');
    await writeFile(next, 'third-token\n');
    await rename(next, rotating);
    expect((await a.client.request('POST', '/pinglink')).status).toBe(401);
    a.client.token = 'third-token';
    expect((await a.client.request('POST', '/pinglink')).status).toBe(200);
    expect(logs.lines().some((l) => l.msg === 'token file reloaded')).toBe(true);
  });

  it('OIDC with a JWKS URL: valid JWT passes; expired, wrong audience, wrong issuer, foreign key, missing group → 401', async () => {
    const a = await api({
      oidc: { issuer, jwksUrl: `${issuer}/keys`, audience: 'interlink', requiredGroup: 'hpc-users' },
    });
    a.client.token = undefined;
    const ok = await a.client.request('POST', '/pinglink', undefined, {
      authorization: `Bearer ${await sign({})}`,
    });
    expect(ok.status, ok.text).toBe(200);

    const past = Math.floor(Date.now() / 1000) - 3600;
    await expect401(a, `Bearer ${await sign({}, { exp: past })}`, /^token expired at \d{4}-/);
    await expect401(
      a,
      `Bearer ${await sign({}, { aud: 'someone-else' })}`,
      /^wrong audience: token is for "someone-else", expected interlink$/,
    );
    await expect401(a, `Bearer ${await sign({}, { iss: 'https://evil.example' })}`, /^wrong issuer/);
    await expect401(a, `Bearer ${await sign({}, { key: otherKey })}`, /bad token signature/);
    await expect401(
      a,
      `Bearer ${await sign({ groups: ['students'] })}`,
      /^missing group: the token's "groups" claim does not contain "hpc-users"$/,
    );
    await expect401(a, `Bearer ${await sign({ groups: undefined })}`, /^missing group/);
    await expect401(a, 'Bearer not-a-jwt', /malformed token: not a JWT/);
    await expect401(a, 'Bearer aaa.bbb.ccc', /malformed token/);
  });

  it('OIDC by issuer discovery, a nested groups claim, and a token file beside it', async () => {
    const a = await api({
      tokenFile,
      oidc: {
        issuer,
        audience: ['other', 'interlink'],
        requiredGroup: 'admins',
        groupsClaim: 'realm_access.roles',
      },
    });
    a.client.token = undefined;
    const jwt = await sign({ realm_access: { roles: ['admins'] } });
    expect(
      (await a.client.request('POST', '/pinglink', undefined, { authorization: `Bearer ${jwt}` })).status,
    ).toBe(200);
    expect(
      (await a.client.request('POST', '/pinglink', undefined, { authorization: `Bearer ${TOKEN}` })).status,
    ).toBe(200);
    await expect401(
      a,
      `Bearer ${await sign({ realm_access: { roles: ['users'] } })}`,
      /"realm_access\.roles" claim does not contain "admins"/,
    );
    await expect401(a, 'Bearer nope', /unknown token: not in the token file and not a JWT/);
    expect(jwksHits).toBeGreaterThan(0);
  });

  it('signing keys unreachable → 503 (the token may be fine), not 401; the URL only in the log', async () => {
    const before = logs.lines().length;
    const a = await api({ oidc: { issuer, jwksUrl: 'http://127.0.0.1:1/keys', audience: 'interlink' } });
    a.client.token = await sign({});
    const res = await a.client.request('POST', '/pinglink');
    expect(res.status).toBe(503);
    expect(res.json()).toEqual({
      code: 'UNAVAILABLE',
      message: 'cannot verify tokens now: the token issuer is unavailable',
    });
    const logged = logs
      .lines()
      .slice(before)
      .find((l) => l.msg === 'cannot verify a token');
    expect(String(logged?.reason)).toMatch(/signing keys at http:\/\/127\.0\.0\.1:1\/keys unavailable/);
  });

  it('a JWT without exp is refused (it would be valid forever)', async () => {
    const a = await api({ oidc: { issuer, jwksUrl: `${issuer}/keys`, audience: 'interlink' } });
    const forever = await new SignJWT({})
      .setProtectedHeader({ alg: 'RS256', kid: 'k1' })
      .setSubject('vk')
      .setIssuer(issuer)
      .setAudience('interlink')
      .setIssuedAt()
      .sign(key);
    await expect401(a, `Bearer ${forever}`, /token has no expiry \(exp claim required\)/);
  });

  it('failing discovery and JWKS are fetched once, not once per JWT-shaped request', async () => {
    let discoveryHits = 0;
    let keyHits = 0;
    const broken = createServer((req, res) => {
      if (req.url === '/.well-known/openid-configuration') discoveryHits++;
      else keyHits++;
      res.statusCode = 500;
      res.end('down');
    });
    await new Promise<void>((r) => broken.listen(0, '127.0.0.1', r));
    const brokenUrl = `http://127.0.0.1:${(broken.address() as AddressInfo).port}`;
    try {
      const viaDiscovery = await api({ oidc: { issuer: brokenUrl, audience: 'interlink' } });
      const viaJwks = await api({ oidc: { issuer, jwksUrl: `${brokenUrl}/keys`, audience: 'interlink' } });
      for (const a of [viaDiscovery, viaJwks]) {
        a.client.token = await sign({}, { iss: a === viaDiscovery ? brokenUrl : issuer });
        // A burst (single-flight) and then a sequence (negative cache).
        const burst = await Promise.all(
          Array.from({ length: 10 }, () => a.client.request('POST', '/pinglink')),
        );
        for (let i = 0; i < 10; i++) burst.push(await a.client.request('POST', '/pinglink'));
        expect(burst.map((r) => r.status)).toEqual(burst.map(() => 503));
        for (const r of burst) expect(r.text).not.toContain(brokenUrl);
      }
      expect(discoveryHits).toBe(1);
      expect(keyHits).toBe(1);
    } finally {
      await new Promise((r) => broken.close(r));
    }
  });

  it('auth.disabled: true serves without a token and warns at start-up', async () => {
    const before = logs.lines().length;
    const a = await api({ disabled: true });
    a.client.token = undefined;
    expect((await a.client.request('POST', '/pinglink')).status).toBe(200);
    const warned = logs
      .lines()
      .slice(before)
      .find((l) => l.level === 40 && /authentication is DISABLED/.test(String(l.msg)));
    expect(warned).toBeDefined();
  });

  it('no authentication configured and not disabled → start-up fails naming auth', () => {
    expect(() => resolveApiConfig(loadApiConfig({ env: {} }))).toThrow(
      /auth: no authentication configured.*auth\.disabled: true/,
    );
  });

  it('an unreadable token file fails start-up naming auth.tokenFile', async () => {
    await expect(api({ tokenFile: join(dir, 'missing') })).rejects.toThrow(/auth\.tokenFile: cannot read/);
  });
});
