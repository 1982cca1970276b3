/**
 * Container probes (readiness, liveness, startup) as the kubelet runs them, as pure data and
 * a pure state machine shared by the plugins. A plugin parses the probes of a container with
 * `probesOf`, keeps one `ContainerProbes` per running container instance (reset when the
 * container starts again), asks `dueProbes` what to run at a time, feeds each result to
 * `recordResult`, and reads `verdictOf` for `ready`, `started` and whether to kill the
 * container. Time is a number of milliseconds handed in by the caller (its Clock).
 *
 * Kubelet semantics kept here (pkg/kubelet/prober/worker.go): readiness starts as failure,
 * liveness as success, startup as unknown; liveness and readiness do not run until the
 * startup probe succeeded; a result flips only after `successThreshold` consecutive
 * successes or `failureThreshold` consecutive failures; a liveness or startup failure kills
 * the container, and its probes start over when the container starts again.
 *
 * Probe fields come from the pod author: the command is argv (never shell text), ports are
 * numbers 1..65535 (named ports resolved against the container's own ports), the path must
 * start with "/", and a `host` other than the pod's own address is refused (the plugin would
 * otherwise connect anywhere on the site's network on the author's behalf).
 */
import { z } from 'zod';
import { ProcessString } from '../../wire/k8s.ts';

export type ProbeKind = 'startup' | 'liveness' | 'readiness';
export const PROBE_KINDS: readonly ProbeKind[] = ['startup', 'liveness', 'readiness'];

export type ProbeHandler =
  | { type: 'exec'; command: string[] }
  | {
      type: 'httpGet';
      port: number;
      path: string;
      scheme: 'HTTP' | 'HTTPS';
      headers: Array<[string, string]>;
    }
  | { type: 'tcpSocket'; port: number }
  | { type: 'grpc'; port: number; service: string }
  | { type: 'sleep'; seconds: number }
  /** A probe the plugin cannot run: it always fails with `reason` (a fixed text, no pod value). */
  | { type: 'invalid'; reason: string };

export interface ProbeSpec {
  kind: ProbeKind;
  handler: ProbeHandler;
  initialDelayMs: number;
  periodMs: number;
  timeoutMs: number;
  successThreshold: number;
  failureThreshold: number;
}

/** Kubernetes' defaults (core/v1 Probe). */
export const PROBE_DEFAULTS = {
  initialDelaySeconds: 0,
  periodSeconds: 10,
  timeoutSeconds: 1,
  successThreshold: 1,
  failureThreshold: 3,
} as const;

const Opt = <T extends z.ZodType>(t: T) => t.nullish().transform((v) => v ?? undefined);
const IntOrString = z.union([z.number().int(), z.string()]);
const Seconds = Opt(z.number().int().min(0));

const HandlerFields = {
  exec: Opt(z.looseObject({ command: Opt(z.array(ProcessString)) })),
  httpGet: Opt(
    z.looseObject({
      host: Opt(z.string()),
      port: IntOrString,
      path: Opt(z.string()),
      scheme: Opt(z.string()),
      httpHeaders: Opt(z.array(z.looseObject({ name: z.string(), value: z.string() }))),
    }),
  ),
  tcpSocket: Opt(z.looseObject({ host: Opt(z.string()), port: IntOrString })),
  grpc: Opt(z.looseObject({ port: z.number().int(), service: Opt(z.string()) })),
  sleep: Opt(z.looseObject({ seconds: z.number().int() })),
};

const RawProbe = z.looseObject({
  ...HandlerFields,
  initialDelaySeconds: Seconds,
  periodSeconds: Seconds,
  timeoutSeconds: Seconds,
  successThreshold: Seconds,
  failureThreshold: Seconds,
});
type RawHandler = { [K in keyof typeof HandlerFields]?: z.output<(typeof HandlerFields)[K]> };

