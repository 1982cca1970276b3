/**
 * Run a program to completion: argument array (never a shell), output collected, a
 * timeout and an abort signal that both SIGKILL it. The one process runner behind the
 * docker CLI, the Slurm commands and kubectl; each caller classifies the result itself.
 *
 * Rejects only when the program cannot be started (e.g. ENOENT); a non-zero exit, a kill
 * or a timeout resolve, so the caller decides what they mean.
 *
 * That rejection never carries the arguments or the environment: Node's own spawn errors
 * echo them (`spawnargs`, and "must be a string without null bytes. Received '…'" quoting
 * the offending word), and both may hold pod values (issue #12). It is a fresh Error with
 * the program, `code`, `errno` and `syscall` only.
 *
 * With tracing on (core/tracing.ts) each run is a CLIENT span, child of the active one, named
 * by the caller (`docker create`, `sbatch`; never a pod-supplied word), with the program's
 * name, exit code, duration and whether it timed out: never its arguments, environment or
 * input, which may hold pod values and secrets.
 */
import { spawn } from 'node:child_process';
import { basename } from 'node:path';
import { Attr, SpanKind, SpanStatusCode, tracingOn, withSpan } from './tracing.ts';

export interface CommandOptions {
  timeoutMs: number;
  env?: NodeJS.ProcessEnv | undefined;
  cwd?: string | undefined;
  signal?: AbortSignal | undefined;
  /** Written to stdin; without it stdin is closed. */
  input?: string | undefined;
  /** Name of the run's span: a fixed string (default: the program's file name). */
  spanName?: string | undefined;
}

export interface CommandOutcome {
  /** Exit code; null when a signal ended the process. */
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Killed because it outlived `timeoutMs`. */
  timedOut: boolean;
  stdout: string;
  stderr: string;
}

export function runProcess(
  cmd: string,
  args: readonly string[],
  opts: CommandOptions,
): Promise<CommandOutcome> {
  if (!tracingOn()) return spawnAndCollect(cmd, args, opts);
  const program = basename(cmd);
  return withSpan(
    opts.spanName ?? program,
    { [Attr.executable]: program },
    async (span) => {
      const t0 = performance.now();
      const r = await spawnAndCollect(cmd, args, opts);
      span.setAttribute(Attr.durationMs, Math.round(performance.now() - t0));
      if (r.code !== null) span.setAttribute(Attr.exitCode, r.code);
      if (r.signal) span.setAttribute('process.signal', r.signal);
      if (r.timedOut) span.setAttribute(Attr.timedOut, true);
      if (r.code !== 0) {
        const why = r.timedOut ? 'timed out' : r.signal ? `killed by ${r.signal}` : `exit code ${r.code}`;
        span.setStatus({ code: SpanStatusCode.ERROR, message: why });
      }
      return r;
    },
    SpanKind.CLIENT,
  );
}

function spawnAndCollect(
  cmd: string,
  args: readonly string[],
  opts: CommandOptions,
): Promise<CommandOutcome> {
  return new Promise((resolve, reject) => {
    let child: ReturnType<typeof spawn>;
    try {
      // stdout and stderr are always pipes here.
      child = spawn(cmd, args, {
        env: opts.env ?? process.env,
        cwd: opts.cwd,
        stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
      });
    } catch (e) {
      reject(spawnError(cmd, e));
      return;
    }
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout!.on('data', (b: Buffer) => out.push(b));
    child.stderr!.on('data', (b: Buffer) => err.push(b));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, opts.timeoutMs);
    const onAbort = () => child.kill('SIGKILL');
    if (opts.signal?.aborted) onAbort();
    else opts.signal?.addEventListener('abort', onAbort, { once: true });
    const done = () => {
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
    };
    child.once('error', (e) => {
      done();
      reject(spawnError(cmd, e));
    });
    child.once('close', (code, signal) => {
      done();
      resolve({
        code,
        signal,
        timedOut,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
      });
    });
    if (child.stdin) {
      child.stdin.on('error', () => {}); // the program may exit before reading its input
      child.stdin.end(opts.input);
    }
  });
}

/** A spawn failure stripped of everything but what names the failure (see runProcess). */
export function spawnError(cmd: string, e: unknown): NodeJS.ErrnoException {
  const src = (e ?? {}) as NodeJS.ErrnoException;
  const code = typeof src.code === 'string' ? src.code : 'ESPAWN';
  const out: NodeJS.ErrnoException = new Error(
    code === 'ERR_INVALID_ARG_VALUE' || code === 'ERR_INVALID_ARG_TYPE'
      ? `cannot start ${cmd}: an argument or environment value is not allowed (${code})`
      : `cannot start ${cmd}: ${code}`,
  );
  out.code = code;
  if (typeof src.errno === 'number') out.errno = src.errno;
  if (typeof src.syscall === 'string') out.syscall = src.syscall;
  return out;
}

/**
 * `text` with every occurrence of each value (and of each line of a multi-line value)
 * replaced by `[redacted]`: for output of a program that was handed secrets, before it
 * reaches an error message or a log line. Fragments shorter than 4 characters are left
 * alone (they would blank out ordinary words, and carry little of a secret).
 */
export function redact(text: string, values: Iterable<string>): string {
  const parts = new Set<string>();
  for (const v of values) {
    if (v.length >= 4) parts.add(v);
    for (const line of v.split(/\r?\n/)) if (line.trim().length >= 4) parts.add(line);
  }
  let out = text;
  // Longest first, so a whole value goes before its lines.
  for (const p of [...parts].sort((a, b) => b.length - a.length)) out = out.replaceAll(p, '[redacted]');
  return out;
}
