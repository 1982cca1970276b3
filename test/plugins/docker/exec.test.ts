import { describe, expect, it } from 'vitest';
import {
  attachArgs,
  execArgs,
  execCleanupArgs,
  relayArgs,
  ttyExecArgs,
} from '../../../src/plugins/docker/exec.ts';

describe('docker exec argv', () => {
  it.each([
    [['ls', '-l'], true, ['exec', '-i', '--', 'cid', 'ls', '-l']],
    [['sh', '-c', 'echo $HOME; rm -rf /'], false, ['exec', '--', 'cid', 'sh', '-c', 'echo $HOME; rm -rf /']],
    // A command that looks like a docker option stays an argument of the command.
    [['--privileged', '-u', 'root'], true, ['exec', '-i', '--', 'cid', '--privileged', '-u', 'root']],
  ])('%j (stdin %s)', (command, stdin, want) => {
    expect(execArgs('cid', command, stdin)).toEqual(want);
  });

  it('tty adds -t before the separator', () => {
    expect(execArgs('cid', ['sh'], true, true)).toEqual(['exec', '-i', '-t', '--', 'cid', 'sh']);
    expect(execArgs('cid', ['-t'], false, true)).toEqual(['exec', '-t', '--', 'cid', '-t']);
  });

  it('attach and the port relay', () => {
    expect(attachArgs('cid', true)).toEqual(['attach', '--sig-proxy=false', 'cid']);
    expect(attachArgs('cid', false)).toEqual(['attach', '--sig-proxy=false', '--no-stdin', 'cid']);
    expect(relayArgs('cid', 8080)).toEqual(['exec', '-i', '--', 'cid', 'nc', '127.0.0.1', '8080']);
  });
});

describe('TTY exec wrapper', () => {
  it('keeps the command as argv after a constant script, the id in the environment', () => {
    const args = ttyExecArgs('cid', ['sh', '-c', 'echo $HOME; rm -rf /'], true, 'abc');
    expect(args.slice(0, 6)).toEqual(['exec', '-i', '-t', '--env=INTERLINK_EXEC_ID=abc', '--', 'cid']);
    expect(args.slice(6, 8)).toEqual(['sh', '-c']);
    expect(args[8]).toBe('echo $$ > "/tmp/.interlink-exec-$INTERLINK_EXEC_ID" 2>/dev/null; exec "$@"');
    expect(args.slice(9)).toEqual(['sh', 'sh', '-c', 'echo $HOME; rm -rf /']);
    expect(ttyExecArgs('cid', ['-t'], false, 'x').slice(0, 5)).toEqual([
      'exec',
      '-t',
      '--env=INTERLINK_EXEC_ID=x',
      '--',
      'cid',
    ]);
  });

  it('cleans up by id: kill, or only remove the PID file', () => {
    const kill = execCleanupArgs('cid', 'abc', true);
    expect(kill.slice(0, 6)).toEqual(['exec', '--env=INTERLINK_EXEC_ID=abc', '--', 'cid', 'sh', '-c']);
    expect(kill[6]).toContain('kill -s TERM -- "-$p"');
    expect(kill[6]).toContain('kill -s KILL');
    expect(execCleanupArgs('cid', 'abc', false)[6]).toBe('rm -f "/tmp/.interlink-exec-$INTERLINK_EXEC_ID"');
  });
});
