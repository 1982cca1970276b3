import { lstat, mkdir, mkdtemp, readFile, readlink, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isUnder, pathUnder, safeRelative } from '../../../src/core/pod/paths.ts';
import { chmodNoFollow, mkdirUnder, writeFileUnder } from '../../../src/core/pod/safe-fs.ts';

describe('safeRelative', () => {
  it.each([
    ['a', 'a'],
    ['./a/b/', 'a/b'],
    ['a//b', 'a/b'],
    ['..a', '..a'],
  ])('safeRelative(%j) = %j', (p, want) => {
    expect(safeRelative(p, 'f')).toBe(want);
  });
  it.each(['..', 'a/../b', '/abs', '', '.', 'a\nb', 'a/./b', 'a\0b', '../x', 'a/..'])(
    'safeRelative(%j) throws without echoing the value',
    (p) => {
      expect(() => safeRelative(p, 'pod.spec.volumes[x]')).toThrow(
        /pod\.spec\.volumes\[x\]: must be a relative path/,
      );
      try {
        safeRelative(`${p}SECRET`, 'f');
      } catch (err) {
        expect(String(err)).not.toContain('SECRET');
      }
    },
  );
});

describe('isUnder', () => {
  it.each([
    ['/srv/a', '/srv', true],
    ['/srv', '/srv/', true],
    ['/srvx', '/srv', false],
    ['/srv/a/../../etc', '/srv', false],
    ['/anything', '/', true],
  ])('isUnder(%j, %j) = %j', (p, r, want) => {
    expect(isUnder(p, r)).toBe(want);
  });
});

describe('pathUnder', () => {
  it('joins checked parts under the root', () => {
    expect(pathUnder('/data/pod', 'f', 'volumes', 'cfg', 'a/b')).toBe('/data/pod/volumes/cfg/a/b');
  });
  it.each([['..'], ['../etc'], ['a/../../b'], ['/etc'], ['']])('refuses %j', (p) => {
    expect(() => pathUnder('/data/pod', 'f', 'volumes', p)).toThrow(/f:/);
  });
  it('property: any string either is refused or lands strictly under the root', () => {
    const part = fc.oneof(
      fc.string(),
      fc.constantFrom('..', '.', '/', '../', '/..', 'a/../..', '\0', '\n'),
      fc.array(fc.constantFrom('a', '..', '.', '', '/', 'b'), { maxLength: 6 }).map((xs) => xs.join('/')),
    );
    fc.assert(
      fc.property(fc.array(part, { minLength: 1, maxLength: 4 }), (parts) => {
        let out: string;
        try {
          out = pathUnder('/data/pod', 'f', ...parts);
        } catch {
          return true;
        }
        return out.startsWith('/data/pod/') && !out.split('/').includes('..');
      }),
      { numRuns: Number(process.env.FUZZ_RUNS ?? 2000) },
    );
  });
});

describe('safe-fs on a real file system', () => {
  let root: string;
  let outside: string;
  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'ilk-safefs-'));
    outside = await mkdtemp(join(tmpdir(), 'ilk-outside-'));
  });
  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
    await rm(outside, { recursive: true, force: true });
  });

  it('writes a private file, parents 0700, whatever the umask', async () => {
    const p = await writeFileUnder(root, 'secret/a/token', 'tok', 0o600, 'f');
    expect(await readFile(p, 'utf8')).toBe('tok');
    expect((await stat(p)).mode & 0o777).toBe(0o600);
    expect((await stat(join(root, 'secret'))).mode & 0o777).toBe(0o700);
    expect((await stat(join(root, 'secret/a'))).mode & 0o777).toBe(0o700);
  });

  it('sets the mode of a directory it makes, not subject to the umask', async () => {
    const d = await mkdirUnder(root, 'empty/scratch', 0o777, 'f', 0o700);
    expect((await stat(d)).mode & 0o777).toBe(0o777);
  });

  it('refuses to write through a symlinked directory (the attack: a container swaps a dir for a link)', async () => {
    await symlink(outside, join(root, 'vol'));
    await expect(writeFileUnder(root, 'vol/pwned', 'x', 0o644, 'f')).rejects.toThrow(/symbolic link/);
    await expect(lstat(join(outside, 'pwned'))).rejects.toThrow(/ENOENT/);
  });

  it('refuses to write through a symlinked file', async () => {
    await writeFile(join(outside, 'victim'), 'keep');
    await symlink(join(outside, 'victim'), join(root, 'file'));
    await expect(writeFileUnder(root, 'file', 'x', 0o644, 'f')).rejects.toThrow(/symbolic link/);
    expect(await readFile(join(outside, 'victim'), 'utf8')).toBe('keep');
  });

  it('refuses to chmod through a link, and mkdir through one', async () => {
    await mkdir(join(outside, 'd'), { mode: 0o700 });
    await symlink(join(outside, 'd'), join(root, 'link'));
    await expect(chmodNoFollow(join(root, 'link'), 0o777, 'f')).rejects.toThrow(/symbolic link/);
    await expect(mkdirUnder(root, 'link', 0o777, 'f')).rejects.toThrow(/symbolic link/);
    expect((await stat(join(outside, 'd'))).mode & 0o777).toBe(0o700);
    expect(await readlink(join(root, 'link'))).toBe(join(outside, 'd'));
  });

  it('refuses ".." before touching the disk', async () => {
    await expect(writeFileUnder(root, '../escape', 'x', 0o644, 'f')).rejects.toThrow(/relative path/);
    await expect(mkdirUnder(root, 'a/../../escape', 0o755, 'f')).rejects.toThrow(/relative path/);
  });
});
