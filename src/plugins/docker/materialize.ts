/**
 * The docker half of a create (the background part, background-create.ts): the pod's
 * Docker volumes, its infra container (created and started), then one `docker create` per
 * container, init containers first. Idempotent per pod: a name that exists already (a
 * retried create, a create redone after a restart) gives back the existing container.
 * Starting the containers is the sequencer's (sequencer.ts).
 */
import { rm } from 'node:fs/promises';
import type { Logger } from '../../core/logger.ts';
import { writeFileUnder } from '../../core/pod/safe-fs.ts';
import { containerCreateArgs, idOfArgs, infraCreateArgs, startArgs, volumeCreateArgs } from './argv.ts';
import { classify, type DockerCli } from './cli.ts';
import { podLabels } from './names.ts';
import type { IndexEntry } from './pod-index.ts';
import { envFileRel, type PodPlan } from './pod-plan.ts';

export interface MaterializeDeps {
  cli: DockerCli;
  instance: string;
  log: Logger;
  /** Container ids this process has run `docker start` for: the infra container joins it. */
  started: Set<string>;
}

export async function materialize(d: MaterializeDeps, plan: PodPlan): Promise<IndexEntry> {
  const { ref } = plan;
  const volLabels = podLabels(d.instance, ref);
  for (const v of plan.volumes.dockerVolumes) {
    await d.cli.check(volumeCreateArgs(v.name, volLabels, v.sizeBytes), `creating volume ${v.name}`);
  }
  const infraId = await createOrGet(d.cli, infraCreateArgs(plan.infra), plan.infra.name);
  // The infra container runs no workload: starting it again (a retried create) is harmless
  // and revives one that stopped, which the pod's containers need to join.
  d.started.add(infraId);
  await d.cli.check(startArgs([infraId]), `starting the infra container of ${ref.namespace}/${ref.name}`);
  const byName = new Map<string, string>();
  for (const c of plan.containers) {
    let envFile: string | undefined;
    if (c.envFileLines.length > 0) {
      // 0600 in a 0700 directory, never through a link.
      envFile = await writeFileUnder(
        plan.podDir,
        envFileRel(c.k8sName),
        `${c.envFileLines.join('\n')}\n`,
        0o600,
        `pod.spec.containers[${c.k8sName}].env`,
      );
    }
    try {
      const id = await createOrGet(
        d.cli,
        containerCreateArgs({ ...c.plan, ...(envFile ? { envFile } : {}) }),
        c.plan.name,
        c.cliEnv,
        c.envFileLines.map((l) => l.slice(l.indexOf('=') + 1)),
      );
      byName.set(c.k8sName, id);
    } finally {
      // Docker keeps the variables in the container's config; the file is no longer needed.
      if (envFile) await rm(envFile, { force: true });
    }
    d.log.debug({ uid: ref.uid, container: c.k8sName }, 'container created');
  }
  return {
    ref,
    infraId,
    byName,
    inits: plan.containers.filter((c) => c.role === 'init').map((c) => c.k8sName),
    apps: plan.containers.filter((c) => c.role === 'app').map((c) => c.k8sName),
  };
}

/** `docker create`, or the id of the container of that name if it already exists (a retried create). */
async function createOrGet(
  cli: DockerCli,
  args: string[],
  name: string,
  env: ReadonlyArray<readonly [string, string]> = [],
  fileValues: string[] = [],
): Promise<string> {
  const r = await cli.run(args, env.length > 0 ? { env } : {});
  const secrets = [...env.map(([, v]) => v), ...fileValues];
  if (r.code === 0) return r.stdout.trim().split('\n').pop()!.trim();
  const stderr = r.stderr.toLowerCase();
  if (stderr.includes('conflict') || stderr.includes('already in use')) {
    return cli.check(idOfArgs(name), `looking up ${name}`);
  }
  throw classify(`creating container ${name}`, r, secrets);
}
