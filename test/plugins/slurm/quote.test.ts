import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { sh, shWords } from '../../../src/plugins/slurm/quote.ts';
import { HOSTILE } from './fixtures.ts';

/** What bash makes of a script that prints its words NUL-separated. */
function bashWords(script: string): string[] {
  const out = execFileSync('bash', ['-c', script], {
    encoding: 'utf8',
    env: { PATH: process.env.PATH ?? '', HOME: '/nonexistent' },
  });
  return out.split('\0').slice(0, -1);
}

describe('sh(): the one quoting function of the job script', () => {
  it.each([
    ['plain', 'plain'],
    ['/a/b-c_d.e:f,g@h%i+j', '/a/b-c_d.e:f,g@h%i+j'],
    ['', "''"],
    ['a b', "'a b'"],
    ["it's", "'it'\\''s'"],
    ['a=b', "'a=b'"],
    ['$x', "'$x'"],
    ['~', "'~'"],
    ["a\r\nb \\ 'c'", "$'a\\r\nb \\\\ \\'c\\''"],
  ])('%j → %s', (input, expected) => {
    expect(sh(input)).toBe(expected);
  });

  it('hands every hostile string to bash byte for byte, as one word each', () => {
    const words = bashWords(`printf '%s\\0' ${shWords(HOSTILE)}`);
    expect(words).toEqual(HOSTILE);
  });

  it('never puts a carriage return in the script text (sbatch refuses "DOS line breaks")', () => {
    for (const v of HOSTILE) expect(sh(v)).not.toContain('\r');
  });

  it('keeps a quoted word out of command position tricks (assignment, option)', () => {
    // `'a=b'` in command position is a command name, never an assignment.
    const r = execFileSync('bash', ['-c', `${sh('a=b')} 2>&1 || echo "status $?"`], { encoding: 'utf8' });
    expect(r).toMatch(/a=b: command not found[\s\S]*status 127/);
  });

  it('refuses NUL, which no shell word can carry, naming the field', () => {
    expect(() => sh('a\0b', 'env FOO')).toThrow(/env FOO: contains a NUL byte/);
    try {
      sh('\0', 'x');
    } catch (err) {
      expect((err as { code: string }).code).toBe('INVALID_INPUT');
    }
  });
});
