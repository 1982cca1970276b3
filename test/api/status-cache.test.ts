import { describe, expect, it } from 'vitest';
import { StatusCache } from '../../src/api/status-cache.ts';

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
});
