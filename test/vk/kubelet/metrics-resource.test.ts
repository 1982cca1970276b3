import { describe, expect, it } from 'vitest';
import { escapeLabel, renderResourceMetrics } from '../../../src/vk/kubelet/metrics-resource.ts';

const NOW = new Date('2026-01-01T00:00:10Z');
const T = '2026-01-01T00:00:05Z';
const T_MS = Date.parse(T);

/** The sample lines (no comments) of a rendering. */
const samples = (text: string) => text.split('\n').filter((l) => l !== '' && !l.startsWith('#'));

describe('renderResourceMetrics', () => {
  it('an empty or malformed summary yields every family, no samples but scrape_error', () => {
    for (const doc of [undefined, null, 'x', [], {}, { pods: 'no' }, { node: [], pods: [{}] }]) {
      const text = renderResourceMetrics(doc, NOW);
      expect(samples(text)).toEqual(['scrape_error 0']);
      for (const name of [
        'container_cpu_usage_seconds_total counter',
        'container_memory_working_set_bytes gauge',
        'container_start_time_seconds gauge',
        'node_cpu_usage_seconds_total counter',
        'node_memory_working_set_bytes gauge',
        'pod_cpu_usage_seconds_total counter',
        'pod_memory_working_set_bytes gauge',
        'scrape_error gauge',
      ])
        expect(text).toContain(`# TYPE ${name}\n`);
    }
  });

  it('a failed scrape is scrape_error 1', () => {
    expect(samples(renderResourceMetrics(undefined, NOW, true))).toEqual(['scrape_error 1']);
  });

  it.each([
    [
      'node cpu and memory, stamped with their own time',
      {
        node: {
          cpu: { time: T, usageCoreNanoSeconds: 1_500_000_000 },
          memory: { time: T, workingSetBytes: 1024 },
        },
      },
      [`node_cpu_usage_seconds_total 1.5 ${T_MS}`, `node_memory_working_set_bytes 1024 ${T_MS}`],
    ],
    [
      'a value without a time is stamped now',
      { node: { cpu: { usageCoreNanoSeconds: 2e9 } } },
      [`node_cpu_usage_seconds_total 2 ${NOW.getTime()}`],
    ],
    [
      'negative, NaN and string values are left out, never reported as 0',
      { node: { cpu: { usageCoreNanoSeconds: -1 }, memory: { workingSetBytes: '5' } } },
      [],
    ],
    [
      'pod and container series with the kubelet labels',
      {
        pods: [
          {
            podRef: { name: 'web', namespace: 'team', uid: 'u' },
            cpu: { time: T, usageCoreNanoSeconds: 3e9 },
            memory: { time: T, workingSetBytes: 2048 },
            containers: [
              {
                name: 'main',
                startTime: '2026-01-01T00:00:01Z',
                cpu: { time: T, usageCoreNanoSeconds: 250_000_000 },
                memory: { time: T, workingSetBytes: 4096 },
              },
              { name: 'idle' },
            ],
          },
        ],
      },
      [
        `container_cpu_usage_seconds_total{container="main",namespace="team",pod="web"} 0.25 ${T_MS}`,
        `container_memory_working_set_bytes{container="main",namespace="team",pod="web"} 4096 ${T_MS}`,
        `container_start_time_seconds{container="main",namespace="team",pod="web"} 1767225601 1767225601000`,
        `pod_cpu_usage_seconds_total{namespace="team",pod="web"} 3 ${T_MS}`,
        `pod_memory_working_set_bytes{namespace="team",pod="web"} 2048 ${T_MS}`,
      ],
    ],
    [
      'pods without a name or namespace, containers without a name are skipped',
      {
        pods: [
          { podRef: { name: 'a' }, cpu: { usageCoreNanoSeconds: 1 } },
          { podRef: { name: 'b', namespace: 'n' }, containers: [{ cpu: { usageCoreNanoSeconds: 1 } }] },
        ],
      },
      [],
    ],
  ])('%s', (_what, doc, expected) => {
    expect(samples(renderResourceMetrics(doc, NOW))).toEqual([...expected, 'scrape_error 0']);
  });

  it('hostile label values cannot break out of their label or line', () => {
    const doc = {
      pods: [
        {
          podRef: { name: 'p"} 1\nevil 2', namespace: 'n\\' },
          memory: { workingSetBytes: 1 },
        },
      ],
    };
    const lines = samples(renderResourceMetrics(doc, NOW));
    expect(lines).toEqual([
      `pod_memory_working_set_bytes{namespace="n\\\\",pod="p\\"} 1\\nevil 2"} 1 ${NOW.getTime()}`,
      'scrape_error 0',
    ]);
  });

  it.each([
    ['plain', 'plain'],
    ['a"b', 'a\\"b'],
    ['a\\b', 'a\\\\b'],
    ['a\nb', 'a\\nb'],
  ])('escapeLabel(%j) = %j', (input, out) => {
    expect(escapeLabel(input)).toBe(out);
  });
});
