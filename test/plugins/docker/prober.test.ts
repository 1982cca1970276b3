/**
 * The docker prober's scheduling and overlay with a FakeClock and a scripted ProberIO: one
 * timer for all probes, probes run when due, results reach ready/started, a liveness
 * failure kills (and restarts) through the IO, postStart gates the probes.
 */
import { describe, expect, it } from 'vitest';
import { FakeClock } from '../../../src/core/clock.ts';
import { silentLogger } from '../../../src/core/logger.ts';
import { hooksOf, type ProbeHandler, probesOf } from '../../../src/core/pod/probes.ts';
import { insideArgs, podAddress } from '../../../src/plugins/docker/probe-io.ts';
import { preStopHooks, runPreStop, withPreStopFailures } from '../../../src/plugins/docker/probe-kill.ts';
import { DockerProber, type HandlerOutcome, type Watched } from '../../../src/plugins/docker/prober.ts';
import type { Inspected } from '../../../src/plugins/docker/status.ts';
import type { ContainerStatus } from '../../../src/wire/k8s.ts';

function setup(outcome: (h: ProbeHandler) => HandlerOutcome) {
  const clock = new FakeClock();
  const runs: string[] = [];
  const kills: Array<[string, boolean, number]> = [];
  const prober = new DockerProber({
    clock,
    log: silentLogger(),
    io: {
      async run(_id, _addr, h) {
        runs.push(h.type === 'exec' ? h.command.join(' ') : h.type);
        return outcome(h);
      },
      async kill(_uid, id, restart, grace) {
        kills.push([id, restart, grace]);
        return { exitCode: 137, reason: 'Error' };
      },
    },
  });
  return { clock, prober, runs, kills };
}

const watched = (container: Record<string, unknown>, over: Partial<Watched> = {}): Watched => ({
  name: 'main',
  id: 'c1',
  startedAt: new Date(1_700_000_000_000).toISOString(),
  restartPolicy: 'Always',
  graceSeconds: 5,
  probes: probesOf(container),
  hooks: hooksOf(container),
  address: { inside: true },
  ...over,
});

const runningStatus: ContainerStatus = {
  name: 'main',
  ready: true,
  started: true,
  restartCount: 0,
  containerID: 'docker://c1',
  state: { running: { startedAt: '2023-11-14T22:13:20Z' } },
};

describe('DockerProber', () => {
  it('runs a readiness probe every period on one timer and overlays ready', async () => {
    let ok = false;
    const { clock, prober, runs } = setup(() => ({ ok, detail: 'no file' }));
    prober.observe('u', [
      watched({ readinessProbe: { exec: { command: ['check'] }, periodSeconds: 2, initialDelaySeconds: 1 } }),
    ]);
    expect(prober.overlay('u', runningStatus)).toMatchObject({ ready: false, started: true });
    await clock.advance(1000);
    expect(runs).toEqual(['check']);
    expect(clock.pending()).toBe(1);
    expect(prober.overlay('u', runningStatus).probeEvents).toEqual([
      { reason: 'Unhealthy', message: 'Readiness probe failed: no file', type: 'Warning', count: 1 },
    ]);
    ok = true;
    await clock.advance(1999);
    expect(runs).toHaveLength(1);
    await clock.advance(1);
    expect(runs).toHaveLength(2);
    expect(prober.overlay('u', runningStatus).ready).toBe(true);
  });

  it('a liveness failure kills and restarts through the IO, counting the restart', async () => {
    const { clock, prober, kills } = setup(() => ({ ok: false, detail: 'dead' }));
    prober.observe('u', [
      watched({ livenessProbe: { exec: { command: ['x'] }, periodSeconds: 1, failureThreshold: 2 } }),
    ]);
    await clock.advance(1000);
    expect(kills).toEqual([['c1', true, 5]]);
    // Condemned: no more runs until the container starts again.
    expect(clock.pending()).toBe(0);
    const s = prober.overlay('u', runningStatus);
    expect(s.restartCount).toBe(1);
    expect(s.lastState).toEqual({ terminated: { exitCode: 137, reason: 'Error' } });
    expect(s.probeEvents?.map((e) => [e.reason, e.count])).toEqual([
      ['Unhealthy', 2],
      ['Killing', 1],
    ]);
  });

  it('under restartPolicy Never the kill is final and the terminated state says why', async () => {
    const { clock, prober, kills } = setup(() => ({ ok: false, detail: 'dead' }));
    prober.observe('u', [
      watched(
        { livenessProbe: { exec: { command: ['x'] }, failureThreshold: 1 } },
        { restartPolicy: 'Never' },
      ),
    ]);
    await clock.advance(0);
    expect(kills).toEqual([['c1', false, 5]]);
    const s = prober.overlay('u', {
      ...runningStatus,
      state: { terminated: { exitCode: 137, reason: 'Error' } },
    });
    expect(s.state?.terminated?.message).toBe('The container was killed: it failed liveness probe');
  });

  it('postStart runs first; probes wait for it', async () => {
    const { clock, prober, runs } = setup(() => ({ ok: true, detail: '' }));
    prober.observe('u', [
      watched({
        readinessProbe: { exec: { command: ['probe'] }, periodSeconds: 1 },
        lifecycle: { postStart: { exec: { command: ['hook'] } } },
      }),
    ]);
    expect(prober.overlay('u', runningStatus)).toMatchObject({ ready: false, started: false });
    await clock.advance(0);
    expect(runs).toEqual(['hook', 'probe']);
    expect(prober.overlay('u', runningStatus)).toMatchObject({ ready: true, started: true });
  });

  it('a new container instance starts its probes over; drop forgets the pod and its timer', async () => {
    const { clock, prober, runs } = setup(() => ({ ok: true, detail: '' }));
    const c = { readinessProbe: { exec: { command: ['p'] }, periodSeconds: 10 } };
    prober.observe('u', [watched(c)]);
    await clock.advance(0);
    expect(prober.overlay('u', runningStatus).ready).toBe(true);
    prober.observe('u', [watched(c, { startedAt: new Date(clock.now() + 1).toISOString() })]);
    expect(prober.overlay('u', runningStatus).ready).toBe(false);
    await clock.advance(0);
    expect(runs).toHaveLength(2);
    prober.observe('u', []);
    prober.drop('u');
    await clock.advance(60_000);
    expect(runs).toHaveLength(2);
    expect(prober.watching).toBe(0);
  });
});

