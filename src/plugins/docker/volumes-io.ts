/**
 * Carrying out a pod's volume plan on the host, and the checks that guard a container's
 * mounts right before it starts. The plan (src/core/pod/volumes.ts) already built every
 * path with pathUnder; this layer checks again that each lies under its root and writes
 * through ../../core/pod/safe-fs.ts, which never follows a symbolic link and sets modes on
 * the open descriptor, so a plan with a hole still cannot write, chmod or mount outside.
 */
import { mkdir, open, realpath, stat } from 'node:fs/promises';
import { posix } from 'node:path';
import { isUnder, safeRelative } from '../../core/pod/paths.ts';
import { assertNoLinks, mkdirUnder, writeFileUnder } from '../../core/pod/safe-fs.ts';
import type { VolumePlan } from '../../core/pod/volumes.ts';
import { invalidInput } from '../../errors/index.ts';

/**
 * `path` relative to the first root it lies strictly under, re-checked as a relative path;
 * INVALID_INPUT when it lies under none.
 */
export function underOneOf(path: string, roots: string[], field: string): { root: string; rel: string } {
  for (const root of roots) {
    const r = posix.normalize(root);
    if (path !== r && isUnder(path, r)) return { root: r, rel: safeRelative(posix.relative(r, path), field) };
  }
  throw invalidInput(`${field}: a volume path lies outside the pod's directory`, field);
}

/**
 * Create the plan's hostPath checks, directories and files under `podDir` (or, for a
 * hostPath subPath directory, under that hostPath). Every directory and file is made by
 * mkdirUnder / writeFileUnder: no link is followed, modes are exact.
 */
export async function writeVolumePlan(podDir: string, v: VolumePlan, hostPathRoots: string[]): Promise<void> {
  const roots = await Promise.all(hostPathRoots.map((r) => realpath(r).catch(() => r)));
  for (const h of v.hostPathChecks) {
    if (h.type === 'DirectoryOrCreate') await mkdir(h.path, { recursive: true, mode: 0o755 });
    if (h.type === 'FileOrCreate') await (await open(h.path, 'a', 0o644)).close();
    const st = await stat(h.path).catch(() => undefined);
    if (!st) {
      if (h.type === '') continue; // no check asked for; docker will say if it cannot mount it
      throw invalidInput(`${h.field}: the path does not exist on the node`, h.field);
    }
    const real = await realpath(h.path);
    if (!roots.some((r) => isUnder(real, r)))
      throw invalidInput(`${h.field}: the path resolves outside the allowed directories`, h.field);
    const ok =
      h.type === '' ||
      h.type === 'DirectoryOrCreate' ||
      h.type === 'FileOrCreate' ||
      (h.type === 'Directory' && st.isDirectory()) ||
      (h.type === 'File' && st.isFile()) ||
      (h.type === 'Socket' && st.isSocket()) ||
      (h.type === 'CharDevice' && st.isCharacterDevice()) ||
      (h.type === 'BlockDevice' && st.isBlockDevice());
    if (!ok) throw invalidInput(`${h.field}: the path is not a ${h.type}`, h.field);
  }
  const dirRoots = [podDir, ...v.hostPathChecks.map((h) => h.path)];
  const dirModes = new Map<string, number>();
  for (const d of v.dirs) {
    const { root, rel } = underOneOf(d.path, dirRoots, 'pod.spec.volumes');
    await mkdirUnder(root, rel, d.mode, 'pod.spec.volumes', 0o700);
    dirModes.set(d.path, d.mode);
  }
  for (const f of v.files) {
    const { rel } = underOneOf(f.path, [podDir], 'pod.spec.volumes');
    // An existing parent keeps the mode the plan gave it.
    const parentMode = dirModes.get(posix.dirname(f.path)) ?? 0o700;
    await writeFileUnder(podDir, rel, f.data, f.mode, 'pod.spec.volumes', parentMode);
  }
  for (const mounts of v.mounts.values()) {
    for (const m of mounts) {
      if (!m.host) continue;
      const real = await realpath(m.source).catch(() => m.source);
      if (!roots.some((r) => isUnder(real, r)))
        throw invalidInput('hostPath mount: the path resolves outside the allowed directories');
    }
  }
}

/** A bind mount as `docker inspect` reports it (HostConfig.Mounts). */
export interface InspectedMount {
  Type: string;
  Source: string;
}

/**
 * Right before a container starts (Docker resolves a bind mount's source then, following
 * links): a source in the pod's directory must be reachable from it without a symbolic
 * link — a container sharing an emptyDir may have swapped a subPath directory for a link
 * to "/" since this one was created (CVE-2017-1002101) — and any other source must still
 * resolve under an allowed hostPath root. Returns why the container must not start, or
 * undefined; the reason names the mount's position, never its path.
 */
export async function mountRefusal(
  podDir: string,
  mounts: InspectedMount[],
  hostPathRoots: string[],
): Promise<string | undefined> {
  const roots = await Promise.all(hostPathRoots.map((r) => realpath(r).catch(() => r)));
  for (const [i, m] of mounts.entries()) {
    if (m.Type !== 'bind') continue;
    const field = `mount ${i + 1}`;
    try {
      if (isUnder(m.Source, podDir)) {
        const rel = posix.relative(posix.normalize(podDir), posix.normalize(m.Source));
        if (rel !== '') await assertNoLinks(podDir, rel, field);
        continue;
      }
      const real = await realpath(m.Source).catch(() => undefined);
      if (real === undefined || !roots.some((r) => isUnder(real, r)))
        return `${field}: the hostPath no longer resolves under the allowed directories; refusing to start`;
    } catch (err) {
      return `${(err as Error).message}; refusing to start (a volume path was replaced by a symbolic link?)`;
    }
  }
  return undefined;
}
