import { describe, expect, it } from 'vitest';
import { emptySummary, mergeSummary } from '../../../src/vk/kubelet/stats.ts';

describe('stats summary', () => {
  const start = new Date('2026-03-04T05:06:07.891Z');
  it('is well formed when empty', () => {
    expect(emptySummary('vk', start)).toEqual({
      node: { nodeName: 'vk', startTime: '2026-03-04T05:06:07Z' },
      pods: [],
    });
  });
  it.each([
    ['not an object', 'text', emptySummary('vk', start)],
    ['an array', [1], emptySummary('vk', start)],
    [
      'no pods',
      { node: { cpu: { usageNanoCores: 5 } } },
      { node: { nodeName: 'vk', startTime: '2026-03-04T05:06:07Z', cpu: { usageNanoCores: 5 } }, pods: [] },
    ],
    [
      'pods and a foreign node name',
      {
        node: { nodeName: 'slurm-login', startTime: '2026-01-01T00:00:00Z' },
        pods: [{ podRef: { name: 'p', namespace: 'n', uid: 'u' } }],
      },
      {
        node: { nodeName: 'vk', startTime: '2026-01-01T00:00:00Z' },
        pods: [{ podRef: { name: 'p', namespace: 'n', uid: 'u' } }],
      },
    ],
  ])('merges a plugin answer that is %s', (_n, doc, expected) => {
    expect(mergeSummary(emptySummary('vk', start), doc)).toEqual(expected);
  });
});
