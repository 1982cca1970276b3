/**
 * The job script: golden files per runtime (UPDATE_GOLDEN=1 rewrites them), bash syntax,
 * and the script really run by bash (no Slurm needed) for runtime `none`: order, logs,
 * exit codes, hostile strings arriving literally, non-shared volume files.
 */
import { execFile, execFileSync } from 'node:child_process';
import {
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { type RuntimeName, slurmConfig } from '../../../src/plugins/slurm/config.ts';
import { buildJob } from '../../../src/plugins/slurm/job.ts';
import { renderScript } from '../../../src/plugins/slurm/script.ts';
import type { RetrievedPodData } from '../../../src/wire/interlink.ts';
import { fullData, HOSTILE } from './fixtures.ts';

const run = promisify(execFile);
const GOLDEN = join(import.meta.dirname, 'golden');

const siteConfig = (runtime: RuntimeName, extra: object = {}) =>
  slurmConfig({
    dataRoot: '/data/interlink',
    containerRuntime: runtime,
    flavors: {
      standard: { cpu: 1, memory: '2G', flags: ['--partition=cpu --account=hpc'] },
      gpu: { gpu: 1, flags: ['--partition=gpu'] },
    },
    defaultFlavor: 'standard',
    jobEnv: { SITE: 'example' },
    ...extra,
  });

const VARIANTS: Array<[string, RuntimeName, object]> = [
  [
    'apptainer',
    'apptainer',
    {
      commandPrefix: 'module load apptainer',
      tsocks: true,
      tsocksPath: '/opt/tsocks/libtsocks.so',
      tsocksLoginNode: 'login01',
    },
  ],
  ['apptainer-nonshared', 'apptainer', { sharedFs: false }],
  [
    'singularity',
    'singularity',
    { runtimePath: '/usr/local/bin/singularity', apptainerOptions: ['--nv', '--no-eval', '--containall'] },
  ],
  ['enroot', 'enroot', {}],
  ['docker', 'docker', {}],
  ['podman', 'podman', { dockerOptions: ['--network=host', '--userns=keep-id'] }],
  ['none', 'none', {}],
];

describe('golden job scripts', () => {
  it.each(VARIANTS)('%s', async (name, runtime, extra) => {
    const data = fullData();
    // Plain processes need a command (there is no image entrypoint).
    if (runtime === 'none') {
      (data.pod.spec!.containers[1] as { command?: string[] }).command = ['monitor', '--watch'];
      // ... and no volumeMounts (plain processes have none).
      for (const c of [...data.pod.spec!.initContainers!, ...data.pod.spec!.containers])
        delete (c as { volumeMounts?: unknown }).volumeMounts;
    }
    const script = renderScript(buildJob(data, siteConfig(runtime, extra)));
    const file = join(GOLDEN, `${name}.sh`);
    if (process.env.UPDATE_GOLDEN) writeFileSync(file, script);
    expect(script).toBe(readFileSync(file, 'utf8'));
    // Valid bash, every one of them.
    const r = await run('bash', ['-n', file]).catch((e: { stderr: string }) => ({ stderr: e.stderr }));
    expect(r.stderr).toBe('');
  });

  it('puts the pieces where the issue wants them (apptainer)', () => {
    const s = readFileSync(join(GOLDEN, 'apptainer.sh'), 'utf8');
    // Job name with the UID, output/chdir into the job dir, resources from the pod over flavor and annotation.
    expect(s).toMatch(/^#SBATCH --job-name=il-7d1c0e2a-0000-4000-8000-000000000001$/m);
    expect(s).toMatch(
      /^#SBATCH --output=\/data\/interlink\/hpc-7d1c0e2a-0000-4000-8000-000000000001\/slurm.out$/m,
    );
    expect(s).toMatch(/^#SBATCH --cpus-per-task=3$/m);
    expect(s).toMatch(/^#SBATCH --mem=4352M$/m);
    expect(s).toMatch(/^#SBATCH --gres=gpu:1$/m);
    expect(s).toMatch(/^#SBATCH --partition=debug$/m);
    expect(s).toMatch(/^#SBATCH --time 30$/m);
    expect(s).toMatch(/^#SBATCH --comment "a b"$/m);
    expect(s).not.toMatch(/--mem-per-cpu/);
    // exec when a command is set, run otherwise; env file; binds; mpi really applied.
    expect(s).toContain(
      // biome-ignore lint/suspicious/noTemplateCurlyInString: bash parameter expansion in the job script
      'exec mpiexec -np "${SLURM_NTASKS:-1}" --bind-to core apptainer exec --containall --writable-tmpfs --cleanenv --nv --bind /scratch:/scratch --bind /opt/data:/data:ro --env-file',
    );
    expect(s).toMatch(/apptainer run --containall .* oras:\/\/registry.example.org\/tools\/monitor:1$/m);
    expect(s).toContain('module load apptainer 2>/dev/null || true');
    expect(s).toContain('export LD_PRELOAD=/opt/tsocks/libtsocks.so');
  });
});

describe('the job script under bash (runtime none, no Slurm)', () => {
  const root = mkdtempSync(join(tmpdir(), 'il-slurm-script-'));
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  async function runJob(data: RetrievedPodData, extra: object = {}, env: NodeJS.ProcessEnv = process.env) {
    const cfg = slurmConfig({ dataRoot: root, containerRuntime: 'none', ...extra });
    const job = buildJob(data, cfg);
    execFileSync('mkdir', ['-p', job.jobDir]);
    // Shared mode: the plugin would have written these.
    if (cfg.sharedFs) {
      for (const d of job.dirs) execFileSync('mkdir', ['-p', '-m', d.mode.toString(8), d.path]);
      for (const f of job.files) writeFileSync(f.path, f.data, { mode: f.mode });
    }
    const path = join(job.jobDir, 'job.sh');
    writeFileSync(path, renderScript(job), { mode: 0o700 });
    const r = await run('bash', [path], { cwd: job.jobDir, env }).then(
      () => 0,
      (e: { code: number }) => e.code,
    );
    const ctr = (n: string, ext: string) =>
      readFileSync(join(job.jobDir, 'containers', `${n}.${ext}`), 'utf8');
    const lines = (n: string) =>
      ctr(n, 'log')
        .split('\n')
        .filter(Boolean)
        .map((l) => l.split(' ').slice(1).join(' '));
    return { code: r, job, ctr, lines };
  }

  it('runs init containers in order, apps in parallel, keeps logs, exit codes and times; exits with the worst code', async () => {
    const pod = {
      metadata: { name: 'order', namespace: 'default', uid: 'order-1' },
      spec: {
        initContainers: [
          { name: 'i1', image: 'x', command: ['sh', '-c', 'echo one; sleep 0.3'] },
          { name: 'i2', image: 'x', command: ['sh', '-c', 'echo two >&2'] },
        ],
        containers: [
          { name: 'a', image: 'x', command: ['sh', '-c', 'sleep 1; echo a; exit 3'] },
          { name: 'b', image: 'x', command: ['sh', '-c', 'echo b; exit 1'] },
        ],
      },
    };
    const { code, ctr, lines } = await runJob({ pod } as never);
    expect(code).toBe(3);
    expect(lines('i1')).toEqual(['stdout F one']);
    expect(lines('i2')).toEqual(['stderr F two']);
    expect(lines('a')).toEqual(['stdout F a']);
    expect([ctr('i1', 'exit'), ctr('i2', 'exit'), ctr('a', 'exit'), ctr('b', 'exit')]).toEqual([
      '0\n',
      '0\n',
      '3\n',
      '1\n',
    ]);
    const t = (n: string, e: string) => Date.parse(ctr(n, e).trim());
    expect(t('i1', 'finished')).toBeLessThanOrEqual(t('i2', 'started'));
    expect(t('i2', 'finished')).toBeLessThanOrEqual(t('a', 'started'));
    // Parallel: b started before a finished.
    expect(t('b', 'started')).toBeLessThan(t('a', 'finished'));
    // Each log line starts with an RFC 3339 UTC time.
    expect(ctr('a', 'log')).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z stdout F a\n$/);
  });

  it('stamps log lines with a bash loop where awk has no strftime (microseconds, partial last line kept)', async () => {
    const bin = join(root, 'no-awk-bin');
    execFileSync('mkdir', ['-p', bin]);
    writeFileSync(join(bin, 'awk'), '#!/bin/sh\nexit 2\n', { mode: 0o755 });
    const pod = {
      metadata: { name: 'noawk', namespace: 'default', uid: 'noawk-1' },
      spec: {
        containers: [
          { name: 'c', image: 'x', command: ['sh', '-c', 'echo "one  two"; printf "no newline"'] },
        ],
      },
    };
    const { code, ctr } = await runJob(
      { pod } as never,
      {},
      { ...process.env, PATH: `${bin}:${process.env.PATH}` },
    );
    expect(code).toBe(0);
    expect(ctr('c', 'log')).toMatch(
      /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z stdout F one {2}two\n\S+ stdout F no newline\n$/,
    );
  });

  /** Every line of a CRI log parsed; P chunks joined per stream; throws on a line that does not parse. */
  function criLines(log: string): Record<'stdout' | 'stderr', string[]> {
    const out = { stdout: [] as string[], stderr: [] as string[] };
    const pending = { stdout: '', stderr: '' };
    expect(log.endsWith('\n')).toBe(true);
    for (const l of log.slice(0, -1).split('\n')) {
      const m = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{6})?Z (stdout|stderr) ([PF]) (.*)$/s.exec(l);
      if (!m) throw new Error(`not a CRI line: ${JSON.stringify(l.slice(0, 120))}`);
      const stream = m[1] as 'stdout' | 'stderr';
      expect(Buffer.byteLength(l) + 1).toBeLessThanOrEqual(4096);
      pending[stream] += m[3];
      if (m[2] === 'F') {
        out[stream].push(pending[stream]);
        pending[stream] = '';
      }
    }
    expect(pending).toEqual({ stdout: '', stderr: '' });
    return out;
  }

  it.each([
    ['awk', false],
    ['the bash loop', true],
  ])('never interleaves stdout and stderr written at once by many processes (%s)', async (_, noAwk) => {
    const bin = join(root, 'no-awk-bin');
    execFileSync('mkdir', ['-p', bin]);
    writeFileSync(join(bin, 'awk'), '#!/bin/sh\nexit 2\n', { mode: 0o755 });
    const writers = 4;
    const n = noAwk ? 400 : 2000;
    const long = 'x'.repeat(9000);
    // A long line first (alone on its pipe), then writers racing on both streams, then a last
    // stderr line without a newline.
    const program = [
      `printf '%s\\n' "$(printf 'x%.0s' $(seq 9000))"`,
      `for w in $(seq ${writers}); do (for i in $(seq ${n}); do echo "w$w out $i"; echo "w$w err $i" >&2; done) & done`,
      'wait',
      "printf 'tail without newline' >&2",
    ].join('\n');
    const pod = {
      metadata: { name: 'stress', namespace: 'default', uid: `stress-${noAwk ? 'bash' : 'awk'}` },
      spec: { containers: [{ name: 'c', image: 'x', command: ['bash', '-c', program] }] },
    };
    const env = noAwk ? { ...process.env, PATH: `${bin}:${process.env.PATH}` } : process.env;
    const { code, ctr } = await runJob({ pod } as never, {}, env);
    expect(code).toBe(0);
    const got = criLines(ctr('c', 'log'));
    const want = (stream: string) =>
      Array.from({ length: writers }, (_, w) =>
        Array.from({ length: n }, (_, i) => `w${w + 1} ${stream} ${i + 1}`),
      ).flat();
    expect(got.stdout[0]).toBe(long);
    expect(got.stdout.slice(1).sort()).toEqual(want('out').sort());
    expect(got.stderr.at(-1)).toBe('tail without newline');
    expect(got.stderr.slice(0, -1).sort()).toEqual(want('err').sort());
  });

  it('an env name posing as an option of env(1) stays a variable name (docker runtime, fake docker, real bash)', async () => {
    const pwn = join(root, 'env-pwned');
    const ran = join(root, 'fake-docker.ran');
    const fake = join(root, 'fake-docker');
    writeFileSync(fake, `#!/bin/sh\n[ "$1" = run ] && echo ran >${ran}\nexit 0\n`, { mode: 0o755 });
    const pod = {
      metadata: { name: 'envopt', namespace: 'default', uid: 'envopt-1' },
      spec: { containers: [{ name: 'c', image: 'x', env: [{ name: 'DOTTED.NAME', value: 'v' }] }] },
    };
    const job = buildJob(
      { pod } as never,
      slurmConfig({ dataRoot: root, containerRuntime: 'docker', runtimePath: fake }),
    );
    // Past the wire and buildJob's checks (which refuse it): the script itself must hold.
    job.containers[0]!.env.unshift(['-Ssh', `x sh -c "touch ${pwn}"`]);
    execFileSync('mkdir', ['-p', job.jobDir]);
    const path = join(job.jobDir, 'job.sh');
    writeFileSync(path, renderScript(job), { mode: 0o700 });
    await run('bash', [path], { cwd: job.jobDir });
    expect(readFileSync(ran, 'utf8')).toBe('ran\n');
    expect(existsSync(pwn)).toBe(false);
  });

  it('stops at a failed init container: later containers never start', async () => {
    const pod = {
      metadata: { name: 'fail', namespace: 'default', uid: 'fail-1' },
      spec: {
        initContainers: [
          { name: 'i1', image: 'x', command: ['sh', '-c', 'exit 7'] },
          { name: 'i2', image: 'x', command: ['sh', '-c', 'echo never'] },
        ],
        containers: [{ name: 'a', image: 'x', command: ['echo', 'never'] }],
      },
    };
    const { code, job, ctr } = await runJob({ pod } as never);
    expect(code).toBe(7);
    expect(ctr('i1', 'exit')).toBe('7\n');
    expect(readdirSync(join(job.jobDir, 'containers')).filter((f) => !f.startsWith('i1.'))).toEqual([]);
    expect(readFileSync(join(job.jobDir, 'job.exit'), 'utf8')).toBe('7\n');
  });

  it('hands hostile command args and env values to the process literally', async () => {
    const env = HOSTILE.map((v, i) => ({ name: `H${i}`, value: v }));
    const pod = {
      metadata: { name: 'hostile', namespace: 'default', uid: 'hostile-1' },
      spec: {
        containers: [
          // Prints its args, then the env values, NUL-separated, into a file of the job dir.
          {
            name: 'args',
            image: 'x',
            command: ['sh', '-c', 'printf "%s\\0" "$@" > args.out', 'sh', ...HOSTILE],
            workingDir: root,
          },
          {
            name: 'env',
            image: 'x',
            command: [
              'sh',
              '-c',
              `for i in $(seq 0 ${HOSTILE.length - 1}); do eval "printf '%s\\0' \\"\\$H$i\\""; done > env.out`,
            ],
            env,
            workingDir: root,
          },
        ],
      },
    };
    const { code } = await runJob({ pod } as never);
    expect(code).toBe(0);
    expect(readFileSync(join(root, 'args.out'), 'utf8').split('\0').slice(0, -1)).toEqual(HOSTILE);
    expect(readFileSync(join(root, 'env.out'), 'utf8').split('\0').slice(0, -1)).toEqual(HOSTILE);
    expect(() => statSync('/tmp/il-pwned')).toThrow();
  });

  it('non-shared mode: volume files travel in the script (base64) and arrive byte for byte with their modes', async () => {
    const data = {
      pod: {
        metadata: { name: 'vols', namespace: 'default', uid: 'vols-1' },
        spec: {
          containers: [
            {
              name: 'c',
              image: 'x',
              command: ['true'],
              volumeMounts: [
                { name: 's', mountPath: '/s' },
                { name: 'cm', mountPath: '/cm' },
              ],
            },
          ],
          volumes: [
            { name: 's', secret: { secretName: 'sec', defaultMode: 0o400 } },
            {
              name: 'cm',
              configMap: { name: 'cfg', items: [{ key: 'k', path: 'sub/dir/k.txt', mode: 0o604 }] },
            },
          ],
        },
      },
      container: [
        {
          name: 'c',
          secrets: [
            {
              metadata: { name: 'sec' },
              data: {
                pem: Buffer.from(`-----BEGIN X-----\n'$(x)'\n\`y\`\n-----END X-----\n`).toString('base64'),
              },
            },
          ],
          configMaps: [{ metadata: { name: 'cfg' }, data: { k: HOSTILE.join('\n') } }],
        },
      ],
    };
    // Plain processes take no volumeMounts: a docker runtime that is `true` does nothing.
    const { code, job } = await runJob(data as never, {
      sharedFs: false,
      containerRuntime: 'docker',
      runtimePath: '/bin/true',
    });
    expect(code).toBe(0);
    const pem = join(job.jobDir, 'volumes', 's', 'pem');
    expect(readFileSync(pem, 'utf8')).toBe(`-----BEGIN X-----\n'$(x)'\n\`y\`\n-----END X-----\n`);
    expect(statSync(pem).mode & 0o777).toBe(0o400);
    const k = join(job.jobDir, 'volumes', 'cm', 'sub', 'dir', 'k.txt');
    expect(readFileSync(k, 'utf8')).toBe(HOSTILE.join('\n'));
    expect(statSync(k).mode & 0o777).toBe(0o604);
    // Nothing of the secret appears in clear in the script.
    expect(readFileSync(join(job.jobDir, 'job.sh'), 'utf8')).not.toContain('BEGIN X');
  });

  it('non-shared mode: never writes or chmods through a link left in the job directory (real bash)', async () => {
    const outside = join(root, 'script-outside');
    execFileSync('mkdir', ['-p', '-m', '0755', outside]);
    writeFileSync(join(outside, 'victim'), 'keep', { mode: 0o644 });
    for (const [uid, link, target] of [
      ['link-1', 'volumes', outside],
      ['link-2', 'volumes/s/pem', join(outside, 'victim')],
      ['link-3', 'empty/e', outside],
    ] as const) {
      const data = {
        pod: {
          metadata: { name: 'links', namespace: 'default', uid },
          spec: {
            containers: [
              {
                name: 'c',
                image: 'x',
                volumeMounts: [
                  { name: 's', mountPath: '/s' },
                  { name: 'e', mountPath: '/e', subPath: 'sub' },
                ],
              },
            ],
            volumes: [
              { name: 's', secret: { secretName: 'sec', defaultMode: 0o777 } },
              { name: 'e', emptyDir: {} },
            ],
          },
        },
        container: [
          {
            name: 'c',
            secrets: [{ metadata: { name: 'sec' }, data: { pem: Buffer.from('evil').toString('base64') } }],
          },
        ],
      };
      const cfg = slurmConfig({
        dataRoot: root,
        containerRuntime: 'docker',
        runtimePath: '/bin/true',
        sharedFs: false,
      });
      const job = buildJob(data as never, cfg);
      const at = join(job.jobDir, link);
      execFileSync('mkdir', ['-p', join(at, '..')]);
      symlinkSync(target, at);
      const path = join(job.jobDir, 'job.sh');
      writeFileSync(path, renderScript(job), { mode: 0o700 });
      const code = await run('bash', [path], { cwd: job.jobDir }).then(
        () => 0,
        (e: { code: number }) => e.code,
      );
      expect(code).not.toBe(0);
      expect(readdirSync(outside)).toEqual(['victim']);
      expect(readFileSync(join(outside, 'victim'), 'utf8')).toBe('keep');
      expect(statSync(join(outside, 'victim')).mode & 0o777).toBe(0o644);
      expect(statSync(outside).mode & 0o777).toBe(0o755);
    }
  });

  it('forwards USR1 sent to the batch shell alone (sbatch --signal=B:USR1@60) without stopping the job', async () => {
    const pod = {
      metadata: { name: 'usr1', namespace: 'default', uid: 'usr1-1' },
      spec: {
        containers: [
          {
            name: 'c',
            image: 'x',
            command: [
              'sh',
              '-c',
              "trap 'echo warned; kill $!' USR1; echo ready; sleep 30 & wait; echo carried on; exit 0",
            ],
          },
        ],
      },
    };
    const job = buildJob({ pod } as never, slurmConfig({ dataRoot: root, containerRuntime: 'none' }));
    execFileSync('mkdir', ['-p', job.jobDir]);
    const path = join(job.jobDir, 'job.sh');
    writeFileSync(path, renderScript(job), { mode: 0o700 });
    const { spawn } = await import('node:child_process');
    const child = spawn('bash', [path], { cwd: job.jobDir, stdio: 'ignore' });
    const log = join(job.jobDir, 'containers', 'c.log');
    for (let i = 0; i < 100 && !(existsSync(log) && readFileSync(log, 'utf8').includes('ready')); i++) {
      await new Promise((r) => setTimeout(r, 100));
    }
    child.kill('SIGUSR1');
    const code = await new Promise((r) => child.once('exit', (c) => r(c)));
    expect(code).toBe(0);
    expect(readFileSync(log, 'utf8')).toMatch(/stdout F warned\n.*stdout F carried on\n$/s);
  });

  it('a SIGTERM to the job reaches the containers, which still get exit codes', async () => {
    const pod = {
      metadata: { name: 'term', namespace: 'default', uid: 'term-1' },
      spec: {
        containers: [
          {
            name: 'sleeper',
            image: 'x',
            command: ['sh', '-c', "trap 'echo got TERM; kill $!; exit 42' TERM; echo ready; sleep 60 & wait"],
          },
        ],
      },
    };
    const cfg = slurmConfig({ dataRoot: root, containerRuntime: 'none' });
    const job = buildJob({ pod } as never, cfg);
    execFileSync('mkdir', ['-p', job.jobDir]);
    const path = join(job.jobDir, 'job.sh');
    writeFileSync(path, renderScript(job), { mode: 0o700 });
    const { spawn } = await import('node:child_process');
    const child = spawn('bash', [path], { cwd: job.jobDir, stdio: 'ignore' });
    const log = join(job.jobDir, 'containers', 'sleeper.log');
    for (let i = 0; i < 100; i++) {
      try {
        if (readFileSync(log, 'utf8').includes('ready')) break;
      } catch {}
      await new Promise((r) => setTimeout(r, 100));
    }
    child.kill('SIGTERM'); // only the batch shell, as `scancel --batch` would
    const code = await new Promise((r) => child.once('exit', (c) => r(c)));
    expect(code).toBe(42);
    expect(readFileSync(join(job.jobDir, 'containers', 'sleeper.exit'), 'utf8')).toBe('42\n');
    expect(readFileSync(log, 'utf8')).toMatch(/stdout F got TERM/);
  });
});