const RawContainer = z.looseObject({
  ports: Opt(z.array(z.looseObject({ name: Opt(z.string()), containerPort: z.number().int() }))),
  startupProbe: Opt(z.unknown()),
  livenessProbe: Opt(z.unknown()),
  readinessProbe: Opt(z.unknown()),
  lifecycle: Opt(z.looseObject({ postStart: Opt(z.unknown()), preStop: Opt(z.unknown()) })),
});

const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const invalid = (reason: string): ProbeHandler => ({ type: 'invalid', reason });

function portOf(p: number | string, ports: Array<{ name?: string | undefined; containerPort: number }>) {
  const n = typeof p === 'number' ? p : ports.find((q) => q.name === p)?.containerPort;
  return n !== undefined && Number.isInteger(n) && n >= 1 && n <= 65535 ? n : undefined;
}

/** One handler (probe or hook); `allowSleep` for hooks only. Pure. */
export function handlerOf(
  raw: RawHandler,
  ports: Array<{ name?: string | undefined; containerPort: number }>,
  allowSleep: boolean,
): ProbeHandler | undefined {
  if (raw.exec) {
    const command = raw.exec.command ?? [];
    return command.length > 0 ? { type: 'exec', command } : invalid('exec has no command');
  }
  if (raw.httpGet) {
    const h = raw.httpGet;
    if (h.host) return invalid('httpGet.host is not supported (only the pod address is probed)');
    const port = portOf(h.port, ports);
    if (port === undefined) return invalid('httpGet.port is not a port of the container');
    const path = h.path || '/';
    if (!path.startsWith('/') || /[\s\0]/.test(path))
      return invalid('httpGet.path must start with "/" and hold no blank');
    const scheme = (h.scheme ?? 'HTTP').toUpperCase();
    if (scheme !== 'HTTP' && scheme !== 'HTTPS') return invalid('httpGet.scheme must be HTTP or HTTPS');
    const headers: Array<[string, string]> = [];
    for (const x of h.httpHeaders ?? []) {
      if (!HEADER_NAME.test(x.name) || /[\r\n\0]/.test(x.value))
        return invalid('httpGet.httpHeaders holds an invalid header');
      headers.push([x.name, x.value]);
    }
    return { type: 'httpGet', port, path, scheme, headers };
  }
  if (raw.tcpSocket) {
    if (raw.tcpSocket.host)
      return invalid('tcpSocket.host is not supported (only the pod address is probed)');
    const port = portOf(raw.tcpSocket.port, ports);
    return port === undefined
      ? invalid('tcpSocket.port is not a port of the container')
      : { type: 'tcpSocket', port };
  }
  if (raw.grpc) {
    const port = portOf(raw.grpc.port, ports);
    return port === undefined
      ? invalid('grpc.port is not a valid port')
      : { type: 'grpc', port, service: raw.grpc.service ?? '' };
  }
  if (raw.sleep && allowSleep) {
    const s = raw.sleep.seconds;
    return s >= 0 ? { type: 'sleep', seconds: s } : invalid('sleep.seconds must not be negative');
  }
  return undefined;
}

const FIELD: Record<ProbeKind, 'startupProbe' | 'livenessProbe' | 'readinessProbe'> = {
  startup: 'startupProbe',
  liveness: 'livenessProbe',
  readiness: 'readinessProbe',
};

/**
 * The probes of one container (a raw v1.Container), with Kubernetes' defaults. A probe whose
 * fields are malformed becomes an `invalid` probe that always fails with a fixed message:
 * the pod then shows why it is not ready instead of being refused. Pure.
 */
