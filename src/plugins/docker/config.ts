/**
 * Configuration of `interlink plugin docker` (merged by src/plugins/serve.ts with the
 * serving keys every plugin shares). Keys are case/underscore-insensitive (src/core/config.ts).
 */
import { homedir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { BoolLike, configNames } from '../../core/config.ts';

/** A list from YAML, or a comma-separated string from an environment variable. */
const StringList = z
  .union([z.array(z.string()), z.string()])
  .transform((v) => (Array.isArray(v) ? v : v.split(',')).map((s) => s.trim()).filter((s) => s !== ''));

const Int = (min: number) => z.coerce.number().int().min(min);

function defaultDataRoot(): string {
  const base = process.env.XDG_DATA_HOME || join(homedir(), '.local', 'share');
  return join(base, 'interlink', 'docker');
}

export const DockerConfig = z.object({
  /** The docker CLI (or a compatible one); looked up on PATH unless absolute. */
  dockerCli: z.string().min(1).default('docker'),
  /** DOCKER_HOST for the CLI; unset = the plugin's own environment (and its DOCKER_HOST). */
  dockerHost: z.string().optional(),
  /**
   * Per-pod data directories (volume files, emptyDirs) live under `<dataRoot>/<pod uid>`.
   * They are bind-mounted, so the plugin must run on the Docker host itself.
   */
  dataRoot: z.string().min(1).default(defaultDataRoot()),
  /**
   * Value of the `interlink.vk.io/instance` label on everything this plugin creates; two
   * plugins sharing one dockerd need different instances.
   */
  instance: z
    .string()
    .regex(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/, 'lower-case letters, digits, "-" and "."')
    .default('interlink'),
  /** Image of the per-pod infra container that holds the network and IPC namespaces. */
  infraImage: z.string().min(1).default('registry.k8s.io/pause:3.10'),
  /** Command of the infra container; empty = the image's own (pause). */
  infraCommand: StringList.default([]),
  /** Docker network of the infra container; empty = the daemon's default. `hostNetwork` pods use `host`. */
  network: z.string().default(''),
  /** Map `nvidia.com/gpu` limits to `--gpus N`; without it such pods are refused. */
  gpus: BoolLike.default(false),
  /** GPUs advertised in ping (`nvidia.com/gpu`), 0 = none. */
  gpuCount: Int(0).default(0),
  /** Pods advertised in ping; unset = not reported. */
  maxPods: z.coerce.string().optional(),
  /** Pod annotation carrying extra `docker create` flags. */
  flagsAnnotation: z.string().min(1).default('docker-options.vk.io/flags'),
  /** Flags the annotation may use (`--shm-size`, `--ulimit`, ...); empty = the annotation is refused. */
  allowedFlags: StringList.default([]),
  /** hostPath volumes must lie under one of these directories; empty = hostPath refused. */
  hostPathRoots: StringList.default([]),
  /** Allow `privileged: true` and `capabilities.add`. */
  allowPrivileged: BoolLike.default(false),
  /**
   * Expand `$(VAR)` in env values, command and args as the kubelet does (`$$` escapes).
   * Off by default: our VK already expands them, and expanding twice turns an escaped
   * `$$(X)` into X's value. Turn on behind a VK that sends them unexpanded.
   */
  expandVariables: BoolLike.default(false),
  /** How often init-container sequencing is advanced while some pod needs it, in ms. */
  reconcileIntervalMs: Int(20).default(500),
  /** Upper bound of one docker CLI call (create may pull an image), in ms. */
  commandTimeoutMs: Int(1000).default(10 * 60_000),
  /** Grace period when the pod names none, in seconds. */
  defaultGracePeriodSeconds: Int(0).default(30),
  /** How long a deleted pod is still reported (all containers terminated), in seconds. */
  tombstoneSeconds: Int(0).default(600),
  /** Deletes carried out at once in the background towards dockerd (each answered once recorded). */
  backgroundConcurrency: Int(1).default(8),
  /**
   * Pods created at once in the background towards dockerd (each `/create` answered once
   * recorded): image pulls, `docker create` of the infra and every container, their start.
   */
  createConcurrency: Int(1).default(4),
  /**
   * How long /delete waits for the stop and removal before it answers "recorded" and lets them
   * finish in the background. Within it, the answer means "gone", so the Pod stays Terminating
   * while its containers stop, as on a kubelet; keep it under the API's plugin timeout (30 s).
   */
  deleteAnswerSeconds: Int(0).default(20),
});
export type DockerConfig = z.output<typeof DockerConfig>;

/** Other names of the settings: `$` environment variables, interLink 0.6 docker sidecar keys. */
export const DOCKER_CONFIG_SPEC = configNames({
  dockerCli: ['$DOCKER_CLI'],
  dataRoot: ['$INTERLINK_DOCKER_DATA_ROOT', 'DataRootFolder'],
  infraImage: ['$INTERLINK_DOCKER_INFRA_IMAGE'],
});
