/**
 * The mock plugin through the plugin SDK over real HTTP (unix socket and TCP), with the
 * HttpClient every hop uses and an injected clock: exact, and no sleeping.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FakeClock } from '../../../src/core/clock.ts';
import { k8sTime } from '../../../src/plugins/mock/timeline.ts';
import { CreateStruct, PingResponse, PodStatusList } from '../../../src/wire/interlink.ts';
import { pod, type Served, StreamReader, serveMock, type Transport } from './helpers.ts';

const T0 = Date.parse('2026-01-01T00:00:00Z');
const at = (s: number) => k8sTime(T0 + s * 1000);
const P = 'mock.interlink.io/';

describe.each<Transport>(['unix', 'tcp'])('mock plugin over %s', (transport) => {
  let clock: FakeClock;
  let s: Served;
  beforeEach(async () => {
    clock = new FakeClock(T0);
    s = await serveMock(transport, {
      clock,
      defaults: {
        startDelayMs: 1000,
        initRunTimeMs: 2000,
        runTimeMs: undefined,
        logLines: 3,
        logIntervalMs: 1000,
      },
      capacity: {
        cpu: '64',
        memory: '128Gi',
        pods: '5000',
        accelerators: [{ resourceType: 'nvidia.com/gpu', available: 2 }],
      },
    });
  });
  afterEach(() => s.close());

  const create = (body: unknown) =>
    s.client.call({ method: 'POST', path: '/create', body, schema: CreateStruct });
  const status = (pods: unknown[]) =>
    s.client.call({ method: 'GET', path: '/status', body: pods, schema: PodStatusList });
  const del = (p: unknown) => s.client.call({ method: 'DELETE', path: '/delete', body: p });
  const logs = (uid: string, container: string, Opts: Record<string, unknown> = {}) =>
    s.client.call({
      method: 'GET',
      path: '/getLogs',
      body: { Namespace: 'default', PodUID: uid, PodName: `pod-${uid}`, ContainerName: container, Opts },
    });
  const admin = (method: 'GET' | 'POST' | 'DELETE', path: string, body?: unknown) =>
    s.client.call({ method, path, body });

  it('moves a pod through init containers in order, then app containers with their exit codes', async () => {
    const p = pod('u1', {
      init: ['fetch', 'migrate'],
      app: ['job', 'side'],
      annotations: { [`${P}run-time`]: '10s', [`${P}exit-code.side`]: '3', [`${P}run-time.side`]: '4s' },
    });
    expect(await create({ pod: p, container: [] })).toEqual({ PodUID: 'u1', PodJID: 'mock-1' });

    const states = async () => {
      const [st] = await status([p]);
      return {
        init: st!.initContainers!.map((c) => c.state),
        app: st!.containers!.map((c) => c.state),
        ready: st!.containers!.map((c) => c.ready),
      };
    };
    const waitInit = { waiting: { reason: 'PodInitializing' } };

    expect(await states()).toEqual({
      init: [waitInit, waitInit],
      app: [waitInit, waitInit],
      ready: [false, false],
    });
    await clock.advance(1000); // start delay over: first init container runs
    expect((await states()).init).toEqual([{ running: { startedAt: at(1) } }, waitInit]);
    await clock.advance(2000); // fetch done, migrate runs
    expect((await states()).init).toEqual([
      { terminated: { exitCode: 0, reason: 'Completed', startedAt: at(1), finishedAt: at(3) } },
      { running: { startedAt: at(3) } },
    ]);
    expect((await states()).app).toEqual([waitInit, waitInit]);
    await clock.advance(2000); // init done at +5s: app containers run
    expect(await states()).toMatchObject({
      app: [{ running: { startedAt: at(5) } }, { running: { startedAt: at(5) } }],
      ready: [true, true],
    });
    await clock.advance(4000); // side ends with 3 at +9s
    expect((await states()).app).toEqual([
      { running: { startedAt: at(5) } },
      { terminated: { exitCode: 3, reason: 'Error', startedAt: at(5), finishedAt: at(9) } },
    ]);
    await clock.advance(6000); // job ends with 0 at +15s
    const [final] = await status([p]);
    expect(final).toMatchObject({ name: 'pod-u1', UID: 'u1', namespace: 'default', JID: 'mock-1' });
    expect(final!.containers![0]).toMatchObject({
      name: 'job',
      state: { terminated: { exitCode: 0, reason: 'Completed', startedAt: at(5), finishedAt: at(15) } },
      ready: false,
      restartCount: 0,
      image: 'busybox:job',
      containerID: 'mock://mock-1/job',
    });
    expect(await admin('GET', '/mock/pods')).toEqual([
      {
        uid: 'u1',
        namespace: 'default',
        name: 'pod-u1',
        jid: 'mock-1',
        createdAt: new Date(T0).toISOString(),
        phase: 'Failed',
      },
    ]);
  });

  it('waits with ContainerCreating when there are no init containers', async () => {
    const p = pod('u2');
    await create([{ pod: p, container: [{ name: 'main' }] }]); // the one-element-array shape
    const [st] = await status([p]);
    expect(st!.containers![0]!.state).toEqual({ waiting: { reason: 'ContainerCreating' } });
    expect(st!.initContainers).toEqual([]);
  });

  it('creates idempotently per UID: same PodJID, the pod is not restarted; counts every call', async () => {
    const p = pod('u3');
    const first = await create({ pod: p });
    await clock.advance(5000);
    const second = await create({ pod: p });
    expect(second).toEqual(first);
    const [st] = await status([p]);
    expect(st!.containers![0]!.state).toEqual({ running: { startedAt: at(1) } });
    await create({ pod: pod('u4') });
    expect(await admin('GET', '/mock/calls')).toMatchObject({ create: { u3: 2, u4: 1 }, delete: {} });
    await admin('DELETE', '/mock/calls');
    expect(await admin('GET', '/mock/calls')).toEqual({
      create: {},
      delete: {},
      status: 0,
      statusPods: 0,
      logs: 0,
      ping: 0,
    });
  });

  it('leaves unknown pods out of status and deletes idempotently', async () => {
    const a = pod('a1');
    const b = pod('b1');
    await create({ pod: a });
    await create({ pod: b });
    const both = await status([a, pod('ghost'), b]);
    expect(both.map((x) => x.UID)).toEqual(['a1', 'b1']);
    expect(await del(a)).toMatch(/deleted/);
    expect(await del(a)).toMatch(/deleted/);
    expect(await s.client.call({ method: 'POST', path: '/delete', body: pod('never') })).toMatch(/deleted/);
    expect((await status([a, b])).map((x) => x.UID)).toEqual(['b1']);
    expect(await admin('GET', '/mock/calls')).toMatchObject({
      delete: { a1: 2, never: 1 },
      status: 2,
      statusPods: 5,
    });
    // A create after delete is a new pod.
    expect(await create({ pod: a })).toEqual({ PodUID: 'a1', PodJID: 'mock-3' });
  });

  it('fails creates from annotations: message, code, first N calls, bad values', async () => {
    await expect(
      create({ pod: pod('e1', { annotations: { [`${P}create-error`]: 'quota exceeded' } }) }),
    ).rejects.toMatchObject({
      code: 'BACKEND',
      message: expect.stringContaining('quota exceeded'),
    });
    await expect(
      create({
        pod: pod('e2', { annotations: { [`${P}create-error`]: 'INVALID_INPUT: image not allowed' } }),
      }),
    ).rejects.toMatchObject({ code: 'INVALID_INPUT', message: expect.stringContaining('image not allowed') });

    const flaky = pod('e3', {
      annotations: { [`${P}create-error`]: 'UNAVAILABLE: try later', [`${P}create-error-times`]: '2' },
    });
    await expect(create({ pod: flaky })).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    await expect(create({ pod: flaky })).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    expect(await create({ pod: flaky })).toMatchObject({ PodUID: 'e3' });

    await expect(
      create({ pod: pod('e4', { annotations: { [`${P}run-time`]: 'soon' } }) }),
    ).rejects.toMatchObject({
      code: 'INVALID_INPUT',
      field: `pod.metadata.annotations["${P}run-time"]`,
      message: expect.stringContaining('"soon" is not a duration'),
    });
    expect((await status([pod('e1'), pod('e4')])).length).toBe(0);
  });

  it('injects backend faults through /mock/faults and recovers when they are cleared', async () => {
    const p = pod('f1');
    await create({ pod: p });
    expect(await admin('POST', '/mock/faults', { deleteFails: 'disk on fire', statusFails: true })).toEqual({
      deleteFails: 'disk on fire',
      statusFails: true,
    });
    await expect(del(p)).rejects.toMatchObject({
      code: 'BACKEND',
      message: expect.stringContaining('disk on fire'),
    });
    await expect(status([p])).rejects.toMatchObject({
      code: 'BACKEND',
      message: expect.stringContaining('injected status failure'),
    });
    await admin('POST', '/mock/faults', { createFails: true, logsFails: 'no logs', pingFails: true });
    await expect(create({ pod: pod('f2') })).rejects.toMatchObject({ code: 'BACKEND' });
    await expect(logs('f1', 'main')).rejects.toMatchObject({
      code: 'BACKEND',
      message: expect.stringContaining('no logs'),
    });
    await expect(s.client.call({ method: 'GET', path: '/ping' })).rejects.toMatchObject({ code: 'BACKEND' });
    expect((await status([p])).length).toBe(1); // the pod survived the failed delete
    await expect(admin('POST', '/mock/faults', { deleteFail: true })).rejects.toMatchObject({
      code: 'INVALID_INPUT',
    });
    expect(await admin('POST', '/mock/faults', {})).toEqual({});
    await del(p);
    expect(await status([p])).toEqual([]);
    expect(await admin('GET', '/mock/calls')).toMatchObject({ create: { f1: 1, f2: 1 }, delete: { f1: 2 } });
  });

  it('answers ping with the configured capacity', async () => {
    const ping = await s.client.call({ method: 'GET', path: '/ping', schema: PingResponse });
    expect(ping).toEqual({
      status: 'ok',
      resources: {
        cpu: '64',
        memory: '128Gi',
        pods: '5000',
        accelerators: [{ resourceType: 'nvidia.com/gpu', available: 2 }],
      },
    });
  });

  it('serves a stats summary of the pods it holds', async () => {
    await create({ pod: pod('s1', { app: ['a', 'b'] }) });
    await clock.advance(1000);
    const stats = (await s.client.call({ method: 'GET', path: '/stats/summary' })) as { pods: unknown[] };
    expect(stats.pods).toEqual([
      {
        podRef: { name: 'pod-s1', namespace: 'default', uid: 's1' },
        startTime: new Date(T0).toISOString(),
        containers: [
          { name: 'a', startTime: new Date(T0 + 1000).toISOString() },
          { name: 'b', startTime: new Date(T0 + 1000).toISOString() },
        ],
      },
    ]);
  });

  describe('logs', () => {
    // Starts at +1s; lines at +1s, +2s, +3s; the container ends at +11s.
    const p = pod('l1', {
      app: ['main', 'idle'],
      annotations: { [`${P}run-time`]: '10s', [`${P}log-lines.idle`]: '0' },
    });
    beforeEach(async () => {
      await create({ pod: p });
    });

    it('is empty before the start, grows with time, and never exceeds log-lines', async () => {
      expect(await logs('l1', 'main')).toBe('');
      await clock.advance(1500);
      expect(await logs('l1', 'main')).toBe('main line 1\n');
      await clock.advance(60_000);
      expect(await logs('l1', 'main')).toBe('main line 1\nmain line 2\nmain line 3\n');
      expect(await logs('l1', 'idle')).toBe('');
    });

    it('honours Tail, Bytes, LimitBytes, SinceSeconds, SinceTime and Timestamps', async () => {
      await clock.advance(20_000); // now = +20s
      const table: Array<[Record<string, unknown>, string]> = [
        [{ Tail: 2 }, 'main line 2\nmain line 3\n'],
        [{ Tail: 0 }, 'main line 1\nmain line 2\nmain line 3\n'],
        [{ Bytes: 15 }, 'main line 1\nmai'],
        [{ LimitBytes: 12 }, 'main line 1\n'],
        [{ SinceSeconds: 18 }, 'main line 2\nmain line 3\n'], // newer than +2s
        [{ SinceSeconds: 1 }, ''],
        [{ SinceTime: '2026-01-01T00:00:02.500Z' }, 'main line 3\n'],
        [{ SinceTime: '0001-01-01T00:00:00Z', Tail: 1 }, 'main line 3\n'],
        [{ Timestamps: true, Tail: 1 }, '2026-01-01T00:00:03.000000000Z main line 3\n'],
        [{ Timestamps: true, Tail: 2, Bytes: 40 }, '2026-01-01T00:00:02.000000000Z main line'],
      ];
      for (const [opts, want] of table) expect([opts, await logs('l1', 'main', opts)]).toEqual([opts, want]);
    });

    it('answers NOT_FOUND for an unknown pod, container, or a previous instance', async () => {
      await expect(logs('nope', 'main')).rejects.toMatchObject({ code: 'NOT_FOUND' });
      await expect(logs('l1', 'nope')).rejects.toMatchObject({
        code: 'NOT_FOUND',
        message: expect.stringContaining('containers: main, idle'),
      });
      await expect(logs('l1', 'main', { Previous: true })).rejects.toMatchObject({ code: 'NOT_FOUND' });
    });

    const follow = async (
      uid: string,
      container: string,
      Opts: Record<string, unknown> = {},
      signal?: AbortSignal,
    ) => {
      const res = await s.client.stream({
        method: 'GET',
        path: '/getLogs',
        body: {
          Namespace: 'default',
          PodUID: uid,
          PodName: `pod-${uid}`,
          ContainerName: container,
          Opts: { ...Opts, Follow: true },
        },
        ...(signal ? { signal } : {}),
      });
      expect(res.headers['content-type']).toMatch(/text\/plain/);
      return new StreamReader(res.body);
    };

    it('follows: delivers lines as they are produced and ends when the container ends', async () => {
      await clock.advance(1000); // line 1 written
      const r = await follow('l1', 'main', { Timestamps: true });
      expect(await r.until('line 1\n')).toBe('2026-01-01T00:00:01.000000000Z main line 1\n');
      await clock.advance(1000);
      expect(await r.until('line 2\n')).toMatch(/main line 1\n.* main line 2\n$/);
      await clock.advance(1000);
      await r.until('line 3\n');
      await clock.advance(7999); // +10.999s: still running, nothing new; the follower waits for the end
      expect(clock.pending()).toBe(1);
      await clock.advance(1); // +11s: the container ends, so does the stream
      expect(await r.rest()).toBe(
        ['01', '02', '03']
          .map((sec, i) => `2026-01-01T00:00:${sec}.000000000Z main line ${i + 1}\n`)
          .join(''),
      );
      expect(clock.pending()).toBe(0);
    });

    it('follows a container that has not started yet', async () => {
      const r = await follow('l1', 'main');
      await clock.advance(1000);
      expect(await r.until('line 1\n')).toBe('main line 1\n');
    });

    it('follows from a tail, and within a byte limit', async () => {
      await clock.advance(2000); // lines 1, 2
      const r = await follow('l1', 'main', { Tail: 1 });
      expect(await r.until('line 2\n')).toBe('main line 2\n');
      await clock.advance(1000);
      expect(await r.until('line 3\n')).toBe('main line 2\nmain line 3\n');

      const limited = await follow('l1', 'main', { Bytes: 15 });
      expect(await limited.rest()).toBe('main line 1\nmai');
    });

    it('ends a follow when the pod is deleted or the caller goes away, leaving no timer', async () => {
      await clock.advance(1000);
      const r = await follow('l1', 'main');
      await r.until('line 1\n');
      await del(p);
      expect(await r.rest()).toBe('main line 1\n');

      await create({ pod: pod('l2', { annotations: { [`${P}start-delay`]: '0s' } }) });
      const ctl = new AbortController();
      const r2 = await follow('l2', 'main', {}, ctl.signal);
      await r2.until('line 1\n');
      expect(clock.pending()).toBe(1);
      ctl.abort();
      await expect(r2.rest()).rejects.toThrow();
      // The server notices the closed socket and drops the follower's timer.
      for (let i = 0; i < 100 && clock.pending() > 0; i++)
        await new Promise((resolve) => setTimeout(resolve, 10));
      expect(clock.pending()).toBe(0);
    });
  });
});