export function probesOf(container: unknown): ProbeSpec[] {
  const c = RawContainer.safeParse(container);
  if (!c.success) return [];
  const ports = c.data.ports ?? [];
  const out: ProbeSpec[] = [];
  for (const kind of PROBE_KINDS) {
    const raw = c.data[FIELD[kind]];
    if (raw === undefined) continue;
    const p = RawProbe.safeParse(raw);
    if (!p.success) {
      out.push(specOf(kind, {}, invalid(`${FIELD[kind]} is malformed`)));
      continue;
    }
    const handler = handlerOf(p.data, ports, false) ?? invalid(`${FIELD[kind]} has no supported handler`);
    out.push(specOf(kind, p.data, handler));
  }
  return out;
}

function specOf(kind: ProbeKind, p: Partial<z.output<typeof RawProbe>>, handler: ProbeHandler): ProbeSpec {
  const d = PROBE_DEFAULTS;
  const pos = (v: number | undefined, def: number) => (v !== undefined && v > 0 ? v : def);
  return {
    kind,
    handler,
    initialDelayMs: (p.initialDelaySeconds ?? d.initialDelaySeconds) * 1000,
    periodMs: pos(p.periodSeconds, d.periodSeconds) * 1000,
    timeoutMs: pos(p.timeoutSeconds, d.timeoutSeconds) * 1000,
    // Kubernetes requires 1 for liveness and startup probes.
    successThreshold: kind === 'readiness' ? pos(p.successThreshold, d.successThreshold) : 1,
    failureThreshold: pos(p.failureThreshold, d.failureThreshold),
  };
}

export interface Hooks {
  postStart?: ProbeHandler;
  preStop?: ProbeHandler;
}

/** The lifecycle hooks of one container (exec, httpGet, sleep). Pure. */
export function hooksOf(container: unknown): Hooks {
  const c = RawContainer.safeParse(container);
  if (!c.success || !c.data.lifecycle) return {};
  const ports = c.data.ports ?? [];
  const out: Hooks = {};
  for (const name of ['postStart', 'preStop'] as const) {
    const raw = c.data.lifecycle[name];
    if (raw === undefined) continue;
    const p = z.looseObject(HandlerFields).safeParse(raw);
    const h = p.success ? handlerOf(p.data, ports, true) : invalid(`${name} is malformed`);
    if (h)
      out[name] = h.type === 'tcpSocket' || h.type === 'grpc' ? invalid(`${name}: unsupported handler`) : h;
  }
  return out;
}

/** The app containers of a pod spec with a preStop hook, by name. Pure. */
export function preStopHooks(pod: { spec?: unknown }): Map<string, ProbeHandler> {
  const out = new Map<string, ProbeHandler>();
  const containers = ((pod.spec ?? {}) as { containers?: unknown[] }).containers ?? [];
  for (const c of containers) {
    const name = (c as { name?: unknown })?.name;
    const h = hooksOf(c).preStop;
    if (typeof name === 'string' && h) out.set(name, h);
  }
  return out;
}

// ---- the state machine -----------------------------------------------------------------

export type ProbeResult = 'success' | 'failure' | 'unknown';

export interface ProbeState {
  result: ProbeResult;
  /** Consecutive successes / failures of the last runs. */
  successes: number;
  failures: number;
  /** When the next run is due (ms). */
  nextAt: number;
}

/** Per running container instance: reset (a new one) when the container starts again. */
export interface ContainerProbes {
  /** The container instance's start time (ms), the origin of `initialDelaySeconds`. */
  startedAt: number;
  states: Partial<Record<ProbeKind, ProbeState>>;
}

const INITIAL: Record<ProbeKind, ProbeResult> = {
  startup: 'unknown',
  liveness: 'success',
  readiness: 'failure',
};

export function initialProbes(specs: readonly ProbeSpec[], startedAt: number): ContainerProbes {
  const states: ContainerProbes['states'] = {};
  for (const s of specs)
    states[s.kind] = {
      result: INITIAL[s.kind],
      successes: 0,
      failures: 0,
      nextAt: startedAt + s.initialDelayMs,
    };
  return { startedAt, states };
}

const specFor = (specs: readonly ProbeSpec[], kind: ProbeKind) => specs.find((s) => s.kind === kind);

