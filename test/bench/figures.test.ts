import { describe, expect, it } from 'vitest';
import {
  backendCommandsOf,
  histogramP99Of,
  latenciesOf,
  milestonesOf,
  pluginOpsOf,
  podSample,
  requestFigures,
  type Scrape,
  vkInternalsOf,
} from '../../bench/lib/figures.ts';
import { parsePrometheus } from '../../bench/lib/prom.ts';
import type { PodRecord } from '../../bench/lib/tracker.ts';

const rec = (over: Partial<PodRecord>): PodRecord => ({
  uid: 'u',
  name: 'n',
  created: 0,
  phase: 'Pending',
  ...over,
});

describe('milestonesOf', () => {
  const records = [
    rec({ created: 0, scheduled: 1, running: 2, reported: 2, finished: 7, deleted: 9, phase: 'Succeeded' }),
    rec({
      created: 0.5,
      scheduled: 1.5,
      running: 4,
      reported: 9,
      finished: 9,
      deleted: 9.5,
      phase: 'Succeeded',
    }),
    rec({ created: 1, scheduled: 3 }),
  ];
  it('is the moment the expected-th pod got there, or null when fewer did', () => {
    expect(milestonesOf(records, 2)).toEqual({
      scheduledAll: 1.5,
      runningAll: 4,
      reportedAll: 9,
      finishedAll: 9,
      deletedAll: 9.5,
    });
    expect(milestonesOf(records, 3)).toEqual({
      scheduledAll: 3,
      runningAll: null,
      reportedAll: null,
      finishedAll: null,
      deletedAll: null,
    });
    expect(Object.values(milestonesOf([], 0))).toEqual([null, null, null, null, null]);
  });
});

describe('latenciesOf', () => {
  it('measures from each pod’s own creation; Succeeded only for succeeded pods', () => {
    const l = latenciesOf([
      rec({ created: 1, scheduled: 1.5, running: 3, reported: 3, finished: 9, phase: 'Succeeded' }),
      rec({ created: 2, scheduled: 2.25, running: 3, reported: 4, finished: 4, phase: 'Failed' }),
      rec({ created: 5 }),
    ]);
    expect(l.scheduled).toMatchObject({ count: 2, p50: 0.25, max: 0.5 });
    expect(l.running).toMatchObject({ count: 2, p50: 1, max: 2 });
    expect(l.reported).toMatchObject({ count: 2, p50: 2, max: 2 });
    expect(l.succeeded).toMatchObject({ count: 1, p50: 8, max: 8 });
  });
});

const scrape = (api: string, plugin: string, vk: string, apiserver: string): Scrape => ({
  api: parsePrometheus(api),
  plugin: parsePrometheus(plugin),
  vk: parsePrometheus(vk),
  apiserver: parsePrometheus(apiserver),
});
const apiLine = (method: string, route: string, n: number, code = '200') =>
  `interlink_api_http_requests_total{method="${method}",route="${route}",code="${code}"} ${n}`;
const plugLine = (method: string, route: string, n: number) =>
  `interlink_plugin_http_requests_total{method="${method}",route="${route}",code="200"} ${n}`;
const asLine = (verb: string, resource: string, sub: string, n: number) =>
  `apiserver_request_total{code="200",resource="${resource}",subresource="${sub}",verb="${verb}",version="v1"} ${n}`;

