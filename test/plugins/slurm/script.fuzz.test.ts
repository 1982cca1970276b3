/**
 * Property tests over the job script generator with hostile strings in every user-controlled
 * field (fast-check; bounded and seeded here, longer with FUZZ_RUNS=n, FUZZ_SEED=random): the script parses with `bash -n`,
 * values round-trip literally through real bash, every path stays under the job directory,
 * and no value becomes an option of `env`, the runtime or sbatch.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { isUnder } from '../../../src/core/pod/paths.ts';
import { codeOf } from '../../../src/errors/index.ts';
import { type RuntimeName, slurmConfig } from '../../../src/plugins/slurm/config.ts';
import { ALLOWED_FLAGS, optionName } from '../../../src/plugins/slurm/flags.ts';
import { buildJob } from '../../../src/plugins/slurm/job.ts';
import type { JobSpec } from '../../../src/plugins/slurm/job-spec.ts';
import { sh } from '../../../src/plugins/slurm/quote.ts';
import { renderScript } from '../../../src/plugins/slurm/script.ts';
import { HOSTILE } from './fixtures.ts';

const RUNS = Number(process.env.FUZZ_RUNS ?? 40);
/** Fixed by default (a deterministic `npm test`); FUZZ_SEED=random explores. */
const SEED = process.env.FUZZ_SEED === 'random' ? Date.now() : Number(process.env.FUZZ_SEED ?? 20261204);
const root = mkdtempSync(join(tmpdir(), 'il-slurm-fuzz-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** Strings meant to break out: shell, options, paths, quotes, line breaks, unicode. */
const hostile = fc.oneof(
  fc.constantFrom(...HOSTILE, '--export=ALL,BASH_ENV=/tmp/x', '-Ssh=x sh -c id', '../../etc', '/..', "'\\''"),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc
    .array(
      fc.constantFrom(
        '-',
        '--',
        '$',
        '(',
        ')',
        '`',
        "'",
        '"',
        '\\',
        '\n',
        '\r',
        ';',
        ' ',
        '..',
        '/',
        'a',
        '=',
        '#',
        '*',
      ),
      {
        maxLength: 12,
      },
    )
    .map((xs) => xs.join('')),
);
const noNul = hostile.map((s) => s.replaceAll('\0', ''));

/** A name or path: mostly valid, sometimes hostile (so that accepted pods are common too). */
const mostly = (...valid: string[]) =>
  fc.oneof({ arbitrary: fc.constantFrom(...valid), weight: 7 }, { arbitrary: hostile, weight: 1 });

const podArb = fc.record({
  // Values: anything but NUL, always.
  args: fc.array(noNul, { maxLength: 5 }),
  command: noNul,
  envValue: noNul,
  comment: noNul,
  data: noNul,
  // Names and paths: the generator must refuse the hostile ones or keep them harmless.
  envName: mostly('OK', 'a.b-c', '_x'),
  workingDir: mostly('/work', '/'),
  image: mostly('busybox', 'docker://x/y:1', '/images/a.sif'),
  flags: mostly('', '--time=5', '-p debug', '--gres=gpu:1 --qos=high'),
  volume: mostly('vol', 'v-1'),
  key: mostly('key', 'a.txt'),
  itemPath: mostly('a/b.txt', 'x'),
  mountPath: mostly('/data', '/etc/x'),
  subPath: mostly('', 'sub/dir'),
  runtime: fc.constantFrom<RuntimeName>('apptainer', 'docker', 'enroot', 'none'),
  sharedFs: fc.boolean(),
});

type PodInput = typeof podArb extends fc.Arbitrary<infer T> ? T : never;

function dataOf(p: PodInput) {
  const vm = p.runtime === 'none' ? [] : [{ name: p.volume, mountPath: p.mountPath, subPath: p.subPath }];
  return {
    pod: {
      metadata: {
        name: 'fuzz',
        namespace: 'default',
        uid: 'fuzz-1',
        annotations: { 'slurm-job.vk.io/flags': `--comment ${sh(p.comment)} ${p.flags}` },
      },
      spec: {
        containers: [
          {
            name: 'c',
            image: p.image,
            command: [p.command],
            args: p.args,
            env: [{ name: p.envName, value: p.envValue }],
            workingDir: p.workingDir,
            volumeMounts: vm,
          },
        ],
        volumes: [{ name: p.volume, secret: { secretName: 's', items: [{ key: p.key, path: p.itemPath }] } }],
      },
    },
    container: [
      {
        name: 'c',
        secrets: [{ metadata: { name: 's' }, data: { [p.key]: Buffer.from(p.data).toString('base64') } }],
      },
    ],
  } as never;
}

const OWN = ['--job-name', '--output', '--chdir'];

/** What must hold of any job the generator accepts. */
function checkJob(job: JobSpec, script: string): void {
  for (const x of [...job.files, ...job.dirs])
    expect(isUnder(x.path, job.jobDir) && x.path !== job.jobDir).toBe(true);
  for (const c of job.containers)
    for (const m of c.mounts) if (!m.host) expect(isUnder(m.source, job.jobDir)).toBe(true);
  for (const line of script.split('\n').filter((l) => l.startsWith('#SBATCH '))) {
    const name = optionName([line.slice(8).split(' ')[0]!]);
    expect([...OWN, ...ALLOWED_FLAGS]).toContain(name);
  }
  // `env` is followed by `--` wherever the script calls it.
  for (const line of script.split('\n').filter((l) => !l.trimStart().startsWith('#')))
    for (const m of line.matchAll(/(^|[\s;&|])env\s+(\S+)/g)) expect(m[2]).toBe('--');
}

describe('job script generator under hostile input (fast-check)', () => {
  it('refuses with INVALID_INPUT or generates a script that parses, keeps paths inside and options out', () => {
    let accepted = 0;
    fc.assert(
      fc.property(podArb, (p) => {
        const cfg = slurmConfig({ dataRoot: '/data/il', containerRuntime: p.runtime, sharedFs: p.sharedFs });
        let job: JobSpec;
        try {
          job = buildJob(dataOf(p), cfg);
        } catch (err) {
          expect(codeOf(err)).toBe('INVALID_INPUT');
          return;
        }
        const script = renderScript(job);
        checkJob(job, script);
        const file = join(root, 'job.sh');
        writeFileSync(file, script);
        execFileSync('bash', ['-n', file], { stdio: ['ignore', 'ignore', 'pipe'] });
        accepted++;
      }),
      { numRuns: RUNS, seed: SEED },
    );
    // The arbitrary is not all refusals: the accepted path is exercised.
    expect(accepted).toBeGreaterThan(0);
  });

  it('sh(): every value round-trips literally through real bash', () => {
    const values = fc.sample(fc.oneof(noNul, fc.string({ unit: 'grapheme', maxLength: 30 })), {
      numRuns: RUNS * 10,
      seed: SEED,
    });
    values.push(...HOSTILE, '\r', '\r\n', "'\r'", '\\r');
    const script = `printf '%s\\0' ${values.map((v) => sh(v)).join(' ')}\n`;
    const file = join(root, 'quote.sh');
    writeFileSync(file, script);
    const out = execFileSync('bash', [file], { maxBuffer: 64 * 1024 * 1024 });
    // Compare bytes: a lone surrogate becomes U+FFFD on both sides of the UTF-8 encoding.
    expect(out.toString('utf8').split('\0').slice(0, -1)).toEqual(
      values.map((v) => Buffer.from(v, 'utf8').toString('utf8')),
    );
  });

  it('args and env values reach the process literally, none becomes an option (runtime none, real bash)', {
    timeout: Math.max(60_000, RUNS * 3_000),
  }, () => {
    fc.assert(
      fc.property(fc.array(noNul, { maxLength: 6 }), noNul, (args, value) => {
        const out = join(root, 'argv.out');
        rmSync(out, { force: true });
        const pod = {
          metadata: { name: 'argv', namespace: 'default', uid: 'argv-1' },
          spec: {
            containers: [
              {
                name: 'c',
                image: 'x',
                command: ['sh', '-c', 'printf "%s\\0" "$@" "$V" > "$0"', out, ...args],
                env: [{ name: 'V', value }],
              },
            ],
          },
        };
        const job = buildJob({ pod } as never, slurmConfig({ dataRoot: root, containerRuntime: 'none' }));
        execFileSync('mkdir', ['-p', job.jobDir]);
        const file = join(job.jobDir, 'job.sh');
        writeFileSync(file, renderScript(job));
        execFileSync('bash', [file], { cwd: job.jobDir, stdio: 'ignore' });
        const norm = (s: string) => Buffer.from(s, 'utf8').toString('utf8');
        expect(readFileSync(out, 'utf8').split('\0').slice(0, -1)).toEqual([...args, value].map(norm));
      }),
      { numRuns: Math.max(3, Math.ceil(RUNS / 8)), seed: SEED },
    );
  });
});
