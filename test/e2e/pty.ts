/**
 * Run a client (kubectl exec -it) on a terminal of its own, as a user's shell would: a pty
 * from util-linux `script` (through src/core/pty.ts, which core/pty.test.ts checks on its
 * own), with a given size that the test can change while the client runs.
 */
import { spawn } from 'node:child_process';
import type { Readable } from 'node:stream';
import { runProcess } from '../../src/core/command.ts';
import { ptyCommand, ptyName, sttyResizeArgs } from '../../src/core/pty.ts';
import type { TerminalSize } from '../../src/wire/streams.ts';

export interface PtyRun {
  /** Everything the client wrote to its terminal so far. */
  output(): string;
  /** Resolves once `text` appeared in the output. */
  waitFor(text: string): Promise<void>;
  /** Set the terminal's size (the client gets SIGWINCH). */
  resize(size: TerminalSize): Promise<void>;
  /** Type on the terminal. */
  write(text: string): void;
  /** The client's exit code. */
  exited: Promise<number>;
  kill(): void;
}

export function runOnPty(file: string, args: string[], env: NodeJS.ProcessEnv, size: TerminalSize): PtyRun {
  const cmd = ptyCommand([file, ...args], env, size);
  const child = spawn(cmd.file, cmd.args, { env: cmd.env, stdio: ['pipe', 'pipe', 'pipe', 'pipe'] });
  let out = '';
  const waiters: Array<{ text: string; resolve: () => void }> = [];
  const check = () => {
    for (const w of [...waiters])
      if (out.includes(w.text)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve();
      }
  };
  child.stdout.on('data', (c: Buffer) => {
    out += c.toString('utf8');
    check();
  });
  child.stderr.on('data', (c: Buffer) => {
    out += c.toString('utf8');
    check();
  });
  const tty = ptyName(child.stdio[3] as Readable);
  const exited = new Promise<number>((resolve) => {
    child.once('close', (code, signal) => {
      child.stdin.end();
      resolve(code ?? (signal ? 128 : 1));
    });
  });
  child.stdin.on('error', () => {});
  return {
    output: () => out,
    waitFor: (text) =>
      new Promise<void>((resolve, reject) => {
        waiters.push({ text, resolve });
        check();
        void exited.then((code) => {
          if (!out.includes(text))
            reject(new Error(`client exited (${code}) before printing ${JSON.stringify(text)}: ${out}`));
        });
      }),
    resize: async (s) => {
      const r = await runProcess('stty', sttyResizeArgs(await tty, s), { timeoutMs: 10_000 });
      if (r.code !== 0) throw new Error(`stty failed: ${r.stderr}`);
    },
    write: (text) => child.stdin.write(text),
    exited,
    kill: () => child.kill('SIGKILL'),
  };
}

/**
 * The command a tty test runs in the container: its terminal's name, its first size (waiting
 * for one, as the client sends it after the streams open), then waits for `want` after a
 * resize and exits with `code`. Output lines: `tty=/dev/pts/N`, `size=R C`, `resized=R C`.
 */
export function ttyProbe(want: TerminalSize, code: number): string[] {
  const w = `${want.Height} ${want.Width}`;
  return [
    'sh',
    '-c',
    [
      'echo "tty=$(tty)"',
      's=$(stty size 2>/dev/null)',
      'while [ -z "$s" ] || [ "$s" = "0 0" ]; do sleep 0.1; s=$(stty size 2>/dev/null); done',
      'echo "size=$s"',
      `while [ "$(stty size)" != "${w}" ]; do sleep 0.1; done`,
      `echo "resized=${w}"`,
      `exit ${code}`,
    ].join('; '),
  ];
}
