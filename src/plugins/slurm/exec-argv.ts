/**
 * Pure argv builders and parsers behind exec, attach and port-forward into Slurm pods
 * (exec-io.ts does the I/O). Nothing here is a shell string made of pod values: the pod's
 * command is always the tail of an argv, after the last option of every tool that reads it.
 *
 *   srun --jobid=<id> --overlap --nodelist=<batch host> --ntasks=1 --quiet [--input=none|--pty] -- INNER
 *
 *   (tty: `--pty` gives the task a pty on the node, sized and resized by srun from its own
 *   terminal, which the plugin allocates with `script`, core/pty.ts; --pty works with
 *   --overlap on Slurm 22.05)
 *
 *   INNER by runtime:
 *     docker/podman  <rt> exec [-i] [-t] -- il-<uid>-<container> CMD...
 *     none, apptainer, singularity, enroot
 *                    bash -c RECORDED_EXEC il-exec <jobdir>/containers/<container> CMD...
 *                    (the environment, working directory and entering argv the job script
 *                    recorded for the container, then CMD: the command is positional parameters).
 *                    apptainer/singularity: a new `apptainer exec` of the same image, options,
 *                    binds and env file (the job starts no instance to join, so processes and
 *                    a --containall /tmp are not shared); enroot: another `enroot start` of the
 *                    container's root filesystem with its mounts and env.
 */
import { Transform, type TransformCallback } from 'node:stream';
import { notSupported } from '../../errors/index.ts';
import type { RuntimeName } from './config.ts';

/** A Slurm job id as sbatch prints it (`123`, `123_4`). */
const JOB_ID = /^\d+(_\d+)?$/;
/** A Slurm node name: never an option, never blank. */
const NODE = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

export interface SrunTarget {
  jobId: string;
  /** The job's batch host, where its containers run. */
  node: string;
  stdin: boolean;
  /** A terminal for the task (`--pty`); srun then needs a terminal on its own stdin. */
  tty?: boolean | undefined;
}

/** `srun` options running one task in the job's allocation on its batch host. Pure. */
export function srunArgs(t: SrunTarget): string[] {
  if (!JOB_ID.test(t.jobId)) throw new Error(`not a Slurm job id: ${JSON.stringify(t.jobId)}`);
  if (!NODE.test(t.node)) throw new Error('not a Slurm node name');
  return [
    `--jobid=${t.jobId}`,
    '--overlap',
    `--nodelist=${t.node}`,
    '--ntasks=1',
    '--quiet',
    ...(t.tty ? ['--pty'] : t.stdin ? [] : ['--input=none']),
    '--',
  ];
}

/**
 * The fixed helper run as `bash -c RECORDED_EXEC il-exec BASE CMD...` for the runtimes without
 * an exec of their own: exports the NUL-separated environment the container started with
 * (`BASE.env`), enters its working directory (`BASE.cwd`) and execs the recorded prefix that
 * enters the container (`BASE.exec`: `apptainer exec … IMAGE`, `enroot start … NAME`, nothing
 * for `none`) followed by CMD, all as argv (runtime.ts execRecordLine writes the files).
 */
export const RECORDED_EXEC = [
  'f=$1; shift',
  '[[ -r $f.exec ]] || { echo "interlink: the container has not started yet" >&2; exit 126; }',
  // biome-ignore lint/suspicious/noTemplateCurlyInString: bash parameter expansion
  'while IFS= read -r -d \'\' kv; do [[ ${kv%%=*} =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]] && export -- "$kv"; done <"$f.env"',
  "d=''; IFS= read -r -d '' d <\"$f.cwd\"",
  '[[ -z $d ]] || cd -- "$d" || exit 126',
  'pre=(); while IFS= read -r -d \'\' w; do pre+=("$w"); done <"$f.exec"',
  // biome-ignore lint/suspicious/noTemplateCurlyInString: bash array expansion
  'exec -- "${pre[@]}" "$@"',
].join('\n');

export interface InnerTarget {
  runtime: RuntimeName;
  /** The runtime's executable (config `runtimePath` or its name). */
  runtimePath: string;
  /** bash on the compute node (config `bashPath`). */
  bashPath: string;
  /** docker/podman name of the container (`il-<uid>-<name>`). */
  runtimeName: string;
  /** `<jobdir>/containers/<name>`: where the job script records what exec needs (runtime.ts execRecordLine). */
  recordBase: string;
  command: readonly string[];
  stdin: boolean;
  /** The step has a pty (srun --pty): docker/podman exec gets `-t` to give the container one. */
  tty?: boolean | undefined;
}

/** The command srun runs on the node: the runtime's own exec into the container. Pure. */
export function innerArgs(t: InnerTarget): string[] {
  switch (t.runtime) {
    case 'docker':
    case 'podman':
      return [
        t.runtimePath,
        'exec',
        ...(t.stdin ? ['-i'] : []),
        ...(t.tty ? ['-t'] : []),
        '--',
        t.runtimeName,
        ...t.command,
      ];
    case 'none':
    case 'apptainer':
    case 'singularity':
    case 'enroot':
      return [t.bashPath, '-c', RECORDED_EXEC, 'il-exec', t.recordBase, ...t.command];
    default:
      throw notSupported(`exec into ${String(t.runtime)} containers is not supported by the slurm plugin`);
  }
}

