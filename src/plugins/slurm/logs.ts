/**
 * Container logs from the job directory: `containers/<name>.log`, one CRI line per log line
 * ("<RFC 3339 time> <stdout|stderr> <F|P> <text>", written by the job script).
 *
 * Never reads a whole file: `Tail` seeks back from the end in chunks; the rest streams
 * forward in chunks and each line's text passes through without being buffered whole.
 * `SinceSeconds`/`SinceTime` compare the line's time stamp (inclusive), `Timestamps` keeps
 * it in front of the text, `Bytes`/`LimitBytes` cut the output, and `Follow` keeps reading
 * until the container's log is complete (`isDone`) or the caller goes away.
 */
import { watch } from 'node:fs';
import { type FileHandle, open } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { type Clock, systemClock } from '../../core/clock.ts';
import { byteLimit, type LogOpts } from '../../wire/interlink.ts';

const CHUNK = 64 * 1024;
const NL = 0x0a;
/** A CRI header ("2026-01-01T00:00:00.000000000Z stdout F ") is far shorter than this. */
const MAX_HEADER = 80;

export interface LogSource {
  path: string;
  /**
   * True once nothing more will be written (the container's exit file exists, the job is
   * over or its directory is gone). Called only after the reader reached the end of the file.
   */
  isDone(): Promise<boolean>;
}

export interface LogReadOptions {
  signal: AbortSignal;
  pollMs: number;
  /** Clock for SinceSeconds (ms epoch). */
  now?: () => number;
  /** Times the poll between reads (default the real clock). */
  clock?: Clock;
}

/** The time (ms epoch) from which lines are wanted, or undefined for all. */
export function sinceOf(opts: LogOpts, now: number): number | undefined {
  if (opts.SinceTime && opts.SinceTime !== '0001-01-01T00:00:00Z') {
    const t = Date.parse(opts.SinceTime);
    if (!Number.isNaN(t)) return t;
  }
  if (opts.SinceSeconds && opts.SinceSeconds > 0) return now - opts.SinceSeconds * 1000;
  return undefined;
}

/**
 * Offset where the last `n` lines of the file begin, reading backwards in chunks. A final
 * line without a newline counts as a line.
 */
export async function tailOffset(fh: FileHandle, size: number, n: number): Promise<number> {
  if (n <= 0) return size;
  const buf = Buffer.alloc(CHUNK);
  let pos = size;
  let newlines = 0;
  let first = true;
  while (pos > 0) {
    const len = Math.min(CHUNK, pos);
    pos -= len;
    const { bytesRead } = await fh.read(buf, 0, len, pos);
    for (let i = bytesRead - 1; i >= 0; i--) {
      if (buf[i] !== NL) continue;
      // The file's own final newline ends the last line; it does not start one.
      if (first && pos + i === size - 1) continue;
      newlines++;
      if (newlines === n) return pos + i + 1;
    }
    first = false;
  }
  return 0;
}

/**
 * Turns CRI log bytes into the output the caller asked for, line by line, without holding a
 * whole line: the header is parsed from the first bytes, then the text streams through.
 */
export class CriFilter {
  readonly #since: number | undefined;
  readonly #timestamps: boolean;
  #left: number;
  #header: number[] = [];
  #spaces = 0;
  /** 'header' while reading the time/stream/tag; 'copy' / 'skip' for the line's text. */
  #mode: 'header' | 'copy' | 'skip' = 'header';
  #partial = false;

  constructor(opts: {
    since?: number | undefined;
    timestamps?: boolean | undefined;
    limitBytes?: number | undefined;
  }) {
    this.#since = opts.since;
    this.#timestamps = opts.timestamps === true;
    this.#left =
      opts.limitBytes !== undefined && opts.limitBytes > 0 ? opts.limitBytes : Number.POSITIVE_INFINITY;
  }

  get done(): boolean {
    return this.#left <= 0;
  }

