/**
 * The command line of one container, per container runtime, as shell words. Pure.
 *
 * Every user-controlled word goes through `sh()` (quote.ts); the only unquoted words are
 * constants of this file (`{ raw }`), e.g. `"${SLURM_NTASKS:-1}"`. The user's command and
 * args always come after the image, where runtimes stop reading options, so a `--flag`
 * lookalike stays an argument of the container's process.
 *
 *   apptainer/singularity  [mpiexec] apptainer exec|run OPTS --env-file F --bind S:D[:ro] --pwd W IMAGE [CMD] ARGS
 *   enroot                 enroot import + create,  then [env -- K=V] [mpiexec] enroot start OPTS --env K --mount 'S D none x-create=auto,rbind[,ro]' NAME [CMD] ARGS
 *   docker/podman          [mpiexec] docker run --rm --name N OPTS --env-file F -e K -v S:D[:ro] -w W [--entrypoint CMD] IMAGE ARGS
 *   none                   [mpiexec] CMD ARGS (after `cd W`), the process on the node itself
 *
 * Except for docker/podman (which have `docker exec`), each container also records what exec
 * needs in containers/<name>.env|.cwd|.exec (execRecordLine).
 */
import type { JobContainer, JobSpec } from './job-spec.ts';
import { SHELL_IDENTIFIER, sh } from './quote.ts';

export type Word = string | { raw: string };

export const render = (words: readonly Word[], what: string) =>
  words.map((w) => (typeof w === 'string' ? sh(w, what) : w.raw)).join(' ');

// biome-ignore lint/suspicious/noTemplateCurlyInString: bash parameter expansion in the job script
const NTASKS: Word = { raw: '"${SLURM_NTASKS:-1}"' };

/** Docker/Podman/Enroot name of a container of the pod. */
export const runtimeContainerName = (job: JobSpec, c: JobContainer) => `il-${job.pod.uid}-${c.name}`;

function mpiPrefix(job: JobSpec, c: JobContainer): Word[] {
  if (!job.mpi || c.kind !== 'app') return [];
  return [job.mpi.path, '-np', NTASKS, ...job.mpi.flags];
}

/**
 * `export NAME=VALUE` lines for names bash accepts; the others for `env -- NAME=VALUE`
 * (job-containers.ts lets none through: a fallback that keeps a name from becoming shell code).
 */
function envParts(c: JobContainer): { exports: string[]; envWords: string[] } {
  const exports: string[] = [];
  const envWords: string[] = [];
  for (const [k, v] of c.env) {
    if (SHELL_IDENTIFIER.test(k)) exports.push(`export ${k}=${sh(v, `env ${k}`)}`);
    else envWords.push(`${k}=${v}`);
  }
  return { exports, envWords };
}

/**
 * What `kubectl exec` needs to run a command beside the container (exec-argv.ts
 * RECORDED_EXEC): the environment at this point (it may hold Secret values: owner-only), the
 * working directory and the argv prefix that enters the container (`apptainer exec … IMAGE`,
 * `enroot start … NAME`; none for a plain process), each NUL-separated.
 */
export function execRecordLine(c: JobContainer, prefix: readonly string[]): string {
  const what = `container ${c.name}`;
  const file = (ext: string) => `"$IL_CTR"/${sh(`${c.name}.${ext}`, what)}`;
  const words = prefix.length > 0 ? `printf '%s\\0' ${render(prefix, what)}` : ':';
  return `(umask 077; printenv -0 >${file('env')}; printf '%s\\0' "$PWD" >${file('cwd')}; ${words} >${file('exec')})`;
}

/**
 * Body of the shell function that becomes the container: setup lines, then one `exec` line.
 * The function runs in its own subshell; `exec` makes the runtime the process that gets
 * SIGTERM from the job and whose exit status is the container's.
 */
