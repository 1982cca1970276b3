import { describe, expect, it } from 'vitest';
import type { KPod } from '../../../src/vk/pods/kpod.ts';
import {
  configErrorPending,
  deletedStatus,
  desiredStatus,
  failedStatus,
  mergeConditions,
  providerFailedPending,
  sameJson,
  transitionEvents,
} from '../../../src/vk/status/map.ts';
import type { PodStatus } from '../../../src/wire/interlink.ts';
import type { KubePodStatus } from '../../../src/wire/k8s.ts';

const T0 = '2026-01-01T00:00:00Z';
const T1 = '2026-01-01T00:00:10Z';
const T2 = '2026-01-01T00:00:20Z';
const ctx = { now: T1, hostIP: '10.0.0.5', podIP: '10.0.0.5' };

function pod(
  opts: {
    init?: string[];
    app?: string[];
    restartPolicy?: string;
    status?: KubePodStatus;
    gates?: string[];
  } = {},
): KPod {
  return {
    metadata: { name: 'p', namespace: 'ns', uid: 'u1', resourceVersion: '1' },
    spec: {
      nodeName: 'vk',
      restartPolicy: opts.restartPolicy ?? 'Never',
      containers: (opts.app ?? ['main']).map((name) => ({ name, image: `img-${name}` })),
      ...(opts.init ? { initContainers: opts.init.map((name) => ({ name, image: `img-${name}` })) } : {}),
      ...(opts.gates ? { readinessGates: opts.gates.map((conditionType) => ({ conditionType })) } : {}),
    },
    ...(opts.status ? { status: opts.status } : {}),
  };
}

type St = NonNullable<PodStatus['containers']>[number];
const running = (name: string, extra: Partial<St> = {}): St => ({
  name,
  ready: true,
  restartCount: 0,
  state: { running: { startedAt: T0 } },
  ...extra,
});
const waiting = (name: string, reason = 'ContainerCreating'): St => ({
  name,
  ready: false,
  restartCount: 0,
  state: { waiting: { reason } },
});
const terminated = (name: string, exitCode: number, extra: Partial<St> = {}): St => ({
  name,
  ready: false,
  restartCount: 0,
  state: { terminated: { exitCode, startedAt: T0, finishedAt: T1 } },
  ...extra,
});
const report = (containers: St[], initContainers: St[] = []): PodStatus => ({
  name: 'p',
  namespace: 'ns',
  UID: 'u1',
  JID: 'j1',
  containers,
  initContainers,
});

const cond = (s: KubePodStatus, type: string) => s.conditions?.find((c) => c.type === type);

/** What kubectl prints in the STATUS column (pkg/printers printPod, abridged). */
function kubectlStatus(p: KPod, s: KubePodStatus): string {
  let reason = s.reason || s.phase || '';
  const inits = p.spec.initContainers ?? [];
  let initializing = false;
  (s.initContainerStatuses ?? []).forEach((c, i) => {
    if (initializing) return;
    const t = c.state?.terminated;
    if (t && t.exitCode === 0) return;
    initializing = true;
    if (t) reason = `Init:${t.reason || `ExitCode:${t.exitCode}`}`;
    else if (c.state?.waiting?.reason && c.state.waiting.reason !== 'PodInitializing')
      reason = `Init:${c.state.waiting.reason}`;
    else reason = `Init:${i}/${inits.length}`;
  });
  if (!initializing) {
    for (const c of [...(s.containerStatuses ?? [])].reverse()) {
      if (c.state?.waiting?.reason) reason = c.state.waiting.reason;
      else if (c.state?.terminated?.reason) reason = c.state.terminated.reason;
    }
    if (s.phase === 'Running' && (s.containerStatuses ?? []).some((c) => c.state?.running))
      reason = 'Running';
  }
  return reason;
}

