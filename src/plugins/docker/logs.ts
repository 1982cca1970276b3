/**
 * A `docker logs` process as one byte stream: the container's stdout and stderr merged
 * (docker demultiplexes them onto the CLI's two pipes), cut at a byte limit, ended when
 * the process ends, the caller aborts, or the reader goes away. Backpressure is passed on
 * by pausing the pipes.
 */
import { PassThrough, type Readable } from 'node:stream';
import type { Logger } from '../../core/logger.ts';
import type { DockerCli } from './cli.ts';

export interface LogStreamOptions {
  /** Stop after this many bytes (undefined or 0 = no limit). */
  limit?: number | undefined;
  signal: AbortSignal;
  log: Logger;
}

export function streamLogs(cli: DockerCli, args: string[], o: LogStreamOptions): Readable {
  const out = new PassThrough();
  const child = cli.spawn(args);
  const limit = o.limit && o.limit > 0 ? o.limit : undefined;
  let sent = 0;
  let done = false;
  let stderrTail = '';
  const finish = () => {
    if (done) return;
    done = true;
    o.signal.removeEventListener('abort', finish);
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    out.end();
  };
  const resume = () => {
    child.stdout?.resume();
    child.stderr?.resume();
  };
  const onData = (b: Buffer) => {
    if (done) return;
    let chunk = b;
    if (limit !== undefined && sent + chunk.length >= limit) {
      chunk = chunk.subarray(0, limit - sent);
      sent = limit;
      if (chunk.length > 0) out.write(chunk);
      finish();
      return;
    }
    sent += chunk.length;
    if (!out.write(chunk)) {
      child.stdout?.pause();
      child.stderr?.pause();
      out.once('drain', resume);
    }
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', (b: Buffer) => {
    stderrTail = (stderrTail + b.toString('utf8')).slice(-500);
    onData(b);
  });
  child.once('error', (err) => {
    o.log.warn({ err }, 'docker logs could not run');
    finish();
  });
  child.once('close', (code) => {
    if (code !== 0 && code !== null && !done)
      o.log.info({ code, stderr: stderrTail }, 'docker logs ended with an error');
    finish();
  });
  if (o.signal.aborted) finish();
  else o.signal.addEventListener('abort', finish, { once: true });
  // The reader went away (HTTP client disconnected): stop the docker process too.
  out.once('close', finish);
  return out;
}
