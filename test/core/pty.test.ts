/**
 * core/pty.ts on a real pty (util-linux `script`, bash, stty): the argv arrives word for word
 * and is never shell text, the first size is set before the command starts, resizes reach it,
 * the runner's variables do not leak into its environment, and the exit code comes back.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import type { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { firstSize, ptyCommand, ptyName, ptyResizer, sttyResizeArgs } from '../../src/core/pty.ts';
import type { TerminalSize } from '../../src/wire/streams.ts';

function run(argv: string[], size?: TerminalSize, sizes?: AsyncIterable<TerminalSize>) {
  const cmd = ptyCommand(argv, { ...process.env, SHELL: '/bin/sh-of-the-user' }, size);
  const child = spawn(cmd.file, cmd.args, { env: cmd.env, stdio: ['pipe', 'pipe', 'pipe', 'pipe'] });
  const ctl = new AbortController();
  void ptyResizer(child.stdio[3] as Readable, sizes, ctl.signal);
  let out = '';
  child.stdout.on('data', (c: Buffer) => {
    out += c.toString();
  });
  return new Promise<{ code: number | null; out: string }>((resolve) =>
    child.once('close', (code) => {
      ctl.abort();
      resolve({ code, out });
    }),
  );
}

describe('ptyCommand', () => {
  it('runs the argv on a pty of the given size; hostile words stay data', async () => {
    // biome-ignore lint/suspicious/noTemplateCurlyInString: a hostile word, not a template
    const hostile = ['$(touch /tmp/pwned-pty)', '`id`', "'; exit 9; '", 'a b\nc', '-e', '${PATH}'];
    const r = await run(
      [
        '/bin/bash',
        '-c',
        'tty; stty size; printf "<%s>" "$@"; echo; env | grep -c -e ^INTERLINK_PTY_ || true; echo "shell=$SHELL"; exit 7',
        'argv0',
        ...hostile,
      ],
      { Width: 101, Height: 33 },
    );
    expect(r.code).toBe(7);
    const lines = r.out.split('\n');
    expect(lines[0]).toMatch(/^\/dev\/pts\/\d+$/);
    expect(lines[1]).toBe('33 101');
    // raw pty: no \r added, so the embedded newline comes out as is
    expect(r.out).toContain(hostile.map((h) => `<${h}>`).join(''));
    expect(r.out).toContain('\n0\n');
    expect(r.out).toContain('shell=/bin/sh-of-the-user');
    expect(existsSync('/tmp/pwned-pty')).toBe(false);
  });

  it('applies resizes to the running command', async () => {
    async function* sizes() {
      yield { Width: 0, Height: 0 };
      yield { Width: 132, Height: 50 };
    }
    const r = await run(
      ['/bin/bash', '-c', 'until [ "$(stty size)" = "50 132" ]; do sleep 0.05; done; echo resized; exit 3'],
      { Width: 80, Height: 24 },
      sizes(),
    );
    expect(r).toEqual({ code: 3, out: 'resized\n' });
  });

  it('builds the stty arguments for pty paths only', () => {
    expect(sttyResizeArgs('/dev/pts/3', { Width: 10, Height: 2 })).toEqual([
      '-F',
      '/dev/pts/3',
      'rows',
      '2',
      'cols',
      '10',
    ]);
    expect(() => sttyResizeArgs('/etc/passwd', { Width: 1, Height: 1 })).toThrow();
    expect(() => ptyCommand([], {})).toThrow();
  });

  it('ptyName reads the first line even when the stream stays open', async () => {
    const { PassThrough } = await import('node:stream');
    const p = new PassThrough();
    p.write('/dev/pts/4\n');
    expect(await ptyName(p)).toBe('/dev/pts/4');
  });
});

describe('firstSize', () => {
  it('returns the first size and the rest', async () => {
    async function* s() {
      yield { Width: 1, Height: 2 };
      yield { Width: 3, Height: 4 };
    }
    const { first, rest } = await firstSize(s(), 10_000);
    expect(first).toEqual({ Width: 1, Height: 2 });
    const after: TerminalSize[] = [];
    for await (const x of rest!) after.push(x);
    expect(after).toEqual([{ Width: 3, Height: 4 }]);
  });

  it('a size later than the wait is the first of the rest', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    async function* s() {
      await gate;
      yield { Width: 5, Height: 6 };
    }
    const { first, rest } = await firstSize(s(), 1);
    expect(first).toBeUndefined();
    release();
    const after: TerminalSize[] = [];
    for await (const x of rest!) after.push(x);
    expect(after).toEqual([{ Width: 5, Height: 6 }]);
  });

  it('no sizes: nothing to wait for', async () => {
    expect(await firstSize(undefined, 10_000)).toEqual({ first: undefined, rest: undefined });
  });
});
