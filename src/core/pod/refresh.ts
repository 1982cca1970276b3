/**
 * Refreshing the files of a running pod's configMap, secret, projected and downwardAPI
 * volumes (issue #15): a repeated create carries the VK's current view (a refreshed
 * service-account token, an edited ConfigMap or Secret), and both plugins rewrite the files
 * under `<pod dir>/volumes/` that changed. Each file is replaced atomically, as the kubelet's
 * `..data` symlink swap does: the new bytes go to a temporary file in the same directory
 * (O_EXCL, O_NOFOLLOW, its mode set on the descriptor), which is then renamed over the old
 * one, so a container reading the file sees the old or the new content, never half of
 * either. A volume mounted as a directory shows the new file at once; a subPath mount pins
 * the file it started with (as on a kubelet, where subPath volumes are never updated).
 * Files are never written through a symbolic link (safe-fs.ts); keys that disappeared are
 * left in place.
 */
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { lstat, open, rename, rm } from 'node:fs/promises';
import { posix } from 'node:path';
import { isUnder } from './paths.ts';
import { mkdirUnder } from './safe-fs.ts';
import type { DirToMake, FileToWrite } from './volumes.ts';

const { O_CREAT, O_EXCL, O_NOFOLLOW, O_NONBLOCK, O_RDONLY, O_WRONLY } = constants;

/** Whether `path` already is a real file with exactly `data` and `mode` (no link followed). */
async function unchanged(path: string, data: Buffer, mode: number): Promise<boolean> {
  const st = await lstat(path).catch(() => undefined);
  if (!st?.isFile() || (st.mode & 0o7777) !== mode || st.size !== data.length) return false;
  const fh = await open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK).catch(() => undefined);
  if (!fh) return false;
  try {
    return (await fh.readFile()).equals(data);
  } finally {
    await fh.close();
  }
}

/** Replace `dir/name` with `data` at `mode`: a temporary file beside it, then rename. */
async function replaceFile(dir: string, name: string, data: Buffer, mode: number): Promise<void> {
  const tmp = posix.join(dir, `..${name}.il-${randomBytes(6).toString('hex')}`);
  const fh = await open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_NONBLOCK, mode);
  try {
    await fh.chmod(mode);
    await fh.writeFile(data);
  } catch (err) {
    await fh.close();
    await rm(tmp, { force: true });
    throw err;
  }
  await fh.close();
  await rename(tmp, posix.join(dir, name)).catch(async (err: unknown) => {
    await rm(tmp, { force: true });
    throw err;
  });
}

/**
 * Rewrite the planned files under `podDir/volumes/` whose content or mode differs from what
 * is there; their directories are created or checked as at create (never a link). Resolves
 * with the paths (relative to `podDir`) that were rewritten. Throws INVALID_INPUT when a
 * path component is a link; other I/O errors as they come.
 */
export async function refreshVolumeFiles(
  podDir: string,
  files: readonly FileToWrite[],
  dirs: readonly DirToMake[],
): Promise<string[]> {
  const volumes = posix.join(podDir, 'volumes');
  const dirModes = new Map(dirs.map((d) => [d.path, d.mode]));
  const out: string[] = [];
  for (const f of files) {
    if (!isUnder(f.path, volumes)) continue;
    if (await unchanged(f.path, f.data, f.mode)) continue;
    const parent = posix.dirname(f.path);
    const rel = posix.relative(podDir, parent);
    const dir = await mkdirUnder(podDir, rel, dirModes.get(parent) ?? 0o700, 'volume file', 0o700);
    await replaceFile(dir, posix.basename(f.path), f.data, f.mode);
    out.push(posix.relative(podDir, f.path));
  }
  return out;
}
