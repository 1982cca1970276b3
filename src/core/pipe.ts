/**
 * One direction of a two-way relay. `stream.pipeline` destroys its source when the
 * destination fails; in a relay the source is often one half of a Duplex (a port-forward
 * connection) whose other half still has data to deliver, and destroying it cuts that data
 * off (a port-forward download ended short when the upload side closed first). `pipeInto`
 * never destroys `src`: a failing `dst` only stops the flow.
 */
import type { Readable, Writable } from 'node:stream';

/**
 * Pipe `src` into `dst` with back-pressure. Resolves (never rejects) once `src` ended and,
 * with `end` (the default), `dst` finished; or as soon as either side failed or closed.
 */
export function pipeInto(src: Readable, dst: Writable, opts: { end?: boolean } = {}): Promise<void> {
  const end = opts.end ?? true;
  return new Promise((resolve) => {
    let settled = false;
    const done = () => {
      if (settled) return;
      settled = true;
      src.unpipe(dst);
      src.off('error', done).off('close', onSrcClose).off('end', onEnd);
      dst.off('error', done).off('close', done).off('finish', done);
      resolve();
    };
    const onEnd = () => {
      if (!end) done();
    };
    // A source closed before its end (destroyed) will never end.
    const onSrcClose = () => {
      if (!src.readableEnded) done();
    };
    src.once('error', done).once('close', onSrcClose).once('end', onEnd);
    dst.once('error', done).once('close', done).once('finish', done);
    if (dst.destroyed || dst.writableFinished || src.destroyed) return done();
    if (src.readableEnded) {
      if (end && !dst.writableEnded) dst.end();
      else done();
      return;
    }
    src.pipe(dst, { end });
  });
}