describe('desiredStatus: phases', () => {
  const table: Array<[string, KPod, PodStatus | undefined, string, string]> = [
    ['not reported yet', pod(), undefined, 'Pending', 'ContainerCreating'],
    ['backend says waiting', pod(), report([waiting('main')]), 'Pending', 'ContainerCreating'],
    ['running', pod(), report([running('main')]), 'Running', 'Running'],
    ['succeeded', pod(), report([terminated('main', 0)]), 'Succeeded', 'Completed'],
    ['failed, Never', pod(), report([terminated('main', 3)]), 'Failed', 'Error'],
    [
      'failed, OnFailure restarts',
      pod({ restartPolicy: 'OnFailure' }),
      report([terminated('main', 3)]),
      'Running',
      'Error',
    ],
    [
      'exited 0, Always restarts',
      pod({ restartPolicy: 'Always' }),
      report([terminated('main', 0)]),
      'Running',
      'Completed',
    ],
    [
      'one of two waiting',
      pod({ app: ['a', 'b'] }),
      report([running('a'), waiting('b')]),
      'Pending',
      'ContainerCreating',
    ],
    [
      'one of two unreported',
      pod({ app: ['a', 'b'] }),
      report([running('a')]),
      'Pending',
      'ContainerCreating',
    ],
    [
      'mixed exit, Never',
      pod({ app: ['a', 'b'] }),
      report([terminated('a', 0), terminated('b', 1)]),
      'Failed',
      'Completed',
    ],
    ['init 0/2', pod({ init: ['i1', 'i2'] }), report([], [running('i1')]), 'Pending', 'Init:0/2'],
    ['init 0/2 before the backend knows', pod({ init: ['i1', 'i2'] }), undefined, 'Pending', 'Init:0/2'],
    [
      'init 1/2',
      pod({ init: ['i1', 'i2'] }),
      report([], [terminated('i1', 0), running('i2')]),
      'Pending',
      'Init:1/2',
    ],
    [
      'init done, app creating',
      pod({ init: ['i1', 'i2'] }),
      report([], [terminated('i1', 0), terminated('i2', 0)]),
      'Pending',
      'ContainerCreating',
    ],
    [
      'init done, app running',
      pod({ init: ['i1', 'i2'] }),
      report([running('main')], [terminated('i1', 0), terminated('i2', 0)]),
      'Running',
      'Running',
    ],
    ['init failed, Never', pod({ init: ['i1'] }), report([], [terminated('i1', 2)]), 'Failed', 'Init:Error'],
    [
      'init failed, OnFailure',
      pod({ init: ['i1'], restartPolicy: 'OnFailure' }),
      report([], [terminated('i1', 2)]),
      'Pending',
      'Init:Error',
    ],
    [
      'init reported among app containers',
      pod({ init: ['i1'] }),
      report([terminated('i1', 0), running('main')]),
      'Running',
      'Running',
    ],
  ];
  it.each(table)('%s', (_name, p, rep, phase, shown) => {
    const s = desiredStatus(p, rep, ctx);
    expect(s.phase).toBe(phase);
    expect(kubectlStatus(p, s)).toBe(shown);
  });

  it('app containers wait with PodInitializing until the init containers are done', () => {
    const p = pod({ init: ['i1'] });
    const s = desiredStatus(p, report([running('main')], [running('i1')]), ctx);
    expect(s.containerStatuses?.[0]?.state).toEqual({ waiting: { reason: 'PodInitializing' } });
    expect(s.initContainerStatuses?.[0]?.state?.running).toBeTruthy();
  });
});