describe('probe I/O (pure parts)', () => {
  it.each([
    [{ HostConfig: { NetworkMode: 'host' } }, true, { host: '127.0.0.1' }],
    [{ HostConfig: { NetworkMode: 'host' } }, false, { inside: true }],
    [{ NetworkSettings: { IPAddress: '172.17.0.3' } }, true, { host: '172.17.0.3' }],
    [{ NetworkSettings: { Networks: { n: { IPAddress: '10.1.0.2' } } } }, true, { host: '10.1.0.2' }],
    [{ HostConfig: { NetworkMode: 'none' }, NetworkSettings: { IPAddress: '' } }, true, { inside: true }],
  ])('podAddress(%j, local=%s)', (ins, local, want) => {
    expect(podAddress(ins as unknown as Inspected, local)).toEqual(want);
  });

  it.each([
    [{ type: 'exec', command: ['--rm', '$(x)'] }, ['exec', '--', 'id', '--rm', '$(x)']],
    [{ type: 'tcpSocket', port: 80 }, ['exec', '--', 'id', 'nc', '-w', '2', '127.0.0.1', '80']],
    [
      { type: 'httpGet', port: 8080, path: '/h?a=1', scheme: 'HTTP', headers: [['X-A', '-b']] },
      [
        'exec',
        '--',
        'id',
        'wget',
        '-q',
        '-O',
        '/dev/null',
        '--header',
        'X-A: -b',
        'http://127.0.0.1:8080/h?a=1',
      ],
    ],
    [{ type: 'grpc', port: 1, service: '' }, undefined],
  ] as Array<[ProbeHandler, string[] | undefined]>)('insideArgs(%j)', (h, want) => {
    expect(insideArgs('id', h, 1500)).toEqual(want);
  });
});

describe('preStop helpers (pure)', () => {
  it('preStopHooks finds the app containers with a preStop hook', () => {
    const hooks = preStopHooks({
      spec: {
        containers: [
          { name: 'a', lifecycle: { preStop: { exec: { command: ['x'] } } } },
          { name: 'b' },
          { name: 'c', lifecycle: { preStop: { sleep: { seconds: 2 } } } },
        ],
      },
    });
    expect([...hooks.entries()]).toEqual([
      ['a', { type: 'exec', command: ['x'] }],
      ['c', { type: 'sleep', seconds: 2 }],
    ]);
  });

  it('runPreStop runs the hooks of running containers and reports failures by name', async () => {
    const clock = new FakeClock();
    const hooks = preStopHooks({
      spec: { containers: [{ name: 'a', lifecycle: { preStop: { exec: { command: ['bad'] } } } }] },
    });
    const r = await runPreStop(
      { clock, run: async () => ({ ok: false, detail: 'exit 1' }) },
      hooks,
      [
        { name: 'a', id: 'ia' },
        { name: 'b', id: 'ib' },
      ],
      { inside: true },
      10,
    );
    expect(r.failed).toEqual([{ name: 'a', message: 'PreStopHook failed: exit 1' }]);
  });

  it('withPreStopFailures puts a FailedPreStopHook on the deleted pod final status', () => {
    const st = { containers: [{ name: 'a' }, { name: 'b' }] };
    expect(withPreStopFailures(st, 'u', new Map([['u/a', 'PreStopHook failed: x']]))).toEqual({
      containers: [
        {
          name: 'a',
          probeEvents: [
            { reason: 'FailedPreStopHook', message: 'PreStopHook failed: x', type: 'Warning', count: 1 },
          ],
        },
        { name: 'b' },
      ],
    });
  });
});
