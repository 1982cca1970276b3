import { describe, expect, it } from 'vitest';
import { runProcess } from '../../src/core/command.ts';

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
