/**
 * Downward API values (fieldRef, resourceFieldRef) and the kubelet's `$(VAR)` expansion,
 * as the kubelet computes them (pkg/fieldpath, pkg/api/v1/resource, third_party
 * forked/golang/expansion). Pure.
 */
import type { KContainer, KPod } from '../pods/kpod.ts';

export interface DownwardContext {
  /** The node's address (status.hostIP / status.podIP: pods run behind it). */
  hostIP?: string | undefined;
  podIP?: string | undefined;
  nodeName: string;
  /** Node allocatable, for limits a container does not set. */
  nodeAllocatable: { cpu: string; memory: string; 'ephemeral-storage'?: string };
}

export class DownwardError extends Error {}

/** Go's strconv.Quote (fmt %q), which FormatMap uses for label/annotation values. */
export function goQuote(s: string): string {
  let out = '"';
  for (const ch of s) {
    const cp = ch.codePointAt(0)!;
    switch (ch) {
      case '"':
        out += '\\"';
        continue;
      case '\\':
        out += '\\\\';
        continue;
      case '\u0007':
        out += '\\a';
        continue;
      case '\b':
        out += '\\b';
        continue;
      case '\f':
        out += '\\f';
        continue;
      case '\n':
        out += '\\n';
        continue;
      case '\r':
        out += '\\r';
        continue;
      case '\t':
        out += '\\t';
        continue;
      case '\v':
        out += '\\v';
        continue;
    }
    if (cp < 0x20 || cp === 0x7f) out += `\\x${cp.toString(16).padStart(2, '0')}`;
    else if ((cp >= 0x80 && cp < 0xa0) || cp === 0xad || cp === 0xfeff || (cp >= 0xd800 && cp <= 0xdfff)) {
      out +=
        cp > 0xffff ? `\\U${cp.toString(16).padStart(8, '0')}` : `\\u${cp.toString(16).padStart(4, '0')}`;
    } else out += ch;
  }
  return `${out}"`;
}

/** `k="v"` lines, keys sorted, no trailing newline (fieldpath.FormatMap). */
export function formatMap(m: Record<string, string> | undefined): string {
  return Object.keys(m ?? {})
    .sort()
    .map((k) => `${k}=${goQuote(m![k]!)}`)
    .join('\n');
}

const SUBSCRIPT = /^metadata\.(labels|annotations)\['(.*)'\]$/;

/**
 * The value of a fieldRef. `allowMaps`: whole `metadata.labels`/`annotations` (only
 * downwardAPI volumes may). Throws DownwardError for an unsupported path.
 */
export function fieldRefValue(pod: KPod, fieldPath: string, ctx: DownwardContext, allowMaps = false): string {
  const m = pod.metadata;
  const sub = SUBSCRIPT.exec(fieldPath);
  if (sub) {
    const map = sub[1] === 'labels' ? m.labels : m.annotations;
    return map?.[sub[2]!] ?? '';
  }
  switch (fieldPath) {
    case 'metadata.name':
      return m.name;
    case 'metadata.namespace':
      return m.namespace;
    case 'metadata.uid':
      return m.uid;
    case 'metadata.labels':
      if (allowMaps) return formatMap(m.labels);
      break;
    case 'metadata.annotations':
      if (allowMaps) return formatMap(m.annotations);
      break;
    case 'spec.nodeName':
      return pod.spec.nodeName ?? ctx.nodeName;
    case 'spec.serviceAccountName':
      return pod.spec.serviceAccountName ?? '';
    case 'status.hostIP':
      return ctx.hostIP ?? pod.status?.hostIP ?? '';
    case 'status.hostIPs':
      return ctx.hostIP ?? (pod.status?.hostIPs ?? []).map((x) => x.ip).join(',');
    case 'status.podIP':
      return ctx.podIP ?? pod.status?.podIP ?? '';
    case 'status.podIPs':
      return ctx.podIP ?? (pod.status?.podIPs ?? []).map((x) => x.ip).join(',');
  }
  throw new DownwardError(`unsupported fieldRef "${fieldPath}"`);
}

