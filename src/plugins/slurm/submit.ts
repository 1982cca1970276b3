/** The create call of the slurm plugin: write the job directory, check the script, sbatch. */
import { chown, readdir } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { isUnder } from '../../core/pod/paths.ts';
import { refreshVolumeFiles } from '../../core/pod/refresh.ts';
import { mkdirUnder, writeFileUnder } from '../../core/pod/safe-fs.ts';
import { podSpecOf } from '../../core/pod/spec.ts';
import { codeOf, ErrorCode, invalidInput } from '../../errors/index.ts';
import type { CreateStruct, RetrievedPodData } from '../../wire/interlink.ts';
import type { Pod } from '../../wire/k8s.ts';
import type { CallContext } from '../sdk/types.ts';
import type { SlurmDeps } from './deps.ts';
import { buildJob } from './job.ts';
import type { JobSpec } from './job-spec.ts';
import { type PodFile, writeAtomic } from './jobdir.ts';
import { renderScript } from './script.ts';
import { runCommand } from './slurm-cli.ts';

/** Submit the pod's job, or return the one an earlier (possibly interrupted) create submitted. */
export async function submitPod(
  d: SlurmDeps,
  data: RetrievedPodData,
  ctx: CallContext,
): Promise<CreateStruct> {
  const m = data.pod.metadata;
  const dir = d.dirOf(m.namespace, m.uid);
  const known = await dir.readJobId();
  if (known) {
    await refreshJobVolumes(d, data, ctx);
    return { PodUID: m.uid, PodJID: known };
  }
  const job = buildJob(data, d.cfg);
  for (const w of job.warnings) ctx.log.warn({ uid: m.uid }, w);
  const podFile: PodFile = {
    version: 1,
    namespace: m.namespace,
    name: m.name,
    uid: m.uid,
    jobName: job.jobName,
    runtime: job.runtime,
    containers: job.containers.map((c) => ({
      name: c.name,
      kind: c.kind,
      ...(data.pod.spec ? { image: imageOf(data.pod, c.name) } : {}),
    })),
    createdAt: new Date(d.now()).toISOString(),
  };
  // A create that died between sbatch and job.id left its job running under our name.
  if (await dir.readPod()) {
    const orphans = await d.cli.byName(job.jobName);
    if (orphans.length > 0) {
      const id = orphans.at(-1)!;
      ctx.log.warn({ uid: m.uid, job: id }, 'found the job of an interrupted create: adopting it');
      await dir.writeJobId(id);
      return { PodUID: m.uid, PodJID: id };
    }
  }
  const script = renderScript(job);
  const scriptPath = dir.file('job.sh');
  try {
    await dir.writePod(podFile);
    await writeJobFiles(job);
    await writeAtomic(scriptPath, script, 0o700);
    await checkSyntax(d, scriptPath);
    const spec = podSpecOf(data.pod);
    if (d.cfg.allowRunAsUser && spec.securityContext?.runAsUser !== undefined) {
      await chownTree(dir.path, spec.securityContext.runAsUser, spec.securityContext.runAsGroup ?? -1);
    }
  } catch (err) {
    await dir.remove().catch(() => {});
    throw err;
  }
  let id: string;
  try {
    id = await d.cli.submit(scriptPath, dir.path);
  } catch (err) {
    // Slurm refused: nothing was submitted, leave no directory behind. Any other failure
    // (timeout, controller unreachable) may hide a job that was accepted: pod.json stays,
    // so the retry finds that job by name instead of submitting a second one.
    if (codeOf(err) === ErrorCode.INVALID_INPUT) await dir.remove().catch(() => {});
    throw err;
  }
  await dir.writeJobId(id);
  ctx.log.info(
    { uid: m.uid, pod: `${m.namespace}/${m.name}`, job: id, dir: dir.path },
    'pod submitted to Slurm',
  );
  return { PodUID: m.uid, PodJID: id };
}

/**
 * A create of a pod already submitted: shared-filesystem mode rewrites the volume files
 * that changed (a refreshed token, an edited ConfigMap or Secret: core/pod/refresh.ts); a
 * non-shared job carries its files in the script and keeps them. A request that buildJob now
 * refuses changes nothing.
 */
async function refreshJobVolumes(d: SlurmDeps, data: RetrievedPodData, ctx: CallContext): Promise<void> {
  const uid = data.pod.metadata.uid;
  if (!d.cfg.sharedFs) {
    ctx.log.info({ uid }, 'pod already submitted: returning its job (no shared filesystem: volumes kept)');
    return;
  }
  let job: JobSpec;
  try {
    job = buildJob(data, d.cfg);
  } catch (err) {
    ctx.log.warn({ uid, err }, 'pod already submitted; its volumes were not refreshed');
    return;
  }
  const changed = await refreshVolumeFiles(job.jobDir, job.files, job.dirs);
  ctx.log.info({ uid, refreshed: changed.length }, 'pod already submitted: volume files refreshed');
}

/**
 * Shared-filesystem mode: volume and env files written here (else the script carries them),
 * never through a symbolic link (a container of an earlier run of a requeued job may have
 * left one in an emptyDir), modes set on the descriptor.
 */
async function writeJobFiles(job: JobSpec): Promise<void> {
  if (!job.sharedFs) return;
  const rel = (path: string, field: string) => {
    if (!isUnder(path, job.jobDir) || path === job.jobDir)
      throw invalidInput(`${field}: must name a path inside the pod's directory`, field);
    return posix.relative(job.jobDir, path);
  };
  for (const d of job.dirs) await mkdirUnder(job.jobDir, rel(d.path, 'volume'), d.mode, 'volume', 0o700);
  for (const f of job.files)
    await writeFileUnder(job.jobDir, rel(f.path, 'volume file'), f.data, f.mode, 'volume file', 0o700);
}

async function checkSyntax(d: SlurmDeps, script: string): Promise<void> {
  const r = await runCommand(d.cfg.bashPath, ['-n', script], { timeoutMs: 10_000 });
  if (r.code !== 0) {
    const why = r.stderr.trim().split('\n').slice(0, 3).join('; ').replaceAll(script, 'job.sh');
    throw invalidInput(
      `the job script is not valid bash (check the slurm-job.vk.io/pre-exec annotation): ${why}`,
      'slurm-job.vk.io/pre-exec',
    );
  }
}

async function chownTree(path: string, uid: number, gid: number): Promise<void> {
  await chown(path, uid, gid);
  for (const e of await readdir(path, { withFileTypes: true })) {
    const p = join(path, e.name);
    if (e.isDirectory()) await chownTree(p, uid, gid);
    else await chown(p, uid, gid);
  }
}

function imageOf(pod: Pod, name: string): string | undefined {
  const all = [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])];
  return all.find((c) => c.name === name)?.image;
}
