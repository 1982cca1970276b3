import { describe, expect, it } from 'vitest';
import {
  applyByteLimit,
  followDone,
  formatLine,
  formatRange,
  type LineSource,
  logQuery,
  nextWakeAt,
  producedCount,
  rfc3339Nano,
  selectRange,
} from '../../../src/plugins/mock/logs.ts';
import type { LogOpts } from '../../../src/wire/interlink.ts';

const T0 = Date.parse('2026-01-01T00:00:00Z');
const s = (n: number) => T0 + n * 1000;
/** 5 lines at +10s, +11s, ... +14s; the container ends at +20s. */
const src: LineSource = { name: 'app', startAt: s(10), finishAt: s(20), logLines: 5, logIntervalMs: 1000 };

describe('logQuery', () => {
  const now = s(100);
  const table: Array<[string, LogOpts, Partial<ReturnType<typeof logQuery>>]> = [
    [
      'empty',
      {},
      {
        sinceMs: undefined,
        tail: undefined,
        limitBytes: undefined,
        timestamps: false,
        follow: false,
        previous: false,
      },
    ],
    [
      'zeros mean unset (interLink 0.6 Go ints)',
      { Tail: 0, Bytes: 0, SinceSeconds: 0 },
      { tail: undefined, limitBytes: undefined, sinceMs: undefined },
    ],
    ['Tail', { Tail: 3 }, { tail: 3 }],
    ['Bytes', { Bytes: 10 }, { limitBytes: 10 }],
    ['LimitBytes (Python SDK name)', { LimitBytes: 12 }, { limitBytes: 12 }],
    ['Bytes wins over LimitBytes', { Bytes: 5, LimitBytes: 12 }, { limitBytes: 5 }],
    ['SinceSeconds counts back from now', { SinceSeconds: 30 }, { sinceMs: s(70) }],
    ['SinceTime', { SinceTime: '2026-01-01T00:00:42Z' }, { sinceMs: s(42) }],
    [
      'SinceTime with offset and nanoseconds',
      { SinceTime: '2026-01-01T01:00:42.5+01:00' },
      { sinceMs: s(42.5) },
    ],
    ['Go zero SinceTime is unset', { SinceTime: '0001-01-01T00:00:00Z' }, { sinceMs: undefined }],
    ['empty SinceTime is unset', { SinceTime: '' }, { sinceMs: undefined }],
    [
      'the later of both wins (SinceTime)',
      { SinceSeconds: 90, SinceTime: '2026-01-01T00:00:42Z' },
      { sinceMs: s(42) },
    ],
    [
      'the later of both wins (SinceSeconds)',
      { SinceSeconds: 10, SinceTime: '2026-01-01T00:00:42Z' },
      { sinceMs: s(90) },
    ],
    [
      'flags',
      { Timestamps: true, Follow: true, Previous: true },
      { timestamps: true, follow: true, previous: true },
    ],
  ];
  it.each(table)('%s', (_name, opts, want) => {
    expect(logQuery(opts, now)).toMatchObject(want);
  });
});

describe('producedCount', () => {
  it.each([
    [s(0), 0],
    [s(9.999), 0],
    [s(10), 1],
    [s(11.5), 2],
    [s(14), 5],
    [s(100), 5],
  ])('at %d → %d lines', (now, n) => {
    expect(producedCount(src, now)).toBe(n);
  });

  it('stops at the end of the container and handles odd plans', () => {
    const short = { ...src, finishAt: s(12) };
    expect(producedCount(short, s(100))).toBe(3); // lines at 10, 11, 12 (the last as it exits)
    expect(producedCount({ ...src, startAt: undefined }, s(100))).toBe(0);
    expect(producedCount({ ...src, logLines: 0 }, s(100))).toBe(0);
    expect(producedCount({ ...src, logIntervalMs: 0 }, s(10))).toBe(5);
    expect(producedCount({ ...src, finishAt: undefined, logLines: 1000 }, s(1009))).toBe(1000);
  });
});