describe('desiredStatus: fields and conditions', () => {
  it('fills times, addresses, images, exit codes and Completed/Error reasons', () => {
    const s = desiredStatus(pod({ app: ['a', 'b'] }), report([terminated('a', 0), terminated('b', 7)]), ctx);
    expect(s.startTime).toBe(T1);
    expect(s.hostIP).toBe('10.0.0.5');
    expect(s.podIPs).toEqual([{ ip: '10.0.0.5' }]);
    const [a, b] = s.containerStatuses!;
    expect(a?.image).toBe('img-a');
    expect(a?.state?.terminated).toMatchObject({
      exitCode: 0,
      reason: 'Completed',
      startedAt: T0,
      finishedAt: T1,
    });
    expect(b?.state?.terminated).toMatchObject({ exitCode: 7, reason: 'Error' });
    expect(cond(s, 'Ready')).toMatchObject({ status: 'False', reason: 'PodCompleted' });
  });

  it('running and ready: all our conditions True, PodScheduled kept from the scheduler', () => {
    const scheduled = { type: 'PodScheduled', status: 'True', lastTransitionTime: T0, lastProbeTime: null };
    const s = desiredStatus(
      pod({ status: { phase: 'Pending', conditions: [scheduled] } }),
      report([running('main')]),
      ctx,
    );
    for (const t of ['PodReadyToStartContainers', 'Initialized', 'ContainersReady', 'Ready'])
      expect(cond(s, t)?.status).toBe('True');
    expect(cond(s, 'PodScheduled')).toEqual(scheduled);
    expect(cond(s, 'Ready')?.lastTransitionTime).toBe(T1);
  });

  it('running but not ready names the container', () => {
    const s = desiredStatus(
      pod({ app: ['a', 'b'] }),
      report([running('a'), running('b', { ready: false })]),
      ctx,
    );
    expect(s.phase).toBe('Running');
    expect(cond(s, 'Ready')).toMatchObject({
      status: 'False',
      reason: 'ContainersNotReady',
      message: 'containers with unready status: [b]',
    });
  });

  it('a running container whose startup probe has not passed is not started, and its probeEvents stay off the Pod', () => {
    const probeEvents = [{ reason: 'Unhealthy', message: 'Startup probe failed: x', count: 2 }];
    const s = desiredStatus(
      pod(),
      report([running('main', { ready: false, started: false, probeEvents })]),
      ctx,
    );
    expect(s.containerStatuses?.[0]).toMatchObject({ ready: false, started: false });
    expect(s.containerStatuses?.[0]).not.toHaveProperty('probeEvents');
  });

  it('a running container whose plugin omits `ready` (Python SDK plugins) counts as ready', () => {
    const { ready: _omitted, ...bare } = running('main');
    const s = desiredStatus(pod(), report([bare as St]), ctx);
    expect(s.containerStatuses?.[0]?.ready).toBe(true);
    expect(cond(s, 'Ready')?.status).toBe('True');
  });

  it('readiness gates hold Ready back until their condition is True', () => {
    const p = pod({ gates: ['example.com/lb'] });
    expect(cond(desiredStatus(p, report([running('main')]), ctx), 'Ready')).toMatchObject({
      status: 'False',
      reason: 'ReadinessGatesNotReady',
    });
    const ok = pod({
      gates: ['example.com/lb'],
      status: { conditions: [{ type: 'example.com/lb', status: 'True' }] },
    });
    const s = desiredStatus(ok, report([running('main')]), ctx);
    expect(cond(s, 'Ready')?.status).toBe('True');
    expect(cond(s, 'example.com/lb')).toEqual({ type: 'example.com/lb', status: 'True' });
  });

  it('a condition keeps its lastTransitionTime while its status holds', () => {
    const first = desiredStatus(pod(), report([running('main')]), ctx);
    const again = desiredStatus(pod({ status: first }), report([running('main')]), { ...ctx, now: T2 });
    expect(cond(again, 'Ready')?.lastTransitionTime).toBe(T1);
    expect(sameJson(first, again)).toBe(true);
  });

  it('is stable: the same report twice changes nothing (no needless writes)', () => {
    const noStart: St = { name: 'main', ready: true, restartCount: 0, state: { running: {} } };
    const first = desiredStatus(pod(), report([noStart]), ctx);
    const again = desiredStatus(pod({ status: first }), report([noStart]), { ...ctx, now: T2 });
    expect(again.containerStatuses?.[0]?.state?.running?.startedAt).toBe(T1);
    expect(sameJson(first, again)).toBe(true);
  });

  it('a ProviderFailed create error is cleared once the backend reports the pod', () => {
    const p = pod({ status: providerFailedPending(pod(), 'create failed', ctx) });
    expect(p.status).toMatchObject({ phase: 'Pending', reason: 'ProviderFailed', message: 'create failed' });
    const s = desiredStatus(p, report([running('main')]), ctx);
    expect(s.reason).toBeUndefined();
    expect(s.message).toBeUndefined();
    expect(s.phase).toBe('Running');
  });
});

