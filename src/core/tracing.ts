/**
 * OpenTelemetry tracing for the three processes (VK, interLink API, plugin), off unless the
 * standard environment asks for it: OTEL_EXPORTER_OTLP_TRACES_ENDPOINT or
 * OTEL_EXPORTER_OTLP_ENDPOINT set, and OTEL_SDK_DISABLED not `true`. Spans go by OTLP/HTTP
 * (protobuf-free JSON exporter of the official SDK); the exporter reads the other
 * OTEL_EXPORTER_OTLP_* variables (headers, certificates, timeout) itself. Which traces are
 * kept: OTEL_TRACES_SAMPLER / OTEL_TRACES_SAMPLER_ARG as the specification defines them
 * (default `parentbased_always_on`; samplerSpec below), read here since this SDK does not.
 *
 * Spans are explicit (no auto-instrumentation): the VK opens one per pod operation, every HTTP
 * hop carries W3C `traceparent` (injected by core/http-client.ts, extracted by
 * core/http-server.ts, TCP and unix socket alike), and core/command.ts opens one per backend
 * command. When tracing is off the API is the no-op one: each helper here costs a function
 * call and allocates nothing that outlives it, and the SDK itself is not even loaded (only
 * `@opentelemetry/api` is imported up front).
 *
 * What never enters a span: environment values, stdin, request bodies, secrets; span names
 * are fixed strings (route templates, command + sub-command), never a pod-supplied string.
 */
