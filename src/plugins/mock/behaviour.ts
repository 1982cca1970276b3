/**
 * How a mock pod behaves, read from its annotations (pure; table-tested).
 *
 * Annotations (prefix `mock.interlink.io/`). Keys marked * also exist per container as
 * `<key>.<container>`, which wins over the pod-level key for that container:
 *
 *   start-delay        time from create until the first container starts      (default: config startDelay)
 *   run-time*          how long an app container runs; "forever" = until the pod is deleted,
 *                      like a server                                          (default: config runTime)
 *   init-run-time      how long each init container runs                     (default: config initRunTime)
 *   exit-code*         exit code when an app container ends, 0-255            (default: config exitCode)
 *   log-lines*         number of log lines a container writes                 (default: config logLines)
 *   log-interval*      time between two log lines; the first comes at start   (default: config logInterval)
 *   create-error       create fails with this message; a leading "CODE: " picks the error code
 *                      (INVALID_INPUT → 400, UNAVAILABLE → 503, ...; default BACKEND → 502)
 *   create-error-times only the first N create calls of the pod UID fail       (default: every call)
 *
 * Pod-level run-time and exit-code apply to app containers only; an init container takes
 * `init-run-time` and exits 0 unless its own `run-time.<name>` / `exit-code.<name>` says
 * otherwise. Durations are Go-style: "500ms", "2s", "1m30s", "1.5h", "0".
 * An unknown `mock.interlink.io/` key, a suffix naming no container, or a bad value makes
 * create fail with INVALID_INPUT naming the annotation (typos must not pass silently).
 */
import { ErrorCode, InterlinkError, invalidInput } from '../../errors/index.ts';

export const ANNOTATION_PREFIX = 'mock.interlink.io/';

/** Defaults for pods without annotations (from the plugin's configuration). */
export interface MockDefaults {
  startDelayMs: number;
  /** undefined = app containers run until the pod is deleted. */
  runTimeMs: number | undefined;
  initRunTimeMs: number;
  exitCode: number;
  logLines: number;
  logIntervalMs: number;
}

export const DEFAULT_BEHAVIOUR: MockDefaults = {
  startDelayMs: 1000,
  runTimeMs: undefined,
  initRunTimeMs: 1000,
  exitCode: 0,
  logLines: 10,
  logIntervalMs: 1000,
};

export interface ContainerBehaviour {
  name: string;
  image: string;
  init: boolean;
  /** undefined = runs until the pod is deleted. */
  runTimeMs: number | undefined;
  exitCode: number;
  logLines: number;
  logIntervalMs: number;
}

export interface CreateErrorSpec {
  code: ErrorCode;
  message: string;
  /** Fail only this many create calls; undefined = every call. */
  times: number | undefined;
}

export interface PodBehaviour {
  startDelayMs: number;
  createError: CreateErrorSpec | undefined;
  /** Init containers first, in order, then app containers. */
  containers: ContainerBehaviour[];
}

export interface PodShape {
  metadata: { annotations?: Record<string, string> | undefined };
  spec?:
    | {
        containers: Array<{ name: string; image?: string | undefined }>;
        initContainers?: Array<{ name: string; image?: string | undefined }> | null | undefined;
      }
    | undefined;
}

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
const MAX_DURATION_MS = 365 * 24 * 3_600_000;

/**
 * A Go-style duration ("1m30s", "500ms", "0") in milliseconds. Throws an Error whose
 * message says what is accepted; callers add which key it came from.
 */
export function parseDuration(text: string): number {
  const s = text.trim();
  if (s === '0') return 0;
  if (s === '') throw new Error('empty duration (use e.g. "500ms", "2s", "1m30s")');
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h)/y;
  let total = 0;
  let pos = 0;
  while (pos < s.length) {
    re.lastIndex = pos;
    const m = re.exec(s);
    if (!m) {
      const bare = /^\d+(\.\d+)?$/.test(s);
      throw new Error(
        bare
          ? `duration "${text}" has no unit (use ms, s, m or h, e.g. "${s}s")`
          : `"${text}" is not a duration (use e.g. "500ms", "2s", "1m30s"; no negative values)`,
      );
    }
    total += Number(m[1]) * UNITS[m[2]!]!;
    pos = re.lastIndex;
  }
  if (!Number.isFinite(total) || total > MAX_DURATION_MS)
    throw new Error(`duration "${text}" is longer than a year`);
  return Math.round(total);
}

function parseInt0(text: string, min: number, max: number): number {
  const s = text.trim();
  if (!/^\d+$/.test(s)) throw new Error(`"${text}" is not a whole number between ${min} and ${max}`);
  const n = Number(s);
  if (n < min || n > max) throw new Error(`${n} is out of range (${min}-${max})`);
  return n;
}

/** A run time: a duration, or "forever" (undefined). */
export const parseRunTime = (text: string): number | undefined =>
  text.trim() === 'forever' ? undefined : parseDuration(text);

/** Keys and which ones take a `.<container>` suffix. */
const POD_KEYS = new Set(['start-delay', 'init-run-time', 'create-error', 'create-error-times']);
const CONTAINER_KEYS = new Set(['run-time', 'exit-code', 'log-lines', 'log-interval']);

function fieldOf(key: string): string {
  return `pod.metadata.annotations["${key}"]`;
}

