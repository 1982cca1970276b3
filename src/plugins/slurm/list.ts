/**
 * `list` of the Slurm plugin: every pod whose job directory this plugin holds, read from disk
 * (pod.json and job.id), so a restarted plugin lists what it submitted before; finished jobs
 * whose directory is still there are listed too (their delete removes the directory).
 *
 * A directory without job.id (a create interrupted around sbatch, or one in flight) gets its
 * job id from Slurm by job name, in ONE squeue call for all such directories.
 */
import { readdir, stat } from 'node:fs/promises';
import { posix } from 'node:path';
import { BackendPod } from '../../wire/interlink.ts';
import { jobDirOf, jobNameOf } from './job-spec.ts';
import { JobDir } from './jobdir.ts';

export interface SlurmListOptions {
  dataRoot: string;
  /** With keepJobDirs, a deleted pod's directory stays, marked by a `deleted` file. */
  keepJobDirs: boolean;
  /** Job ids by job name, in one squeue call (SlurmCli.jobsNamed). */
  jobsNamed(names: readonly string[]): Promise<Map<string, string[]>>;
}

const exists = (path: string) =>
  stat(path).then(
    () => true,
    () => false,
  );

export async function listSlurmPods(opts: SlurmListOptions): Promise<BackendPod[]> {
  let names: string[];
  try {
    names = (await readdir(opts.dataRoot, { withFileTypes: true }))
      .filter((e) => e.isDirectory()) // a symlink is not one of ours: not followed
      .map((e) => e.name);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const found = await Promise.all(
    names.map(async (entry) => {
      const dir = new JobDir(posix.join(opts.dataRoot, entry));
      if (opts.keepJobDirs && (await exists(dir.file('deleted')))) return undefined;
      const pod = await dir.readPod();
      if (!pod) return undefined;
      const parsed = BackendPod.safeParse({ UID: pod.uid, namespace: pod.namespace, name: pod.name });
      // Only a directory where `delete` would look for it (not a copy, not hand-made).
      if (!parsed.success || jobDirOf(opts.dataRoot, pod.namespace, pod.uid) !== dir.path) return undefined;
      const jid = await dir.readJobId();
      return jid ? { ...parsed.data, JID: jid } : parsed.data;
    }),
  );
  const pods = found.filter((p): p is BackendPod => p !== undefined);
  const unknown = pods.filter((p) => !p.JID);
  if (unknown.length > 0) {
    const byName = await opts.jobsNamed(unknown.map((p) => jobNameOf(p.UID)));
    for (const p of unknown) {
      const id = byName.get(jobNameOf(p.UID))?.at(-1);
      if (id) p.JID = id;
    }
  }
  return pods;
}