export function containerBody(job: JobSpec, c: JobContainer): string[] {
  const what = `container ${c.name}`;
  const rt = job.runtimePath;
  const lines: string[] = [];
  switch (job.runtime) {
    case 'apptainer':
    case 'singularity': {
      const words: Word[] = [
        ...mpiPrefix(job, c),
        rt,
        c.entrypoint === undefined ? 'run' : 'exec',
        ...job.runtimeOptions,
      ];
      if (c.gpuVendors.includes('nvidia')) words.push('--nv');
      if (c.gpuVendors.includes('amd')) words.push('--rocm');
      words.push(...job.extraMountArgs);
      if (c.envFile) words.push('--env-file', c.envFile);
      for (const m of c.mounts) words.push('--bind', `${m.source}:${m.target}${m.readOnly ? ':ro' : ''}`);
      if (c.workingDir) words.push('--pwd', c.workingDir);
      words.push(c.image);
      // exec: the same image, options, binds, env file and directory in a new `apptainer exec`.
      const prefix = words.slice(mpiPrefix(job, c).length) as string[];
      prefix[1] = 'exec';
      lines.push(execRecordLine(c, prefix));
      if (c.entrypoint !== undefined) words.push(c.entrypoint);
      words.push(...c.args);
      lines.push(`exec ${render(words, what)}`);
      break;
    }
    case 'docker':
    case 'podman': {
      const name = runtimeContainerName(job, c);
      // c.env: only the multi-line values, under names the CLI does not read (job-containers.ts).
      const { exports, envWords } = envParts(c);
      lines.push(
        `${render([rt, 'rm', '-f', name], what)} >/dev/null 2>&1`,
        `_il_watch_start ${render([c.name, rt, name], what)}`,
        ...exports,
      );
      const words: Word[] = [];
      if (envWords.length > 0) words.push('env', '--', ...envWords);
      words.push(
        ...mpiPrefix(job, c),
        rt,
        'run',
        '--rm',
        '--name',
        name,
        '--label',
        `interlink.vk.io/pod-uid=${job.pod.uid}`,
        ...job.runtimeOptions,
      );
      if (c.gpuVendors.includes('nvidia'))
        // biome-ignore lint/suspicious/noTemplateCurlyInString: bash parameter expansion in the job script
        words.push('--gpus', { raw: '"\\"device=${CUDA_VISIBLE_DEVICES:-all}\\""' });
      if (c.envFile) words.push('--env-file', c.envFile);
      for (const [k] of c.env) words.push('-e', k);
      for (const m of c.mounts) words.push('-v', `${m.source}:${m.target}${m.readOnly ? ':ro' : ''}`);
      if (c.workingDir) words.push('-w', c.workingDir);
      if (c.entrypoint !== undefined) words.push('--entrypoint', c.entrypoint);
      words.push(c.image, ...c.args);
      lines.push(`exec ${render(words, what)}`);
      break;
    }
    case 'enroot': {
      const name = runtimeContainerName(job, c);
      const { exports, envWords } = envParts(c);
      const local = c.image.startsWith('/') || c.image.startsWith('./') || c.image.startsWith('../');
      const sqsh = `${job.jobDir}/images/${c.name}.sqsh`;
      lines.push(...exports);
      lines.push(`${render([rt, 'remove', '-f', name], what)} >/dev/null 2>&1`);
      if (!local) {
        lines.push(`mkdir -p -- ${sh(`${job.jobDir}/images`)} && rm -f -- ${sh(sqsh)}`);
        lines.push(`${render([rt, 'import', '--output', sqsh, c.image], what)} || exit 125`);
      }
      lines.push(
        `${render([rt, 'create', '--force', '--name', name, local ? c.image : sqsh], what)} || exit 125`,
      );
      const words: Word[] = [];
      if (envWords.length > 0) words.push('env', '--', ...envWords);
      const start = words.length + mpiPrefix(job, c).length;
      words.push(...mpiPrefix(job, c), rt, 'start', ...job.runtimeOptions);
      for (const [k] of c.env) words.push('--env', k);
      for (const m of c.mounts)
        words.push('--mount', `${m.source} ${m.target} none x-create=auto,rbind${m.readOnly ? ',ro' : ''}`);
      words.push(name);
      // exec: another `enroot start` of the same container root filesystem, mounts and env.
      lines.push(execRecordLine(c, words.slice(start) as string[]));
      if (c.entrypoint !== undefined) words.push(c.entrypoint);
      words.push(...c.args);
      lines.push(`exec ${render(words, what)}`);
      break;
    }
    case 'none': {
      const { exports } = envParts(c);
      lines.push(...exports);
      if (c.workingDir) lines.push(`cd -- ${sh(c.workingDir, what)} || exit 126`);
      lines.push(execRecordLine(c, []));
      const argv = c.entrypoint === undefined ? c.args : [c.entrypoint, ...c.args];
      const mpi = mpiPrefix(job, c);
      lines.push(
        mpi.length > 0 ? `exec ${render([...mpi, ...argv], what)}` : `exec -- ${render(argv, what)}`,
      );
      break;
    }
  }
  return lines;
}

/** Lines run when the job ends, whatever happened: remove what the runtime leaves behind. */
export function cleanupLines(job: JobSpec): string[] {
  const names = job.containers.map((c) => runtimeContainerName(job, c));
  switch (job.runtime) {
    case 'docker':
    case 'podman':
      return [`${render([job.runtimePath, 'rm', '-f', ...names], 'cleanup')} >/dev/null 2>&1`];
    case 'enroot':
      return names.map((n) => `${render([job.runtimePath, 'remove', '-f', n], 'cleanup')} >/dev/null 2>&1`);
    default:
      return [];
  }
}
