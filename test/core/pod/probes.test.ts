import { describe, expect, it } from 'vitest';
import { ProbeEventTally } from '../../../src/core/pod/probe-events.ts';
import {
  type ContainerProbes,
  dueProbes,
  failureMessage,
  hooksOf,
  initialProbes,
  nextDue,
  type ProbeKind,
  type ProbeSpec,
  probesOf,
  recordResult,
  verdictOf,
} from '../../../src/core/pod/probes.ts';

const T0 = 1_000_000;

describe('probesOf', () => {
  it('fills in Kubernetes defaults', () => {
    const [p] = probesOf({ name: 'c', readinessProbe: { exec: { command: ['true'] } } });
    expect(p).toEqual({
      kind: 'readiness',
      handler: { type: 'exec', command: ['true'] },
      initialDelayMs: 0,
      periodMs: 10_000,
      timeoutMs: 1_000,
      successThreshold: 1,
      failureThreshold: 3,
    });
  });

  it.each([
    ['exec', { exec: { command: ['cat', '/tmp/ok'] } }, { type: 'exec', command: ['cat', '/tmp/ok'] }],
    [
      'httpGet with a named port and headers',
      { httpGet: { port: 'web', path: '/healthz', httpHeaders: [{ name: 'X-A', value: 'b' }] } },
      { type: 'httpGet', port: 8080, path: '/healthz', scheme: 'HTTP', headers: [['X-A', 'b']] },
    ],
    [
      'httpGet default path',
      { httpGet: { port: 80 } },
      { type: 'httpGet', port: 80, path: '/', scheme: 'HTTP', headers: [] },
    ],
    ['tcpSocket', { tcpSocket: { port: 5432 } }, { type: 'tcpSocket', port: 5432 }],
    ['grpc', { grpc: { port: 9000 } }, { type: 'grpc', port: 9000, service: '' }],
    ['exec without command', { exec: {} }, { type: 'invalid', reason: 'exec has no command' }],
    [
      'unknown named port',
      { tcpSocket: { port: 'nope' } },
      { type: 'invalid', reason: 'tcpSocket.port is not a port of the container' },
    ],
    [
      'port out of range',
      { httpGet: { port: 70000 } },
      { type: 'invalid', reason: 'httpGet.port is not a port of the container' },
    ],
    [
      'foreign host',
      { httpGet: { host: '10.0.0.1', port: 80 } },
      { type: 'invalid', reason: 'httpGet.host is not supported (only the pod address is probed)' },
    ],
    [
      'relative path',
      { httpGet: { port: 80, path: 'x' } },
      { type: 'invalid', reason: 'httpGet.path must start with "/" and hold no blank' },
    ],
    [
      'header injection',
      { httpGet: { port: 80, httpHeaders: [{ name: 'A', value: 'b\r\nC: d' }] } },
      { type: 'invalid', reason: 'httpGet.httpHeaders holds an invalid header' },
    ],
    ['no handler', {}, { type: 'invalid', reason: 'livenessProbe has no supported handler' }],
    ['malformed', { periodSeconds: 'x' }, { type: 'invalid', reason: 'livenessProbe is malformed' }],
  ])('%s', (_name, probe, handler) => {
    const [p] = probesOf({ name: 'c', ports: [{ name: 'web', containerPort: 8080 }], livenessProbe: probe });
    expect(p?.handler).toEqual(handler);
  });

  it('forces successThreshold 1 on liveness and startup, keeps it on readiness', () => {
    const probe = { exec: { command: ['x'] }, successThreshold: 3, periodSeconds: 2, initialDelaySeconds: 5 };
    const ps = probesOf({ startupProbe: probe, livenessProbe: probe, readinessProbe: probe });
    expect(ps.map((p) => [p.kind, p.successThreshold, p.periodMs, p.initialDelayMs])).toEqual([
      ['startup', 1, 2000, 5000],
      ['liveness', 1, 2000, 5000],
      ['readiness', 3, 2000, 5000],
    ]);
  });

  it('never yields a message holding a pod value', () => {
    const evil = '--evil $(x)';
    const ps = probesOf({ livenessProbe: { httpGet: { port: evil, host: evil } } });
    expect(JSON.stringify(ps)).not.toContain(evil);
  });
});

