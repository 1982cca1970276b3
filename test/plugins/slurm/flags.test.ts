import { describe, expect, it } from 'vitest';
import {
  ALLOWED_FLAGS,
  checkAllowed,
  checkFlags,
  flagKey,
  groupFlags,
  mergeFlags,
  RESERVED_FLAGS,
  sbatchLine,
  sbatchWord,
  splitWords,
} from '../../../src/plugins/slurm/flags.ts';

describe('splitWords (annotation → words, no expansion)', () => {
  it.each([
    ['--time=10 --partition gpu', ['--time=10', '--partition', 'gpu']],
    ['  --a\n\t--b  ', ['--a', '--b']],
    [`--comment "a b" --x='c d'`, ['--comment', 'a b', '--x=c d']],
    [`--c="say \\"hi\\" \\\\ \\$HOME"`, ['--c=say "hi" \\ $HOME']],
    [`--c='$(id) \`id\`'`, ['--c=$(id) `id`']],
    [`a\\ b`, ['a b']],
    [`--empty ""`, ['--empty', '']],
    ['', []],
  ])('%j', (input, words) => {
    expect(splitWords(input)).toEqual(words);
  });

  it.each([[`--a "open`], [`--a 'open`]])('refuses an unterminated quote: %j', (input) => {
    expect(() => splitWords(input, 'slurm-job.vk.io/flags')).toThrow(/slurm-job.vk.io\/flags: unterminated/);
  });
});

describe('groupFlags / flagKey', () => {
  it('groups values with their option and names each group canonically', () => {
    const g = groupFlags(['--time', '10', '-p', 'debug', '--mem=4G', '-c2', '--gres=gpu:1']);
    expect(g).toEqual([['--time', '10'], ['-p', 'debug'], ['--mem=4G'], ['-c2'], ['--gres=gpu:1']]);
    expect(g.map(flagKey)).toEqual(['--time', '--partition', '--mem', '--cpus-per-task', '--gres']);
    expect(flagKey(['--mem-per-cpu=1G'])).toBe('--mem');
  });

  it.each([['rm -rf /'], ['; echo'], ['$(id)'], ['--time=5 rm'], ['-t 5 6'], ['-c2 x']])(
    'refuses words that are not options: %j',
    (w) => {
      expect(() => groupFlags(splitWords(w), 'flags')).toThrow(/is not an sbatch option/);
    },
  );
});

describe('checkFlags', () => {
  it.each([
    ['--job-name=x'],
    ['-J', 'x'],
    ['--output=/tmp/x'],
    ['-o', '/x'],
    ['--chdir=/'],
    ['--wrap=id'],
    ['--array=1-3'],
    ['--uid=0'],
    ['-W'],
  ])('refuses options the plugin owns: %j', (...g) => {
    expect(() => checkFlags([g], RESERVED_FLAGS, 'annotation slurm-job.vk.io/flags')).toThrow(
      /is set by the interlink slurm plugin/,
    );
  });
  it('accepts ordinary options', () => {
    expect(() => checkFlags([['--time=5'], ['--hold'], ['-p', 'debug']], RESERVED_FLAGS, 'x')).not.toThrow();
  });
});

describe('checkAllowed (the annotation allow-list)', () => {
  const check = (w: string, allowed = ALLOWED_FLAGS) =>
    checkAllowed(groupFlags(splitWords(w)), allowed, 'annotation slurm-job.vk.io/flags');
  it.each([
    ['--time=10 --partition gpu -c4 --mem-per-cpu=1G'],
    ['-t 1-00:00:00 --gres=gpu:a100:2 --constraint=intel&[rack1|rack2]'],
    ['--nodes=2-4 --ntasks 8 --qos=high --account=proj42 --signal=B:USR1@60 --exclusive --hold'],
    [`--comment "free text $(id) 'q' # kept literal"`],
  ])('accepts %j', (w) => {
    expect(() => check(w)).not.toThrow();
  });
  it.each([
    ['--export=ALL,BASH_ENV=/tmp/x', /--export is not an sbatch option this site allows/],
    ['--exp=ALL,BASH_ENV=/tmp/x', /--exp is not an sbatch option this site allows/],
    ['--get-user-env', /--get-user-env is not/],
    ['--container=/tmp/bundle', /--container is not/],
    ['-e /tmp/x', /--error is not/],
    ['--ti=10', /--ti is not/],
    ['--time=$(id)', /the value of --time may hold only/],
    ['--partition=-x', /the value of --partition may hold only/],
    ['--account "a b"', /the value of --account may hold only/],
    ['--gres=gpu;id', /the value of --gres may hold only/],
    ['--comment=-x', /the value of --comment may not start with "-"/],
    ['--comment "a\tb"', /the value of --comment may not start with "-" nor hold control/],
  ])('refuses %j', (w, message) => {
    expect(() => check(w)).toThrow(message);
  });
  it('never echoes a value or a strange option name', () => {
    expect(() => check('--x$(id)=1')).toThrow(/^annotation slurm-job.vk.io\/flags: an option is not/);
    let msg = '';
    try {
      check('--time=SECRETVALUE;');
    } catch (e) {
      msg = (e as Error).message;
    }
    expect(msg).not.toContain('SECRETVALUE');
  });
  it('takes the site list (extended)', () => {
    expect(() => check('--mail-type=END', [...ALLOWED_FLAGS, '--mail-type'])).not.toThrow();
  });
});

describe('mergeFlags', () => {
  it('lets later lists win per option (flavor < annotation < pod resources), mem-per-cpu replacing mem', () => {
    const flavor = [['--cpus-per-task=4'], ['--mem=8G'], ['--partition=cpu']];
    const annotation = [['-c', '8'], ['--mem-per-cpu=1G'], ['--time=5']];
    const pod = [['--cpus-per-task=2']];
    expect(mergeFlags(flavor, annotation, pod)).toEqual([
      ['--partition=cpu'],
      ['--mem-per-cpu=1G'],
      ['--time=5'],
      ['--cpus-per-task=2'],
    ]);
  });
});

describe('#SBATCH rendering', () => {
  it.each([
    ['--time=10', '--time=10'],
    ['a b', '"a b"'],
    ['say "hi" \\ there', '"say \\"hi\\" \\\\ there"'],
    ['$(id) `id` # not a comment', '"$(id) `id` # not a comment"'],
    ['', '""'],
  ])('%j → %s', (w, out) => {
    expect(sbatchWord(w)).toBe(out);
  });
  it('never lets a line break out of the comment line', () => {
    for (const w of ['a\nb', 'a\rb', 'a\0b'])
      expect(() => sbatchLine(['--comment', w])).toThrow(/line breaks and NUL/);
  });
});
