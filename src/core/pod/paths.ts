/**
 * The one way a pod-derived name becomes a path (docs/security.md). Every plugin builds the
 * paths of a pod's directory — volumes, item files, subPaths, logs — with `pathUnder`, which
 * checks each component against the shared rule (src/wire/k8s.ts `isRelativePath`) and the
 * result's containment in its root. Pure: it never touches the file system; the I/O
 * counterpart that never follows symlinks is ./safe-fs.ts.
 *
 * Error messages name the field, never the offending value.
 */
import { posix } from 'node:path';
import { invalidInput } from '../../errors/index.ts';
import { isRelativePath } from '../../wire/k8s.ts';

/**
 * A relative path (`a/b/c`) checked against the shared rule, with trailing and repeated
 * slashes and leading `./` tolerated as Kubernetes does; INVALID_INPUT naming `field`
 * otherwise.
 */
export function safeRelative(p: string, field: string): string {
  const n = p
    .replace(/^(\.\/)+/, '')
    .replace(/\/+/g, '/')
    .replace(/\/+$/, '');
  if (!isRelativePath(n))
    throw invalidInput(`${field}: must be a relative path without "..", "." or control characters`, field);
  return n;
}

/** Whether `p` (absolute) is `root` or inside it, after normalising both. */
export function isUnder(p: string, root: string): boolean {
  const r = posix.normalize(root).replace(/\/+$/, '') || '/';
  const n = posix.normalize(p);
  return r === '/' || n === r || n.startsWith(`${r}/`);
}

/**
 * `root` joined with relative parts, each checked by `safeRelative`; the result is proven to
 * stay under `root`. `root` is trusted (site configuration); `parts` are not.
 */
export function pathUnder(root: string, field: string, ...parts: string[]): string {
  const rel = parts.map((p) => safeRelative(p, field));
  const out = posix.join(root, ...rel);
  if (!isUnder(out, root) || out === posix.normalize(root))
    throw invalidInput(`${field}: must name a path inside the pod's directory`, field);
  return out;
}