/** Started: no startup probe, or it succeeded. */
export function isStarted(specs: readonly ProbeSpec[], cp: ContainerProbes): boolean {
  return !specFor(specs, 'startup') || cp.states.startup?.result === 'success';
}

/**
 * The probes due at `now`, in the order the kubelet's workers would act on them. Liveness
 * and readiness wait for the startup probe; the startup probe stops once it succeeded; a
 * container already condemned (a liveness or startup failure) runs nothing more. Pure.
 */
export function dueProbes(specs: readonly ProbeSpec[], cp: ContainerProbes, now: number): ProbeKind[] {
  if (verdictOf(specs, cp).kill) return [];
  const started = isStarted(specs, cp);
  const out: ProbeKind[] = [];
  for (const s of specs) {
    const st = cp.states[s.kind];
    if (!st || st.nextAt > now) continue;
    if (s.kind === 'startup' ? started : !started) continue;
    out.push(s.kind);
  }
  return out;
}

/** The earliest time any probe of this container is due, if one ever is. Pure. */
export function nextDue(specs: readonly ProbeSpec[], cp: ContainerProbes): number | undefined {
  if (verdictOf(specs, cp).kill) return undefined;
  const started = isStarted(specs, cp);
  let min: number | undefined;
  for (const s of specs) {
    if (s.kind === 'startup' ? started : !started) continue;
    const at = cp.states[s.kind]?.nextAt;
    if (at !== undefined && (min === undefined || at < min)) min = at;
  }
  return min;
}

/**
 * Apply one run's outcome (finished at `now`): thresholds decide when the result flips; the
 * next run is one period later. Returns a new ContainerProbes. Pure.
 */
export function recordResult(
  specs: readonly ProbeSpec[],
  cp: ContainerProbes,
  kind: ProbeKind,
  ok: boolean,
  now: number,
): ContainerProbes {
  const spec = specFor(specs, kind);
  const st = cp.states[kind];
  if (!spec || !st) return cp;
  const successes = ok ? st.successes + 1 : 0;
  const failures = ok ? 0 : st.failures + 1;
  let result = st.result;
  if (ok && successes >= spec.successThreshold) result = 'success';
  if (!ok && failures >= spec.failureThreshold) result = 'failure';
  return {
    ...cp,
    states: { ...cp.states, [kind]: { result, successes, failures, nextAt: now + spec.periodMs } },
  };
}

export interface Verdict {
  started: boolean;
  ready: boolean;
  /** The container must be killed (and restarted as its restartPolicy says). */
  kill?: { kind: 'liveness' | 'startup'; message: string };
}

/** What the probes say about a running container. Pure. */
export function verdictOf(specs: readonly ProbeSpec[], cp: ContainerProbes): Verdict {
  for (const kind of ['startup', 'liveness'] as const) {
    if (specFor(specs, kind) && cp.states[kind]?.result === 'failure') {
      const what = kind === 'startup' ? 'startup' : 'liveness';
      return {
        started: false,
        ready: false,
        kill: { kind, message: `Container failed ${what} probe, will be restarted` },
      };
    }
  }
  const started = isStarted(specs, cp);
  const readiness = specFor(specs, 'readiness');
  const ready = started && (!readiness || cp.states.readiness?.result === 'success');
  return { started, ready };
}

/** The kubelet's Event message prefix for a failed probe run. */
export function failureMessage(kind: ProbeKind, detail: string): string {
  const title = kind === 'startup' ? 'Startup' : kind === 'liveness' ? 'Liveness' : 'Readiness';
  return `${title} probe failed: ${clip(detail)}`;
}

/** Probe output ends up in an Event: one line, bounded. */
export function clip(s: string, max = 200): string {
  const one = s.replace(/[\r\n\t]+/g, ' ').trim();
  return one.length > max ? `${one.slice(0, max)}…` : one;
}
