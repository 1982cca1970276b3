/**
 * sbatch flags from site flavors, the `slurm-job.vk.io/flags` annotation and the pod's
 * resources: splitting, precedence, refusal of flags that would break the plugin's job
 * layout, and rendering as `#SBATCH` lines.
 *
 * `#SBATCH` lines are comments to bash, so no flag can reach the shell unless it smuggles a
 * line break: words with CR/LF/NUL are refused. sbatch itself splits a directive on blanks
 * and understands "..." (with \" and \\) and '...', never expanding anything; we render every
 * word that is not plainly safe in double quotes with those two escapes.
 */
import { invalidInput } from '../../errors/index.ts';

/**
 * Split an annotation into words like a shell would, but with no expansion at all: blanks
 * (including newlines) separate words; '...' is literal; "..." honours \" \\ \$ \` ;
 * a backslash outside quotes escapes the next character. Throws on an unterminated quote.
 */
export function splitWords(input: string, what = 'annotation'): string[] {
  const words: string[] = [];
  let cur = '';
  let started = false;
  let i = 0;
  while (i < input.length) {
    const c = input[i]!;
    if (c === "'") {
      const end = input.indexOf("'", i + 1);
      if (end < 0) throw invalidInput(`${what}: unterminated single quote`, what);
      cur += input.slice(i + 1, end);
      started = true;
      i = end + 1;
    } else if (c === '"') {
      i++;
      let closed = false;
      while (i < input.length) {
        const d = input[i]!;
        if (d === '"') {
          closed = true;
          i++;
          break;
        }
        if (d === '\\' && i + 1 < input.length && '"\\$`'.includes(input[i + 1]!)) {
          cur += input[i + 1];
          i += 2;
          continue;
        }
        cur += d;
        i++;
      }
      if (!closed) throw invalidInput(`${what}: unterminated double quote`, what);
      started = true;
    } else if (c === '\\') {
      if (i + 1 < input.length && input[i + 1] !== '\n') cur += input[i + 1];
      started = true;
      i += 2;
    } else if (/\s/.test(c)) {
      if (started) words.push(cur);
      cur = '';
      started = false;
      i++;
    } else {
      cur += c;
      started = true;
      i++;
    }
  }
  if (started) words.push(cur);
  return words;
}

/** One sbatch option with the words that belong to it (`--time=10`, or `-t` `10`). */
export type FlagGroup = readonly string[];

/** Whether an option word already carries its value (`--time=5`, `-t5`). */
const hasValue = (w: string) => (w.startsWith('--') ? w.includes('=') : w.length > 2);

/**
 * Group words into options: a word starting with `-` opens a group; the next word, when the
 * option has no value yet, is its value (sbatch options take at most one). Any other word is
 * refused: these are flags, never commands.
 */
export function groupFlags(words: readonly string[], what = 'flags'): FlagGroup[] {
  const groups: string[][] = [];
  for (const w of words) {
    const last = groups.at(-1);
    if (w.startsWith('-') && w.length > 1) groups.push([w]);
    else if (last && last.length === 1 && !hasValue(last[0]!)) last.push(w);
    else throw invalidInput(`${what}: "${w}" is not an sbatch option (options start with "-")`, what);
  }
  return groups;
}

const SHORT: Record<string, string> = {
  '-A': '--account',
  '-B': '--extra-node-info',
  '-C': '--constraint',
  '-D': '--chdir',
  '-F': '--nodefile',
  '-G': '--gpus',
  '-H': '--hold',
  '-J': '--job-name',
  '-L': '--licenses',
  '-M': '--clusters',
  '-N': '--nodes',
  '-O': '--overcommit',
  '-Q': '--quiet',
  '-S': '--core-spec',
  '-W': '--wait',
  '-a': '--array',
  '-b': '--begin',
  '-c': '--cpus-per-task',
  '-d': '--dependency',
  '-e': '--error',
  '-i': '--input',
  '-k': '--no-kill',
  '-m': '--distribution',
  '-n': '--ntasks',
  '-o': '--output',
  '-p': '--partition',
  '-q': '--qos',
  '-s': '--oversubscribe',
  '-t': '--time',
  '-w': '--nodelist',
  '-x': '--exclude',
};

/** Options that are one setting in Slurm's eyes (sbatch refuses two of them together). */
const SAME_SETTING: Record<string, string> = { '--mem-per-cpu': '--mem', '--mem-per-gpu': '--mem' };

/** The canonical long name of an option group (`-t10` → `--time`, `--mem-per-cpu=1G` → `--mem`). */
export function flagKey(group: FlagGroup): string {
  const first = group[0] ?? '';
  let key: string;
  if (first.startsWith('--')) key = first.split('=')[0]!;
  else key = SHORT[first.slice(0, 2)] ?? first.slice(0, 2);
  return SAME_SETTING[key] ?? key;
}

/**
 * Options the plugin owns: the job name carries the pod UID, output/chdir place the job
 * directory, `--wait`/`--parsable`/`--test-only` would change what sbatch answers, `--array`
 * would make one pod many jobs, and `--uid`/`--gid` go through runAsUser only.
 */
export const RESERVED_FLAGS: readonly string[] = [
  '--job-name',
  '--output',
  '--error',
  '--input',
  '--chdir',
  '--wrap',
  '--parsable',
  '--wait',
  '--test-only',
  '--array',
  '--uid',
  '--gid',
];

/** Refuse groups naming a reserved option. `source` names the origin in the error. */
export function checkFlags(groups: readonly FlagGroup[], reserved: readonly string[], source: string): void {
  for (const g of groups) {
    const key = flagKey(g);
    if (reserved.includes(key)) {
      throw invalidInput(
        `${source}: ${key} is set by the interlink slurm plugin and cannot be overridden`,
        source,
      );
    }
  }
}

