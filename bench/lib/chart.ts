/**
 * The run's chart: pods by phase over time as stacked areas, hand-written SVG (pure; no
 * dependency). Bottom to top: Deleted, Succeeded, Failed, Running, Scheduled (bound, not
 * running yet), Unscheduled; the top edge is the number of pods created so far.
 */
import type { PhaseCounts } from './tracker.ts';

export interface TimelineSample extends PhaseCounts {
  /** Seconds since the first create request. */
  t: number;
}

export interface ChartOptions {
  title: string;
  subtitle?: string;
  width?: number;
  height?: number;
  /** Vertical markers (seconds), e.g. "all Running". */
  markers?: Array<{ t: number; label: string }>;
  /** Points drawn per series at most (default 240, ~3 px apart): keeps the file small for long runs. */
  maxPoints?: number;
}

const SERIES: Array<{ key: keyof PhaseCounts; label: string; color: string }> = [
  { key: 'deleted', label: 'Deleted', color: '#9e9e9e' },
  { key: 'succeeded', label: 'Succeeded', color: '#2e7d32' },
  { key: 'failed', label: 'Failed', color: '#c62828' },
  { key: 'running', label: 'Running', color: '#1565c0' },
  { key: 'scheduled', label: 'Scheduled', color: '#f9a825' },
  { key: 'unscheduled', label: 'Unscheduled', color: '#ef6c00' },
];

const esc = (s: string) =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** A round step (1, 2 or 5 × 10^k) giving about `target` ticks up to `max`. */
export function niceStep(max: number, target = 6): number {
  if (!(max > 0)) return 1;
  const raw = max / target;
  const pow = 10 ** Math.floor(Math.log10(raw));
  const m = raw / pow;
  return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * pow;
}

/**
 * At most `max` samples, evenly spaced by index, always the first and the last (pure). A
 * run's phases change smoothly at the 0.5 s sampling interval, so the curve keeps its shape.
 */
export function thin<T>(samples: readonly T[], max: number): T[] {
  if (samples.length <= max || max < 2) return [...samples];
  const step = (samples.length - 1) / (max - 1);
  return Array.from({ length: max }, (_, i) => samples[Math.round(i * step)]!);
}

const fmt = (n: number) => (Number.isInteger(n) ? String(n) : n.toFixed(1));

export function renderChart(all: readonly TimelineSample[], opts: ChartOptions): string {
  const samples = thin(all, opts.maxPoints ?? 240);
  const width = opts.width ?? 960;
  const height = opts.height ?? 440;
  const m = { left: 64, right: 150, top: 56, bottom: 48 };
  const pw = width - m.left - m.right;
  const ph = height - m.top - m.bottom;
  const tMax = Math.max(1, ...samples.map((s) => s.t));
  const stackTop = (s: TimelineSample) => SERIES.reduce((sum, ser) => sum + s[ser.key], 0);
  const yMax = Math.max(1, ...samples.map(stackTop));
  const xStep = niceStep(tMax);
  const yStep = niceStep(yMax, 5);
  const yTop = Math.ceil(yMax / yStep) * yStep;
  const x = (t: number) => m.left + (t / tMax) * pw;
  const y = (v: number) => m.top + ph - (v / yTop) * ph;
  const r = (n: number) => Math.round(n * 10) / 10;

  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text x="${m.left}" y="22" font-size="16" font-weight="bold">${esc(opts.title)}</text>`,
  );
  if (opts.subtitle) out.push(`<text x="${m.left}" y="40" fill="#555">${esc(opts.subtitle)}</text>`);

  // Grid and axes.
  for (let v = 0; v <= yTop + 1e-9; v += yStep) {
    out.push(
      `<line x1="${m.left}" x2="${m.left + pw}" y1="${r(y(v))}" y2="${r(y(v))}" stroke="#e0e0e0"/>`,
      `<text x="${m.left - 6}" y="${r(y(v)) + 4}" text-anchor="end">${fmt(v)}</text>`,
    );
  }
  for (let t = 0; t <= tMax + 1e-9; t += xStep) {
    out.push(
      `<line x1="${r(x(t))}" x2="${r(x(t))}" y1="${m.top}" y2="${m.top + ph}" stroke="#f0f0f0"/>`,
      `<text x="${r(x(t))}" y="${m.top + ph + 16}" text-anchor="middle">${fmt(t)}</text>`,
    );
  }
  out.push(
    `<text x="${m.left + pw / 2}" y="${height - 10}" text-anchor="middle">seconds since the first create</text>`,
    `<text transform="translate(16 ${m.top + ph / 2}) rotate(-90)" text-anchor="middle">pods</text>`,
  );

  // Stacked areas: each series between the running sum below it and that sum plus itself.
  if (samples.length > 0) {
    const base = samples.map(() => 0);
    for (const ser of SERIES) {
      const top = samples.map((s, i) => base[i]! + s[ser.key]);
      const upper = samples.map((s, i) => `${r(x(s.t))},${r(y(top[i]!))}`);
      const lower = samples.map((s, i) => `${r(x(s.t))},${r(y(base[i]!))}`).reverse();
      out.push(
        `<polygon points="${[...upper, ...lower].join(' ')}" fill="${ser.color}" fill-opacity="0.85" stroke="none"><title>${ser.label}</title></polygon>`,
      );
      for (let i = 0; i < base.length; i++) base[i] = top[i]!;
    }
  }
  out.push(`<rect x="${m.left}" y="${m.top}" width="${pw}" height="${ph}" fill="none" stroke="#444"/>`);

  // Labels one under the other (markers are often close), on the side with room.
  (opts.markers ?? [])
    .filter((mk) => mk.t >= 0 && mk.t <= tMax)
    .forEach((mk, i) => {
      const right = x(mk.t) > m.left + pw * 0.8;
      out.push(
        `<line x1="${r(x(mk.t))}" x2="${r(x(mk.t))}" y1="${m.top}" y2="${m.top + ph}" stroke="#000" stroke-dasharray="4 3"/>`,
        `<text x="${r(x(mk.t)) + (right ? -3 : 3)}" y="${m.top + 12 + i * 14}" font-size="11"${right ? ' text-anchor="end"' : ''}>${esc(mk.label)}</text>`,
      );
    });

  // Legend, top series first (as stacked).
  [...SERIES].reverse().forEach((ser, i) => {
    const ly = m.top + 8 + i * 20;
    out.push(
      `<rect x="${m.left + pw + 16}" y="${ly}" width="12" height="12" fill="${ser.color}"/>`,
      `<text x="${m.left + pw + 34}" y="${ly + 10}">${ser.label}</text>`,
    );
  });
  out.push('</svg>', '');
  return out.join('\n');
}