describe('requestFigures', () => {
  const before = scrape(
    [apiLine('POST', '/pinglink', 3), apiLine('GET', '/readyz', 5), apiLine('GET', '/metrics', 1)].join('\n'),
    [plugLine('GET', '/ping', 3), plugLine('GET', '/mock/pods', 1)].join('\n'),
    'interlink_vk_pod_status_writes_total{outcome="ok"} 2',
    [asLine('POST', 'pods', '', 5), asLine('GET', 'nodes', '', 10)].join('\n'),
  );
  const after = scrape(
    [
      apiLine('POST', '/pinglink', 5),
      apiLine('GET', '/readyz', 9),
      apiLine('GET', '/metrics', 40),
      apiLine('POST', '/create', 10),
      apiLine('DELETE', '/delete', 10),
      apiLine('GET', '/status', 9),
      apiLine('GET', '/status', 1, '503'),
    ].join('\n'),
    [plugLine('GET', '/ping', 5), plugLine('POST', '/create', 10), plugLine('GET', '/mock/pods', 30)].join(
      '\n',
    ),
    [
      'interlink_vk_pod_status_writes_total{outcome="ok"} 32',
      'interlink_vk_pod_status_writes_total{outcome="conflict"} 1',
      'interlink_vk_events_total{outcome="written"} 25',
      'interlink_vk_events_total{outcome="aggregated"} 7',
      'interlink_vk_events_total{outcome="dropped"} 0',
    ].join('\n'),
    [
      asLine('POST', 'pods', '', 15),
      asLine('GET', 'nodes', '', 10),
      asLine('PATCH', 'pods', 'status', 25),
      asLine('UPDATE', 'pods', 'status', 5),
      asLine('POST', 'events', '', 20),
    ].join('\n'),
  );
  const f = requestFigures({ before, after, pods: 10, statusIntervalSeconds: 2, activeSeconds: 20 });

  it('counts each hop’s requests by route during the run, without our own scrapes and probes', () => {
    expect(f.requests.vkToApi).toEqual({
      total: 32,
      perPod: 3.2,
      byRoute: { 'POST /create': 10, 'DELETE /delete': 10, 'GET /status': 10, 'POST /pinglink': 2 },
    });
    expect(f.requests.apiToPlugin).toEqual({
      total: 12,
      perPod: 1.2,
      byRoute: { 'POST /create': 10, 'GET /ping': 2 },
    });
  });
  it('relates /status calls to the poll interval', () => {
    // 10 calls in 20 s at one per 2 s: exactly one per interval.
    expect(f.requests.statusCallsPerPollInterval).toBe(1);
    expect(
      requestFigures({ before, after, pods: 10, statusIntervalSeconds: 2, activeSeconds: null }).requests
        .statusCallsPerPollInterval,
    ).toBeNull();
  });
  it('breaks apiserver requests down by verb and resource, biggest first', () => {
    expect(f.requests.apiserver).toEqual({
      total: 60,
      perPod: 6,
      byVerbResource: [
        { verb: 'PATCH', resource: 'pods', subresource: 'status', count: 25, perPod: 2.5 },
        { verb: 'POST', resource: 'events', subresource: '', count: 20, perPod: 2 },
        { verb: 'POST', resource: 'pods', subresource: '', count: 10, perPod: 1 },
        { verb: 'UPDATE', resource: 'pods', subresource: 'status', count: 5, perPod: 0.5 },
      ],
    });
  });
  it('counts status writes from the apiserver and from the VK', () => {
    expect(f.statusWrites).toEqual({
      apiserverPerPod: 3,
      vkPerPod: 3.1,
      vkByOutcome: { ok: 30, conflict: 1 },
    });
    const none = requestFigures({
      before,
      after: { ...after, vk: [] },
      pods: 10,
      statusIntervalSeconds: 2,
      activeSeconds: 20,
    });
    expect(none.statusWrites.vkPerPod).toBeNull();
  });
  it('counts the VK’s Events by outcome (null without the counter)', () => {
    expect(f.events).toEqual({
      vkByOutcome: { written: 25, aggregated: 7, dropped: 0, failed: 0 },
      writeDelay: null,
    });
    const none = requestFigures({
      before,
      after: { ...after, vk: [] },
      pods: 10,
      statusIntervalSeconds: 2,
      activeSeconds: 20,
    });
    expect(none.events).toBeNull();
  });
});

describe('histogramP99Of', () => {
  const h = (counts: number[], sum: number) =>
    parsePrometheus(
      [
        ...[0.1, 1, 10].map((le, i) => `d_bucket{le="${le}"} ${counts[i]}`),
        `d_bucket{le="+Inf"} ${counts[3]}`,
        `d_sum ${sum}`,
        `d_count ${counts[3]}`,
      ].join('\n'),
    );
  it('gives count, mean and the bucket holding the 99th percentile of the run’s observations', () => {
    // Before: 10 fast ones. During the run: 100 more, 98 under 1 s, 2 under 10 s.
    const before = h([10, 10, 10, 10], 0.5);
    const after = h([60, 108, 110, 110], 50.5);
    expect(histogramP99Of(before, after, 'd')).toEqual({
      count: 100,
      meanSeconds: 0.5,
      p99AtMostSeconds: 10,
    });
  });
  it('is null past the last bucket, and without the metric', () => {
    expect(histogramP99Of([], h([0, 0, 0, 5], 500), 'd')?.p99AtMostSeconds).toBeNull();
    expect(histogramP99Of([], [], 'd')).toBeNull();
  });
});