/**
 * The sbatch options a pod's `slurm-job.vk.io/flags` annotation may pass by default: resource
 * requests and placement only. An allow-list, not a deny-list: sbatch has options that run
 * code or read files on the site's behalf (`--export=BASH_ENV=...`, `--get-user-env`,
 * `--container`, `--burst-buffer`, ...), and getopt accepts any unambiguous abbreviation of
 * them (`--exp`). Names are matched exactly, so abbreviations are refused too. A site extends
 * the list with `extraAllowedFlags` or replaces it with `allowedFlags`.
 */
export const ALLOWED_FLAGS: readonly string[] = [
  '--time',
  '--time-min',
  '--mem',
  '--mem-per-cpu',
  '--mem-per-gpu',
  '--cpus-per-task',
  '--cpus-per-gpu',
  '--mincpus',
  '--tmp',
  '--gres',
  '--gpus',
  '--gpus-per-node',
  '--gpus-per-task',
  '--gpus-per-socket',
  '--partition',
  '--qos',
  '--account',
  '--reservation',
  '--constraint',
  '--nodes',
  '--ntasks',
  '--ntasks-per-node',
  '--ntasks-per-core',
  '--ntasks-per-socket',
  '--ntasks-per-gpu',
  '--sockets-per-node',
  '--cores-per-socket',
  '--threads-per-core',
  '--hint',
  '--exclusive',
  '--hold',
  '--begin',
  '--licenses',
  '--nice',
  '--signal',
  '--comment',
];

/** Options whose value is free text (sbatch never expands it; the `#SBATCH` line quotes it). */
const TEXT_VALUE = new Set(['--comment']);
/**
 * A resource value: numbers, sizes, times, names, GRES and constraint expressions
 * (`gpu:a100:2`, `1-00:00:00`, `intel&[rack1|rack2]`, `B:USR1@60`). No blank, quote, `$`,
 * backtick, backslash, `;`, `<`, `>`, `#`, and never a leading `-`.
 */
const RESOURCE_VALUE = /^[A-Za-z0-9_.:,=@%+/*()[\]|&!][A-Za-z0-9_.:,=@%+/*()[\]|&!-]*$/;

/** The option's full long name as written (`-t10` → `--time`, `--mem-per-cpu=1G` → `--mem-per-cpu`). */
export function optionName(group: FlagGroup): string {
  const first = group[0] ?? '';
  if (first.startsWith('--')) return first.split('=')[0]!;
  return SHORT[first.slice(0, 2)] ?? first.slice(0, 2);
}

/** The option's value words (`--time=5` → ['5'], `-t5` → ['5'], `--time 5` → ['5'], `--exclusive` → []). */
function optionValues(group: FlagGroup): string[] {
  const first = group[0] ?? '';
  const attached = first.startsWith('--')
    ? first.includes('=')
      ? [first.slice(first.indexOf('=') + 1)]
      : []
    : first.length > 2
      ? [first.slice(2)]
      : [];
  return [...attached, ...group.slice(1)];
}

/**
 * Refuse groups whose option is not in `allowed` (exact long names) or whose value is not a
 * plain resource value (free text for `--comment`). Messages name the option when it is a
 * plain option name, never a value.
 */
export function checkAllowed(groups: readonly FlagGroup[], allowed: readonly string[], source: string): void {
  for (const g of groups) {
    const name = optionName(g);
    const shown = /^--?[A-Za-z0-9][A-Za-z0-9-]*$/.test(name) ? name : 'an option';
    if (!allowed.includes(name)) {
      throw invalidInput(
        `${source}: ${shown} is not an sbatch option this site allows in pods (allowed: ${allowed.join(' ')})`,
        source,
      );
    }
    for (const v of optionValues(g)) {
      const ok = TEXT_VALUE.has(name) ? !v.startsWith('-') && !/\p{Cc}/u.test(v) : RESOURCE_VALUE.test(v);
      if (!ok) {
        throw invalidInput(
          `${source}: the value of ${shown} ${TEXT_VALUE.has(name) ? 'may not start with "-" nor hold control characters' : 'may hold only letters, digits and _.:,=@%+/*()[]|&!- and may not start with "-"'}`,
          source,
        );
      }
    }
  }
}

/** Merge option lists, later lists winning per option (flavor < annotation < pod resources). */
export function mergeFlags(...lists: readonly (readonly FlagGroup[])[]): FlagGroup[] {
  const byKey = new Map<string, FlagGroup>();
  for (const list of lists) {
    for (const g of list) {
      const key = flagKey(g);
      byKey.delete(key); // re-insert so the winning value keeps a stable, later position
      byKey.set(key, g);
    }
  }
  return [...byKey.values()];
}

const SBATCH_PLAIN = /^[A-Za-z0-9_@%+=:,./-]+$/;

/** One word as sbatch reads it in a `#SBATCH` line. */
export function sbatchWord(word: string, what = 'flag'): string {
  if (/[\r\n\0]/.test(word))
    throw invalidInput(`${what}: line breaks and NUL are not allowed in sbatch flags`, what);
  if (word !== '' && SBATCH_PLAIN.test(word)) return word;
  return `"${word.replaceAll('\\', '\\\\').replaceAll('"', '\\"')}"`;
}

/** A `#SBATCH` directive line for one option group. */
export function sbatchLine(group: FlagGroup, what = 'flag'): string {
  return `#SBATCH ${group.map((w) => sbatchWord(w, what)).join(' ')}`;
}
