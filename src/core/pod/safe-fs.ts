/**
 * File-system writes under a pod's directory that never follow a symlink (the pattern of
 * CVE-2017-1002101: a container swaps a directory for a link to escape its volume). Each
 * component below the trusted `root` is created or checked with `lstat`; the final file or
 * directory is opened with O_NOFOLLOW and its mode set on the open descriptor, so neither
 * a link nor the process umask decides where bytes land or what mode they get.
 *
 * `root` is trusted (site configuration, created by the plugin); `rel` must already be a
 * checked relative path (./paths.ts `safeRelative`), and is checked again here.
 */
import { constants } from 'node:fs';
import { lstat, mkdir, open } from 'node:fs/promises';
import { posix } from 'node:path';
import { invalidInput } from '../../errors/index.ts';
import { safeRelative } from './paths.ts';

// O_NONBLOCK: a FIFO planted by a container must not hang the plugin on open.
const { O_CREAT, O_DIRECTORY, O_NOFOLLOW, O_NONBLOCK, O_RDONLY, O_TRUNC, O_WRONLY } = constants;

function linkRefused(field: string): Error {
  return invalidInput(`${field}: a path component is a symbolic link or not a directory`, field);
}

/** Ensure `dir` exists as a real directory (not a link); create it with `mode` if absent. */
async function realDir(dir: string, mode: number, field: string): Promise<void> {
  try {
    await mkdir(dir, { mode });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  const st = await lstat(dir);
  if (!st.isDirectory()) throw linkRefused(field);
}

/**
 * Create `root/rel` and every missing directory between, none of them a link, and set the
 * last one's mode (not subject to the umask). Intermediate directories get `parentMode`.
 */
export async function mkdirUnder(
  root: string,
  rel: string,
  mode: number,
  field: string,
  parentMode = mode,
): Promise<string> {
  const parts = safeRelative(rel, field).split('/');
  let dir = root;
  for (const [i, part] of parts.entries()) {
    dir = posix.join(dir, part);
    await realDir(dir, i === parts.length - 1 ? mode : parentMode, field);
  }
  const fh = await open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
  try {
    await fh.chmod(mode);
  } finally {
    await fh.close();
  }
  return dir;
}

/**
 * Write `data` to `root/rel` with `mode`, creating parents with `dirMode`; never through a
 * link, whether the link is the file itself or any directory above it.
 */
export async function writeFileUnder(
  root: string,
  rel: string,
  data: Buffer | string,
  mode: number,
  field: string,
  dirMode = 0o700,
): Promise<string> {
  const checked = safeRelative(rel, field);
  const parent = posix.dirname(checked);
  const dir = parent === '.' ? root : await mkdirUnder(root, parent, dirMode, field);
  const path = posix.join(dir, posix.basename(checked));
  let fh: Awaited<ReturnType<typeof open>>;
  try {
    fh = await open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_NONBLOCK, mode);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ELOOP') throw linkRefused(field);
    throw err;
  }
  try {
    await fh.chmod(mode);
    await fh.writeFile(data);
  } finally {
    await fh.close();
  }
  return path;
}

/** Set the mode of `path` only if it is a real file or directory, never through a link. */
export async function chmodNoFollow(path: string, mode: number, field: string): Promise<void> {
  let fh: Awaited<ReturnType<typeof open>>;
  try {
    fh = await open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ELOOP') throw linkRefused(field);
    throw err;
  }
  try {
    await fh.chmod(mode);
  } finally {
    await fh.close();
  }
}

/**
 * Check that `root/rel` can be reached without a symbolic link: every component below
 * `root` is looked at with lstat, the intermediate ones must be real directories, the last
 * a real directory or file. For a subPath right before a container that mounts it starts
 * (a container sharing the volume may have swapped a directory for a link since it was
 * created). INVALID_INPUT naming `field` otherwise; a missing component too.
 */
export async function assertNoLinks(root: string, rel: string, field: string): Promise<string> {
  const parts = safeRelative(rel, field).split('/');
  let p = root;
  for (const [i, part] of parts.entries()) {
    p = posix.join(p, part);
    const st = await lstat(p).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT' || err.code === 'ENOTDIR')
        throw invalidInput(`${field}: the path does not exist in the volume`, field);
      throw err;
    });
    const last = i === parts.length - 1;
    if (!(st.isDirectory() || (last && st.isFile()))) throw linkRefused(field);
  }
  return p;
}
