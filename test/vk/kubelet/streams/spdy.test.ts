import { once } from 'node:events';
import { createConnection, createServer, type Socket } from 'node:net';
import { createDeflate, constants as zc } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import {
  adler32,
  decodeHeaderBlock,
  encodeFrame,
  encodeHeaderBlock,
  FLAG_FIN,
  type Frame,
  FrameParser,
  HeaderCompressor,
  HeaderDecompressor,
  RstStatus,
  SpdySession,
  type SpdyStream,
} from '../../../../src/vk/kubelet/streams/spdy.ts';
import { SPDY3_DICTIONARY } from '../../../../src/vk/kubelet/streams/spdy-dictionary.ts';

/** Frames written by moby/spdystream's framer (Go), the apiserver's SPDY implementation. */
const GO_FRAMES = Buffer.from(
  '80030001000000290000000100000000000078f9e3c6a7c26260606004a7b392a2d4c45c6851c29a0a0a6800000000ffff' +
    '800300010100001700000003000000000000c22e555c92929907000000ffff800300010000002f000000050000000040' +
    '00022555060606ce2248ac6682523ba30186625091940829dd8bc019c9c2c0c200000000ffff000000030100000568656c' +
    '6c6f8003000600000004000000018003000300000008000000050000000580030007000000080000000400000000800300' +
    '090000000800000001000003e8800300040000000c000000010000000700010000',
  'hex',
);

describe('SPDY/3 dictionary', () => {
  it('has the Adler-32 that Go announces as the DICTID of its header stream', () => {
    // Bytes 2..5 of the first zlib stream in GO_FRAMES (after 78 f9).
    expect(adler32(SPDY3_DICTIONARY)).toBe(0xe3c6a7c2);
    expect(SPDY3_DICTIONARY.length).toBe(1423);
  });
});

describe('frame codec', () => {
  const table: Array<[string, Frame]> = [
    ['data', { type: 'data', streamId: 7, flags: FLAG_FIN, data: Buffer.from('abc') }],
    ['empty data', { type: 'data', streamId: 0x7fffffff, flags: 0, data: Buffer.alloc(0) }],
    [
      'syn_stream',
      {
        type: 'syn_stream',
        streamId: 5,
        associatedId: 0,
        priority: 7,
        slot: 0,
        flags: 0x02,
        headerBlock: Buffer.from([1, 2, 3]),
      },
    ],
    ['syn_reply', { type: 'syn_reply', streamId: 1, flags: 1, headerBlock: Buffer.from([9]) }],
    ['headers', { type: 'headers', streamId: 3, flags: 0, headerBlock: Buffer.alloc(0) }],
    ['rst_stream', { type: 'rst_stream', streamId: 9, status: RstStatus.FLOW_CONTROL_ERROR }],
    ['settings', { type: 'settings', flags: 1, entries: [{ flags: 1, id: 7, value: 0xffffffff }] }],
    ['ping', { type: 'ping', id: 0xfffffffe }],
    ['goaway', { type: 'goaway', lastGoodStreamId: 11, status: 2 }],
    ['window_update', { type: 'window_update', streamId: 3, delta: 0x7fffffff }],
    ['unknown', { type: 'unknown', version: 3, frameType: 10, flags: 0, payload: Buffer.from('x') }],
  ];
  it.each(table)('%s survives encode → parse', (_name, frame) => {
    expect(new FrameParser().push(encodeFrame(frame))).toEqual([frame]);
  });

  it('parses frames split at every byte', () => {
    const bytes = Buffer.concat(table.map(([, f]) => encodeFrame(f)));
    const p = new FrameParser();
    const got: Frame[] = [];
    for (const b of bytes) got.push(...p.push(Buffer.from([b])));
    expect(got).toEqual(table.map(([, f]) => f));
    expect(p.pending).toBe(0);
  });

  it('refuses a frame over the size limit and a malformed control frame', () => {
    const big = encodeFrame({ type: 'data', streamId: 1, flags: 0, data: Buffer.alloc(100) });
    expect(() => new FrameParser(99).push(big)).toThrow(/over the 99 limit/);
    const short = Buffer.from('8003000300000004' + '00000001', 'hex');
    expect(() => new FrameParser().push(short)).toThrow(/RST_STREAM frame too short/);
  });

  it('reads what the Go framer wrote, header context carried across frames', async () => {
    const frames = new FrameParser().push(GO_FRAMES);
    const inflate = new HeaderDecompressor();
    const headers = [];
    for (const f of frames)
      if (f.type === 'syn_stream') headers.push(decodeHeaderBlock(await inflate.decompress(f.headerBlock)));
    inflate.close();
    expect(headers).toEqual([
      { streamtype: ['error'] },
      { streamtype: ['stdin'] },
      { streamtype: ['data'], port: ['8080'], requestid: ['0'] },
    ]);
    expect(frames.map((f) => f.type)).toEqual([
      'syn_stream',
      'syn_stream',
      'syn_stream',
      'data',
      'ping',
      'rst_stream',
      'goaway',
      'window_update',
      'settings',
    ]);
    expect(frames[1]).toMatchObject({ streamId: 3, flags: FLAG_FIN });
    expect(frames[2]).toMatchObject({ streamId: 5, priority: 2 });
    expect(frames[3]).toEqual({ type: 'data', streamId: 3, flags: FLAG_FIN, data: Buffer.from('hello') });
    expect(frames[5]).toEqual({ type: 'rst_stream', streamId: 5, status: RstStatus.CANCEL });
    expect(frames[6]).toEqual({ type: 'goaway', lastGoodStreamId: 4, status: 0 });
    expect(frames[7]).toEqual({ type: 'window_update', streamId: 1, delta: 1000 });
    expect(frames[8]).toEqual({ type: 'settings', flags: 0, entries: [{ flags: 0, id: 7, value: 65536 }] });
  });
});

