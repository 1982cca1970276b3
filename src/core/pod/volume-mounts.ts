/**
 * A container's volumeMounts as Mounts (volumes.ts plans the volumes first): target and
 * subPath/subPathExpr checked, the directories a subPath needs added to the plan. Pure.
 */
import { isAbsolute, posix } from 'node:path';
import { invalidInput } from '../../errors/index.ts';
import { expand } from '../kube/expand.ts';
import { pathUnder, safeRelative } from './paths.ts';
import type { ContainerSpec, Volume } from './spec.ts';
import type { Mount, VolumeDir, VolumeInput, VolumePlan } from './volume-types.ts';

export interface MountContext {
  input: VolumeInput;
  volumes: Map<string, Volume>;
  volumeDirs: Map<string, VolumeDir>;
  /** Directories a subPath needs are added to plan.dirs. */
  plan: VolumePlan;
  /** The container's mount targets so far (a target may be mounted once). */
  targets: Set<string>;
}

type VolumeMount = NonNullable<ContainerSpec['volumeMounts']>[number];

/** One volumeMount of container c (field mf) as a Mount, validated. */
export function mountOf(m: VolumeMount, mf: string, c: ContainerSpec, ctx: MountContext): Mount {
  const { plan } = ctx;
  const vol = ctx.volumes.get(m.name);
  const where = ctx.volumeDirs.get(m.name);
  if (!vol || !where)
    throw invalidInput(`${mf}: volume "${m.name}" is not declared in pod.spec.volumes`, `${mf}.name`);
  if (!isAbsolute(m.mountPath) || m.mountPath.includes('\0') || m.mountPath.includes('\n')) {
    throw invalidInput(`${mf}.mountPath: must be an absolute path`, `${mf}.mountPath`);
  }
  const target = posix.normalize(m.mountPath).replace(/(.)\/+$/, '$1');
  if (ctx.targets.has(target))
    throw invalidInput(`${mf}.mountPath: the same path is mounted twice`, `${mf}.mountPath`);
  ctx.targets.add(target);
  const sub = subPathOf(m, mf, c, ctx.input);
  if (where.kind === 'memory') {
    if (sub) throw invalidInput(`${mf}.subPath: not supported on a memory-backed emptyDir`, `${mf}.subPath`);
    return { type: 'volume', source: where.dir, target, readOnly: m.readOnly === true };
  }
  const source = sub ? pathUnder(where.dir, `${mf}.subPath`, sub) : where.dir;
  if (sub && where.kind === 'empty') plan.dirs.push({ path: source, mode: 0o777 });
  if (
    sub &&
    where.kind === 'files' &&
    !plan.files.some((x) => x.path === source || x.path.startsWith(`${source}/`))
  ) {
    plan.dirs.push({ path: source, mode: 0o755 });
  }
  if (sub && where.kind === 'host') plan.dirs.push({ path: source, mode: 0o755 });
  // ConfigMap, Secret, projected and downwardAPI volumes are read-only whatever the mount says.
  const readOnly = where.kind === 'files' || m.readOnly === true;
  return {
    type: 'bind',
    source,
    target,
    readOnly,
    ...(where.kind === 'host' ? { host: true } : {}),
  };
}

/** The mount's subPath (subPathExpr expanded with the container's env), checked relative. */
function subPathOf(m: VolumeMount, mf: string, c: ContainerSpec, input: VolumeInput): string | undefined {
  if (m.subPathExpr) {
    const env = new Map(input.envOf(c.name));
    return safeRelative(
      expand(m.subPathExpr, (n) => env.get(n)),
      `${mf}.subPathExpr`,
    );
  }
  if (m.subPath) return safeRelative(m.subPath, `${mf}.subPath`);
  return undefined;
}
