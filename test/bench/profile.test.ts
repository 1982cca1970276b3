import { describe, expect, it } from 'vitest';
import { type CpuProfile, moduleOf, summarizeProfile } from '../../bench/lib/profile.ts';

describe('moduleOf', () => {
  it.each([
    ['file:///work/main/node_modules/undici/lib/dispatcher/client.js', 'undici'],
    ['file:///work/main/node_modules/@kubernetes/client-node/dist/gen/x.js', '@kubernetes/client-node'],
    ['file:///r/node_modules/a/node_modules/b/index.js', 'b'],
    ['file:///work/main/src/vk/pods/controller.ts', 'src/vk/pods/controller.ts'],
    ['node:internal/fs/promises', 'node:internal'],
    ['', '(native)'],
    ['/elsewhere/x.js', '/elsewhere/x.js'],
  ])('%s → %s', (url, want) => {
    expect(moduleOf(url, '/work/main')).toBe(want);
  });
});

describe('summarizeProfile', () => {
  const frame = (functionName: string, url = '', lineNumber = 0) => ({ functionName, url, lineNumber });
  const profile: CpuProfile = {
    startTime: 0,
    endTime: 10_000,
    nodes: [
      { id: 1, callFrame: frame('(root)') },
      { id: 2, callFrame: frame('(idle)') },
      { id: 3, callFrame: frame('sync', 'file:///repo/src/vk/pods/controller.ts', 417) },
      { id: 4, callFrame: frame('parse', 'file:///repo/node_modules/zod/v4/core.js', 9) },
      { id: 5, callFrame: frame('(garbage collector)') },
      { id: 6, callFrame: frame('', 'file:///repo/node_modules/zod/v4/other.js', 1) },
    ],
    // Each sample's time is the NEXT delta: 3 → 1000, 4 → 2000, 2 → 5000, 5 → 1000, 6 → 1000, 3 → 0 (last).
    samples: [3, 4, 2, 5, 6, 3],
    timeDeltas: [0, 1000, 2000, 5000, 1000, 1000],
  };
  const s = summarizeProfile(profile, { repoRoot: '/repo' });
  it('splits idle from busy time and counts GC', () => {
    expect(s).toMatchObject({ totalMs: 10, busyMs: 5, gcMs: 1 });
  });
  it('ranks functions and modules by self time, as shares of busy time', () => {
    expect(s.topFunctions).toEqual([
      { name: 'parse zod:10', selfMs: 2, percent: 40 },
      { name: 'sync src/vk/pods/controller.ts:418', selfMs: 1, percent: 20 },
      { name: '(garbage collector)', selfMs: 1, percent: 20 },
      { name: '(anonymous) zod:2', selfMs: 1, percent: 20 },
    ]);
    expect(s.byModule[0]).toEqual({ name: 'zod', selfMs: 3, percent: 60 });
  });
  it('falls back to hit counts without samples', () => {
    const h = summarizeProfile({
      startTime: 0,
      endTime: 4000,
      nodes: [
        { id: 1, callFrame: frame('a', 'node:x'), hitCount: 3 },
        { id: 2, callFrame: frame('(idle)'), hitCount: 1 },
      ],
    });
    expect(h).toMatchObject({
      totalMs: 4,
      busyMs: 3,
      topFunctions: [{ name: 'a node:internal:1', selfMs: 3, percent: 100 }],
    });
  });
});