describe('header blocks', () => {
  it.each([
    [{}, {}],
    [{ A: 'b' }, { a: ['b'] }],
    [{ multi: ['x', 'y'] }, { multi: ['x', 'y'] }],
    [{ 'x-utf8': 'é' }, { 'x-utf8': ['é'] }],
  ])('%j round-trips', (input, want) => {
    expect(decodeHeaderBlock(encodeHeaderBlock(input))).toEqual(want);
  });

  it.each([
    ['truncated count', Buffer.from([0, 0])],
    ['truncated name', Buffer.from([0, 0, 0, 1, 0, 0, 0, 5, 0x61])],
    ['empty name', Buffer.from([0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0])],
  ])('rejects a %s', (_n, buf) => {
    expect(() => decodeHeaderBlock(buf)).toThrow();
  });

  it('compressor output inflates with the dictionary, block after block', async () => {
    const c = new HeaderCompressor();
    const d = new HeaderDecompressor();
    const big = 'v'.repeat(70_000); // spans two stored blocks
    for (const h of [{}, { a: 'b' }, { big }, { c: 'd' }] as Array<Record<string, string>>) {
      expect(decodeHeaderBlock(await d.decompress(c.compress(encodeHeaderBlock(h))))).toEqual(
        Object.fromEntries(Object.entries(h).map(([k, v]) => [k, [v]])),
      );
    }
    d.close();
  });
});

