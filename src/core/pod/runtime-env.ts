/**
 * How a pod's environment reaches a container started by a container CLI (docker, podman,
 * enroot) without the pod steering that CLI. Shared by the docker plugin and the Slurm
 * plugin's docker/podman/enroot runtimes. Pure.
 */
import { invalidInput } from '../../errors/index.ts';
import type { EnvList } from './env.ts';

/**
 * Names a container CLI reads from its own environment: docker (and its Go runtime),
 * podman (containers/* libraries), enroot (a bash script: bash reads BASH_ENV, SHELLOPTS…),
 * the dynamic loader and libc. A variable passed through that environment (see splitEnv)
 * must not be one of them: `LD_PRELOAD`, `PATH` or `DOCKER_HOST` there would run or
 * redirect the CLI on the host.
 */
const CLI_READS =
  /^(LD_|DOCKER_|GO|CGO_|BUILDX_|BUILDKIT_|COMPOSE_|NOTARY_|OTEL_|MALLOC_|GLIBC_|GCONV_|XDG_|LC_|SSL_|CONTAINERS_|PODMAN_|ENROOT_|BASH)|^(PATH|HOME|TMPDIR|USER|SHELL|LANG|LANGUAGE|TZ|TERM|HTTP_PROXY|HTTPS_PROXY|NO_PROXY|ALL_PROXY|FTP_PROXY|HOSTALIASES|LOCALDOMAIN|RES_OPTIONS|NLSPATH|REGISTRY_AUTH_FILE|ENV|SHELLOPTS|PS4|IFS|CDPATH|GLOBIGNORE|POSIXLY_CORRECT)$/i;

/** Whether a variable of this name may be handed to the container through the CLI's environment. */
export const cliMayCarry = (name: string) => !CLI_READS.test(name);

export interface EnvSplit {
  /** `NAME=value` lines of the container's 0600 env file (`--env-file`). */
  fileLines: string[];
  /** Passed as `--env=NAME`: docker copies the value from the CLI process's environment. */
  names: string[];
  /** The values of `names`, for the environment of that one `docker create`. */
  cliEnv: EnvList;
}

/**
 * How each variable reaches the container without its value ever being a command-line
 * word (argv is world-readable in /proc/<pid>/cmdline while `docker create` runs):
 * single-line values go to the env file; docker's env-file format cannot carry a newline
 * or carriage return, so those values go through the CLI's own environment
 * (/proc/<pid>/environ is readable by its owner only) under their own name, byte for byte.
 * A NUL cannot be carried at all. Errors name the variable, never its value.
 */
export function splitEnv(env: EnvList, field: string): EnvSplit {
  const out: EnvSplit = { fileLines: [], names: [], cliEnv: [] };
  for (const [k, v] of env) {
    const f = `${field}.env[${k}]`;
    if (k.includes('\0') || v.includes('\0')) throw invalidInput(`${f}: must not contain a NUL byte`, f);
    if (!/[\r\n]/.test(v)) {
      out.fileLines.push(`${k}=${v}`);
      continue;
    }
    if (!cliMayCarry(k)) {
      throw invalidInput(
        `${f}: a multi-line value cannot be passed in a variable of this name on this node (the docker CLI reads it)`,
        f,
      );
    }
    out.names.push(k);
    out.cliEnv.push([k, v]);
  }
  return out;
}
