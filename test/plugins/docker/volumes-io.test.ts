/**
 * The I/O layer's own checks, on a real file system with plans crafted as a planner with a
 * hole would make them: a path leaving the pod directory, a directory swapped for a link.
 */
import { lstat, mkdir, mkdtemp, readdir, rm, stat, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { VolumePlan } from '../../../src/core/pod/volumes.ts';
import { mountRefusal, underOneOf, writeVolumePlan } from '../../../src/plugins/docker/volumes-io.ts';

let base: string;
let podDir: string;
let outside: string;

beforeEach(async () => {
  base = await mkdtemp(join(tmpdir(), 'ilk-vio-'));
  podDir = join(base, 'data', 'pod-uid');
  outside = join(base, 'outside');
  await mkdir(podDir, { recursive: true, mode: 0o700 });
  await mkdir(outside, { mode: 0o700 });
});
afterEach(() => rm(base, { recursive: true, force: true }));

const plan = (over: Partial<VolumePlan>): VolumePlan => ({
  dirs: [],
  files: [],
  dockerVolumes: [],
  hostPathChecks: [],
  mounts: new Map(),
  warnings: [],
  ...over,
});

describe('underOneOf', () => {
  it.each([
    ['/d/pod/volumes/a', ['/d/pod'], { root: '/d/pod', rel: 'volumes/a' }],
    ['/d/pod/../x', ['/d/pod'], undefined],
    ['/d/pod', ['/d/pod'], undefined],
    ['/d/podx/a', ['/d/pod'], undefined],
    ['/h/a', ['/d/pod', '/h'], { root: '/h', rel: 'a' }],
  ])('%j under %j', (p, roots, want) => {
    if (want) expect(underOneOf(p, roots, 'f')).toEqual(want);
    else expect(() => underOneOf(p, roots, 'f')).toThrow(/f: a volume path lies outside/);
  });
});

describe('writeVolumePlan refuses what a bad plan asks for', () => {
  it.each([
    [
      'a directory above the pod directory',
      plan({ dirs: [{ path: `${podDir}/../../outside`, mode: 0o777 }] }),
    ],
    ['a directory elsewhere', plan({ dirs: [{ path: '/tmp', mode: 0o777 }] })],
    [
      'a file above the pod directory',
      plan({
        files: [{ path: `${podDir}/volumes/../../../outside/x`, data: Buffer.from('x'), mode: 0o644 }],
      }),
    ],
  ])('%s', async (_what, p) => {
    await expect(writeVolumePlan(podDir, p, [])).rejects.toThrow(/outside the pod's directory|relative path/);
    expect(await readdir(outside)).toEqual([]);
    expect((await stat(outside)).mode & 0o777).toBe(0o700);
  });

  it('never chmods or writes through a volume directory swapped for a link', async () => {
    await mkdir(join(podDir, 'empty'), { mode: 0o700 });
    await symlink(outside, join(podDir, 'empty', 'scratch'));
    await expect(
      writeVolumePlan(podDir, plan({ dirs: [{ path: join(podDir, 'empty', 'scratch'), mode: 0o777 }] }), []),
    ).rejects.toThrow(/symbolic link/);
    await symlink(outside, join(podDir, 'volumes'));
    await expect(
      writeVolumePlan(
        podDir,
        plan({
          files: [{ path: join(podDir, 'volumes', 'sec', 'key'), data: Buffer.from('k'), mode: 0o600 }],
        }),
        [],
      ),
    ).rejects.toThrow(/symbolic link/);
    expect((await stat(outside)).mode & 0o777).toBe(0o700);
    expect(await readdir(outside)).toEqual([]);
  });

  it('writes a good plan with exact modes', async () => {
    const sec = join(podDir, 'volumes', 'sec');
    await writeVolumePlan(
      podDir,
      plan({
        dirs: [
          { path: sec, mode: 0o700 },
          { path: join(podDir, 'empty', 'e'), mode: 0o777 },
        ],
        files: [{ path: join(sec, 'key'), data: Buffer.from('k'), mode: 0o600 }],
      }),
      [],
    );
    expect((await lstat(sec)).mode & 0o777).toBe(0o700);
    expect((await lstat(join(sec, 'key'))).mode & 0o777).toBe(0o600);
    expect((await lstat(join(podDir, 'empty', 'e'))).mode & 0o777).toBe(0o777);
  });
});

describe('mountRefusal, right before a start', () => {
  it('accepts mounts reached without a link, refuses one that crosses a link', async () => {
    const vol = join(podDir, 'empty', 'shared');
    await mkdir(join(vol, 'ok'), { recursive: true });
    await symlink('/', join(vol, 'evil'));
    const bind = (Source: string) => ({ Type: 'bind', Source });
    expect(await mountRefusal(podDir, [bind(vol), bind(join(vol, 'ok'))], [])).toBeUndefined();
    expect(await mountRefusal(podDir, [bind(join(vol, 'ok')), bind(join(vol, 'evil'))], [])).toMatch(
      /^mount 2: a path component is a symbolic link.*refusing to start/,
    );
    expect(await mountRefusal(podDir, [bind(join(vol, 'evil', 'etc'))], [])).toMatch(/symbolic link/);
    expect(await mountRefusal(podDir, [{ Type: 'volume', Source: 'ilk_x' }], [])).toBeUndefined();
  });

  it('refuses a hostPath source that no longer resolves under the allowed roots', async () => {
    const root = join(base, 'host');
    await mkdir(join(root, 'data'), { recursive: true });
    await symlink(outside, join(root, 'escape'));
    const bind = (Source: string) => ({ Type: 'bind', Source });
    expect(await mountRefusal(podDir, [bind(join(root, 'data'))], [root])).toBeUndefined();
    expect(await mountRefusal(podDir, [bind(join(root, 'escape'))], [root])).toMatch(
      /^mount 1: the hostPath/,
    );
  });
});
