import { describe, expect, it } from 'vitest';
import { FakeClock } from '../../../src/core/clock.ts';
import { codeOf } from '../../../src/errors/index.ts';
import { createAuthorizer, type Reviewer, userFromCertificate } from '../../../src/vk/kubelet/auth.ts';

const attrs = { verb: 'get', resource: 'nodes' as const, name: 'vk', subresources: ['stats'] };

function reviewer(allowed: () => boolean) {
  let tokenCalls = 0;
  let accessCalls = 0;
  const r: Reviewer = {
    async reviewToken(token) {
      tokenCalls++;
      return token === 'good'
        ? { authenticated: true, user: { username: 'bob', groups: ['devs'] } }
        : { authenticated: false };
    },
    async reviewAccess() {
      accessCalls++;
      return allowed() ? { allowed: true } : { allowed: false, reason: 'no RBAC rule' };
    },
  };
  return { r, counts: () => ({ tokenCalls, accessCalls }) };
}

describe('kubelet API authorizer', () => {
  it('maps a certificate subject to user and groups', () => {
    expect(userFromCertificate({ CN: 'kube-apiserver-kubelet-client', O: ['system:masters', 'x'] })).toEqual({
      username: 'kube-apiserver-kubelet-client',
      groups: ['system:masters', 'x', 'system:authenticated'],
    });
    expect(userFromCertificate({ O: 'x' })).toBeUndefined();
  });

  it('ignores verified client certificates when no client CA is ours', async () => {
    const socket = {
      authorized: true,
      getPeerCertificate: () => ({ subject: { CN: 'admin', O: 'system:masters' } }),
    };
    const trusting = createAuthorizer({
      reviewer: reviewer(() => true).r,
      nodeName: 'vk',
      clock: new FakeClock(),
      trustClientCerts: () => true,
    });
    expect(await trusting.authenticate({ socket, headers: {} })).toMatchObject({ username: 'admin' });
    const wary = createAuthorizer({
      reviewer: reviewer(() => true).r,
      nodeName: 'vk',
      clock: new FakeClock(),
      trustClientCerts: () => false,
    });
    await expect(wary.authenticate({ socket, headers: {} })).rejects.toMatchObject({
      code: 'UNAUTHENTICATED',
    });
  });

  it('caches token reviews for 2 min and denials for 30 s, then asks again', async () => {
    const clock = new FakeClock();
    let allow = false;
    const { r, counts } = reviewer(() => allow);
    const a = createAuthorizer({ reviewer: r, nodeName: 'vk', clock, trustClientCerts: () => false });
    const req = { socket: {}, headers: { authorization: 'Bearer good' } };
    const user = await a.authenticate(req);
    await a.authenticate(req);
    expect(counts().tokenCalls).toBe(1);
    const denied = await a.authorize(user, attrs).catch((e: unknown) => e);
    expect(codeOf(denied)).toBe('FORBIDDEN');
    expect((denied as Error).message).toBe(
      'Forbidden (user=bob, verb=get, resource=nodes, subresource(s)=[stats]): no RBAC rule',
    );
    allow = true;
    // Still denied from the cache...
    await expect(a.authorize(user, attrs)).rejects.toMatchObject({ code: 'FORBIDDEN' });
    await clock.advance(30_001);
    // ...until the denial expires.
    await a.authorize(user, attrs);
    expect(counts().accessCalls).toBe(2);
    await clock.advance(120_001);
    await a.authenticate(req);
    expect(counts().tokenCalls).toBe(2);
  });

  it('an apiserver failure during review is UNAVAILABLE (503), not a denial', async () => {
    const a = createAuthorizer({
      reviewer: {
        reviewToken: () => Promise.reject(new Error('connect ECONNREFUSED')),
        reviewAccess: () => Promise.reject(new Error('x')),
      },
      nodeName: 'vk',
      clock: new FakeClock(),
      trustClientCerts: () => false,
    });
    await expect(
      a.authenticate({ socket: {}, headers: { authorization: 'Bearer t' } }),
    ).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    await expect(a.authorize({ username: 'u', groups: [] }, attrs)).rejects.toMatchObject({
      code: 'UNAVAILABLE',
    });
  });
});
