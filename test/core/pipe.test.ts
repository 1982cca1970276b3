import { Duplex, PassThrough, Readable, Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { pipeInto } from '../../src/core/pipe.ts';

const sink = () => {
  const parts: Buffer[] = [];
  const w = new Writable({
    highWaterMark: 4,
    write(c: Buffer, _e, cb) {
      parts.push(c);
      cb();
    },
  });
  return { w, text: () => Buffer.concat(parts).toString() };
};

describe('pipeInto', () => {
  it.each([
    { end: true, ended: true },
    { end: false, ended: false },
  ])('delivers everything; end=$end ends the destination: $ended', async ({ end, ended }) => {
    const { w, text } = sink();
    await pipeInto(Readable.from(['a', 'b', 'c'].map((s) => Buffer.from(s.repeat(10)))), w, { end });
    expect(text()).toBe(`${'a'.repeat(10)}${'b'.repeat(10)}${'c'.repeat(10)}`);
    expect(w.writableEnded).toBe(ended);
  });

  it('a failing destination never destroys the source (the other half of a Duplex goes on)', async () => {
    const inbound = new PassThrough();
    const outbound = new PassThrough();
    const conn = Duplex.from({ readable: inbound, writable: outbound });
    const failing = new Writable({
      write(_c, _e, cb) {
        cb(new Error('socket closed'));
      },
    });
    failing.on('error', () => {});
    const up = pipeInto(conn, failing);
    inbound.write('x');
    await up;
    expect(conn.destroyed).toBe(false);
    // The download direction still delivers all of its bytes and ends.
    const down = pipeInto(Readable.from([Buffer.from('tail of the download')]), conn);
    const got = new Promise<string>((resolve) => {
      const parts: Buffer[] = [];
      outbound
        .on('data', (c: Buffer) => parts.push(c))
        .on('end', () => resolve(Buffer.concat(parts).toString()));
    });
    await down;
    expect(await got).toBe('tail of the download');
  });

  it('a destroyed source settles it without touching the destination', async () => {
    const src = new PassThrough();
    const { w } = sink();
    const p = pipeInto(src, w);
    src.write('abc');
    src.destroy();
    await p;
    expect(w.destroyed).toBe(false);
    expect(w.writableEnded).toBe(false);
  });

  it('settles at once for a destination already destroyed, leaving the source alone', async () => {
    const w = sink().w.destroy();
    const src = new PassThrough();
    await pipeInto(src, w);
    expect(src.destroyed).toBe(false);
  });
});
