import { describe, expect, it } from 'vitest';
import {
  buildSummary,
  CpuIntegrator,
  parseDockerTime,
  parseRunning,
  parseSize,
  parseStats,
  statsArgs,
} from '../../../src/plugins/docker/stats.ts';

const ID_A = 'a'.repeat(64);
const ID_B = 'b'.repeat(64);
const ID_I = 'c'.repeat(64);

describe('docker stats parsing', () => {
  it.each([
    ['0B', 0],
    ['216KiB', 216 * 1024],
    ['1.5GiB', 1.5 * 1024 ** 3],
    ['12.3MB', 12_300_000],
    [' 7MiB ', 7 * 1024 ** 2],
    ['1.5', undefined],
    ['--', undefined],
    ['5XB', undefined],
  ])('parseSize(%j) = %j', (text, bytes) => {
    expect(parseSize(text)).toBe(bytes);
  });

  it.each([
    ['2026-12-04 06:12:19 +0000 UTC', Date.parse('2026-12-04T06:12:19Z')],
    ['2026-12-04 08:12:19 +0200 CEST', Date.parse('2026-12-04T06:12:19Z')],
    ['yesterday', undefined],
  ])('parseDockerTime(%j)', (text, ms) => {
    expect(parseDockerTime(text)).toBe(ms);
  });

  it('parseStats keeps well-formed lines only', () => {
    const out = [
      JSON.stringify({ ID: ID_A, CPUPerc: '99.87%', MemUsage: '1.5MiB / 23.54GiB' }),
      JSON.stringify({ ID: ID_B, CPUPerc: '--', MemUsage: '-- / --' }),
      'not json',
      JSON.stringify({ ID: ID_B, CPUPerc: '250.00%', MemUsage: '0B / 0B' }),
      '',
    ].join('\n');
    expect(parseStats(out)).toEqual([
      { id: ID_A, cores: 0.9987, workingSetBytes: 1.5 * 1024 ** 2 },
      { id: ID_B, cores: 2.5, workingSetBytes: 0 },
    ]);
  });

  it('parseRunning skips lines without a full identity or with a bad id', () => {
    const out = [
      `${ID_A}\t2026-12-04 06:12:19 +0000 UTC\tu1\tns\tweb\tmain\tapp`,
      `${ID_B}\tgarbage\tu1\tns\tweb\tside\tapp`,
      `${ID_I}\t2026-12-04 06:12:19 +0000 UTC\tu1\tns\tweb\t\tinfra`,
      `--help\t\tu1\tns\tweb\tx\tapp`,
    ].join('\n');
    expect(parseRunning(out)).toEqual([
      {
        id: ID_A,
        createdAt: Date.parse('2026-12-04T06:12:19Z'),
        uid: 'u1',
        namespace: 'ns',
        pod: 'web',
        container: 'main',
        role: 'app',
      },
      { id: ID_B, uid: 'u1', namespace: 'ns', pod: 'web', container: 'side', role: 'app' },
    ]);
  });

  it('statsArgs ends the options before the ids', () => {
    expect(statsArgs([ID_A])).toEqual([
      'stats',
      '--no-stream',
      '--no-trunc',
      '--format',
      '{{json .}}',
      '--',
      ID_A,
    ]);
  });
});

describe('CpuIntegrator', () => {
  it.each([
    ['first sample starts at 0', [[1, 1000]], [0]],
    [
      'integrates rate × elapsed time',
      [
        [1, 1000],
        [1, 3000],
        [0.5, 5000],
      ],
      [0, 2e9, 3e9],
    ],
    [
      'a clock going backwards adds nothing and never lowers the counter',
      [
        [2, 1000],
        [2, 500],
        [1, 1500],
      ],
      [0, 0, 0.5e9],
    ],
  ] as const)('%s', (_what, steps, totals) => {
    const cpu = new CpuIntegrator();
    expect(steps.map(([cores, at]) => cpu.observe('k', cores, at))).toEqual(totals);
  });

  it('retain forgets the other keys (they restart at 0)', () => {
    const cpu = new CpuIntegrator();
    cpu.observe('a', 1, 0);
    cpu.observe('b', 1, 0);
    cpu.retain(new Set(['a']));
    expect(cpu.observe('a', 1, 1000)).toBe(1e9);
    expect(cpu.observe('b', 1, 1000)).toBe(0);
  });
});

describe('buildSummary', () => {
  const running = parseRunning(
    [
      `${ID_I}\t2026-12-04 06:00:00 +0000 UTC\tu1\tns\tweb\tPOD\tinfra`,
      `${ID_A}\t2026-12-04 06:00:01 +0000 UTC\tu1\tns\tweb\tmain\tapp`,
      `${ID_B}\t2026-12-04 06:00:02 +0000 UTC\tu2\tns\tdb\tpg\tapp`,
    ].join('\n'),
  );
  const samples = [
    { id: ID_I, cores: 0, workingSetBytes: 100 },
    { id: ID_A, cores: 1, workingSetBytes: 1000 },
    { id: ID_B, cores: 0.5, workingSetBytes: 500 },
  ];
  const t0 = Date.parse('2026-12-04T06:01:00Z');

  it('pods group their containers; infra counts in totals only; node = sum of pods', () => {
    const cpu = new CpuIntegrator();
    buildSummary(running, samples, cpu, t0, 'S');
    const s = buildSummary(running, samples, cpu, t0 + 10_000, 'S');
    const time = new Date(t0 + 10_000).toISOString();
    expect(s.node).toEqual({
      startTime: 'S',
      cpu: { time, usageNanoCores: 1.5e9, usageCoreNanoSeconds: 15e9 },
      memory: { time, workingSetBytes: 1600, usageBytes: 1600 },
    });
    expect(s.pods).toEqual([
      {
        podRef: { name: 'web', namespace: 'ns', uid: 'u1' },
        startTime: '2026-12-04T06:00:00.000Z',
        containers: [
          {
            name: 'main',
            startTime: '2026-12-04T06:00:01.000Z',
            cpu: { time, usageNanoCores: 1e9, usageCoreNanoSeconds: 10e9 },
            memory: { time, workingSetBytes: 1000, usageBytes: 1000 },
          },
        ],
        cpu: { time, usageNanoCores: 1e9, usageCoreNanoSeconds: 10e9 },
        memory: { time, workingSetBytes: 1100, usageBytes: 1100 },
      },
      {
        podRef: { name: 'db', namespace: 'ns', uid: 'u2' },
        startTime: '2026-12-04T06:00:02.000Z',
        containers: [
          {
            name: 'pg',
            startTime: '2026-12-04T06:00:02.000Z',
            cpu: { time, usageNanoCores: 0.5e9, usageCoreNanoSeconds: 5e9 },
            memory: { time, workingSetBytes: 500, usageBytes: 500 },
          },
        ],
        cpu: { time, usageNanoCores: 0.5e9, usageCoreNanoSeconds: 5e9 },
        memory: { time, workingSetBytes: 500, usageBytes: 500 },
      },
    ]);
  });

  it('a container without a sample is left out; no containers → an empty node', () => {
    const cpu = new CpuIntegrator();
    const s = buildSummary(running, [samples[2]!], cpu, t0, 'S');
    expect(s.pods.map((p) => (p.podRef as { uid: string }).uid)).toEqual(['u2']);
    const empty = buildSummary([], [], cpu, t0, 'S');
    expect(empty.pods).toEqual([]);
    expect(empty.node.memory).toEqual({
      time: new Date(t0).toISOString(),
      workingSetBytes: 0,
      usageBytes: 0,
    });
  });
});
