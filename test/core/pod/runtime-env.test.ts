import { describe, expect, it } from 'vitest';
import { cliMayCarry, splitEnv } from '../../../src/core/pod/runtime-env.ts';

describe('a pod environment past a container CLI', () => {
  it('puts single-line variables in the env file and multi-line ones in the CLI environment, never in argv', () => {
    expect(
      splitEnv(
        [
          ['A', 'x y "z" $HOME'],
          ['MULTI', 'a\nb'],
          ['CR', 'a\r'],
          ['dotted.name', 'v'],
          ['_B1', ''],
        ],
        'c',
      ),
    ).toEqual({
      fileLines: ['A=x y "z" $HOME', 'dotted.name=v', '_B1='],
      names: ['MULTI', 'CR'],
      cliEnv: [
        ['MULTI', 'a\nb'],
        ['CR', 'a\r'],
      ],
    });
  });

  it.each([
    ['LD_PRELOAD', 'x\ny', /c\.env\[LD_PRELOAD\]: a multi-line value cannot be passed/],
    ['DOCKER_HOST', 'x\ny', /the docker CLI reads it/],
    ['http_proxy', 'x\ny', /the docker CLI reads it/],
    ['PATH', 'x\ny', /the docker CLI reads it/],
    ['A', 'SECRET\0x', /c\.env\[A\]: must not contain a NUL byte/],
  ])('refuses %s without echoing its value', (k, v, msg) => {
    expect(() => splitEnv([[k, v]], 'c')).toThrow(msg);
    try {
      splitEnv([[k, v]], 'c');
    } catch (err) {
      expect(String(err)).not.toContain(v.slice(0, 3));
    }
  });

  it('keeps a single-line value of a name the CLI reads in the env file (it never reaches the CLI)', () => {
    expect(splitEnv([['PATH', '/bin']], 'c').fileLines).toEqual(['PATH=/bin']);
  });

  it.each([
    'PATH',
    'LD_PRELOAD',
    'DOCKER_HOST',
    'CONTAINERS_CONF',
    'ENROOT_DATA_PATH',
    'BASH_ENV',
    'ENV',
    'SHELLOPTS',
    'PS4',
    'IFS',
    'ld_library_path',
  ])('%s is a name a CLI, the loader or bash reads: it never travels through the CLI environment', (k) =>
    expect(cliMayCarry(k)).toBe(false),
  );

  it.each(['CERT', 'MY_PATH', 'DATA', 'POD_IP'])('%s may', (k) => expect(cliMayCarry(k)).toBe(true));
});