/** Run `parse` on an annotation value, turning its error into INVALID_INPUT naming the key. */
function read<T>(annotations: Record<string, string>, key: string, parse: (v: string) => T): T | undefined {
  const full = ANNOTATION_PREFIX + key;
  const value = annotations[full];
  if (value === undefined) return undefined;
  try {
    return parse(value);
  } catch (err) {
    throw invalidInput(`annotation ${full}: ${(err as Error).message}`, fieldOf(full));
  }
}

export function parseCreateError(text: string): { code: ErrorCode; message: string } {
  const m = /^([A-Z_]+):\s*(.*)$/s.exec(text.trim());
  if (m && m[1]! in ErrorCode)
    return { code: m[1] as ErrorCode, message: m[2] || `create refused (${m[1]})` };
  return { code: ErrorCode.BACKEND, message: text.trim() || 'create refused' };
}

/**
 * The behaviour of one pod. Throws INVALID_INPUT (with the annotation as `field`) for an
 * unknown key, a suffix that names no container, or a bad value.
 */
export function parseBehaviour(pod: PodShape, defaults: MockDefaults = DEFAULT_BEHAVIOUR): PodBehaviour {
  const annotations = pod.metadata.annotations ?? {};
  const init = pod.spec?.initContainers ?? [];
  const app = pod.spec?.containers ?? [];
  const names = new Set([...init, ...app].map((c) => c.name));

  for (const full of Object.keys(annotations)) {
    if (!full.startsWith(ANNOTATION_PREFIX)) continue;
    const key = full.slice(ANNOTATION_PREFIX.length);
    const dot = key.indexOf('.');
    const base = dot < 0 ? key : key.slice(0, dot);
    const container = dot < 0 ? undefined : key.slice(dot + 1);
    const known =
      container === undefined ? POD_KEYS.has(base) || CONTAINER_KEYS.has(base) : CONTAINER_KEYS.has(base);
    if (!known) {
      const accepted = [
        ...POD_KEYS,
        ...CONTAINER_KEYS,
        ...[...CONTAINER_KEYS].map((k) => `${k}.<container>`),
      ];
      throw invalidInput(
        `annotation ${full}: unknown mock key (accepted: ${accepted.join(', ')})`,
        fieldOf(full),
      );
    }
    if (container !== undefined && !names.has(container)) {
      throw invalidInput(
        `annotation ${full}: the pod has no container "${container}" (containers: ${[...names].join(', ')})`,
        fieldOf(full),
      );
    }
  }

  const startDelayMs = read(annotations, 'start-delay', parseDuration) ?? defaults.startDelayMs;
  const initRunTimeMs = read(annotations, 'init-run-time', parseDuration) ?? defaults.initRunTimeMs;
  // "forever" parses to undefined, so whether the key is present is tracked apart.
  const podRunTime = read(annotations, 'run-time', parseRunTime);
  const podRunTimeSet = annotations[`${ANNOTATION_PREFIX}run-time`] !== undefined;
  const podExitCode = read(annotations, 'exit-code', (v) => parseInt0(v, 0, 255));
  const podLogLines = read(annotations, 'log-lines', (v) => parseInt0(v, 0, 1_000_000));
  const podLogInterval = read(annotations, 'log-interval', parseDuration);

  const one = (c: { name: string; image?: string | undefined }, isInit: boolean): ContainerBehaviour => {
    const own = <T>(key: string, parse: (v: string) => T) => read(annotations, `${key}.${c.name}`, parse);
    const ownRunTime = own('run-time', parseRunTime);
    const hasOwnRunTime = annotations[`${ANNOTATION_PREFIX}run-time.${c.name}`] !== undefined;
    return {
      name: c.name,
      image: c.image ?? '',
      init: isInit,
      runTimeMs: hasOwnRunTime
        ? ownRunTime
        : isInit
          ? initRunTimeMs
          : podRunTimeSet
            ? podRunTime
            : defaults.runTimeMs,
      exitCode:
        own('exit-code', (v) => parseInt0(v, 0, 255)) ?? (isInit ? 0 : (podExitCode ?? defaults.exitCode)),
      logLines: own('log-lines', (v) => parseInt0(v, 0, 1_000_000)) ?? podLogLines ?? defaults.logLines,
      logIntervalMs: own('log-interval', parseDuration) ?? podLogInterval ?? defaults.logIntervalMs,
    };
  };

  let createError: CreateErrorSpec | undefined;
  const ce = annotations[`${ANNOTATION_PREFIX}create-error`];
  if (ce !== undefined) {
    const times = read(annotations, 'create-error-times', (v) => parseInt0(v, 1, 1_000_000));
    createError = { ...parseCreateError(ce), times };
  } else if (annotations[`${ANNOTATION_PREFIX}create-error-times`] !== undefined) {
    const full = `${ANNOTATION_PREFIX}create-error-times`;
    throw invalidInput(`annotation ${full}: needs ${ANNOTATION_PREFIX}create-error as well`, fieldOf(full));
  }

  return {
    startDelayMs,
    createError,
    containers: [...init.map((c) => one(c, true)), ...app.map((c) => one(c, false))],
  };
}

/** The error a create-error spec raises. */
export function createErrorOf(spec: CreateErrorSpec): InterlinkError {
  return new InterlinkError(spec.code, spec.message);
}
