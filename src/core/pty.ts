/**
 * A terminal for a child that needs one (`docker exec -t`, `srun --pty`) in a plugin that has
 * none of its own (Node cannot open a pty). util-linux `script` allocates one and runs, in it,
 * the FIXED bash program PTY_RUNNER, which
 *
 *   1. sets the pty raw and without echo: this outer terminal only carries bytes, the terminal
 *      the user sees is the inner one (the container's for `docker exec -t`, the step's for
 *      `srun --pty`), which the child creates and sizes from this one;
 *   2. sets the first size (rows, cols) when known, so the child starts with it;
 *   3. then writes the pty's name (`/dev/pts/N`) on fd 3, for resizes, and closes fd 3 (after
 *      the first size: a resize made as soon as the name is known is never overwritten);
 *   4. execs the argv passed in INTERLINK_PTY_ARG_0..n-1 after removing those variables (and
 *      restoring SHELL), so nothing of the pod is ever shell text: values are only expanded.
 *
 * Resizes: `stty -F <pty> rows H cols W` (ptyResizer); the kernel sends SIGWINCH to the child,
 * which forwards the size (the docker CLI to the exec's terminal, srun to the step's pty).
 * Pure builders here; the plugins spawn.
 */
import type { Readable } from 'node:stream';
import type { TerminalSize } from '../wire/streams.ts';
import { runProcess } from './command.ts';

const PREFIX = 'INTERLINK_PTY_';

export const PTY_RUNNER = [
  'stty raw -echo || exit 126',
  // biome-ignore lint/suspicious/noTemplateCurlyInString: bash parameter expansion
  '[[ -z ${INTERLINK_PTY_ROWS-} ]] || stty rows "$INTERLINK_PTY_ROWS" cols "$INTERLINK_PTY_COLS"',
  // The name last: a resize sent as soon as it is known must not be undone by the first size.
  'tty >&3 || exit 126',
  'exec 3>&-',
  // biome-ignore lint/suspicious/noTemplateCurlyInString: bash indirect expansion
  'a=(); for ((i = 0; i < INTERLINK_PTY_ARGC; i++)); do v=INTERLINK_PTY_ARG_$i; a+=("${!v}"); done',
  // biome-ignore lint/suspicious/noTemplateCurlyInString: bash parameter expansion
  'if [[ -n ${INTERLINK_PTY_SHELL+x} ]]; then SHELL=$INTERLINK_PTY_SHELL; else unset -v SHELL; fi',
  // biome-ignore lint/suspicious/noTemplateCurlyInString: bash names by prefix
  'unset -v "${!INTERLINK_PTY_@}"',
  // biome-ignore lint/suspicious/noTemplateCurlyInString: bash array expansion
  'exec -- "${a[@]}"',
].join('\n');

export interface PtyTools {
  /** util-linux `script` (default `script`, from PATH). */
  script: string;
  /** An absolute bash path: `script` runs `$SHELL -c` with execl (default /bin/bash). */
  bash: string;
  /** `stty` for resizes (default `stty`). */
  stty: string;
}

export const DEFAULT_PTY_TOOLS: PtyTools = { script: 'script', bash: '/bin/bash', stty: 'stty' };

export interface PtyCommand {
  file: string;
  args: string[];
  env: NodeJS.ProcessEnv;
}

/**
 * The command running `argv` on a new pty: spawn `file` with `args` and `env`, stdio
 * `[pipe, pipe, pipe, pipe]` (fd 3 brings the pty's name, see ptyResizer). Pure.
 */
export function ptyCommand(
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
  size?: TerminalSize,
  tools: PtyTools = DEFAULT_PTY_TOOLS,
): PtyCommand {
  if (argv.length === 0) throw new Error('ptyCommand: empty argv');
  const out: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(env)) if (!k.startsWith(PREFIX)) out[k] = v;
  if (env.SHELL !== undefined) out[`${PREFIX}SHELL`] = env.SHELL;
  out.SHELL = tools.bash;
  out[`${PREFIX}ARGC`] = String(argv.length);
  argv.forEach((a, i) => {
    out[`${PREFIX}ARG_${i}`] = a;
  });
  if (size && size.Width > 0 && size.Height > 0) {
    out[`${PREFIX}ROWS`] = String(size.Height);
    out[`${PREFIX}COLS`] = String(size.Width);
  }
  return {
    file: tools.script,
    args: ['--quiet', '--return', '--command', PTY_RUNNER, '/dev/null'],
    env: out,
  };
}

/** `stty` arguments setting the size of `tty` (a /dev/pts path). Pure. */
export function sttyResizeArgs(tty: string, size: TerminalSize): string[] {
  if (!/^\/dev\/pts\/\d{1,9}$/.test(tty)) throw new Error('not a pty path');
  return ['-F', tty, 'rows', String(size.Height), 'cols', String(size.Width)];
}

/**
 * Apply `sizes` to the pty whose name arrives on `nameStream` (the child's fd 3), one after
 * the other, until `sizes` ends or `signal` aborts. Never throws: a size that cannot be set
 * is dropped (the child may have ended). Zero sizes are skipped.
 */
export async function ptyResizer(
  nameStream: Readable,
  sizes: AsyncIterable<TerminalSize> | undefined,
  signal: AbortSignal,
  stty = DEFAULT_PTY_TOOLS.stty,
): Promise<void> {
  const tty = await ptyName(nameStream);
  if (!sizes || !/^\/dev\/pts\/\d{1,9}$/.test(tty)) return;
  try {
    for await (const size of sizes) {
      if (signal.aborted) return;
      if (size.Width === 0 || size.Height === 0) continue;
      await runProcess(stty, sttyResizeArgs(tty, size), { timeoutMs: 10_000, signal }).catch(() => {});
    }
  } catch {
    // the resize stream failed: sizes stop, the session goes on
  }
}

/**
 * The pty's name from the child's fd 3: its first line (`script` itself keeps fd 3 open, so
 * the stream does not end there). Empty when none came.
 */
export async function ptyName(nameStream: Readable): Promise<string> {
  let name = '';
  try {
    for await (const c of nameStream) {
      name += String(c);
      if (name.includes('\n') || name.length > 256) break;
    }
  } catch {
    return '';
  }
  return name.split('\n')[0]!.trim();
}

/**
 * The first terminal size, waiting at most `waitMs` for it (clients send it first, as kubectl
 * does; a child started with it draws its first screen at the right size), and the sizes
 * after it. A size arriving later is not lost: it is the first of `rest`.
 */
export async function firstSize(
  sizes: AsyncIterable<TerminalSize> | undefined,
  waitMs: number,
): Promise<{ first: TerminalSize | undefined; rest: AsyncIterable<TerminalSize> | undefined }> {
  if (!sizes) return { first: undefined, rest: undefined };
  const it = sizes[Symbol.asyncIterator]();
  // A resize stream torn down early just means no sizes.
  const next = () => it.next().catch((): IteratorResult<TerminalSize> => ({ done: true, value: undefined }));
  const pending = next();
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'late'>((resolve) => {
    timer = setTimeout(() => resolve('late'), waitMs);
    timer.unref();
  });
  const r = await Promise.race([pending, late]);
  clearTimeout(timer);
  const rest: AsyncIterable<TerminalSize> = {
    async *[Symbol.asyncIterator]() {
      if (r === 'late') {
        const p = await pending;
        if (p.done) return;
        yield p.value;
      } else if (r.done) return;
      for (;;) {
        const n = await next();
        if (n.done) return;
        yield n.value;
      }
    },
  };
  return { first: r !== 'late' && !r.done ? r.value : undefined, rest };
}