import {
  type Attributes,
  type Context,
  context,
  INVALID_SPAN_CONTEXT,
  propagation,
  type Span,
  SpanKind,
  SpanStatusCode,
  type Tracer,
  trace,
} from '@opentelemetry/api';
import type { Sampler, SpanExporter, SpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';

export type { Attributes, Context, Span };
export { context, SpanKind, SpanStatusCode, trace };

/** The instrumentation scope of every span we make. */
const SCOPE = 'interlink';

/** Attribute keys (OpenTelemetry semantic conventions where one exists). */
export const Attr = {
  podUid: 'k8s.pod.uid',
  podName: 'k8s.pod.name',
  namespace: 'k8s.namespace.name',
  podCount: 'interlink.pod.count',
  jobId: 'interlink.backend.job_id',
  session: 'interlink.session',
  executable: 'process.executable.name',
  exitCode: 'process.exit.code',
  durationMs: 'interlink.command.duration_ms',
  timedOut: 'interlink.command.timed_out',
} as const;

export interface TracingSettings {
  /** service.name unless OTEL_SERVICE_NAME or OTEL_RESOURCE_ATTRIBUTES say otherwise. */
  serviceName: string;
  /** Batch delay, ms (OTEL_BSP_SCHEDULE_DELAY, default 5000). */
  scheduleDelayMs: number;
  /** Which traces are kept (OTEL_TRACES_SAMPLER, OTEL_TRACES_SAMPLER_ARG). */
  sampler: SamplerSpec;
}

export const SAMPLERS = [
  'always_on',
  'always_off',
  'traceidratio',
  'parentbased_always_on',
  'parentbased_always_off',
  'parentbased_traceidratio',
] as const;
export type SamplerName = (typeof SAMPLERS)[number];

export interface SamplerSpec {
  name: SamplerName;
  /** The ratio of the `*traceidratio` samplers, in [0, 1] (default 1). */
  ratio: number;
  /** Why the environment was not followed as written (logged at start). */
  warning?: string;
}

/**
 * The sampler the environment asks for, as the OpenTelemetry specification reads
 * OTEL_TRACES_SAMPLER and OTEL_TRACES_SAMPLER_ARG: unset → `parentbased_always_on`; a
 * sampler we do not have (jaeger_remote, xray, ...) → that default, with a warning; a ratio
 * that is not a number in [0, 1] → 1, with a warning. Pure.
 */
export function samplerSpec(env: NodeJS.ProcessEnv): SamplerSpec {
  const raw = (env.OTEL_TRACES_SAMPLER ?? '').trim().toLowerCase();
  const known = (SAMPLERS as readonly string[]).includes(raw);
  const name: SamplerName = known ? (raw as SamplerName) : 'parentbased_always_on';
  const warnings: string[] = [];
  if (raw !== '' && !known)
    warnings.push(`OTEL_TRACES_SAMPLER "${raw.slice(0, 40)}" is not supported; using ${name}`);
  let ratio = 1;
  const arg = (env.OTEL_TRACES_SAMPLER_ARG ?? '').trim();
  if (name.endsWith('traceidratio') && arg !== '') {
    const n = Number(arg);
    if (Number.isFinite(n) && n >= 0 && n <= 1) ratio = n;
    else warnings.push('OTEL_TRACES_SAMPLER_ARG is not a number in [0, 1]; using 1');
  }
  return { name, ratio, ...(warnings.length > 0 ? { warning: warnings.join('; ') } : {}) };
}

/** The SDK sampler of a spec (`m`: the loaded @opentelemetry/sdk-trace). */
export function buildSampler(spec: SamplerSpec, m: typeof import('@opentelemetry/sdk-trace')): Sampler {
  const root = (name: string): Sampler =>
    name.endsWith('always_off')
      ? new m.AlwaysOffSampler()
      : name.endsWith('traceidratio')
        ? new m.TraceIdRatioBasedSampler(spec.ratio)
        : new m.AlwaysOnSampler();
  return spec.name.startsWith('parentbased_')
    ? new m.ParentBasedSampler({ root: root(spec.name) })
    : root(spec.name);
}

/** How a spec reads in a log line: `parentbased_traceidratio(0.1)`. */
export const describeSampler = (spec: SamplerSpec): string =>
  spec.name.endsWith('traceidratio') ? `${spec.name}(${spec.ratio})` : spec.name;

/**
 * Whether `env` turns tracing on, and with what; undefined when it does not. Pure: reads
 * only `env`.
 */
export function tracingSettings(defaultService: string, env: NodeJS.ProcessEnv): TracingSettings | undefined {
  if ((env.OTEL_SDK_DISABLED ?? '').trim().toLowerCase() === 'true') return undefined;
  const endpoint = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?.trim() || env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim();
  if (!endpoint) return undefined;
  if ((env.OTEL_TRACES_EXPORTER ?? '').trim().toLowerCase() === 'none') return undefined;
  const delay = Number(env.OTEL_BSP_SCHEDULE_DELAY);
  return {
    serviceName: defaultService,
    scheduleDelayMs: Number.isFinite(delay) && delay >= 0 ? delay : 5_000,
    sampler: samplerSpec(env),
  };
}

export interface Tracing {
  /** Whether spans are recorded and exported. */
  readonly enabled: boolean;
  /** The sampler in use (describeSampler), when enabled. */
  readonly sampler?: string;
  /** Why the OTEL_TRACES_SAMPLER* environment was not followed as written. */
  readonly warning?: string;
  /** Export what is buffered, then stop (idempotent). Bounded by `timeoutMs` (default 5 s). */
  shutdown(timeoutMs?: number): Promise<void>;
}

const OFF: Tracing = { enabled: false, shutdown: async () => {} };
let installed: { provider: TracerProvider; tracing: Tracing } | undefined;

/**
 * Set up the process-wide tracer provider when the environment asks for it (see
 * tracingSettings), else do nothing. One provider per process: a second call (the API and a
 * plugin in one `interlink up`) returns the first one's handle.
 */
export async function startTracing(
  defaultService: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<Tracing> {
  if (installed) return installed.tracing;
  const settings = tracingSettings(defaultService, env);
  if (!settings) return OFF;
  const [{ BatchSpanProcessor }, { OTLPTraceExporter }] = await Promise.all([
    import('@opentelemetry/sdk-trace'),
    import('@opentelemetry/exporter-trace-otlp-http'),
  ]);
  const processor = new BatchSpanProcessor({
    exporter: new OTLPTraceExporter(),
    scheduledDelayMillis: settings.scheduleDelayMs,
  });
  return installTracing(settings.serviceName, processor, settings.sampler);
}

/**
 * Install a provider with the given processor (startTracing's OTLP one, or a test's
 * in-memory one). Resource: service.name = `serviceName`, overridden by OTEL_SERVICE_NAME /
 * OTEL_RESOURCE_ATTRIBUTES.
 */
export async function installTracing(
  serviceName: string,
  processor: SpanProcessor,
  sampler: SamplerSpec = { name: 'parentbased_always_on', ratio: 1 },
): Promise<Tracing> {
  if (installed) return installed.tracing;
  const [{ AsyncLocalStorageContextManager }, { W3CTraceContextPropagator }, res, sdk] = await Promise.all([
    import('@opentelemetry/context-async-hooks'),
    import('@opentelemetry/core'),
    import('@opentelemetry/resources'),
    import('@opentelemetry/sdk-trace'),
  ]);
  // Two concurrent first calls: the one that finished loading first wins.
  if (installed) return (installed as { tracing: Tracing }).tracing;
  const { envDetector, resourceFromAttributes } = res;
  const fromEnv = envDetector.detect();
  const resource = resourceFromAttributes({ 'service.name': serviceName }).merge(
    resourceFromAttributes(fromEnv.attributes ?? {}),
  );
  const provider = new sdk.TracerProvider({
    resource,
    spanProcessors: [processor],
    sampler: buildSampler(sampler, sdk),
  });
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  trace.setGlobalTracerProvider(provider);
  let done: Promise<void> | undefined;
  const tracing: Tracing = {
    enabled: true,
    sampler: describeSampler(sampler),
    ...(sampler.warning ? { warning: sampler.warning } : {}),
    shutdown(timeoutMs = 5_000) {
      done ??= Promise.race([
        provider.shutdown().catch(() => {}),
        new Promise<void>((r) => setTimeout(r, timeoutMs).unref()),
      ]);
      return done;
    },
  };
  installed = { provider, tracing };
  return tracing;
}

/** Remove what installTracing set up (tests only: a process keeps one provider). */
export async function uninstallTracing(): Promise<void> {
  const cur = installed;
  installed = undefined;
  trace.disable();
  propagation.disable();
  context.disable();
  await cur?.provider.shutdown().catch(() => {});
}

/** Whether a provider is installed in this process. */
export const tracingOn = (): boolean => installed !== undefined;

export const tracer = (): Tracer => trace.getTracer(SCOPE);

/**
 * Run `fn` inside a new active span: its exception (message only) marks the span as failed,
 * and the span ends when `fn` settles. `fn` may add attributes to the span it is given.
 */
export async function withSpan<T>(
  name: string,
  attributes: Attributes,
  fn: (span: Span) => Promise<T>,
  kind: SpanKind = SpanKind.INTERNAL,
): Promise<T> {
  if (!installed) return fn(trace.wrapSpanContext(INVALID_SPAN_CONTEXT));
  return tracer().startActiveSpan(name, { kind, attributes }, async (span) => {
    try {
      return await fn(span);
    } catch (err) {
      failSpan(span, err);
      throw err;
    } finally {
      span.end();
    }
  });
}

/** Mark a span failed. The message only: error messages here are already free of secrets. */
export function failSpan(span: Span, err: unknown): void {
  const code = (err as { code?: unknown }).code;
  span.setStatus({
    code: SpanStatusCode.ERROR,
    message: (err as Error)?.message?.slice(0, 500) ?? String(err),
  });
  if (typeof code === 'string') span.setAttribute('error.type', code);
}

/** Add `traceparent` (and `tracestate`) of the active span to outgoing headers. */
export function injectTraceHeaders(headers: Record<string, string>, ctx: Context = context.active()): void {
  if (installed) propagation.inject(ctx, headers);
}

/** The context a request's `traceparent` header continues (the active one when absent). */
export function extractTraceContext(headers: Record<string, string | string[] | undefined>): Context {
  return propagation.extract(context.active(), headers);
}

interface PodLike {
  metadata?:
    | { uid?: string | undefined; name?: string | undefined; namespace?: string | undefined }
    | undefined;
}

/** The pod's identity as span attributes (UID, namespace, name); nothing for a pod without metadata. */
export function podAttributes(pod: PodLike | undefined): Attributes {
  const m = pod?.metadata;
  if (!m) return {};
  const out: Attributes = {};
  if (m.uid) out[Attr.podUid] = m.uid;
  if (m.namespace) out[Attr.namespace] = m.namespace;
  if (m.name) out[Attr.podName] = m.name;
  return out;
}

/**
 * Attributes for a call about `pods`: the pod's identity when there is one, else the count
 * and the UIDs (at most 50, so a 5,000-pod status batch stays a small span).
 */
export function podsAttributes(pods: readonly PodLike[]): Attributes {
  if (pods.length === 1) return podAttributes(pods[0]);
  const uids = pods.flatMap((p) => (p.metadata?.uid ? [p.metadata.uid] : [])).slice(0, 50);
  return { [Attr.podCount]: pods.length, ...(uids.length > 0 ? { [Attr.podUid]: uids } : {}) };
}

/**
 * The pods a validated wire body is about, for span attributes: a Pod, a Pod list
 * (/status), a create request (`{pod, ...}`, or a list of them on the plugin wire), or a
 * LogStruct (its PodUID, Namespace, PodName). Pure; anything else is no pod.
 */
export function podsInBody(body: unknown): PodLike[] {
  const one = (x: unknown): PodLike[] => {
    if (typeof x !== 'object' || x === null) return [];
    const o = x as Record<string, unknown>;
    if (typeof o.metadata === 'object' && o.metadata !== null) return [o as PodLike];
    if (typeof o.pod === 'object' && o.pod !== null) return one(o.pod);
    if (typeof o.PodUID === 'string' || typeof o.PodName === 'string') {
      const str = (v: unknown) => (typeof v === 'string' && v !== '' ? v : undefined);
      return [{ metadata: { uid: str(o.PodUID), name: str(o.PodName), namespace: str(o.Namespace) } }];
    }
    return [];
  };
  return Array.isArray(body) ? body.flatMap(one) : one(body);
}

/** The backend job ids in a create answer (`CreateStruct` or a list of them). Pure. */
export function jobIdsIn(payload: unknown): string[] {
  const list = Array.isArray(payload) ? payload : [payload];
  return list.flatMap((x) => {
    const jid = typeof x === 'object' && x !== null ? (x as { PodJID?: unknown }).PodJID : undefined;
    return typeof jid === 'string' && jid !== '' ? [jid] : [];
  });
}

/** Set attributes on the active span, when there is one that records. */
export function annotateActiveSpan(attributes: Attributes): void {
  if (!installed) return;
  const span = trace.getActiveSpan();
  if (span?.isRecording()) span.setAttributes(attributes);
}

/** `trace_id` and `span_id` of the active span, for log lines; empty when none. */
export function traceLogFields(): { trace_id?: string; span_id?: string } {
  if (!installed) return {};
  const span = trace.getActiveSpan();
  if (!span) return {};
  const sc = span.spanContext();
  if (!trace.isSpanContextValid(sc)) return {};
  return { trace_id: sc.traceId, span_id: sc.spanId };
}

export type { SpanExporter };
