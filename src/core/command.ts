/**
 * Run a program to completion: argument array (never a shell), output collected, a
 * timeout and an abort signal that both SIGKILL it. The one process runner behind the
 * docker CLI, the Slurm commands and kubectl; each caller classifies the result itself.
 *
 * Rejects only when the program cannot be started (the raw spawn error, e.g. ENOENT);
 * a non-zero exit, a kill or a timeout resolve, so the caller decides what they mean.
 */
import { spawn } from 'node:child_process';

export interface CommandOptions {
  timeoutMs: number;
  env?: NodeJS.ProcessEnv | undefined;
  cwd?: string | undefined;
  signal?: AbortSignal | undefined;
  /** Written to stdin; without it stdin is closed. */
  input?: string | undefined;
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
  return new Promise((resolve, reject) => {
    // stdout and stderr are always pipes here.
    const child = spawn(cmd, args, {
      env: opts.env ?? process.env,
      cwd: opts.cwd,
      stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
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
      reject(e);
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
