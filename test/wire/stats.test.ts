import { describe, expect, it } from 'vitest';
import { buildSummary, CpuIntegrator } from '../../src/plugins/docker/stats.ts';
import { buildSlurmSummary } from '../../src/plugins/slurm/stats.ts';
import { StatsSummary } from '../../src/wire/stats.ts';

describe('StatsSummary (GET /stats/summary)', () => {
  it.each([
    ['an empty summary', { node: { nodeName: 'n', startTime: 'T' }, pods: [] }],
    [
      'kubelet fields it does not describe pass through unchanged',
      {
        node: { nodeName: 'n', network: { rxBytes: 1 }, fs: {} },
        pods: [{ podRef: { name: 'p', namespace: 'ns', uid: 'u' }, volume: [{ name: 'v' }] }],
      },
    ],
    ['the docker plugin summary', buildSummary([], [], new CpuIntegrator(), 0, 'T')],
    [
      'the slurm plugin summary',
      buildSlurmSummary(
        [{ namespace: 'ns', name: 'p', uid: 'u', jobId: '1', containers: ['c'] }],
        new Map([['1', { cpuNs: 1, memBytes: 2 }]]),
        0,
        'T',
      ),
    ],
  ])('accepts %s', (_what, doc) => {
    expect(StatsSummary.parse(doc)).toEqual(doc);
  });

  it.each([
    ['no pods list', { node: {} }],
    ['a pod without podRef', { node: {}, pods: [{}] }],
    ['a negative CPU counter', { node: { cpu: { usageCoreNanoSeconds: -1 } }, pods: [] }],
    [
      'a container without a name',
      { node: {}, pods: [{ podRef: { name: 'p', namespace: 'n', uid: 'u' }, containers: [{}] }] },
    ],
  ])('refuses %s', (_what, doc) => {
    expect(StatsSummary.safeParse(doc).success).toBe(false);
  });
});