const BINARY: Record<string, number> = {
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
};
const DECIMAL: Record<string, number> = {
  n: 1e-9,
  u: 1e-6,
  m: 1e-3,
  '': 1,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
};

/** A Kubernetes quantity ("500m", "1.5Gi", "2e3") as a number. Throws on garbage. */
export function parseQuantity(q: string | number): number {
  if (typeof q === 'number') return q;
  const mm = /^([+-]?(?:\d+\.?\d*|\.\d+))(?:(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E)|[eE]([+-]?\d+))?$/.exec(
    q.trim(),
  );
  if (!mm) throw new DownwardError(`"${q}" is not a quantity`);
  const n = Number(mm[1]);
  if (mm[3] !== undefined) return n * 10 ** Number(mm[3]);
  const suffix = mm[2] ?? '';
  return n * (BINARY[suffix] ?? DECIMAL[suffix] ?? 1);
}

/**
 * resourceFieldRef: `limits.cpu`, `requests.memory`, ... divided by the divisor, rounded
 * up (resource.ExtractContainerResourceValue). A limit the container does not set is the
 * node's allocatable; a request it does not set is 0 (the apiserver defaults requests to
 * limits when only limits are given).
 */
export function resourceFieldValue(
  pod: KPod,
  ref: { resource: string; containerName?: string | undefined; divisor?: string | number | undefined },
  container: KContainer | undefined,
  ctx: DownwardContext,
): string {
  const c = ref.containerName
    ? [...pod.spec.containers, ...(pod.spec.initContainers ?? [])].find((x) => x.name === ref.containerName)
    : container;
  if (!c) throw new DownwardError(`resourceFieldRef: container "${ref.containerName ?? ''}" not found`);
  const [kind, resource] = ref.resource.split('.', 2) as [string, string | undefined];
  if ((kind !== 'limits' && kind !== 'requests') || !resource)
    throw new DownwardError(`unsupported resourceFieldRef "${ref.resource}"`);
  const set = kind === 'limits' ? c.resources?.limits : c.resources?.requests;
  let raw: string | number | undefined = set?.[resource];
  if (raw === undefined) {
    if (kind === 'limits') raw = (ctx.nodeAllocatable as Record<string, string | undefined>)[resource] ?? '0';
    else raw = '0';
  }
  const divisorRaw =
    ref.divisor === undefined || ref.divisor === '' || ref.divisor === '0' ? '1' : ref.divisor;
  const divisor = parseQuantity(divisorRaw);
  if (!(divisor > 0))
    throw new DownwardError(`resourceFieldRef: divisor "${String(ref.divisor)}" must be positive`);
  const value = parseQuantity(raw);
  // Guard against float noise: 0.1/0.001 must be 100, not 100.00000000000001 → 101.
  const ratio = value / divisor;
  const rounded = Math.round(ratio);
  const result = Math.abs(ratio - rounded) < 1e-9 ? rounded : Math.ceil(ratio);
  return String(result);
}

/**
 * The kubelet's `$(VAR)` expansion: `$(NAME)` becomes the value when `lookup` has it, else
 * stays as written; `$$` is an escaped `$`; any other `$` is kept.
 */
export function expand(input: string, lookup: (name: string) => string | undefined): string {
  let out = '';
  let checkpoint = 0;
  for (let cursor = 0; cursor < input.length; cursor++) {
    if (input[cursor] !== '$' || cursor + 1 >= input.length) continue;
    out += input.slice(checkpoint, cursor);
    const rest = input.slice(cursor + 1);
    let advance = 1;
    if (rest[0] === '$') {
      out += '$';
    } else if (rest[0] === '(') {
      const close = rest.indexOf(')', 1);
      if (close > 0) {
        const name = rest.slice(1, close);
        out += lookup(name) ?? `$(${name})`;
        advance = close + 1;
      } else {
        out += '$(';
      }
    } else {
      out += `$${rest[0]}`;
    }
    cursor += advance;
    checkpoint = cursor + 1;
  }
  return out + input.slice(checkpoint);
}
