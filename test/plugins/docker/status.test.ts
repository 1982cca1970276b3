import { describe, expect, it } from 'vitest';
import { classify } from '../../../src/plugins/docker/cli.ts';
import {
  containerStatus,
  finalStatus,
  groupByPod,
  type Inspected,
  k8sTime,
  observe,
  parseInspect,
  podStatus,
  sequencing,
} from '../../../src/plugins/docker/status.ts';

const ZERO = '0001-01-01T00:00:00Z';
const T1 = '2026-11-28T10:00:00.123456789Z';
const T2 = '2026-11-28T10:00:05.5Z';

type StateOver = Partial<Inspected['State']>;
const STATES: Record<string, StateOver> = {
  created: { Status: 'created' },
  running: { Status: 'running', Running: true, StartedAt: T1 },
  exited0: { Status: 'exited', ExitCode: 0, StartedAt: T1, FinishedAt: T2 },
  exited3: { Status: 'exited', ExitCode: 3, StartedAt: T1, FinishedAt: T2 },
  oom: { Status: 'exited', ExitCode: 137, OOMKilled: true, StartedAt: T1, FinishedAt: T2 },
  restarting: {
    Status: 'restarting',
    Running: true,
    Restarting: true,
    ExitCode: 1,
    StartedAt: T1,
    FinishedAt: T2,
  },
  /** `created` yet with a start time: it has run once and must never be started again. */
  createdButStarted: { Status: 'created', StartedAt: T1 },
  startError: {
    Status: 'created',
    ExitCode: 127,
    Error: 'OCI runtime create failed: exec: "nope": executable file not found in $PATH',
  },
};

let n = 0;
function ins(
  role: string,
  name: string,
  state: keyof typeof STATES,
  extra: { index?: number; policy?: string; sidecar?: boolean; restarts?: number; uid?: string } = {},
): Inspected {
  n++;
  return {
    Id: `id-${name}-${n}`,
    Name: `/ilk_${name}`,
    Image: 'sha256:img',
    RestartCount: extra.restarts ?? 0,
    HostConfig: { Mounts: [] },
    State: {
      Status: 'created',
      Running: false,
      Paused: false,
      Restarting: false,
      OOMKilled: false,
      Dead: false,
      ExitCode: 0,
      Error: '',
      StartedAt: ZERO,
      FinishedAt: ZERO,
      ...STATES[state],
    },
    Config: {
      Image: 'busybox:1',
      Labels: {
        'interlink.vk.io/pod-uid': extra.uid ?? 'u1',
        'interlink.vk.io/pod-namespace': 'ns',
        'interlink.vk.io/pod-name': 'p',
        'interlink.vk.io/role': role,
        'interlink.vk.io/container-name': name,
        'interlink.vk.io/index': String(extra.index ?? 0),
        'interlink.vk.io/restart-policy': extra.policy ?? 'Never',
        ...(extra.sidecar ? { 'interlink.vk.io/sidecar': 'true' } : {}),
      },
    },
  };
}

describe('docker state → container status', () => {
  it.each([
    ['created', { waiting: { reason: 'ContainerCreating' } }, false],
    ['running', { running: { startedAt: '2026-11-28T10:00:00Z' } }, true],
    [
      'exited0',
      {
        terminated: {
          exitCode: 0,
          reason: 'Completed',
          startedAt: '2026-11-28T10:00:00Z',
          finishedAt: '2026-11-28T10:00:05Z',
        },
      },
      false,
    ],
    ['exited3', { terminated: { exitCode: 3, reason: 'Error' } }, false],
    ['oom', { terminated: { exitCode: 137, reason: 'OOMKilled' } }, false],
    ['restarting', { waiting: { reason: 'CrashLoopBackOff' } }, false],
    [
      'startError',
      {
        terminated: {
          exitCode: 127,
          reason: 'StartError',
          message: expect.stringContaining('executable file not found'),
        },
      },
      false,
    ],
  ] as const)('%s', (state, want, ready) => {
    const o = observe(ins('app', 'c', state, { restarts: 2 }))!;
    const s = containerStatus(o, 'ContainerCreating');
    expect(s.state).toMatchObject(want);
    expect(s.ready).toBe(ready);
    expect(s.restartCount).toBe(2);
    expect(s.containerID).toBe(`docker://${o.id}`);
    expect(s.image).toBe('busybox:1');
  });

  it('keeps the last termination of a restarting container', () => {
    const s = containerStatus(observe(ins('app', 'c', 'restarting'))!, 'x');
    expect(s.lastState?.terminated).toMatchObject({ exitCode: 1, reason: 'Error' });
  });

  it.each([
    [ZERO, undefined],
    ['', undefined],
    [T1, '2026-11-28T10:00:00Z'],
    ['2026-11-28T10:00:00Z', '2026-11-28T10:00:00Z'],
  ])('time %j → %j', (t, want) => {
    expect(k8sTime(t)).toBe(want);
  });

  it('ignores containers without our labels, and parses inspect output', () => {
    const foreign = { ...ins('app', 'c', 'running'), Config: { Image: 'x', Labels: {} } };
    expect(observe(foreign)).toBeUndefined();
    expect(
      parseInspect(JSON.stringify([ins('app', 'c', 'running'), { Id: 'x' }])).map(
        (i) => i.Config.Labels['interlink.vk.io/role'],
      ),
    ).toEqual(['app']);
    expect(parseInspect('')).toEqual([]);
  });
});