describe('pluginOpsOf', () => {
  const line = (suffix: string, op: string, v: number) =>
    `interlink_plugin_backend_call_duration_seconds_${suffix}{op="${op}",outcome="ok"} ${v}`;
  it.each([
    [
      'counts and means per op during the run',
      [line('count', 'create', 2), line('sum', 'create', 1)],
      [
        line('count', 'create', 12),
        line('sum', 'create', 31),
        line('count', 'delete', 4),
        line('sum', 'delete', 0.2),
      ],
      { create: { count: 10, meanMs: 3000 }, delete: { count: 4, meanMs: 50 } },
    ],
    ['null without the metric', [], [], null],
  ])('%s', (_name, before, after, want) => {
    const parse = (lines: string[]) => parsePrometheus(lines.join('\n'));
    expect(pluginOpsOf(parse(before), parse(after))).toEqual(want);
  });
});

describe('backendCommandsOf', () => {
  const line = (suffix: string, command: string, outcome: string, v: number) =>
    `interlink_plugin_backend_command_duration_seconds_${suffix}{command="${command}",outcome="${outcome}"} ${v}`;
  it('counts and means per command during the run, whatever the outcome', () => {
    const parse = (lines: string[]) => parsePrometheus(lines.join('\n'));
    const before = [line('count', 'squeue', 'ok', 3), line('sum', 'squeue', 'ok', 0.3)];
    const after = [
      line('count', 'squeue', 'ok', 10),
      line('sum', 'squeue', 'ok', 1),
      line('count', 'squeue', 'error', 1),
      line('sum', 'squeue', 'error', 0.1),
      line('count', 'sbatch', 'ok', 5),
      line('sum', 'sbatch', 'ok', 2.5),
    ];
    expect(backendCommandsOf(parse(before), parse(after))).toEqual({
      sbatch: { count: 5, meanMs: 500 },
      squeue: { count: 8, meanMs: 100 },
    });
    expect(backendCommandsOf([], [])).toBeNull();
  });
});

describe('vkInternalsOf', () => {
  const hist = (name: string, count: number, sum: number) =>
    parsePrometheus(`${name}_bucket{le="+Inf"} ${count}\n${name}_sum ${sum}\n${name}_count ${count}`);
  it('gives the mean of the observations made during the run', () => {
    const before = [
      ...hist('interlink_vk_reconcile_duration_seconds', 10, 1),
      ...hist('interlink_vk_status_roundtrip_duration_seconds', 2, 0.1),
    ];
    const after = [
      ...hist('interlink_vk_reconcile_duration_seconds', 110, 6),
      ...hist('interlink_vk_status_roundtrip_duration_seconds', 2, 0.1),
    ];
    expect(vkInternalsOf(before, after, 42)).toEqual({
      queueDepthPeak: 42,
      reconciles: 100,
      reconcileMeanMs: 50,
      statusRoundTrips: 0,
      statusRoundTripMeanMs: null,
    });
  });
  it('is null without the metrics', () => {
    expect(vkInternalsOf([], [], null)).toEqual({
      queueDepthPeak: null,
      reconciles: null,
      reconcileMeanMs: null,
      statusRoundTrips: null,
      statusRoundTripMeanMs: null,
    });
  });
});

describe('podSample', () => {
  it.each([
    [
      'a pod that went all the way, times to the millisecond',
      rec({
        name: 'p',
        created: 0.12345,
        scheduled: 1,
        running: 2.0004,
        reported: 2.5,
        finished: 7,
        deleted: 9,
        phase: 'Succeeded',
      }),
      {
        name: 'p',
        created: 0.123,
        scheduled: 1,
        running: 2,
        runningFromStartedAt: false,
        reported: 2.5,
        finished: 7,
        deleted: 9,
        phase: 'Succeeded',
      },
    ],
    [
      'a pod never scheduled: null for every stage it did not reach',
      rec({ name: 'q', created: 3 }),
      {
        name: 'q',
        created: 3,
        scheduled: null,
        running: null,
        runningFromStartedAt: false,
        reported: null,
        finished: null,
        deleted: null,
        phase: 'Pending',
      },
    ],
    [
      'a pod whose Running time came from its containers',
      rec({
        name: 'r',
        created: 0,
        scheduled: 1,
        running: 1.5,
        runningFromStartedAt: true,
        reported: 4,
        finished: 4,
        phase: 'Failed',
      }),
      {
        name: 'r',
        created: 0,
        scheduled: 1,
        running: 1.5,
        runningFromStartedAt: true,
        reported: 4,
        finished: 4,
        deleted: null,
        phase: 'Failed',
      },
    ],
  ])('%s', (_, record, want) => {
    expect(podSample(record)).toEqual(want);
  });
});
