/**
 * THE quoting function of the Slurm plugin. Every user-controlled value that enters a job
 * script (commands, args, env values, names, paths, annotation words, file contents) goes
 * through `sh()` and nothing else; code review of the script generator reduces to "is
 * every interpolation wrapped in sh()?".
 *
 * Bash single quotes are the only quoting with no special characters inside: `$`, backticks,
 * `\`, `"`, `!`, newlines and any byte other than `'` are literal. A `'` is written as
 * `'\''` (close, escaped quote, reopen). NUL cannot be carried by any shell word (nor by an
 * argv element or environment value), so it is refused rather than silently truncated.
 *
 * Carriage returns are the one exception: sbatch refuses any batch script containing
 * "\r\n" ("DOS line breaks"), so a value with a CR is written in bash's ANSI-C quoting,
 * `$'...'`, where only `\\`, `\'` and `\r` are escapes we produce and everything else is
 * literal; the script text then holds no CR byte at all.
 */
import { invalidInput } from '../../errors/index.ts';

/** Characters that never need quoting in a bash word. `=` is left out so that a quoted word
 * can never turn into an assignment in command position. */
const PLAIN = /^[A-Za-z0-9_@%+:,./-]+$/;

/**
 * One literal bash word. Throws INVALID_INPUT for values containing NUL (naming `what`, the
 * field the value came from). The result is safe anywhere a word is expected, including
 * after `export NAME=`, and stays one word even when empty.
 */
export function sh(value: string, what = 'value'): string {
  if (value.includes('\0'))
    throw invalidInput(`${what}: contains a NUL byte, which no shell word can carry`, what);
  if (value !== '' && PLAIN.test(value)) return value;
  if (value.includes('\r'))
    return `$'${value.replaceAll('\\', '\\\\').replaceAll("'", "\\'").replaceAll('\r', '\\r')}'`;
  return `'${value.replaceAll("'", `'\\''`)}'`;
}

/** Several literal words, space separated. */
export function shWords(values: readonly string[], what = 'value'): string {
  return values.map((v) => sh(v, what)).join(' ');
}

/** A bash variable name (also a valid POSIX environment name for `export`). */
export const SHELL_IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;
