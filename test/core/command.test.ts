import { describe, expect, it } from 'vitest';
import { redact, runProcess } from '../../src/core/command.ts';

describe('runProcess', () => {
  it('collects stdout, stderr and the exit code; arguments reach the program literally', async () => {
    const r = await runProcess(
      'sh',
      ['-c', 'printf "%s" "$1"; echo err >&2; exit 3', 'sh', '$(id) `x` "q"'],
      {
        timeoutMs: 10_000,
      },
    );
    expect(r).toEqual({ code: 3, signal: null, timedOut: false, stdout: '$(id) `x` "q"', stderr: 'err\n' });
  });

  it('writes input to stdin', async () => {
    const r = await runProcess('cat', [], { timeoutMs: 10_000, input: 'line 1\nline 2\n' });
    expect(r.stdout).toBe('line 1\nline 2\n');
  });

  it('kills a program that outlives its timeout and says so', async () => {
    const r = await runProcess('sleep', ['30'], { timeoutMs: 100 });
    expect(r).toMatchObject({ code: null, signal: 'SIGKILL', timedOut: true });
  });

  it('kills the program when the signal aborts', async () => {
    const ctl = new AbortController();
    const p = runProcess('sleep', ['30'], { timeoutMs: 10_000, signal: ctl.signal });
    ctl.abort();
    expect(await p).toMatchObject({ signal: 'SIGKILL', timedOut: false });
  });

  it('rejects with the spawn error when the program does not exist', async () => {
    await expect(runProcess('/nonexistent/tool', [], { timeoutMs: 1_000 })).rejects.toMatchObject({
      code: 'ENOENT',
    });
  });
});

describe('runProcess never echoes arguments or environment on a spawn failure', () => {
  const SECRET = 'hunter2-secret-value';
  it.each([
    ['a NUL in an argument', 'sh', { args: ['-c', `echo ${SECRET}\0x`] }],
    ['a NUL in an environment value', 'sh', { args: ['-c', 'true'], env: { A: `${SECRET}\0x` } }],
    ['a missing program', '/nonexistent/prog', { args: [`--env=${SECRET}`] }],
  ])('%s', async (_what, cmd, o: { args: string[]; env?: Record<string, string> }) => {
    const err = (await runProcess(cmd, o.args, { timeoutMs: 10_000, env: o.env }).catch(
      (e: unknown) => e,
    )) as NodeJS.ErrnoException;
    expect(err).toBeInstanceOf(Error);
    expect(err.code).toMatch(/^(ERR_INVALID_ARG_VALUE|ENOENT)$/);
    // Everything a logger would serialise.
    const dumped = JSON.stringify({ ...err, message: err.message, stack: err.stack });
    expect(dumped).not.toContain(SECRET);
  });
});

describe('redact', () => {
  it.each([
    ['error: value hunter2-secret here', ['hunter2-secret'], 'error: value [redacted] here'],
    [
      'line: -----BEGIN KEY----- and MIIBOgIBAAJB',
      ['-----BEGIN KEY-----\nMIIBOgIBAAJB\n-----END KEY-----'],
      'line: [redacted] and [redacted]',
    ],
    ['short values stay: a b', ['a', 'b'], 'short values stay: a b'],
  ])('redact(%j)', (text, values, want) => {
    expect(redact(text, values)).toBe(want);
  });
});