/** `squeue --noheader --format=%B --jobs=<id>` → the batch host, or undefined. Pure. */
export function parseBatchHost(stdout: string): string | undefined {
  const host = stdout.trim().split('\n')[0]?.trim() ?? '';
  return NODE.test(host) && host !== 'n/a' ? host : undefined;
}

/** `scontrol --oneliner show node <n>` → its NodeAddr (falls back to the name). Pure. */
export function parseNodeAddr(stdout: string, node: string): string {
  const m = /(?:^|\s)NodeAddr=(\S+)/.exec(stdout);
  const addr = m?.[1];
  return addr && /^[A-Za-z0-9][A-Za-z0-9.:_-]*$/.test(addr) ? addr : node;
}

/**
 * srun's own report of how the task ended ("srun: error: vm: task 0: Exited with exit code
 * 3"): a kubelet prints nothing of the kind, the exit code travels in the Status instead.
 */
export const SRUN_NOISE =
  /^srun: error: [^\n]*: tasks? [0-9,-]+: (Exited with exit code \d+|Killed|Terminated)\r?$/;

const PREFIX = Buffer.from('srun: ');

/**
 * A stream filter removing srun's task-exit lines (SRUN_NOISE) from stderr. Other bytes pass
 * at once: only a line that starts like `srun: ` is held until its end (or 4 KiB).
 */
export class SrunNoiseFilter extends Transform {
  /** Bytes of the current line held back, when it may be srun's. */
  #held: Buffer | undefined;
  /** At the start of a line. */
  #lineStart = true;

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    const out: Buffer[] = [];
    let i = 0;
    while (i < chunk.length) {
      if (this.#held || this.#lineStart) {
        const nl = chunk.indexOf(0x0a, i);
        const end = nl < 0 ? chunk.length : nl + 1;
        const held = Buffer.concat([this.#held ?? Buffer.alloc(0), chunk.subarray(i, end)]);
        i = end;
        const n = Math.min(held.length, PREFIX.length);
        if (!held.subarray(0, n).equals(PREFIX.subarray(0, n))) {
          out.push(held);
          this.#held = undefined;
          this.#lineStart = nl >= 0 && end === nl + 1;
          continue;
        }
        if (nl < 0 && held.length < 4096) {
          this.#held = held;
          this.#lineStart = false;
          continue;
        }
        if (!SRUN_NOISE.test(held.toString('utf8').replace(/\n$/, ''))) out.push(held);
        this.#held = undefined;
        this.#lineStart = nl >= 0;
        continue;
      }
      const nl = chunk.indexOf(0x0a, i);
      const end = nl < 0 ? chunk.length : nl + 1;
      out.push(chunk.subarray(i, end));
      i = end;
      this.#lineStart = nl >= 0;
    }
    cb(null, out.length > 0 ? Buffer.concat(out) : undefined);
  }

  override _flush(cb: TransformCallback): void {
    const held = this.#held;
    this.#held = undefined;
    cb(null, held && !SRUN_NOISE.test(held.toString('utf8')) ? held : undefined);
  }
}

export interface RunFacts {
  /** The job's state from squeue; undefined when Slurm no longer knows the job. */
  jobState: string | undefined;
  /** The container's record in the job directory (absent for port-forward, which needs the job only). */
  container?: { name: string; started: boolean; exited: boolean };
}

/**
 * Why there is nothing to exec into, attach to or forward to, as a kubelet words it for a
 * container that is not running; undefined when the job and container run. Pure.
 */
export function notRunningReason(f: RunFacts): string | undefined {
  const what = f.container ? `container ${f.container.name}` : 'the pod';
  if (f.jobState === undefined) return `${what} is not running (its Slurm job has ended)`;
  if (f.jobState !== 'RUNNING')
    return `${what} is not running (its Slurm job is ${f.jobState.toLowerCase()})`;
  if (!f.container) return undefined;
  if (f.container.exited) return `${what} is not running (it has exited)`;
  if (!f.container.started) return `${what} is not running (it has not started yet)`;
  return undefined;
}

/**
 * `squeue --noheader --states=all --format=%T|%B|%U --jobs=<id>` → state, batch host and the
 * job owner's uid. Pure.
 */
export function parseStateHost(
  stdout: string,
): { state: string; host: string | undefined; uid: number | undefined } | undefined {
  const line = stdout.trim().split('\n')[0]?.trim();
  if (!line) return undefined;
  const [state, host, uid] = line.split('|').map((x) => x.trim());
  if (!state) return undefined;
  return {
    state: state.toUpperCase(),
    host: parseBatchHost(host ?? ''),
    uid: uid && /^\d+$/.test(uid) ? Number(uid) : undefined,
  };
}

/**
 * Why exec must not run in a job owned by `jobUid` from a plugin running as `pluginUid`, or
 * undefined when it may: srun has no --uid, a step runs as whoever starts it, so a job
 * submitted as the pod's runAsUser (allowRunAsUser) would get commands run as the plugin's
 * user. An owner Slurm did not report counts as another. Pure.
 */
export function foreignOwner(jobUid: number | undefined, pluginUid: number | undefined): string | undefined {
  if (jobUid !== undefined && jobUid === pluginUid) return undefined;
  return 'its Slurm job runs as another user than the plugin (runAsUser); exec would run as the plugin user';
}
