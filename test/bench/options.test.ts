import { describe, expect, it } from 'vitest';
import { resultBaseName } from '../../bench/lib/bench.ts';
import { parseBenchArgs, UsageError } from '../../bench/lib/options.ts';

describe('parseBenchArgs', () => {
  it('has defaults for everything but --pods', () => {
    expect(parseBenchArgs(['--pods', '100'])).toEqual({
      pods: 100,
      plugin: 'mock',
      concurrency: 50,
      job: false,
      runTimeMs: 5_000,
      startDelayMs: 0,
      statusIntervalMs: 2_000,
      vkWorkers: undefined,
      cluster: { kind: 'start' },
      profile: false,
      outDir: 'bench/results',
      timeoutMs: 210_000,
      progressMs: 5_000,
      image: 'interlink-test/busybox:1',
      pluginConfig: undefined,
      serviceAccountToken: true,
      vkNodeOptions: [],
      heapLimits: true,
      dist: false,
      schedulerQps: undefined,
      baseline: null,
      help: false,
    });
  });

  it.each<[string[], Record<string, unknown>]>([
    [['--pods', '5', '--plugin', 'docker'], { plugin: 'docker' }],
    [['--pods', '5', '--concurrency', '8', '--job'], { concurrency: 8, job: true }],
    [
      ['--pods', '5', '--run-time', '1m30s', '--start-delay', '500ms'],
      { runTimeMs: 90_000, startDelayMs: 500 },
    ],
    [
      ['--pods', '5', '--status-interval', '1s', '--vk-workers', '20'],
      { statusIntervalMs: 1_000, vkWorkers: 20 },
    ],
    [['--pods', '5', '--reuse-cluster'], { cluster: { kind: 'reuse' } }],
    [['--pods', '5', '--kubeconfig', '/k/admin'], { cluster: { kind: 'kubeconfig', path: '/k/admin' } }],
    [
      ['--pods', '5', '--profile', '--out', '/tmp/r', '--timeout', '10m'],
      { profile: true, outDir: '/tmp/r', timeoutMs: 600_000 },
    ],
    [['--pods', '5', '--progress', '0', '--no-sa-token'], { progressMs: 0, serviceAccountToken: false }],
    [
      ['--pods=7', '--image=img:2', '--plugin-config=/p.yaml'],
      { pods: 7, image: 'img:2', pluginConfig: '/p.yaml' },
    ],
    [['--help'], { help: true }],
    [['--pods', '5', '--no-heap-limits', '--dist'], { heapLimits: false, dist: true }],
    [['--pods', '5', '--baseline', 'kwok'], { baseline: 'kwok' }],
    [
      [
        '--pods',
        '5',
        '--vk-node-options',
        ' --max-old-space-size=200  --trace-gc ',
        '--scheduler-qps',
        '500',
      ],
      { vkNodeOptions: ['--max-old-space-size=200', '--trace-gc'], schedulerQps: 500 },
    ],
  ])('%j', (argv, want) => {
    expect(parseBenchArgs(argv)).toMatchObject(want);
  });

  it.each<[string[], RegExp]>([
    [[], /--pods: required/],
    [['--pods', '0'], /--pods: "0" is not a positive/],
    [['--pods', '1.5'], /--pods/],
    [['--pods', '5', '--plugin', 'condor'], /--plugin: "condor"/],
    [['--pods', '5', '--concurrency', '-1'], /concurrency/],
    [['--pods', '5', '--run-time', '5'], /--run-time: .*no unit/],
    [['--pods', '5', '--status-interval', '0'], /--status-interval/],
    [['--pods', '5', '--reuse-cluster', '--kubeconfig', 'k'], /one or the other/],
    [['--pods', '5', '--frobnicate'], /frobnicate/],
    [['--pods', '5', 'extra'], /extra/],
    [['--pods', '5', '--reuse-cluster', '--scheduler-qps', '100'], /--scheduler-qps: only/],
    [['--pods', '5', '--scheduler-qps', '0'], /--scheduler-qps/],
    [['--pods', '5', '--baseline', 'kind'], /--baseline: "kind"/],
    [['--pods', '5', '--baseline', 'kwok', '--job'], /--baseline kwok: only/],
    [['--pods', '5', '--baseline', 'kwok', '--plugin', 'docker'], /--baseline kwok: only/],
  ])('rejects %j', (argv, message) => {
    expect(() => parseBenchArgs(argv)).toThrow(UsageError);
    expect(() => parseBenchArgs(argv)).toThrow(message);
  });
});

describe('resultBaseName', () => {
  const at = new Date('2026-11-28T23:59:00Z');
  it.each<[Parameters<typeof resultBaseName>[0], string]>([
    [{ pods: 100, job: false, plugin: 'mock', profile: false }, '2026-11-28-100'],
    [{ pods: 1000, job: true, plugin: 'mock', profile: false }, '2026-11-28-1000-job'],
    [{ pods: 5, job: false, plugin: 'docker', profile: true }, '2026-11-28-5-docker-profile'],
  ])('%j → %s', (opts, want) => {
    expect(resultBaseName(opts, at)).toBe(want);
  });
});