/** The client side, as far as the tests need it: frames out, real zlib-compressed headers. */
class TestClient {
  readonly parser = new FrameParser();
  readonly frames: Frame[] = [];
  readonly deflate = createDeflate({ dictionary: SPDY3_DICTIONARY });
  #waiters: Array<() => void> = [];
  readonly sock: Socket;
  constructor(sock: Socket) {
    this.sock = sock;
    sock.on('data', (c: Buffer) => {
      this.frames.push(...this.parser.push(c));
      for (const w of this.#waiters.splice(0)) w();
    });
  }
  async headerBlock(h: Record<string, string>): Promise<Buffer> {
    const out: Buffer[] = [];
    const onData = (c: Buffer) => out.push(c);
    this.deflate.on('data', onData);
    this.deflate.write(encodeHeaderBlock(h));
    await new Promise<void>((r) => this.deflate.flush(zc.Z_SYNC_FLUSH, () => r()));
    this.deflate.off('data', onData);
    return Buffer.concat(out);
  }
  async open(id: number, h: Record<string, string>, flags = 0): Promise<void> {
    const headerBlock = await this.headerBlock(h);
    this.sock.write(
      encodeFrame({
        type: 'syn_stream',
        streamId: id,
        associatedId: 0,
        priority: 0,
        slot: 0,
        flags,
        headerBlock,
      }),
    );
  }
  send(f: Frame): void {
    this.sock.write(encodeFrame(f));
  }
  /** Wait until a frame matching `pred` arrived; returns it. */
  async until(pred: (f: Frame) => boolean): Promise<Frame> {
    for (;;) {
      const f = this.frames.find(pred);
      if (f) return f;
      await new Promise<void>((r) => this.#waiters.push(r));
    }
  }
  dataOf(id: number): Buffer {
    return Buffer.concat(
      this.frames.flatMap((f) => (f.type === 'data' && f.streamId === id ? [f.data] : [])),
    );
  }
}

async function pair(opts: { maxStreams?: number; onStream: (s: SpdyStream) => void }) {
  const server = createServer();
  const sessions: SpdySession[] = [];
  server.on('connection', (sock) => sessions.push(new SpdySession(sock, opts)));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const sock = createConnection((server.address() as { port: number }).port, '127.0.0.1');
  await once(sock, 'connect');
  const client = new TestClient(sock);
  return {
    client,
    sessions,
    async close() {
      sock.destroy();
      server.close();
      await once(server, 'close');
    },
  };
}

describe('SpdySession', () => {
  it('replies to a stream, echoes data, half-closes with FIN, answers pings', async () => {
    const seen: Array<Record<string, string[]>> = [];
    const p = await pair({
      onStream: (s) => {
        seen.push(s.headers);
        s.pipe(s);
      },
    });
    await p.client.open(1, { streamType: 'stdin' });
    await p.client.until((f) => f.type === 'syn_reply' && f.streamId === 1);
    const payload = Buffer.alloc(150_000, 7);
    p.client.send({ type: 'data', streamId: 1, flags: 0, data: payload });
    p.client.send({ type: 'data', streamId: 1, flags: FLAG_FIN, data: Buffer.alloc(0) });
    await p.client.until((f) => f.type === 'data' && f.streamId === 1 && (f.flags & FLAG_FIN) !== 0);
    expect(p.client.dataOf(1).equals(payload)).toBe(true);
    expect(seen).toEqual([{ streamtype: ['stdin'] }]);
    // We acknowledged what we consumed.
    const acked = p.client.frames
      .filter((f) => f.type === 'window_update' && f.streamId === 1)
      .reduce((n, f) => n + (f as { delta: number }).delta, 0);
    expect(acked).toBe(payload.length);
    p.client.send({ type: 'ping', id: 1 });
    expect(await p.client.until((f) => f.type === 'ping')).toEqual({ type: 'ping', id: 1 });
    await p.close();
  });

  it('refuses streams over the limit and stream ids that go backwards', async () => {
    const p = await pair({ maxStreams: 1, onStream: () => {} });
    await p.client.open(3, { a: '1' });
    await p.client.open(5, { a: '2' });
    await p.client.open(1, { a: '3' });
    expect(await p.client.until((f) => f.type === 'rst_stream' && f.streamId === 5)).toMatchObject({
      status: RstStatus.REFUSED_STREAM,
    });
    expect(await p.client.until((f) => f.type === 'rst_stream' && f.streamId === 1)).toMatchObject({
      status: RstStatus.PROTOCOL_ERROR,
    });
    await p.close();
  });

  it('reports a peer reset to the stream and honours windows once the peer does flow control', async () => {
    const streams: SpdyStream[] = [];
    const p = await pair({ onStream: (s) => streams.push(s) });
    await p.client.open(1, {});
    await p.client.until((f) => f.type === 'syn_reply' && f.streamId === 1);
    // The peer announces flow control with a zero-delta update, then the stream's window is 64 KiB.
    p.client.send({ type: 'window_update', streamId: 1, delta: 0 });
    await p.client.open(3, {});
    await p.client.until((f) => f.type === 'syn_reply' && f.streamId === 3);
    const s = streams[0]!;
    s.write(Buffer.alloc(100_000, 1));
    await p.client.until(() => p.client.dataOf(1).length === 64 * 1024);
    // Nothing past the window until the peer opens it.
    p.client.send({ type: 'ping', id: 3 });
    await p.client.until((f) => f.type === 'ping' && f.id === 3);
    expect(p.client.dataOf(1).length).toBe(64 * 1024);
    p.client.send({ type: 'window_update', streamId: 1, delta: 100_000 });
    await p.client.until(() => p.client.dataOf(1).length === 100_000);
    const reset = once(streams[1]!, 'reset');
    p.client.send({ type: 'rst_stream', streamId: 3, status: RstStatus.CANCEL });
    expect(await reset).toEqual([RstStatus.CANCEL]);
    await p.close();
  });
});
