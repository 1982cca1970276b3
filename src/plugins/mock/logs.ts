/**
 * A mock container's log and the kubelet's log options, as pure functions (table-tested).
 *
 * A container writes `log-lines` lines, `<container> line <n>` (n from 1), the first when
 * it starts and then one every `log-interval`, and none after it ends. Nothing is stored:
 * the lines a caller may see are computed from the plan and the current time.
 *
 * Options follow the kubelet (and interLink 0.6's ContainerLogOpts, where 0 means unset):
 * since (SinceSeconds and SinceTime; the later wins) keeps lines at or after the instant,
 * i.e. NEWER than now − SinceSeconds (the predecessor had this inverted); Tail then keeps
 * the last N; Timestamps prefixes each line with its time in RFC 3339 with nanoseconds
 * (the kubelet's fixed 9-digit form) and a space; the byte limit (`Bytes`, or
 * `LimitBytes`) cuts the output after that many bytes, mid-line if need be, as the kubelet does.
 */
import { byteLimit, type LogOpts } from '../../wire/interlink.ts';

/** What a container's log needs from its plan. */
export interface LineSource {
  name: string;
  startAt: number | undefined;
  finishAt: number | undefined;
  logLines: number;
  logIntervalMs: number;
}

export interface LogQuery {
  /** Keep lines written at or after this instant (ms). */
  sinceMs: number | undefined;
  tail: number | undefined;
  limitBytes: number | undefined;
  timestamps: boolean;
  follow: boolean;
  previous: boolean;
}

/** Go's zero time.Time, which interLink 0.6 VKs send for "no SinceTime". */
const GO_ZERO_TIME = Date.parse('0001-01-01T00:00:00Z');

export function logQuery(opts: LogOpts, now: number): LogQuery {
  const positive = (n: number | undefined) => (n !== undefined && n > 0 ? n : undefined);
  let sinceMs: number | undefined;
  const seconds = positive(opts.SinceSeconds);
  if (seconds !== undefined) sinceMs = now - seconds * 1000;
  if (opts.SinceTime) {
    const t = Date.parse(opts.SinceTime);
    if (Number.isFinite(t) && t > GO_ZERO_TIME) sinceMs = sinceMs === undefined ? t : Math.max(sinceMs, t);
  }
  return {
    sinceMs,
    tail: positive(opts.Tail),
    limitBytes: positive(byteLimit(opts)),
    timestamps: opts.Timestamps === true,
    follow: opts.Follow === true,
    previous: opts.Previous === true,
  };
}

export function lineTime(src: LineSource, i: number): number {
  return (src.startAt ?? Number.POSITIVE_INFINITY) + i * src.logIntervalMs;
}

export function lineText(src: LineSource, i: number): string {
  return `${src.name} line ${i + 1}`;
}

/** How many lines the container has written by `now`. */
export function producedCount(src: LineSource, now: number): number {
  if (src.startAt === undefined || src.logLines === 0) return 0;
  const until = Math.min(now, src.finishAt ?? Number.POSITIVE_INFINITY);
  if (until < src.startAt) return 0;
  if (src.logIntervalMs === 0) return src.logLines;
  return Math.min(src.logLines, Math.floor((until - src.startAt) / src.logIntervalMs) + 1);
}

/** The lines [from, to) a non-following read returns at `now`, after since and tail. */
export function selectRange(src: LineSource, q: LogQuery, now: number): [number, number] {
  const to = producedCount(src, now);
  let from = 0;
  if (q.sinceMs !== undefined && src.startAt !== undefined && q.sinceMs > src.startAt) {
    from = src.logIntervalMs === 0 ? to : Math.ceil((q.sinceMs - src.startAt) / src.logIntervalMs);
  }
  if (q.tail !== undefined) from = Math.max(from, to - q.tail);
  return [Math.min(from, to), to];
}

/** RFC 3339 with a fixed 9-digit fraction, as the kubelet prefixes log lines. */
export function rfc3339Nano(ms: number): string {
  const iso = new Date(ms).toISOString(); // 2026-01-01T00:00:00.123Z
  return `${iso.slice(0, 19)}.${iso.slice(20, 23)}000000Z`;
}

export function formatLine(src: LineSource, i: number, timestamps: boolean): string {
  const text = lineText(src, i);
  return timestamps ? `${rfc3339Nano(lineTime(src, i))} ${text}\n` : `${text}\n`;
}

export function formatRange(src: LineSource, [from, to]: [number, number], timestamps: boolean): string {
  let out = '';
  for (let i = from; i < to; i++) out += formatLine(src, i, timestamps);
  return out;
}

/**
 * Cut `text` to the bytes still allowed. `remaining` undefined = no limit. Returns the
 * bytes to write and what is left of the budget.
 */
export function applyByteLimit(
  text: string,
  remaining: number | undefined,
): { bytes: Buffer; remaining: number | undefined } {
  const bytes = Buffer.from(text, 'utf8');
  if (remaining === undefined) return { bytes, remaining };
  const cut = bytes.subarray(0, Math.max(0, remaining));
  return { bytes: cut, remaining: remaining - cut.length };
}

/** True once a follower has everything the container will ever write. */
export function followDone(src: LineSource, emitted: number, now: number): boolean {
  if (src.finishAt === undefined || now < src.finishAt) return false;
  return emitted >= producedCount(src, src.finishAt);
}

/**
 * When a follower that has emitted `emitted` lines should look again: the next line's
 * time, else the container's end; undefined = nothing will happen until the pod is deleted.
 */
export function nextWakeAt(src: LineSource, emitted: number): number | undefined {
  if (src.startAt === undefined) return undefined;
  if (emitted < src.logLines) {
    const t = lineTime(src, emitted);
    if (src.finishAt === undefined || t <= src.finishAt) return t;
  }
  return src.finishAt;
}
