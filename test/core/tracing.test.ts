/**
 * core/tracing.ts: when the environment turns tracing on, the pure helpers, and the hops
 * inside one process: an HttpClient call over a real unix socket to a createServer app
 * continues the caller's trace (traceparent), the server span carries the pods of the body
 * and the job id of the answer, a command run by runProcess is a child span with its exit
 * code, and log lines written inside a span carry its ids. Spans are collected in memory
 * (the OTLP export to a real receiver is test/e2e/tracing.test.ts).
 */
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { InMemorySpanExporter, type ReadableSpan, SimpleSpanProcessor } from '@opentelemetry/sdk-trace';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dialWebSocket } from '../../src/core/channel-ws.ts';
import { runProcess } from '../../src/core/command.ts';
import { HttpClient } from '../../src/core/http-client.ts';
import { createServer, listenOn } from '../../src/core/http-server.ts';
import { silentLogger } from '../../src/core/logger.ts';
import { serveUpgrades } from '../../src/core/stream-upgrade.ts';
import {
  buildSampler,
  describeSampler,
  installTracing,
  jobIdsIn,
  podsAttributes,
  podsInBody,
  SpanKind,
  samplerSpec,
  startTracing,
  traceLogFields,
  tracingOn,
  tracingSettings,
  uninstallTracing,
  withSpan,
} from '../../src/core/tracing.ts';
import { spanNameOf } from '../../src/plugins/docker/cli.ts';

const pod = (uid: string, name = `p-${uid}`) => ({ metadata: { uid, name, namespace: 'ns' } });

