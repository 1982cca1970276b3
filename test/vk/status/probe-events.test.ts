import { describe, expect, it } from 'vitest';
import { probeEventsOf } from '../../../src/vk/status/probe-events.ts';
import type { PodStatus } from '../../../src/wire/interlink.ts';

const report = (events: Array<[string, string, number]>, init = false): PodStatus => {
  const c = {
    name: 'web',
    probeEvents: events.map(([reason, message, count]) => ({ reason, message, count })),
  };
  return {
    name: 'p',
    UID: 'u',
    namespace: 'ns',
    containers: init ? [] : [c],
    initContainers: init ? [c] : [],
  };
};

describe('probeEventsOf', () => {
  it.each([
    ['a first report writes one Event per entry', [], [['Unhealthy', 'Readiness probe failed: x', 1]], 1],
    [
      'an unchanged count writes nothing',
      [['Unhealthy', 'Readiness probe failed: x', 3]],
      [['Unhealthy', 'Readiness probe failed: x', 3]],
      0,
    ],
    [
      'a grown count writes one Event, however much it grew',
      [['Unhealthy', 'Readiness probe failed: x', 3]],
      [['Unhealthy', 'Readiness probe failed: x', 9]],
      1,
    ],
    [
      'a lower count (restarted plugin) writes nothing',
      [['Unhealthy', 'Readiness probe failed: x', 9]],
      [['Unhealthy', 'Readiness probe failed: x', 2]],
      0,
    ],
    [
      'a new message writes one',
      [['Unhealthy', 'a', 1]],
      [
        ['Unhealthy', 'a', 1],
        ['Unhealthy', 'b', 1],
      ],
      1,
    ],
  ] as Array<[string, Array<[string, string, number]>, Array<[string, string, number]>, number]>)(
    '%s',
    (_name, before, after, n) => {
      const seen = probeEventsOf(new Map(), report(before)).seen;
      expect(probeEventsOf(seen, report(after)).events).toHaveLength(n);
    },
  );

  it('names the container field path and keeps the type', () => {
    const r = report([['FailedPostStartHook', 'hook failed', 1]], true);
    r.initContainers![0]!.probeEvents![0]!.type = 'Warning';
    expect(probeEventsOf(new Map(), r).events).toEqual([
      {
        type: 'Warning',
        reason: 'FailedPostStartHook',
        message: 'hook failed',
        fieldPath: 'spec.initContainers{web}',
      },
    ]);
  });

  it('a report without the field (an interLink 0.6 plugin) writes nothing', () => {
    const r: PodStatus = { name: 'p', UID: 'u', namespace: 'ns', containers: [{ name: 'web', ready: true }] };
    expect(probeEventsOf(new Map(), r).events).toEqual([]);
  });
});
