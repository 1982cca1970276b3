import { describe, expect, it } from 'vitest';
import type { ContainerBehaviour, PodBehaviour } from '../../../src/plugins/mock/behaviour.ts';
import {
  containerState,
  containerStatus,
  k8sTime,
  planPod,
  podPhase,
} from '../../../src/plugins/mock/timeline.ts';

const T0 = Date.parse('2026-01-01T00:00:00Z');
const c = (name: string, init: boolean, runTimeMs: number | undefined, exitCode = 0): ContainerBehaviour => ({
  name,
  image: 'img',
  init,
  runTimeMs,
  exitCode,
  logLines: 0,
  logIntervalMs: 1000,
});
const behaviour = (containers: ContainerBehaviour[], startDelayMs = 1000): PodBehaviour => ({
  startDelayMs,
  createError: undefined,
  containers,
});

describe('planPod', () => {
  it('runs init containers one after the other, then the app containers together', () => {
    const plans = planPod(
      behaviour([c('i1', true, 2000), c('i2', true, 3000), c('a', false, 5000), c('b', false, undefined)]),
      T0,
    );
    expect(
      plans.map((p) => [p.name, p.startAt! - T0, p.finishAt === undefined ? undefined : p.finishAt - T0]),
    ).toEqual([
      ['i1', 1000, 3000],
      ['i2', 3000, 6000],
      ['a', 6000, 11000],
      ['b', 6000, undefined],
    ]);
  });

  it('blocks later containers after a failed or endless init container', () => {
    const failed = planPod(behaviour([c('i1', true, 1000, 2), c('i2', true, 1000), c('a', false, 1000)]), T0);
    expect(failed.map((p) => p.startAt)).toEqual([T0 + 1000, undefined, undefined]);
    const endless = planPod(behaviour([c('i1', true, undefined), c('a', false, 1000)]), T0);
    expect(endless.map((p) => [p.startAt, p.finishAt])).toEqual([
      [T0 + 1000, undefined],
      [undefined, undefined],
    ]);
  });
});

describe('container states over time', () => {
  const plans = planPod(
    behaviour([
      c('init', true, 2000),
      c('ok', false, 4000),
      c('bad', false, 2000, 3),
      c('srv', false, undefined),
    ]),
    T0,
  );
  const [init, ok, bad, srv] = plans as [
    (typeof plans)[0],
    (typeof plans)[0],
    (typeof plans)[0],
    (typeof plans)[0],
  ];
  const at = (s: number) => T0 + s * 1000;

  // [seconds after create, container, expected state]
  const table: Array<[number, typeof init, unknown]> = [
    [0, init, { waiting: { reason: 'PodInitializing' } }],
    [0, ok, { waiting: { reason: 'PodInitializing' } }],
    [1, init, { running: { startedAt: k8sTime(at(1)) } }],
    [2.5, ok, { waiting: { reason: 'PodInitializing' } }],
    [
      3,
      init,
      {
        terminated: {
          exitCode: 0,
          reason: 'Completed',
          startedAt: k8sTime(at(1)),
          finishedAt: k8sTime(at(3)),
        },
      },
    ],
    [3, ok, { running: { startedAt: k8sTime(at(3)) } }],
    [4.999, bad, { running: { startedAt: k8sTime(at(3)) } }],
    [
      5,
      bad,
      { terminated: { exitCode: 3, reason: 'Error', startedAt: k8sTime(at(3)), finishedAt: k8sTime(at(5)) } },
    ],
    [
      7,
      ok,
      {
        terminated: {
          exitCode: 0,
          reason: 'Completed',
          startedAt: k8sTime(at(3)),
          finishedAt: k8sTime(at(7)),
        },
      },
    ],
    [1e6, srv, { running: { startedAt: k8sTime(at(3)) } }],
  ];
  it.each(table)('at +%ss %o', (s, plan, want) => {
    expect(containerState(plan, at(s), true)).toEqual(want);
  });

  it('waits with ContainerCreating when the pod has no init containers', () => {
    const [only] = planPod(behaviour([c('a', false, 1000)]), T0);
    expect(containerState(only!, T0, false)).toEqual({ waiting: { reason: 'ContainerCreating' } });
  });

  it('fills ready, started, restartCount and containerID', () => {
    expect(containerStatus(init, at(0), true, 'mock-1')).toEqual({
      name: 'init',
      state: { waiting: { reason: 'PodInitializing' } },
      lastState: {},
      ready: false,
      restartCount: 0,
      image: 'img',
      imageID: 'mock://img',
      started: false,
    });
    expect(containerStatus(init, at(3), true, 'mock-1')).toMatchObject({
      ready: true,
      started: false,
      containerID: 'mock://mock-1/init',
    });
    expect(containerStatus(ok, at(3), true, 'mock-1')).toMatchObject({
      ready: true,
      started: true,
      containerID: 'mock://mock-1/ok',
    });
    expect(containerStatus(ok, at(8), true, 'mock-1')).toMatchObject({
      ready: false,
      started: false,
      restartCount: 0,
    });
  });

  it.each([
    [0, 'Pending'],
    [2, 'Pending'],
    [3, 'Running'],
    [100, 'Running'],
  ])('pod phase at +%ss is %s', (s, phase) => {
    expect(podPhase(plans, at(s))).toBe(phase);
  });

  it('derives Succeeded and Failed', () => {
    const done = planPod(behaviour([c('a', false, 1000), c('b', false, 2000)]), T0);
    expect(podPhase(done, at(3))).toBe('Succeeded');
    const failed = planPod(behaviour([c('a', false, 1000), c('b', false, 2000, 1)]), T0);
    expect(podPhase(failed, at(3))).toBe('Failed');
    const initFailed = planPod(behaviour([c('i', true, 1000, 1), c('a', false, 1000)]), T0);
    expect(podPhase(initFailed, at(1.5))).toBe('Pending');
    expect(podPhase(initFailed, at(2))).toBe('Failed');
  });
});

describe('k8sTime', () => {
  it('drops the sub-second part, as metav1.Time does', () => {
    expect(k8sTime(Date.parse('2026-01-01T00:00:01.999Z'))).toBe('2026-01-01T00:00:01Z');
  });
});
