/**
 * SPDY/3 header blocks: name/value encoding, and the zlib streams with the SPDY/3
 * dictionary whose context persists across frames per direction. Our compressor emits
 * stored (uncompressed) deflate blocks and the sync-flush marker, so encoding is a pure
 * function of the bytes sent before; decompression uses Node's zlib and is asynchronous.
 */
import { createInflate, type Inflate, constants as zc } from 'node:zlib';
import { SPDY3_DICTIONARY } from './spdy-dictionary.ts';
import { SpdyProtocolError } from './spdy-frames.ts';

/** Header name/value pairs → an uncompressed SPDY/3 name/value block. Pure. */
export function encodeHeaderBlock(headers: Record<string, string | string[]>): Buffer {
  const pairs = Object.entries(headers);
  const parts: Buffer[] = [];
  const n = Buffer.alloc(4);
  n.writeUInt32BE(pairs.length);
  parts.push(n);
  for (const [name, value] of pairs) {
    const k = Buffer.from(name.toLowerCase(), 'utf8');
    // Several values of one name travel NUL-separated in one value.
    const v = Buffer.from(Array.isArray(value) ? value.join('\0') : value, 'utf8');
    const kl = Buffer.alloc(4);
    kl.writeUInt32BE(k.length);
    const vl = Buffer.alloc(4);
    vl.writeUInt32BE(v.length);
    parts.push(kl, k, vl, v);
  }
  return Buffer.concat(parts);
}

/** An uncompressed name/value block → lower-case names to their values. Pure; throws on malformed input. */
export function decodeHeaderBlock(buf: Buffer, maxHeaders = 256): Record<string, string[]> {
  const out: Record<string, string[]> = Object.create(null);
  let off = 0;
  const u32 = () => {
    if (off + 4 > buf.length) throw new SpdyProtocolError('truncated header block');
    const v = buf.readUInt32BE(off);
    off += 4;
    return v;
  };
  const bytes = (len: number) => {
    if (off + len > buf.length) throw new SpdyProtocolError('truncated header block');
    const s = buf.toString('utf8', off, off + len);
    off += len;
    return s;
  };
  const count = u32();
  if (count > maxHeaders) throw new SpdyProtocolError(`header block with ${count} headers`);
  for (let i = 0; i < count; i++) {
    const name = bytes(u32()).toLowerCase();
    if (name === '') throw new SpdyProtocolError('empty header name');
    const values = bytes(u32()).split('\0');
    out[name] = [...(out[name] ?? []), ...values];
  }
  return out;
}

/** Adler-32 (RFC 1950), for the zlib DICTID. */
export function adler32(buf: Buffer): number {
  let a = 1;
  let b = 0;
  for (const byte of buf) {
    a = (a + byte) % 65521;
    b = (b + a) % 65521;
  }
  return ((b << 16) | a) >>> 0;
}

/**
 * The sending half of a header-compression context: one zlib stream per connection and
 * direction, each block a sequence of stored deflate blocks closed by an empty one (what a
 * Z_SYNC_FLUSH at level 0 produces), the first prefixed with the zlib header naming the
 * dictionary. Any inflater with the SPDY dictionary reads it.
 */
export class HeaderCompressor {
  #started = false;

  compress(block: Buffer): Buffer {
    const parts: Buffer[] = [];
    if (!this.#started) {
      this.#started = true;
      // CMF 0x78 (deflate, 32 K window); FLG: FDICT, FCHECK so that CMF*256+FLG ≡ 0 (mod 31).
      const cmf = 0x78;
      let flg = 0x20;
      flg += 31 - ((cmf * 256 + flg) % 31);
      const head = Buffer.alloc(6);
      head.writeUInt8(cmf, 0);
      head.writeUInt8(flg, 1);
      head.writeUInt32BE(adler32(SPDY3_DICTIONARY), 2);
      parts.push(head);
    }
    let off = 0;
    do {
      const len = Math.min(0xffff, block.length - off);
      const h = Buffer.alloc(5);
      h.writeUInt8(0x00, 0); // BFINAL=0, BTYPE=00 (stored), padding to the byte boundary
      h.writeUInt16LE(len, 1);
      h.writeUInt16LE(~len & 0xffff, 3);
      parts.push(h, block.subarray(off, off + len));
      off += len;
    } while (off < block.length);
    // The empty stored block a Z_SYNC_FLUSH ends with: inflaters (Go's among them) hand out
    // what they decoded only when they reach it.
    parts.push(Buffer.from([0x00, 0x00, 0x00, 0xff, 0xff]));
    return Buffer.concat(parts);
  }
}

/** The receiving half: one persistent inflater with the SPDY dictionary. */
export class HeaderDecompressor {
  #inflate: Inflate;
  #failed: Error | undefined;
  constructor() {
    this.#inflate = createInflate({ dictionary: SPDY3_DICTIONARY });
    this.#inflate.on('error', (err) => {
      this.#failed = err;
    });
  }

  /** Decompress one frame's header block. Calls must not overlap (the session awaits each). */
  decompress(block: Buffer): Promise<Buffer> {
    if (this.#failed) return Promise.reject(this.#failed);
    return new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      const onData = (c: Buffer) => chunks.push(c);
      const onError = (err: Error) => {
        this.#inflate.off('data', onData);
        reject(new SpdyProtocolError(`header block does not decompress: ${err.message}`));
      };
      this.#inflate.on('data', onData);
      this.#inflate.once('error', onError);
      this.#inflate.write(block);
      this.#inflate.flush(zc.Z_SYNC_FLUSH, () => {
        this.#inflate.off('data', onData);
        this.#inflate.off('error', onError);
        if (this.#failed)
          reject(new SpdyProtocolError(`header block does not decompress: ${this.#failed.message}`));
        else resolve(Buffer.concat(chunks));
      });
    });
  }

  close(): void {
    this.#inflate.destroy();
  }
}