describe('selectRange (since, then tail)', () => {
  const now = s(30);
  const q = (opts: LogOpts) => logQuery(opts, now);
  const table: Array<[string, LogOpts, [number, number]]> = [
    ['everything', {}, [0, 5]],
    ['tail 2', { Tail: 2 }, [3, 5]],
    ['tail larger than the log', { Tail: 50 }, [0, 5]],
    // SinceSeconds keeps lines NEWER than now - SinceSeconds (the predecessor kept the older ones).
    ['SinceSeconds 18 → lines at +12s and later', { SinceSeconds: 18 }, [2, 5]],
    ['a line exactly at the since instant is kept', { SinceSeconds: 19 }, [1, 5]],
    ['SinceSeconds before the start → all', { SinceSeconds: 1000 }, [0, 5]],
    ['SinceSeconds after the last line → none', { SinceSeconds: 5 }, [5, 5]],
    ['SinceTime between lines', { SinceTime: '2026-01-01T00:00:12.5Z' }, [3, 5]],
    ['since then tail', { SinceSeconds: 19, Tail: 2 }, [3, 5]],
    ['tail then since keeps the narrower', { SinceSeconds: 17, Tail: 4 }, [3, 5]],
  ];
  it.each(table)('%s', (_name, opts, range) => {
    expect(selectRange(src, q(opts), now)).toEqual(range);
  });

  it('is empty before the container starts', () => {
    expect(selectRange(src, q({}), s(5))).toEqual([0, 0]);
  });
});

describe('formatting and byte limits', () => {
  it('prefixes RFC 3339 with 9 fraction digits, as the kubelet does', () => {
    expect(rfc3339Nano(Date.parse('2026-01-01T00:00:10.250Z'))).toBe('2026-01-01T00:00:10.250000000Z');
    expect(formatLine(src, 0, false)).toBe('app line 1\n');
    expect(formatLine(src, 1, true)).toBe('2026-01-01T00:00:11.000000000Z app line 2\n');
    expect(formatRange(src, [3, 5], false)).toBe('app line 4\napp line 5\n');
  });

  it.each([
    ['no limit', 'abc\ndef\n', undefined, 'abc\ndef\n', undefined],
    ['cuts mid-line', 'abc\ndef\n', 6, 'abc\nde', 0],
    ['room to spare', 'abc\n', 10, 'abc\n', 6],
    ['exhausted', 'abc\n', 0, '', 0],
  ])('%s', (_name, text, remaining, out, left) => {
    const r = applyByteLimit(text, remaining);
    expect(r.bytes.toString()).toBe(out);
    expect(r.remaining).toBe(left);
  });
});

describe('following', () => {
  it.each([
    [0, s(10)],
    [3, s(13)],
    [5, s(20)],
  ])('after %d lines the follower wakes at %d', (emitted, at) => {
    expect(nextWakeAt(src, emitted)).toBe(at);
  });

  it('never wakes for a server that wrote everything, nor for a container that never starts', () => {
    expect(nextWakeAt({ ...src, finishAt: undefined }, 5)).toBeUndefined();
    expect(nextWakeAt({ ...src, startAt: undefined }, 0)).toBeUndefined();
    // A line planned after the end is never written: wake at the end instead.
    expect(nextWakeAt({ ...src, finishAt: s(12) }, 3)).toBe(s(12));
  });

  it.each([
    [5, s(19), false],
    [4, s(20), false],
    [5, s(20), true],
    [5, s(99), true],
  ])('done with %d lines at %d: %s', (emitted, now, done) => {
    expect(followDone(src, emitted, now)).toBe(done);
  });

  it('is never done for a container that runs until deleted', () => {
    expect(followDone({ ...src, finishAt: undefined }, 5, s(1e6))).toBe(false);
  });
});
