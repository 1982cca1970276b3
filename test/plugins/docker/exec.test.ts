import { describe, expect, it } from 'vitest';
import { attachArgs, execArgs, relayArgs } from '../../../src/plugins/docker/exec.ts';

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
