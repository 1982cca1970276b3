import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CriFilter, readLogs, sinceOf, tailOffset } from '../../../src/plugins/slurm/logs.ts';
import type { LogOpts } from '../../../src/wire/interlink.ts';

const dir = mkdtempSync(join(tmpdir(), 'il-slurm-logs-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const LOG = [
  '2026-01-01T00:00:00Z stdout F first',
  '2026-01-01T00:00:10Z stderr F second line',
  '2026-01-01T00:00:20.5Z stdout F third $(not a command)',
  '2026-01-01T00:00:30Z stdout P part',
  '2026-01-01T00:00:30Z stdout F ial',
  '2026-01-01T00:00:40Z stdout F last',
].join('\n');

async function collect(
  opts: LogOpts,
  content = LOG,
  extra: { isDone?: () => Promise<boolean>; signal?: AbortSignal } = {},
) {
  const path = join(dir, `c${Math.random()}.log`);
  writeFileSync(path, `${content}\n`);
  const s = readLogs({ path, isDone: extra.isDone ?? (async () => true) }, opts, {
    signal: extra.signal ?? new AbortController().signal,
    pollMs: 20,
    now: () => Date.parse('2026-01-01T00:00:45Z'),
  });
  const chunks: Buffer[] = [];
  for await (const c of s) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

describe('container logs', () => {
  it('strips the CRI prefix and joins partial lines', async () => {
    expect(await collect({})).toBe('first\nsecond line\nthird $(not a command)\npartial\nlast\n');
  });
  it('Timestamps keeps the time in front', async () => {
    expect((await collect({ Timestamps: true })).split('\n')[2]).toBe(
      '2026-01-01T00:00:20.5Z third $(not a command)',
    );
  });
  it.each([
    [{ Tail: 1 }, 'last\n'],
    [{ Tail: 2 }, 'ial\nlast\n'],
    [{ Tail: 0 }, ''],
    [{ Tail: 100 }, 'first\nsecond line\nthird $(not a command)\npartial\nlast\n'],
    [{ SinceSeconds: 15 }, 'partial\nlast\n'],
    [{ SinceTime: '2026-01-01T00:00:20.5Z' }, 'third $(not a command)\npartial\nlast\n'],
    [{ SinceTime: '2026-01-01T00:00:10Z', Tail: 1 }, 'last\n'],
    [{ LimitBytes: 8 }, 'first\nse'],
    [{ Bytes: 3, Timestamps: true }, '202'],
  ] as Array<[LogOpts, string]>)('%j', async (opts, expected) => {
    expect(await collect(opts)).toBe(expected);
  });

  it('tail reads backwards in chunks over a file much larger than one chunk', async () => {
    const lines = Array.from(
      { length: 20_000 },
      (_, i) => `2026-01-01T00:00:00Z stdout F line ${i} ${'x'.repeat(20)}`,
    );
    const out = await collect({ Tail: 3 }, lines.join('\n'));
    expect(out).toBe(
      `line 19997 ${'x'.repeat(20)}\nline 19998 ${'x'.repeat(20)}\nline 19999 ${'x'.repeat(20)}\n`,
    );
    const path = join(dir, 'big.log');
    writeFileSync(path, 'a\nb\nc');
    const fh = await open(path);
    expect(await tailOffset(fh, 5, 1)).toBe(4);
    expect(await tailOffset(fh, 5, 2)).toBe(2);
    await fh.close();
  });

  it('passes through lines without a CRI header, and very long lines in pieces', () => {
    const f = new CriFilter({});
    const long = 'y'.repeat(200_000);
    const out = Buffer.concat([
      f.push(Buffer.from('no header\n2026-01-01T00:00:00Z stdout F ')),
      f.push(Buffer.from(long)),
      f.push(Buffer.from('\n')),
    ]);
    expect(out.toString()).toBe(`no header\n${long}\n`);
  });

  it('follows until the container is done, keeping lines written just before the end', async () => {
    const path = join(dir, 'follow.log');
    writeFileSync(path, '2026-01-01T00:00:00Z stdout F one\n');
    let done = false;
    const s = readLogs(
      { path, isDone: async () => done },
      { Follow: true },
      { signal: new AbortController().signal, pollMs: 20 },
    );
    const got: string[] = [];
    const reading = (async () => {
      for await (const c of s) got.push(String(c));
    })();
    await new Promise((r) => setTimeout(r, 100));
    appendFileSync(path, '2026-01-01T00:00:01Z stdout F two\n');
    await new Promise((r) => setTimeout(r, 100));
    appendFileSync(path, '2026-01-01T00:00:02Z stdout F three\n');
    done = true;
    await reading;
    expect(got.join('')).toBe('one\ntwo\nthree\n');
  });

  it('follow waits for a log that does not exist yet, and ends when the caller goes away', async () => {
    const path = join(dir, 'later.log');
    const ctl = new AbortController();
    const s = readLogs(
      { path, isDone: async () => false },
      { Follow: true },
      { signal: ctl.signal, pollMs: 20 },
    );
    const got: string[] = [];
    const reading = (async () => {
      for await (const c of s) got.push(String(c));
    })();
    await new Promise((r) => setTimeout(r, 60));
    writeFileSync(path, '2026-01-01T00:00:00Z stdout F hello\n');
    await new Promise((r) => setTimeout(r, 150));
    ctl.abort();
    await reading;
    expect(got.join('')).toBe('hello\n');
  });

  it('sinceOf prefers SinceTime, ignores the zero time', () => {
    expect(sinceOf({ SinceTime: '2026-01-01T00:00:00Z', SinceSeconds: 5 }, 1e12)).toBe(
      Date.parse('2026-01-01T00:00:00Z'),
    );
    expect(sinceOf({ SinceTime: '0001-01-01T00:00:00Z' }, 1e12)).toBeUndefined();
    expect(sinceOf({ SinceSeconds: 5 }, 10_000)).toBe(5_000);
  });
});
