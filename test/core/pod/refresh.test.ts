/**
 * refreshVolumeFiles on a real directory: changed files are replaced by rename (a new inode,
 * the exact mode), unchanged ones are left alone, files outside volumes/ are never touched,
 * and a volume directory swapped for a symbolic link is refused without writing through it.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { refreshVolumeFiles } from '../../../src/core/pod/refresh.ts';

const root = mkdtempSync(join(tmpdir(), 'il-refresh-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

function podDir(name: string): string {
  const dir = join(root, name);
  mkdirSync(join(dir, 'volumes', 'cfg'), { recursive: true, mode: 0o755 });
  writeFileSync(join(dir, 'volumes', 'cfg', 'a'), 'old-a', { mode: 0o644 });
  writeFileSync(join(dir, 'volumes', 'cfg', 'b'), 'same', { mode: 0o644 });
  return dir;
}

describe('refreshVolumeFiles', () => {
  it('replaces what changed, keeps what did not, never writes outside volumes/', async () => {
    const dir = podDir('basic');
    const a = join(dir, 'volumes', 'cfg', 'a');
    const b = join(dir, 'volumes', 'cfg', 'b');
    const [inoA, inoB] = [statSync(a).ino, statSync(b).ino];
    const changed = await refreshVolumeFiles(
      dir,
      [
        { path: a, data: Buffer.from('new-a'), mode: 0o644 },
        { path: b, data: Buffer.from('same'), mode: 0o644 },
        { path: join(dir, 'volumes', 'sec', 'password'), data: Buffer.from('pw'), mode: 0o600 },
        { path: join(dir, 'env', 'main.env'), data: Buffer.from('X=1'), mode: 0o600 },
      ],
      [{ path: join(dir, 'volumes', 'sec'), mode: 0o700 }],
    );
    expect(changed).toEqual(['volumes/cfg/a', 'volumes/sec/password']);
    expect(readFileSync(a, 'utf8')).toBe('new-a');
    expect(statSync(a).ino).not.toBe(inoA);
    expect(statSync(b).ino).toBe(inoB);
    expect(statSync(join(dir, 'volumes', 'sec', 'password')).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, 'volumes', 'sec')).mode & 0o777).toBe(0o700);
    expect(() => statSync(join(dir, 'env'))).toThrow();
  });

  it('a mode change alone is a change', async () => {
    const dir = podDir('mode');
    const a = join(dir, 'volumes', 'cfg', 'a');
    expect(await refreshVolumeFiles(dir, [{ path: a, data: Buffer.from('old-a'), mode: 0o600 }], [])).toEqual(
      ['volumes/cfg/a'],
    );
    expect(statSync(a).mode & 0o777).toBe(0o600);
  });

  it('refuses a volume directory that became a symbolic link', async () => {
    const dir = podDir('link');
    const outside = join(root, 'outside');
    mkdirSync(outside);
    rmSync(join(dir, 'volumes', 'cfg'), { recursive: true });
    symlinkSync(outside, join(dir, 'volumes', 'cfg'));
    await expect(
      refreshVolumeFiles(
        dir,
        [{ path: join(dir, 'volumes', 'cfg', 'a'), data: Buffer.from('x'), mode: 0o644 }],
        [],
      ),
    ).rejects.toThrow(/symbolic link/);
    expect(() => statSync(join(outside, 'a'))).toThrow();
  });
});