describe('hooksOf', () => {
  it.each([
    [
      { postStart: { exec: { command: ['touch', '/a'] } } },
      { postStart: { type: 'exec', command: ['touch', '/a'] } },
    ],
    [{ preStop: { sleep: { seconds: 3 } } }, { preStop: { type: 'sleep', seconds: 3 } }],
    [
      { preStop: { httpGet: { port: 80, path: '/stop' } } },
      { preStop: { type: 'httpGet', port: 80, path: '/stop', scheme: 'HTTP', headers: [] } },
    ],
    [
      { preStop: { tcpSocket: { port: 80 } } },
      { preStop: { type: 'invalid', reason: 'preStop: unsupported handler' } },
    ],
    [undefined, {}],
  ])('%j', (lifecycle, want) => {
    expect(hooksOf({ name: 'c', lifecycle })).toEqual(want);
  });
});

const spec = (kind: ProbeKind, over: Partial<ProbeSpec> = {}): ProbeSpec => ({
  kind,
  handler: { type: 'exec', command: ['x'] },
  initialDelayMs: 0,
  periodMs: 10_000,
  timeoutMs: 1_000,
  successThreshold: 1,
  failureThreshold: 3,
  ...over,
});

/**
 * Drive the machine with a fake time line: at each step, run every due probe with the
 * outcome the script gives for (kind, time), then read the verdict.
 */
function drive(
  specs: ProbeSpec[],
  outcome: (kind: ProbeKind, t: number) => boolean,
  until: number,
  step = 1_000,
): Array<{ t: number; ran: ProbeKind[]; ready: boolean; started: boolean; kill?: string }> {
  let cp: ContainerProbes = initialProbes(specs, T0);
  const out = [];
  for (let t = T0; t <= T0 + until; t += step) {
    const ran = dueProbes(specs, cp, t);
    for (const k of ran) cp = recordResult(specs, cp, k, outcome(k, t - T0), t);
    const v = verdictOf(specs, cp);
    out.push({
      t: t - T0,
      ran,
      ready: v.ready,
      started: v.started,
      ...(v.kill ? { kill: v.kill.kind } : {}),
    });
  }
  return out;
}

