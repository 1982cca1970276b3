/**
 * Extra `docker create` flags from a pod annotation (default `docker-options.vk.io/flags`,
 * as in interLink 0.6), checked against the node's allow-list. Pure.
 *
 * interLink 0.6 pasted the annotation into a shell command line; here it is split on
 * whitespace into separate arguments and every one must be `--name` or `--name=value` with
 * `name` allowed. A value must be attached with `=`: a separate word could otherwise be
 * taken by docker as the image name.
 */
import { invalidInput } from '../../errors/index.ts';

const FLAG = /^--([a-z][a-z0-9-]*)(?:=(.*))?$/s;

/** Allow-list entries may be written `--shm-size` or `shm-size`. */
export function normalizeAllowed(allowed: string[]): Set<string> {
  return new Set(allowed.map((a) => a.trim().replace(/^--/, '')).filter((a) => a !== ''));
}

export function parseFlagsAnnotation(
  value: string | undefined,
  allowed: Set<string>,
  field: string,
): string[] {
  if (value === undefined || value.trim() === '') return [];
  const words = value.trim().split(/\s+/);
  return words.map((w, i) => {
    const m = FLAG.exec(w);
    // The message names the word's position, never its text (pod values stay out of errors).
    if (!m)
      throw invalidInput(`${field}: word ${i + 1} is not a flag of the form --name or --name=value`, field);
    const name = m[1]!;
    if (!allowed.has(name)) {
      const list = [...allowed].map((a) => `--${a}`).join(', ');
      throw invalidInput(
        `${field}: flag --${name} is not allowed on this node (allowed: ${list || 'none'})`,
        field,
      );
    }
    return w;
  });
}
