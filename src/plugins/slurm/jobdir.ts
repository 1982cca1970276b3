/**
 * The job directory: the plugin's whole memory (a restarted plugin reads everything back).
 *
 *   <dataRoot>/<namespace>-<uid>/   (0700: owner only)
 *     pod.json          who the pod is and its containers (written before sbatch)
 *     job.sh            the batch script
 *     job.id            the Slurm job id (written once sbatch answered)
 *     slurm.out         the batch script's own output (interlink's messages, errors)
 *     restarts          SLURM_RESTART_COUNT of the current run
 *     job.exit          the script's final exit code
 *     containers/<c>.log|.started|.finished|.exit
 *     containers/<c>.probe-<kind>|.poststart|.prestop|.killed   probe and hook results
 *     stopping          the batch shell got the plugin's stop signal (stop.ts)
 *     env/<c>.env       apptainer env files (0600)
 *     volumes/<v>/...   configMap/secret/projected/downwardAPI files (Secret files 0600 unless
 *                       the pod sets a mode); empty/<v>/ emptyDirs
 */

import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join, posix } from 'node:path';
import type { ProbeKind } from '../../core/pod/probes.ts';
import { chmodNoFollow } from '../../core/pod/safe-fs.ts';
import type { ContainerKind } from './job-spec.ts';
import { type ProbeFiles, parseProbeFile } from './probes.ts';
import type { ContainerFiles, PodRecord } from './status.ts';

export interface PodFile {
  version: 1;
  namespace: string;
  name: string;
  uid: string;
  jobName: string;
  runtime: string;
  containers: Array<{ name: string; kind: ContainerKind; image?: string }>;
  createdAt: string;
}

const readText = async (path: string): Promise<string | undefined> => {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR')
      return undefined;
    throw err;
  }
};

/** Write a file whole or not at all (tmp + rename), so a reader never sees half of it. */
export async function writeAtomic(path: string, data: string | Buffer, mode = 0o644): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}`;
  await writeFile(tmp, data, { mode });
  await rename(tmp, path);
}

export class JobDir {
  readonly path: string;
  constructor(path: string) {
    this.path = path;
  }
  file(...parts: string[]): string {
    return join(this.path, ...parts);
  }
  containerFile(
    name: string,
    ext: 'log' | 'started' | 'finished' | 'exit' | 'killed' | 'poststart' | 'prestop' | `probe-${ProbeKind}`,
  ): string {
    return join(this.path, 'containers', `${name}.${ext}`);
  }

  async readPod(): Promise<PodFile | undefined> {
    const text = await readText(this.file('pod.json'));
    if (text === undefined) return undefined;
    try {
      return JSON.parse(text) as PodFile;
    } catch {
      return undefined;
    }
  }
  /** Creates the directory, owner-only (0700, whatever the umask): it holds Secret files. */
  async writePod(p: PodFile): Promise<void> {
    await mkdir(posix.dirname(this.path), { recursive: true, mode: 0o755 });
    try {
      await mkdir(this.path, { mode: 0o700 });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    await chmodNoFollow(this.path, 0o700, 'job directory');
    await writeAtomic(this.file('pod.json'), `${JSON.stringify(p, null, 2)}\n`);
  }

  async readJobId(): Promise<string | undefined> {
    const t = (await readText(this.file('job.id')))?.trim();
    return t ? t : undefined;
  }
  async writeJobId(id: string): Promise<void> {
    await writeAtomic(this.file('job.id'), `${id}\n`);
  }

  async record(): Promise<PodRecord | undefined> {
    const [pod, jobId] = await Promise.all([this.readPod(), this.readJobId()]);
    if (!pod || !jobId) return undefined;
    return { namespace: pod.namespace, name: pod.name, uid: pod.uid, jobId, containers: pod.containers };
  }

  async readInt(...parts: string[]): Promise<number | undefined> {
    const t = (await readText(this.file(...parts)))?.trim();
    if (!t || !/^-?\d+$/.test(t)) return undefined;
    return Number(t);
  }

  async containerFiles(name: string): Promise<ContainerFiles> {
    const [started, finished, exit] = await Promise.all([
      readText(this.containerFile(name, 'started')),
      readText(this.containerFile(name, 'finished')),
      readText(this.containerFile(name, 'exit')),
    ]);
    const out: ContainerFiles = {};
    if (started?.trim()) out.started = normalizeTime(started.trim());
    if (finished?.trim()) out.finished = normalizeTime(finished.trim());
    if (exit?.trim() && /^\d+$/.test(exit.trim())) out.exitCode = Number(exit.trim());
    return out;
  }

  /** What the probe loops of a container wrote (probes.ts). */
  async probeFiles(name: string): Promise<ProbeFiles> {
    const kinds = ['startup', 'liveness', 'readiness'] as const;
    const [killed, post, pre, ...texts] = await Promise.all([
      readText(this.containerFile(name, 'killed')),
      readText(this.containerFile(name, 'poststart')),
      readText(this.containerFile(name, 'prestop')),
      ...kinds.map((k) => readText(this.containerFile(name, `probe-${k}`))),
    ]);
    const out: ProbeFiles = { results: {} };
    kinds.forEach((k, i) => {
      const r = parseProbeFile(texts[i]);
      if (r) out.results[k] = r;
    });
    const k = killed?.trim().replace(/ probe$/, '');
    if (k === 'liveness' || k === 'startup' || k === 'poststart') out.killed = k;
    const p = parseProbeFile(post);
    if (p) out.postStart = p;
    const q = parseProbeFile(pre);
    if (q) out.preStop = q;
    return out;
  }

  async remove(): Promise<void> {
    await rm(this.path, { recursive: true, force: true, maxRetries: 3 });
  }
}

/** `date +%N` gives nanoseconds; Kubernetes times are RFC 3339 (second precision is what matters). */
function normalizeTime(t: string): string {
  const d = new Date(t);
  return Number.isNaN(d.getTime()) ? t : d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}