function pod(
  inits: Array<[keyof typeof STATES, { sidecar?: boolean; policy?: string }?]>,
  apps: Array<keyof typeof STATES>,
  infra: keyof typeof STATES = 'running',
) {
  const list = [
    ins('infra', 'POD', infra),
    ...inits.map(([s, o], i) => ins('init', `i${i}`, s, { index: i, ...o })),
    ...apps.map((s, i) => ins('app', `a${i}`, s, { index: i })),
  ];
  return groupByPod(list.reverse()).get('u1')!;
}
const names = (p: ReturnType<typeof pod>, ids: string[]) =>
  ids.map((id) => [...p.inits, ...p.apps].find((o) => o.id === id)!.name);

describe('init sequencing', () => {
  it.each([
    [
      'no init: start all apps',
      [],
      ['created', 'created'],
      'running',
      { start: ['a0', 'a1'], pending: true, initialized: true },
    ],
    [
      'never an app that has started once',
      [],
      ['createdButStarted', 'created'],
      'running',
      { start: ['a1'], pending: true, initialized: true },
    ],
    [
      'first init first',
      [['created'], ['created']],
      ['created'],
      'running',
      { start: ['i0'], pending: true, initialized: false },
    ],
    [
      'wait for a running init',
      [['running'], ['created']],
      ['created'],
      'running',
      { start: [], pending: true },
    ],
    [
      'next init after a success',
      [['exited0'], ['created']],
      ['created'],
      'running',
      { start: ['i1'], pending: true },
    ],
    [
      'apps after all inits',
      [['exited0'], ['exited0']],
      ['created'],
      'running',
      { start: ['a0'], initialized: true },
    ],
    [
      'a failed init fails a Never pod',
      [['exited3', { policy: 'Never' }], ['created']],
      ['created'],
      'running',
      { start: [], failed: true, pending: false },
    ],
    [
      'a failed init is retried by docker otherwise',
      [['exited3', { policy: 'OnFailure' }], ['created']],
      ['created'],
      'running',
      { start: [], failed: false, pending: true },
    ],
    [
      'an init that cannot start fails the pod',
      [['startError', { policy: 'OnFailure' }]],
      ['created'],
      'running',
      { start: [], failed: true },
    ],
    [
      'a sidecar init only has to start',
      [['running', { sidecar: true }], ['created']],
      ['created'],
      'running',
      { start: ['i1'] },
    ],
    [
      'everything started: nothing pending',
      [['exited0']],
      ['running', 'exited3'],
      'running',
      { start: [], pending: false, initialized: true },
    ],
    [
      'an app that could not start is not retried',
      [],
      ['startError'],
      'running',
      { start: [], pending: false },
    ],
    ['the infra container first', [], ['created'], 'created', { startInfra: true, start: ['a0'] }],
  ] as const)('%s', (_name, inits, apps, infra, want) => {
    const p = pod(inits as never, apps as never, infra);
    const s = sequencing(p);
    const { start, ...rest } = want as unknown as { start?: string[] };
    if (start) expect(names(p, s.start)).toEqual(start);
    expect(s).toMatchObject(rest);
  });
});

describe('pod status', () => {
  it('shows app containers PodInitializing while init containers run, and unknown for vanished containers', () => {
    const p = pod([['running'], ['created']], ['created']);
    const s = podStatus(p, { inits: ['i0', 'i1'], apps: ['a0', 'gone'] });
    expect(s).toMatchObject({ name: 'p', UID: 'u1', namespace: 'ns', JID: 'ilk_POD_p_ns_u1' });
    expect(s.initContainers?.map((c) => Object.keys(c.state!)[0])).toEqual(['running', 'waiting']);
    expect(s.initContainers?.[1]?.state?.waiting?.reason).toBe('PodInitializing');
    expect(
      s.containers?.map((c) => [c.name, c.state?.waiting?.reason ?? c.state?.terminated?.reason]),
    ).toEqual([
      ['a0', 'PodInitializing'],
      ['gone', 'ContainerStatusUnknown'],
    ]);
  });

  it('reports every container terminated after delete', () => {
    const s = finalStatus(pod([['exited0']], ['exited3', 'created', 'running']));
    expect(s.initContainers?.[0]?.state?.terminated?.reason).toBe('Completed');
    expect(s.containers?.map((c) => [c.state?.terminated?.exitCode, c.state?.terminated?.reason])).toEqual([
      [3, 'Error'],
      [137, 'ContainerStatusUnknown'],
      [137, 'ContainerStatusUnknown'],
    ]);
  });
});

describe('docker CLI errors → codes', () => {
  it.each([
    ['Cannot connect to the Docker daemon at unix:///x.sock. Is the docker daemon running?', 'UNAVAILABLE'],
    ['Error: No such container: abc', 'NOT_FOUND'],
    ['Error response from daemon: Conflict. The container name "/x" is already in use', 'CONFLICT'],
    ['docker: invalid reference format: repository name must be lowercase.', 'INVALID_INPUT'],
    ['Error response from daemon: pull access denied for nope, repository does not exist', 'INVALID_INPUT'],
    ['unknown flag: --bogus', 'INVALID_INPUT'],
    [
      'Error response from daemon: invalid mount config for type "bind": bind source path does not exist: /x',
      'INVALID_INPUT',
    ],
    ['Error response from daemon: something broke', 'BACKEND'],
  ])('%s → %s', (stderr, code) => {
    expect(classify('docker x', { code: 1, stdout: '', stderr }).code).toBe(code);
  });
});