describe('tracingSettings (the OTEL_* environment)', () => {
  it('is off without an OTLP endpoint, and when the SDK or the exporter is disabled', () => {
    expect(tracingSettings('svc', {})).toBeUndefined();
    expect(tracingSettings('svc', { OTEL_EXPORTER_OTLP_ENDPOINT: '  ' })).toBeUndefined();
    expect(
      tracingSettings('svc', { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318', OTEL_SDK_DISABLED: 'TRUE' }),
    ).toBeUndefined();
    expect(
      tracingSettings('svc', { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318', OTEL_TRACES_EXPORTER: 'none' }),
    ).toBeUndefined();
  });

  it('is on with either endpoint variable; OTEL_BSP_SCHEDULE_DELAY sets the batch delay', () => {
    expect(tracingSettings('interlink-vk', { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318' })).toEqual({
      serviceName: 'interlink-vk',
      scheduleDelayMs: 5000,
      sampler: { name: 'parentbased_always_on', ratio: 1 },
    });
    expect(
      tracingSettings('x', {
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://c:4318/v1/traces',
        OTEL_BSP_SCHEDULE_DELAY: '200',
        OTEL_SDK_DISABLED: 'false',
      }),
    ).toEqual({
      serviceName: 'x',
      scheduleDelayMs: 200,
      sampler: { name: 'parentbased_always_on', ratio: 1 },
    });
    expect(
      tracingSettings('x', { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c', OTEL_BSP_SCHEDULE_DELAY: 'soon' })
        ?.scheduleDelayMs,
    ).toBe(5000);
  });
});

describe('the sampler (OTEL_TRACES_SAMPLER, OTEL_TRACES_SAMPLER_ARG)', () => {
  it.each([
    [{}, { name: 'parentbased_always_on', ratio: 1 }],
    [{ OTEL_TRACES_SAMPLER: 'always_off' }, { name: 'always_off', ratio: 1 }],
    [{ OTEL_TRACES_SAMPLER: ' PARENTBASED_ALWAYS_OFF ' }, { name: 'parentbased_always_off', ratio: 1 }],
    [
      { OTEL_TRACES_SAMPLER: 'traceidratio', OTEL_TRACES_SAMPLER_ARG: '0.25' },
      { name: 'traceidratio', ratio: 0.25 },
    ],
    [
      { OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: '0' },
      { name: 'parentbased_traceidratio', ratio: 0 },
    ],
    [{ OTEL_TRACES_SAMPLER: 'parentbased_traceidratio' }, { name: 'parentbased_traceidratio', ratio: 1 }],
    // The argument of a sampler that takes none is ignored, as the specification says.
    [
      { OTEL_TRACES_SAMPLER: 'always_on', OTEL_TRACES_SAMPLER_ARG: 'nonsense' },
      { name: 'always_on', ratio: 1 },
    ],
  ])('%j → %j', (env, spec) => {
    expect(samplerSpec(env)).toEqual(spec);
  });

  it('falls back with a warning on a sampler we lack or a ratio outside [0, 1]', () => {
    expect(samplerSpec({ OTEL_TRACES_SAMPLER: 'jaeger_remote' })).toEqual({
      name: 'parentbased_always_on',
      ratio: 1,
      warning: 'OTEL_TRACES_SAMPLER "jaeger_remote" is not supported; using parentbased_always_on',
    });
    for (const arg of ['1.5', '-0.1', 'half'])
      expect(
        samplerSpec({ OTEL_TRACES_SAMPLER: 'traceidratio', OTEL_TRACES_SAMPLER_ARG: arg }),
      ).toMatchObject({
        name: 'traceidratio',
        ratio: 1,
        warning: 'OTEL_TRACES_SAMPLER_ARG is not a number in [0, 1]; using 1',
      });
  });

  it('builds the SDK sampler that decides as named: roots by ratio, children by their parent', async () => {
    const sdk = await import('@opentelemetry/sdk-trace');
    const { ROOT_CONTEXT, trace: api, TraceFlags } = await import('@opentelemetry/api');
    const traceId = 'ffffffffffffffffffffffffffffffff';
    const decide = (spec: Parameters<typeof buildSampler>[0], parentSampled?: boolean) => {
      const ctx =
        parentSampled === undefined
          ? ROOT_CONTEXT
          : api.setSpanContext(ROOT_CONTEXT, {
              traceId,
              spanId: 'ffffffffffffffff',
              traceFlags: parentSampled ? TraceFlags.SAMPLED : TraceFlags.NONE,
              isRemote: true,
            });
      return buildSampler(spec, sdk).shouldSample(ctx, traceId, 'span', SpanKind.SERVER, {}, []).decision;
    };
    const { RECORD_AND_SAMPLED: KEEP, NOT_RECORD: DROP } = sdk.SamplingDecision;
    expect(decide({ name: 'always_on', ratio: 1 })).toBe(KEEP);
    expect(decide({ name: 'always_off', ratio: 1 })).toBe(DROP);
    expect(decide({ name: 'traceidratio', ratio: 0 })).toBe(DROP);
    expect(decide({ name: 'traceidratio', ratio: 1 })).toBe(KEEP);
    expect(decide({ name: 'traceidratio', ratio: 0 }, true)).toBe(DROP);
    expect(decide({ name: 'parentbased_traceidratio', ratio: 0 })).toBe(DROP);
    expect(decide({ name: 'parentbased_traceidratio', ratio: 0 }, true)).toBe(KEEP);
    expect(decide({ name: 'parentbased_always_on', ratio: 1 }, false)).toBe(DROP);
    expect(decide({ name: 'parentbased_always_off', ratio: 1 }, true)).toBe(KEEP);
    expect(decide({ name: 'parentbased_always_off', ratio: 1 })).toBe(DROP);
    expect(describeSampler({ name: 'parentbased_traceidratio', ratio: 0.1 })).toBe(
      'parentbased_traceidratio(0.1)',
    );
    expect(describeSampler({ name: 'always_on', ratio: 1 })).toBe('always_on');
  });
});

describe('pure helpers', () => {
  it('podsInBody finds the pods of every wire body shape', () => {
    const p = pod('u1');
    expect(podsInBody(p)).toEqual([p]);
    expect(podsInBody([p, pod('u2')])).toHaveLength(2);
    expect(podsInBody({ pod: p, configmaps: [] })).toEqual([p]);
    expect(podsInBody([{ pod: p, containers: [] }])).toEqual([p]);
    expect(podsInBody({ Namespace: 'ns', PodUID: 'u1', PodName: 'n', ContainerName: 'c' })).toEqual([
      { metadata: { uid: 'u1', name: 'n', namespace: 'ns' } },
    ]);
    expect(podsInBody(undefined)).toEqual([]);
    expect(podsInBody('text')).toEqual([]);
    expect(podsInBody({ other: 1 })).toEqual([]);
  });

  it('podsAttributes: one pod by identity, a batch by count and (at most 50) UIDs', () => {
    expect(podsAttributes([pod('u1', 'a')])).toEqual({
      'k8s.pod.uid': 'u1',
      'k8s.pod.name': 'a',
      'k8s.namespace.name': 'ns',
    });
    const many = Array.from({ length: 60 }, (_, i) => pod(`u${i}`));
    const attrs = podsAttributes(many);
    expect(attrs['interlink.pod.count']).toBe(60);
    expect(attrs['k8s.pod.uid']).toHaveLength(50);
    expect(podsAttributes([])).toEqual({ 'interlink.pod.count': 0 });
  });

  it('jobIdsIn reads PodJID of a create answer or a list of them', () => {
    expect(jobIdsIn({ PodUID: 'u', PodJID: '42' })).toEqual(['42']);
    expect(
      jobIdsIn([
        { PodUID: 'u', PodJID: 'a' },
        { PodUID: 'v', PodJID: '' },
      ]),
    ).toEqual(['a']);
    expect(jobIdsIn('ok')).toEqual([]);
  });

  it('a docker span is named by its sub-command only, never by a pod-derived word', () => {
    expect(spanNameOf(['create', '--name', 'pod-x', 'image'])).toBe('docker create');
    expect(spanNameOf(['container', 'inspect'])).toBe('docker container');
    expect(spanNameOf(['--host', 'x'])).toBe('docker');
    expect(spanNameOf(['Evil Name'])).toBe('docker');
    expect(spanNameOf([])).toBe('docker');
  });

  it('without a provider nothing is recorded and log lines get no ids', async () => {
    const off = await startTracing('interlink-vk', { OTEL_SDK_DISABLED: 'true' });
    expect(off.enabled).toBe(false);
    await off.shutdown();
    expect(tracingOn()).toBe(false);
    await withSpan('off', {}, async (span) => {
      expect(span.isRecording()).toBe(false);
      expect(traceLogFields()).toEqual({});
    });
  });
});

describe('in one process, with a provider', () => {
  const exporter = new InMemorySpanExporter();
  let dir: string;
  beforeAll(async () => {
    await installTracing('interlink-test', new SimpleSpanProcessor({ exporter }));
    dir = await mkdtemp(join(tmpdir(), 'il-trace-'));
  });
  afterAll(async () => {
    await uninstallTracing();
    await rm(dir, { recursive: true, force: true });
  });

  const spans = () => exporter.getFinishedSpans();
  /** Server spans end when their socket closes, just after the client saw the close. */
  const eventuallySpans = async (done: () => boolean) => {
    for (let i = 0; i < 200 && !done(); i++) await new Promise((r) => setTimeout(r, 10));
  };
  const parentId = (s: ReadableSpan) => s.parentSpanContext?.spanId;

  it('a call over a unix socket continues the caller trace into the server and a command', async () => {
    const lines: string[] = [];
    const logger = pino(
      { level: 'info', mixin: traceLogFields },
      new Writable({
        write(chunk, _enc, cb) {
          lines.push(String(chunk));
          cb();
        },
      }),
    );
    const { app } = createServer({ logger, metricsPrefix: 'trace_test' });
    app.post('/create', async (req) => {
      req.log.info('creating');
      const r = await runProcess('sh', ['-c', 'exit 3'], { timeoutMs: 10_000, spanName: 'sh run' });
      return {
        PodUID: (req.body as { pod: { metadata: { uid: string } } }).pod.metadata.uid,
        PodJID: `j-${r.code}`,
      };
    });
    await app.ready();
    const sock = join(dir, 'api.sock');
    await listenOn(app, { kind: 'unix', path: sock });
    const client = new HttpClient({ endpoint: { kind: 'unix', path: sock } });
    try {
      exporter.reset();
      const answer = await withSpan('vk pod.create', {}, async () =>
        client.call({ method: 'POST', path: '/create', body: { pod: pod('uid-1', 'web') }, session: 's#1' }),
      );
      expect(answer).toEqual({ PodUID: 'uid-1', PodJID: 'j-3' });
    } finally {
      await client.close();
      await app.close();
    }
    const root = spans().find((s) => s.name === 'vk pod.create')!;
    const server = spans().find((s) => s.name === 'POST /create')!;
    const cmd = spans().find((s) => s.name === 'sh run')!;
    expect(server.spanContext().traceId).toBe(root.spanContext().traceId);
    expect(parentId(server)).toBe(root.spanContext().spanId);
    expect(parentId(cmd)).toBe(server.spanContext().spanId);
    expect(server.attributes).toMatchObject({
      'k8s.pod.uid': 'uid-1',
      'k8s.pod.name': 'web',
      'k8s.namespace.name': 'ns',
      'interlink.backend.job_id': 'j-3',
      'http.route': '/create',
      'http.response.status_code': 200,
      'interlink.session': 's#1',
    });
    expect(cmd.attributes).toMatchObject({ 'process.executable.name': 'sh', 'process.exit.code': 3 });
    expect(typeof cmd.attributes['interlink.command.duration_ms']).toBe('number');
    expect(cmd.status.code).toBe(2); // ERROR: a non-zero exit
    // The command's arguments are not recorded anywhere on its span.
    expect(JSON.stringify(cmd.attributes)).not.toContain('exit 3');
    const logged = lines
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .find((l) => l.msg === 'creating')!;
    expect(logged.trace_id).toBe(root.spanContext().traceId);
    expect(logged.span_id).toBe(server.spanContext().spanId);
  });

  it('a streaming request (WebSocket upgrade) is a server span continuing the trace to the next hop', async () => {
    const logger = silentLogger();
    const inner = createServer({ logger, metricsPrefix: 'trace_ws_inner' }).app;
    serveUpgrades({
      app: inner,
      log: logger,
      routes: { '/attach': async (c) => (await c.acceptWebSocket(['v5.channel.k8s.io'])).close() },
    });
    const outer = createServer({ logger, metricsPrefix: 'trace_ws_outer' }).app;
    const innerSock = join(dir, 'inner.sock');
    serveUpgrades({
      app: outer,
      log: logger,
      routes: {
        '/exec': async (c) => {
          const up = await dialWebSocket({
            endpoint: { kind: 'unix', path: innerSock },
            path: '/attach',
            protocol: 'v5.channel.k8s.io',
          });
          up.resume();
          await once(up, 'close');
          (await c.acceptWebSocket(['v5.channel.k8s.io'])).close();
        },
      },
    });
    await listenOn(inner, { kind: 'unix', path: innerSock });
    const outerSock = join(dir, 'outer.sock');
    await listenOn(outer, { kind: 'unix', path: outerSock });
    try {
      exporter.reset();
      await withSpan('vk exec', {}, async () => {
        const ws = await dialWebSocket({
          endpoint: { kind: 'unix', path: outerSock },
          path: '/exec?namespace=team&name=secret-pod',
          protocol: 'v5.channel.k8s.io',
          headers: { 'InterLink-Http-Session': 'exec#7' },
        });
        ws.resume();
        await once(ws, 'close');
      });
      await eventuallySpans(() => spans().filter((s) => s.name.startsWith('WS ')).length === 2);
    } finally {
      await outer.close();
      await inner.close();
    }
    const root = spans().find((s) => s.name === 'vk exec')!;
    const exec = spans().find((s) => s.name === 'WS /exec')!;
    const attach = spans().find((s) => s.name === 'WS /attach')!;
    expect(parentId(exec)).toBe(root.spanContext().spanId);
    expect(parentId(attach)).toBe(exec.spanContext().spanId);
    expect(attach.spanContext().traceId).toBe(root.spanContext().traceId);
    expect(exec.attributes).toMatchObject({ 'http.route': '/exec', 'interlink.session': 'exec#7' });
    // The query (pod names) is never recorded.
    expect(JSON.stringify(spans().map((s) => [s.name, s.attributes]))).not.toContain('secret-pod');
  });

  it('probes are not traced; a failed span records the error code', async () => {
    const { app } = createServer({ logger: silentLogger(), metricsPrefix: 'trace_test2' });
    exporter.reset();
    await app.inject({ method: 'GET', url: '/healthz' });
    await app.close();
    expect(spans()).toHaveLength(0);
    await expect(
      withSpan('fails', {}, async () => {
        throw Object.assign(new Error('nope'), { code: 'UNAVAILABLE' });
      }),
    ).rejects.toThrow('nope');
    const failed = spans().find((s) => s.name === 'fails')!;
    expect(failed.status).toMatchObject({ code: 2, message: 'nope' });
    expect(failed.attributes['error.type']).toBe('UNAVAILABLE');
  });
});
