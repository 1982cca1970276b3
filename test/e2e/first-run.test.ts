/**
 * "The first ten minutes" (issue #11), as a new user lives them: a fresh `git clone` of this
 * repository, the machine's own Node (20 here) first on PATH, and the README's first command
 * `npm ci && npm run up`. It must print the banner, run examples/busy-echo.yaml to Succeeded
 * with the printed KUBECONFIG and kubectl, and after Ctrl-C (SIGINT to the whole process
 * group, which `npm run` forwards again) leave nothing behind. Then `npm pack` of the same
 * clone must give a package whose `interlink` binary runs (`npx ./interlink-*.tgz`).
 *
 * The control-plane binaries come from the shared cache (~/.cache/interlink), so `up` starts
 * in seconds once the e2e project's setup has built them. The mock plugin finishes the pod
 * after a few seconds (MOCKCONFIGPATH: runTime), as the docker plugin would.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { eventually, type Obj, ROOT, run } from './harness.ts';

let dir: string;
let clone: string;
/** The machine's own Node first: what a new user's shell has. */
let env: NodeJS.ProcessEnv;
const systemNode = ['/usr/local/bin/node', '/usr/bin/node'].find(existsSync);
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
const took: string[] = [];

async function timed<T>(what: string, fn: () => Promise<T>): Promise<T> {
  const t0 = performance.now();
  try {
    return await fn();
  } finally {
    took.push(`${what}: ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  }
}

async function must(cmd: string, args: string[], opts: { cwd: string; timeoutMs?: number }) {
  const r = await run(cmd, args, { cwd: opts.cwd, env, timeoutMs: opts.timeoutMs ?? 300_000 });
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')}: exit ${r.code}\n${r.stdout}\n${r.stderr}`);
  return r;
}

/** Processes whose command line mentions `path`. */
function processesUsing(path: string): string[] {
  const found: string[] = [];
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
      if (cmd.includes(path)) found.push(`${pid}: ${cmd.slice(0, 200)}`);
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'interlink-e2e-first-run-'));
  clone = join(dir, 'interlink');
  // The system's node dir first, then the usual system dirs; nothing of this test run's Node 24.
  const nodeDir = systemNode ? dirname(systemNode) : '/usr/bin';
  env = {
    HOME: process.env.HOME,
    PATH: `${nodeDir}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`,
    LANG: 'C.UTF-8',
    ...(process.env.INTERLINK_CACHE ? { INTERLINK_CACHE: process.env.INTERLINK_CACHE } : {}),
  };
  await timed('git clone', () => must('git', ['clone', '--quiet', ROOT, clone], { cwd: dir }));
}, 120_000);

afterAll(async () => {
  console.log(`first run, phase durations:\n  ${took.join('\n  ')}`);
  await rm(dir, { recursive: true, force: true });
});