  /** Process a chunk; returns the bytes to send (possibly none). */
  push(chunk: Buffer): Buffer {
    const out: Buffer[] = [];
    let i = 0;
    while (i < chunk.length && this.#left > 0) {
      if (this.#mode === 'header') {
        const b = chunk[i++]!;
        if (b === NL) {
          // A line too short to have a header: pass it as it is (not ours, or damaged).
          this.#emit(out, Buffer.from([...this.#header, NL]));
          this.#header = [];
          this.#spaces = 0;
          continue;
        }
        this.#header.push(b);
        if (b === 0x20) this.#spaces++;
        if (this.#spaces === 3) this.#startLine(out);
        else if (this.#header.length > MAX_HEADER) {
          this.#emit(out, Buffer.from(this.#header));
          this.#header = [];
          this.#spaces = 0;
          this.#mode = 'copy';
          this.#partial = false;
        }
        continue;
      }
      const nl = chunk.indexOf(NL, i);
      const end = nl < 0 ? chunk.length : nl;
      if (this.#mode === 'copy') {
        if (end > i) this.#emit(out, chunk.subarray(i, end));
        if (nl >= 0 && !this.#partial) this.#emit(out, Buffer.from([NL]));
      }
      if (nl < 0) break;
      i = nl + 1;
      this.#mode = 'header';
    }
    return Buffer.concat(out);
  }

  #startLine(out: Buffer[]): void {
    const header = Buffer.from(this.#header).toString('latin1');
    this.#header = [];
    this.#spaces = 0;
    const [ts, , tag] = header.split(' ');
    const t = Date.parse(ts ?? '');
    this.#partial = tag === 'P';
    if (this.#since !== undefined && !Number.isNaN(t) && t < this.#since) {
      this.#mode = 'skip';
      return;
    }
    this.#mode = 'copy';
    if (this.#timestamps) this.#emit(out, Buffer.from(`${ts} `));
  }

  #emit(out: Buffer[], b: Buffer): void {
    if (this.#left <= 0) return;
    const part = b.length > this.#left ? b.subarray(0, this.#left) : b;
    this.#left -= part.length;
    out.push(part);
  }
}

/** Resolves after `ms`, when the file changes (where fs.watch works), or when aborted. */
function changed(path: string, ms: number, signal: AbortSignal, clock: Clock): Promise<void> {
  return new Promise((resolve) => {
    let watcher: ReturnType<typeof watch> | undefined;
    const done = () => {
      timer.cancel();
      watcher?.close();
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = clock.setTimer(done, ms);
    signal.addEventListener('abort', done, { once: true });
    try {
      watcher = watch(path, { persistent: false }, done);
      watcher.on('error', () => {});
    } catch {
      // not there yet, or no inotify (NFS): the timer polls
    }
  });
}

async function* generate(src: LogSource, opts: LogOpts, ro: LogReadOptions): AsyncGenerator<Buffer> {
  const now = (ro.now ?? (() => (ro.clock ?? systemClock).now()))();
  const filter = new CriFilter({
    since: sinceOf(opts, now),
    timestamps: opts.Timestamps,
    limitBytes: byteLimit(opts),
  });
  let fh: FileHandle | undefined;
  try {
    // Wait for the log to exist when following (the container has not started yet).
    for (;;) {
      try {
        fh = await open(src.path, 'r');
        break;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
        if (!opts.Follow || ro.signal.aborted || (await src.isDone())) return;
        await changed(src.path, ro.pollMs, ro.signal, ro.clock ?? systemClock);
      }
    }
    const size = (await fh.stat()).size;
    let pos = opts.Tail !== undefined ? await tailOffset(fh, size, opts.Tail) : 0;
    const buf = Buffer.alloc(CHUNK);
    let sawDone = false;
    for (;;) {
      const { bytesRead } = await fh.read(buf, 0, CHUNK, pos);
      if (bytesRead > 0) {
        pos += bytesRead;
        const out = filter.push(buf.subarray(0, bytesRead));
        if (out.length > 0) yield Buffer.from(out);
        if (filter.done) return;
        continue;
      }
      // End of file.
      if (!opts.Follow || ro.signal.aborted || sawDone) return;
      // Done is checked before one last read, so lines written just before the end are kept.
      if (await src.isDone()) {
        sawDone = true;
        continue;
      }
      await changed(src.path, ro.pollMs, ro.signal, ro.clock ?? systemClock);
    }
  } finally {
    await fh?.close();
  }
}

/** The log of one container as a byte stream (see the module comment for the options). */
export function readLogs(src: LogSource, opts: LogOpts, ro: LogReadOptions): Readable {
  return Readable.from(generate(src, opts, ro), { objectMode: false });
}
