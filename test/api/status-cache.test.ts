import { describe, expect, it } from 'vitest';
import { MAX_ERROR_CHARS, StatusCache } from '../../src/api/status-cache.ts';

const st = (UID: string, JID = 'j') => ({
  name: `p-${UID}`,
  UID,
  namespace: 'default',
  JID,
  containers: [],
  initContainers: [],
});

describe('StatusCache', () => {
  it('keeps the last status per UID with the time it was reported, and drops by UID', () => {
    let now = 1000;
    const cache = new StatusCache(() => now);
    cache.update([st('a'), st('b')]);
    now = 2000;
    cache.update([st('a', 'j2'), { ...st(''), UID: '' }]);
    expect(cache.size).toBe(2);
    expect(cache.get('a')).toEqual({ status: st('a', 'j2'), at: 2000 });
    expect(cache.get('b')?.at).toBe(1000);
    expect(cache.drop('a')).toBe(true);
    expect(cache.drop('a')).toBe(false);
    expect(cache.get('a')).toBeUndefined();
    cache.clear();
    expect(cache.size).toBe(0);
  });

  it('knows pods from their create (job id or error) and from statuses; drop forgets both', () => {
    let now = 1000;
    const cache = new StatusCache(() => now);
    const pod = {
      metadata: { name: 'web', namespace: 'ns', uid: 'w', creationTimestamp: '2026-01-01T00:00:00Z' },
      spec: { initContainers: [{ name: 'init' }], containers: [{ name: 'main' }] },
    };
    cache.noteCreate(pod as never, { error: 'x'.repeat(5000) });
    expect(cache.pods()[0]!.pod).toMatchObject({ uid: 'w', firstSeen: 1000, containers: ['init', 'main'] });
    expect(cache.pods()[0]!.pod.createError).toHaveLength(MAX_ERROR_CHARS);
    now = 2000;
    cache.noteCreate(pod as never, { jid: 'job-7' });
    cache.update([st('other', 'j-o')]);
    const byUid = Object.fromEntries(cache.pods().map((p) => [p.pod.uid, p]));
    expect(byUid.w!.pod).toEqual({
      uid: 'w',
      namespace: 'ns',
      name: 'web',
      firstSeen: 1000,
      createdAt: '2026-01-01T00:00:00Z',
      containers: ['init', 'main'],
      jid: 'job-7',
    });
    expect(byUid.w!.status).toBeUndefined();
    expect(byUid.other).toMatchObject({
      pod: { name: 'p-other', jid: 'j-o', firstSeen: 2000 },
      status: { at: 2000 },
    });
    expect(cache.size).toBe(1);
    cache.drop('w');
    expect(cache.pods().map((p) => p.pod.uid)).toEqual(['other']);
  });
});