it('npm ci && npm run up in a fresh clone with the machine Node first: banner, busy-echo Succeeded, Ctrl-C leaves nothing', async () => {
  const nodeVersion = (await must('node', ['--version'], { cwd: clone })).stdout.trim();
  const ci = await timed('npm ci', () => must('npm', ['ci', '--no-audit', '--no-fund'], { cwd: clone }));
  const [major, minor] = nodeVersion.slice(1).split('.').map(Number) as [number, number];
  if (major < 22 || (major === 22 && minor < 19))
    expect(ci.stdout + ci.stderr).toContain(
      `interlink: this is Node ${nodeVersion}; interlink needs Node >=22.19.`,
    );

  const mockConfig = join(dir, 'mock.yaml');
  await writeFile(mockConfig, 'runTime: 6s\nlogInterval: 1s\n');
  const up: ChildProcess = spawn('npm', ['run', 'up'], {
    cwd: clone,
    env: { ...env, MOCKCONFIGPATH: mockConfig },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true, // its own process group, like a terminal's foreground job
  });
  const output: string[] = [];
  const collect = (c: Buffer) => output.push(...String(c).split('\n').filter(Boolean));
  up.stdout!.on('data', collect);
  up.stderr!.on('data', collect);
  const exited = new Promise<number | null>((r) => up.once('exit', (code) => r(code)));
  const tail = () => `--- npm run up (last 60 lines):\n${output.slice(-60).join('\n')}`;
  try {
    const kubeconfig = await timed('npm run up until the banner', () =>
      eventually(
        'the banner',
        async () => {
          if (up.exitCode !== null) throw new Error(`npm run up exited ${up.exitCode}`);
          return output.map((l) => /^export KUBECONFIG=(\S+)$/.exec(l)?.[1]).find(Boolean);
        },
        280_000,
      ).catch((err: Error) => Promise.reject(new Error(`${err.message}\n${tail()}`))),
    );
    const apply = output.map((l) => /^(\S+\/kubectl) apply -f (\S+)\s/.exec(l)).find(Boolean);
    expect(apply, tail()).toBeTruthy();
    const [, kubectlBin, example] = apply!;
    expect(example).toBe(join(clone, 'examples', 'busy-echo.yaml'));
    const kubectl = async (args: string[]) => {
      const r = await run(kubectlBin!, args, { env: { ...env, KUBECONFIG: kubeconfig } });
      if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')}: ${r.stderr}\n${tail()}`);
      return r.stdout;
    };
    await timed('busy-echo to Succeeded', async () => {
      await kubectl(['apply', '-f', example!]);
      await eventually(
        'busy-echo Succeeded',
        async () => {
          const p = JSON.parse(await kubectl(['get', 'pod', 'busy-echo', '-o', 'json'])) as Obj;
          if (p.status?.phase === 'Failed') throw new Error(`busy-echo Failed: ${JSON.stringify(p.status)}`);
          return p.status?.phase === 'Succeeded';
        },
        180_000,
      );
    });
    expect(await kubectl(['logs', 'busy-echo'])).toMatch(/^echo line 1\n/);

    const clusterDir = dirname(kubeconfig);
    expect(processesUsing(clusterDir).length).toBeGreaterThan(0);
    // Ctrl-C: the terminal signals the whole group (npm, sh, node); npm forwards it once more.
    process.kill(-up.pid!, 'SIGINT');
    await timed('stop', async () => {
      const code = await Promise.race([exited, sleep(150_000).then(() => 'still running' as const)]);
      expect(code, tail()).not.toBe('still running');
    });
    expect(output, tail()).toContain(
      'stopping: deleting the 1 pod on interlink-node so the plugin removes their containers/jobs (up to 60 s)',
    );
    expect(output, tail()).toContain('stopping: 1 pod deleted in the backend');
    expect(output.join('\n')).not.toContain('second signal');
    expect(processesUsing(clusterDir)).toEqual([]);
    expect(processesUsing(clone)).toEqual([]);
    expect(existsSync(clusterDir)).toBe(false);
  } finally {
    if (up.exitCode === null && up.signalCode === null) {
      try {
        process.kill(-up.pid!, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
}, 900_000);

it('npm pack of the clone: `npx ./interlink-*.tgz` runs the compiled interlink with the machine Node', async () => {
  // (the first test ran `npm ci` in the clone; alone, this one does)
  if (!existsSync(join(clone, 'node_modules')))
    await timed('npm ci', () => must('npm', ['ci', '--no-audit', '--no-fund'], { cwd: clone }));
  const packed = await timed('npm pack', () => must('npm', ['pack', '--silent'], { cwd: clone }));
  const tgz = join(clone, packed.stdout.trim().split('\n').at(-1)!);
  expect(existsSync(tgz)).toBe(true);
  // Somewhere else, as the user would: `npx ./interlink-<version>.tgz ...`.
  const elsewhere = join(dir, 'elsewhere');
  await must('mkdir', ['-p', elsewhere], { cwd: dir });
  await must('cp', [tgz, elsewhere], { cwd: dir });
  const spec = `./${basename(tgz)}`;
  await dropNpxInstalls(spec);
  try {
    const version = await timed('npx ./interlink-*.tgz --version', () =>
      must('npx', ['--yes', spec, '--version'], { cwd: elsewhere }),
    );
    expect(version.stdout.trim()).toBe(pkg.version);
    const help = await must('npx', ['--yes', spec, 'up', '--help'], { cwd: elsewhere });
    expect(help.stdout).toContain('--kubeconfig <file>');
  } finally {
    await dropNpxInstalls(spec);
  }
}, 600_000);

/**
 * npx keeps one install per spec string in `<npm cache>/_npx/<hash>`, whatever directory the
 * spec was relative to: the install an earlier run left for `./interlink-<version>.tgz`
 * points at that run's tarball, deleted since, and npm then fails with ENOENT (CI run 22).
 * Remove ours before and after, nothing else in the cache.
 */
async function dropNpxInstalls(spec: string): Promise<void> {
  const cache = (await must('npm', ['config', 'get', 'cache'], { cwd: dir })).stdout.trim();
  const root = join(cache, '_npx');
  for (const entry of existsSync(root) ? readdirSync(root) : []) {
    const manifest = join(root, entry, 'package.json');
    if (!existsSync(manifest)) continue;
    const packages = (JSON.parse(readFileSync(manifest, 'utf8')) as { _npx?: { packages?: string[] } })._npx
      ?.packages;
    if (packages?.includes(spec)) await rm(join(root, entry), { recursive: true, force: true });
  }
}