describe('desiredStatus: no regression', () => {
  it('never leaves Succeeded or Failed', () => {
    for (const phase of ['Succeeded', 'Failed']) {
      const cur: KubePodStatus = { phase, containerStatuses: [] };
      expect(desiredStatus(pod({ status: cur }), report([running('main')]), ctx)).toBe(cur);
      expect(failedStatus(pod({ status: cur }), 'X', 'y', ctx)).toBe(cur);
      expect(providerFailedPending(pod({ status: cur }), 'm', ctx)).toBe(cur);
      expect(configErrorPending(pod({ status: cur }), 'm', ctx)).toBe(cur);
    }
  });

  it('never moves a container from terminated back to running without a restart', () => {
    const ended = desiredStatus(pod({ restartPolicy: 'Always' }), report([terminated('main', 1)]), ctx);
    const back = desiredStatus(
      pod({ restartPolicy: 'Always', status: ended }),
      report([running('main')]),
      ctx,
    );
    expect(back.containerStatuses?.[0]?.state?.terminated?.exitCode).toBe(1);
  });

  it('a real restart (restartCount grew, policy not Never) runs again with lastState', () => {
    const ended = desiredStatus(pod({ restartPolicy: 'Always' }), report([terminated('main', 1)]), ctx);
    const again = desiredStatus(
      pod({ restartPolicy: 'Always', status: ended }),
      report([running('main', { restartCount: 1 })]),
      ctx,
    );
    const c = again.containerStatuses?.[0];
    expect(c?.state?.running).toBeTruthy();
    expect(c?.restartCount).toBe(1);
    expect(c?.lastState?.terminated?.exitCode).toBe(1);
    expect(again.phase).toBe('Running');
  });

  it('with restartPolicy Never even a grown restartCount does not revive a container', () => {
    const ended = desiredStatus(pod({ app: ['a', 'b'] }), report([terminated('a', 0), running('b')]), ctx);
    const again = desiredStatus(
      pod({ app: ['a', 'b'], status: ended }),
      report([running('a', { restartCount: 1 }), running('b')]),
      ctx,
    );
    expect(again.containerStatuses?.[0]?.state?.terminated?.exitCode).toBe(0);
  });

  it('a Running pod does not flap back to Pending when the backend reports a container waiting', () => {
    const r = desiredStatus(pod(), report([running('main')]), ctx);
    expect(desiredStatus(pod({ status: r }), report([waiting('main')]), ctx).phase).toBe('Running');
  });

  it('restartCount only grows', () => {
    const s1 = desiredStatus(
      pod({ restartPolicy: 'Always' }),
      report([running('main', { restartCount: 4 })]),
      ctx,
    );
    const s2 = desiredStatus(
      pod({ restartPolicy: 'Always', status: s1 }),
      report([running('main', { restartCount: 1 })]),
      ctx,
    );
    expect(s2.containerStatuses?.[0]?.restartCount).toBe(4);
  });

  it('a container the backend stops mentioning keeps its last state', () => {
    const s1 = desiredStatus(pod({ app: ['a', 'b'] }), report([running('a'), running('b')]), ctx);
    const s2 = desiredStatus(pod({ app: ['a', 'b'], status: s1 }), report([running('a')]), ctx);
    expect(s2.containerStatuses?.[1]?.state?.running).toBeTruthy();
    expect(s2.phase).toBe('Running');
  });
});

