/**
 * Prometheus text exposition (format 0.0.4) → samples, and the arithmetic the benchmark
 * does on counters: before/after differences grouped by some labels. Pure.
 */

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const UNESCAPE: Record<string, string> = { '\\\\': '\\', '\\"': '"', '\\n': '\n' };

function parseLabels(text: string, line: string): Record<string, string> {
  const labels: Record<string, string> = {};
  const re = /\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*,?/y;
  let pos = 0;
  while (pos < text.length) {
    re.lastIndex = pos;
    const m = re.exec(text);
    if (!m) throw new Error(`malformed labels in metrics line: ${line}`);
    labels[m[1]!] = m[2]!.replace(/\\[\\"n]/g, (e) => UNESCAPE[e]!);
    pos = re.lastIndex;
  }
  return labels;
}

/** Every sample of a scrape; comments and blank lines are skipped. Throws on a malformed line. */
export function parsePrometheus(text: string): Sample[] {
  const out: Sample[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+-?\d+)?$/.exec(line);
    if (!m) throw new Error(`malformed metrics line: ${line}`);
    const value = m[3] === '+Inf' ? Infinity : m[3] === '-Inf' ? -Infinity : Number(m[3]);
    out.push({ name: m[1]!, labels: m[2] ? parseLabels(m[2], line) : {}, value });
  }
  return out;
}

/**
 * Sum of the samples named `name`, grouped by the values of `by` (joined with ` `), with
 * an optional filter. A label that is absent counts as "".
 */
export function sumBy(
  samples: readonly Sample[],
  name: string,
  by: readonly string[],
  filter: (labels: Record<string, string>) => boolean = () => true,
): Map<string, number> {
  const out = new Map<string, number>();
  for (const s of samples) {
    if (s.name !== name || !filter(s.labels)) continue;
    const key = by.map((l) => s.labels[l] ?? '').join(' ');
    out.set(key, (out.get(key) ?? 0) + s.value);
  }
  return out;
}

/**
 * after − before per key, dropping keys that did not grow. A counter that went down (the
 * process restarted) counts from zero: its after value is the increase.
 */
export function counterDelta(before: Map<string, number>, after: Map<string, number>): Map<string, number> {
  const out = new Map<string, number>();
  for (const [key, a] of after) {
    const b = before.get(key) ?? 0;
    const d = a >= b ? a - b : a;
    if (d > 0) out.set(key, d);
  }
  return out;
}

/** The sum of a map's values. */
export const total = (m: Map<string, number>) => [...m.values()].reduce((s, v) => s + v, 0);
