import { describe, expect, it } from 'vitest';
import {
  buildSlurmSummary,
  collectSlurmStats,
  parseSlurmDuration,
  parseSstat,
  parseTresMemory,
  sstatArgs,
} from '../../../src/plugins/slurm/stats.ts';

describe('sstat parsing', () => {
  it.each([
    ['00:00:00', 0],
    ['01:02', 62e9],
    ['00:01:02.500', 62.5e9],
    ['02:00:00', 7200e9],
    ['1-00:00:01', 86401e9],
    ['', undefined],
    ['abc', undefined],
  ])('parseSlurmDuration(%j) = %j', (text, ns) => {
    expect(parseSlurmDuration(text)).toBe(ns);
  });

  it.each([
    ['1024', 1024],
    ['4K', 4096],
    ['1.5M', 1.5 * 1024 ** 2],
    ['2G', 2 * 1024 ** 3],
    ['', undefined],
    ['5X', undefined],
  ])('parseTresMemory(%j) = %j', (text, bytes) => {
    expect(parseTresMemory(text)).toBe(bytes);
  });

  it('sums the steps of each job; lines without usage or a job id are skipped or count 0', () => {
    const out = [
      '129.batch|cpu=00:00:10,energy=0,fs/disk=2048,mem=4M,pages=0,vmem=10M',
      '129.0|cpu=00:00:05.500,mem=1M',
      '129.extern|',
      '130.batch|cpu=01:00,mem=100K',
      'garbage',
      '--help|cpu=00:00:01,mem=1K',
      '',
    ].join('\n');
    expect(parseSstat(out)).toEqual(
      new Map([
        ['129', { cpuNs: 15.5e9, memBytes: 5 * 1024 ** 2 }],
        ['130', { cpuNs: 60e9, memBytes: 100 * 1024 }],
      ]),
    );
  });

  it('sstatArgs asks for all steps of all jobs in one call', () => {
    expect(sstatArgs(['1', '2'])).toEqual([
      '--allsteps',
      '--noheader',
      '--parsable2',
      '--jobs=1,2',
      '--format=JobID,TRESUsageInTot',
    ]);
  });
});

describe('buildSlurmSummary', () => {
  const at = Date.parse('2026-12-04T06:00:00Z');
  const time = new Date(at).toISOString();
  const pods = [
    { namespace: 'ns', name: 'one', uid: 'u1', jobId: '1', containers: ['main'], startTime: 'T1' },
    { namespace: 'ns', name: 'two', uid: 'u2', jobId: '2', containers: ['a', 'b'] },
    { namespace: 'ns', name: 'pending', uid: 'u3', jobId: '3', containers: ['main'] },
  ];
  const usage = new Map([
    ['1', { cpuNs: 2e9, memBytes: 100 }],
    ['2', { cpuNs: 1e9, memBytes: 50 }],
  ]);

  it('one container gets the job usage; several get pod-level usage only; unmeasured pods are left out', () => {
    const s = buildSlurmSummary(pods, usage, at, 'S');
    const mem = (b: number) => ({ time, workingSetBytes: b, usageBytes: b, rssBytes: b });
    expect(s.node).toEqual({ startTime: 'S', cpu: { time, usageCoreNanoSeconds: 3e9 }, memory: mem(150) });
    expect(s.pods).toEqual([
      {
        podRef: { name: 'one', namespace: 'ns', uid: 'u1' },
        startTime: 'T1',
        containers: [
          { name: 'main', startTime: 'T1', cpu: { time, usageCoreNanoSeconds: 2e9 }, memory: mem(100) },
        ],
        cpu: { time, usageCoreNanoSeconds: 2e9 },
        memory: mem(100),
      },
      {
        podRef: { name: 'two', namespace: 'ns', uid: 'u2' },
        containers: [],
        cpu: { time, usageCoreNanoSeconds: 1e9 },
        memory: mem(50),
      },
    ]);
  });

  it('collectSlurmStats: one sstat for all jobs, none when there is no job; a failing sstat is no usage', async () => {
    const calls: string[][] = [];
    const run = async (_cmd: string, args: readonly string[]) => {
      calls.push([...args]);
      return { code: 1, stdout: '1.batch|cpu=00:00:01,mem=1K\n', stderr: 'some jobs not running' };
    };
    const s = await collectSlurmStats({
      sstatPath: 'sstat',
      timeoutMs: 1000,
      pods: async () => [...pods, { ...pods[0]!, uid: 'u4', jobId: '--evil' }],
      now: () => at,
      startTime: 'S',
      run,
    });
    expect(calls).toEqual([sstatArgs(['1', '2', '3'])]);
    expect(s.pods.map((p) => (p.podRef as { uid: string }).uid)).toEqual(['u1']);
    calls.length = 0;
    const empty = await collectSlurmStats({
      sstatPath: 'sstat',
      timeoutMs: 1000,
      pods: async () => [],
      now: () => at,
      startTime: 'S',
      run,
    });
    expect(calls).toEqual([]);
    expect(empty.pods).toEqual([]);
  });
});