describe('failure, deletion and config-error statuses', () => {
  it('failedStatus ends the pod with reason and message; with an exit, containers terminate', () => {
    const runningStatus = desiredStatus(pod(), report([running('main')]), ctx);
    const s = failedStatus(
      pod({ status: runningStatus }),
      'BackendLost',
      'gone',
      { ...ctx, now: T2 },
      {
        exitCode: 137,
        reason: 'ContainerStatusUnknown',
        message: 'm',
      },
    );
    expect(s).toMatchObject({ phase: 'Failed', reason: 'BackendLost', message: 'gone' });
    expect(s.containerStatuses?.[0]?.state?.terminated).toMatchObject({
      exitCode: 137,
      reason: 'ContainerStatusUnknown',
      startedAt: T0,
      finishedAt: T2,
    });
    expect(cond(s, 'Ready')?.status).toBe('False');
  });

  it('ProviderFailed without an exit leaves never-started containers waiting', () => {
    const s = failedStatus(pod(), 'ProviderFailed', 'ConfigMap "ns/x" not found', ctx);
    expect(s.phase).toBe('Failed');
    expect(s.containerStatuses?.[0]?.state?.waiting).toBeTruthy();
    expect(kubectlStatus(pod(), s)).toBe('ProviderFailed');
  });

  it('configErrorPending shows CreateContainerConfigError with the message', () => {
    const s = configErrorPending(pod(), 'ConfigMap "ns/x" not found', ctx);
    expect(s.phase).toBe('Pending');
    expect(s.containerStatuses?.[0]?.state?.waiting).toEqual({
      reason: 'CreateContainerConfigError',
      message: 'ConfigMap "ns/x" not found',
    });
    expect(kubectlStatus(pod(), s)).toBe('CreateContainerConfigError');
  });

  it('deletedStatus terminates everything; phase from the exit codes; terminal stays', () => {
    const r = desiredStatus(pod({ app: ['a', 'b'] }), report([terminated('a', 0), running('b')]), ctx);
    const d = deletedStatus(pod({ app: ['a', 'b'], status: r }), { ...ctx, now: T2 });
    expect(d.phase).toBe('Failed');
    expect(d.containerStatuses?.map((c) => c.state?.terminated?.exitCode)).toEqual([0, 137]);
    expect(d.containerStatuses?.[1]?.state?.terminated?.finishedAt).toBe(T2);
    const done = desiredStatus(pod(), report([terminated('main', 0)]), ctx);
    expect(deletedStatus(pod({ status: done }), ctx).phase).toBe('Succeeded');
    expect(deletedStatus(pod({ status: { phase: 'Failed' } }), ctx).phase).toBe('Failed');
  });
});

describe('helpers', () => {
  it('mergeConditions keeps foreign conditions and transition times', () => {
    const out = mergeConditions(
      [
        { type: 'DisruptionTarget', status: 'True', reason: 'x' },
        { type: 'Ready', status: 'False', lastTransitionTime: T0 },
      ],
      [
        { type: 'Ready', status: 'False', reason: 'R' },
        { type: 'Initialized', status: 'True' },
      ],
      T1,
    );
    expect(out).toEqual([
      { type: 'DisruptionTarget', status: 'True', reason: 'x' },
      { type: 'Ready', status: 'False', reason: 'R', lastTransitionTime: T0, lastProbeTime: null },
      { type: 'Initialized', status: 'True', lastTransitionTime: T1, lastProbeTime: null },
    ]);
  });

  it('sameJson ignores key order and undefined members, not array order or null', () => {
    expect(sameJson({ a: 1, b: [1, { c: 2 }] }, { b: [1, { c: 2 }], a: 1, d: undefined })).toBe(true);
    expect(sameJson([1, 2], [2, 1])).toBe(false);
    expect(sameJson({ a: null }, {})).toBe(false);
  });

  it('transitionEvents reports starts, completions and failures once', () => {
    const s1 = desiredStatus(pod({ app: ['a', 'b'] }), report([running('a'), running('b')]), ctx);
    const e1 = transitionEvents(undefined, s1);
    expect(e1.map((e) => `${e.type}/${e.reason}/${e.fieldPath}`)).toEqual([
      'Normal/Started/spec.containers{a}',
      'Normal/Started/spec.containers{b}',
    ]);
    const s2 = desiredStatus(
      pod({ app: ['a', 'b'], status: s1 }),
      report([terminated('a', 0), terminated('b', 2)]),
      ctx,
    );
    expect(transitionEvents(s1, s2).map((e) => `${e.type}/${e.reason}: ${e.message}`)).toEqual([
      'Normal/Completed: Container a completed',
      'Warning/Failed: Container b exited with code 2',
    ]);
    expect(transitionEvents(s2, s2)).toEqual([]);
  });
});
