/**
 * The kubelet's `/containerLogs` query (as the apiserver forwards `kubectl logs` options)
 * → the interLink `LogStruct`. Pure; validation follows the kubelet's (a bad value is a
 * 400 naming the parameter, never silently ignored).
 */
import { invalidInput } from '../../errors/index.ts';
import type { LogOpts, LogStruct } from '../../wire/interlink.ts';

export type Query = Record<string, string | string[] | undefined>;

/** Go's strconv.ParseBool, which the kubelet's query decoder uses. */
function parseBool(name: string, raw: string): boolean {
  if (['1', 't', 'T', 'true', 'TRUE', 'True'].includes(raw)) return true;
  if (['0', 'f', 'F', 'false', 'FALSE', 'False', ''].includes(raw)) return false;
  throw invalidInput(`query parameter ${name}: "${raw}" is not a boolean`, name);
}

function parseInteger(name: string, raw: string, min: number): number {
  if (!/^-?\d+$/.test(raw)) throw invalidInput(`query parameter ${name}: "${raw}" is not an integer`, name);
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < min)
    throw invalidInput(`query parameter ${name}: must be an integer ≥ ${min}, got ${raw}`, name);
  return n;
}

/** The last value of a repeated parameter wins, as in Go's url.Values decoding into a scalar. */
function one(q: Query, name: string): string | undefined {
  const v = q[name];
  return Array.isArray(v) ? v[v.length - 1] : v;
}

/** Options of `kubectl logs` as the kubelet receives them → `Opts` of the wire. */
export function logOptsFromQuery(q: Query): LogOpts {
  const opts: LogOpts = {};
  const tail = one(q, 'tailLines');
  if (tail !== undefined && tail !== '') opts.Tail = parseInteger('tailLines', tail, 0);
  const limit = one(q, 'limitBytes');
  if (limit !== undefined && limit !== '') {
    const n = parseInteger('limitBytes', limit, 1);
    // Both names: interLink 0.6's Go plugins read Bytes, its Python SDK LimitBytes.
    opts.Bytes = n;
    opts.LimitBytes = n;
  }
  const sinceSeconds = one(q, 'sinceSeconds');
  if (sinceSeconds !== undefined && sinceSeconds !== '')
    opts.SinceSeconds = parseInteger('sinceSeconds', sinceSeconds, 1);
  const sinceTime = one(q, 'sinceTime');
  if (sinceTime !== undefined && sinceTime !== '') {
    const ms = Date.parse(sinceTime);
    if (!/^\d{4}-\d{2}-\d{2}T/.test(sinceTime) || Number.isNaN(ms)) {
      throw invalidInput(`query parameter sinceTime: "${sinceTime}" is not an RFC 3339 time`, 'sinceTime');
    }
    opts.SinceTime = new Date(ms).toISOString().replace(/\.000Z$/, 'Z');
  }
  if (opts.SinceSeconds !== undefined && opts.SinceTime !== undefined) {
    throw invalidInput('query parameters sinceSeconds and sinceTime cannot both be set', 'sinceSeconds');
  }
  for (const [param, field] of [
    ['follow', 'Follow'],
    ['previous', 'Previous'],
    ['timestamps', 'Timestamps'],
  ] as const) {
    const raw = one(q, param);
    if (raw !== undefined && parseBool(param, raw)) opts[field] = true;
  }
  return opts;
}

export interface LogTarget {
  namespace: string;
  podName: string;
  podUid: string;
  container: string;
}

export function logStruct(target: LogTarget, opts: LogOpts): LogStruct {
  return {
    Namespace: target.namespace,
    PodUID: target.podUid,
    PodName: target.podName,
    ContainerName: target.container,
    Opts: opts,
  };
}