describe('the probe state machine', () => {
  it('no probes: started and ready at once', () => {
    expect(verdictOf([], initialProbes([], T0))).toEqual({ started: true, ready: true });
  });

  it('readiness starts unready and becomes ready on the first success', () => {
    const specs = [spec('readiness', { periodMs: 1000 })];
    expect(verdictOf(specs, initialProbes(specs, T0)).ready).toBe(false);
    const r = drive(specs, () => true, 0);
    expect(r).toEqual([{ t: 0, ran: ['readiness'], ready: true, started: true }]);
  });

  it('readiness failing for 10 s with period 1 s: ready from the first success, never killed', () => {
    const specs = [spec('readiness', { periodMs: 1000 })];
    const r = drive(specs, (_k, t) => t >= 10_000, 12_000);
    expect(r.filter((x) => x.ready).map((x) => x.t)).toEqual([10_000, 11_000, 12_000]);
    expect(r.some((x) => x.kill)).toBe(false);
  });

  it('readiness honours successThreshold and failureThreshold', () => {
    const specs = [spec('readiness', { periodMs: 1000, successThreshold: 2, failureThreshold: 2 })];
    // ok ok fail ok fail fail ok ok
    const script = [true, true, false, true, false, false, true, true];
    const r = drive(specs, (_k, t) => script[t / 1000]!, 7_000);
    expect(r.map((x) => x.ready)).toEqual([false, true, true, true, true, false, false, true]);
  });

  it('initialDelaySeconds and periodSeconds decide when probes run', () => {
    const specs = [spec('liveness', { initialDelayMs: 3000, periodMs: 2000 })];
    const r = drive(specs, () => true, 8_000);
    expect(r.filter((x) => x.ran.length > 0).map((x) => x.t)).toEqual([3000, 5000, 7000]);
  });

  it('liveness kills after failureThreshold consecutive failures, then runs nothing more', () => {
    const specs = [spec('liveness', { periodMs: 1000, failureThreshold: 3 })];
    const r = drive(specs, (_k, t) => t < 2000, 8_000);
    expect(r.find((x) => x.kill)?.t).toBe(4000);
    expect(r.filter((x) => x.t > 4000).every((x) => x.ran.length === 0 && x.kill === 'liveness')).toBe(true);
  });

  it('a success between failures resets the liveness count', () => {
    const specs = [spec('liveness', { periodMs: 1000, failureThreshold: 2 })];
    const script = [false, true, false, true, false, false];
    const r = drive(specs, (_k, t) => script[t / 1000]!, 5_000);
    expect(r.map((x) => x.kill ?? '-')).toEqual(['-', '-', '-', '-', '-', 'liveness']);
  });

  it('startup gates liveness and readiness; started only after it succeeds', () => {
    const specs = [
      spec('startup', { periodMs: 1000, failureThreshold: 30 }),
      spec('liveness', { periodMs: 1000 }),
      spec('readiness', { periodMs: 1000 }),
    ];
    const r = drive(specs, (k, t) => (k === 'startup' ? t >= 3000 : true), 5_000);
    expect(r.map((x) => [x.t, x.ran.join('+'), x.started, x.ready])).toEqual([
      [0, 'startup', false, false],
      [1000, 'startup', false, false],
      [2000, 'startup', false, false],
      [3000, 'startup', true, false],
      [4000, 'liveness+readiness', true, true],
      [5000, 'liveness+readiness', true, true],
    ]);
  });

  it('a startup probe that never succeeds kills the container', () => {
    const specs = [spec('startup', { periodMs: 1000, failureThreshold: 2 }), spec('readiness')];
    const r = drive(specs, () => false, 3_000);
    expect(r.map((x) => x.kill ?? '-')).toEqual(['-', 'startup', 'startup', 'startup']);
    expect(r.every((x) => !x.ready && !x.started)).toBe(true);
  });

  it('nextDue is the earliest due probe, none once condemned', () => {
    const specs = [
      spec('liveness', { initialDelayMs: 5000, failureThreshold: 1 }),
      spec('readiness', { initialDelayMs: 2000 }),
    ];
    let cp = initialProbes(specs, T0);
    expect(nextDue(specs, cp)).toBe(T0 + 2000);
    cp = recordResult(specs, cp, 'liveness', false, T0 + 5000);
    expect(nextDue(specs, cp)).toBeUndefined();
  });

  it('failure messages follow the kubelet and stay one bounded line', () => {
    expect(failureMessage('readiness', 'exit 1')).toBe('Readiness probe failed: exit 1');
    expect(failureMessage('liveness', 'a\nb')).toBe('Liveness probe failed: a b');
    expect(failureMessage('startup', 'x'.repeat(500)).length).toBeLessThan(240);
  });
});

describe('ProbeEventTally', () => {
  it('counts repeats, bounds distinct entries and drops a pod', () => {
    const t = new ProbeEventTally(2);
    t.add('u1/c', 'Unhealthy', 'm1');
    t.add('u1/c', 'Unhealthy', 'm1');
    t.add('u1/c', 'Unhealthy', 'm2');
    t.add('u1/c', 'Unhealthy', 'm3');
    expect(t.get('u1/c')).toEqual([
      { reason: 'Unhealthy', message: 'm2', type: 'Warning', count: 1 },
      { reason: 'Unhealthy', message: 'm3', type: 'Warning', count: 1 },
    ]);
    t.add('u2/c', 'Killing', 'k', 'Normal');
    t.drop('u1/');
    expect(t.get('u1/c')).toBeUndefined();
    expect(t.get('u2/c')).toEqual([{ reason: 'Killing', message: 'k', type: 'Normal', count: 1 }]);
  });
});
