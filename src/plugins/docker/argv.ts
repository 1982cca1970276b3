/**
 * Argument vectors of every docker CLI call the plugin makes, built from plain data. Pure:
 * no call here runs anything, and no shell ever sees these words (spawn with an argv).
 *
 * Safe by construction against a value read as an option (issue #12): every value that
 * may derive from a pod is attached to its flag in one `--flag=value` word (docker's flag
 * parser never reads such a word's value as a flag), and every positional (image, command,
 * ids, names) comes after `--`, which ends option parsing. A separate word is only ever a
 * constant of ours. The allow-listed annotation flags are `--name[=value]` words checked in
 * ./flags.ts. test/plugins/docker/argv.fuzz.test.ts holds these invariants over random input.
 */

import type { Mount } from '../../core/pod/volumes.ts';
import type { LogOpts } from '../../wire/interlink.ts';
import { labelArgs } from './names.ts';

export type PullPolicy = 'always' | 'missing' | 'never';
export type DockerRestart = 'no' | 'always' | 'on-failure' | 'unless-stopped';

export interface InfraPlan {
  name: string;
  labels: Record<string, string>;
  image: string;
  pull: PullPolicy;
  /** Words after the image; empty = the image's own command. */
  command: string[];
  /** Docker network; undefined = the daemon's default. */
  network?: string;
  hostname?: string;
  /** Allow-listed annotation flags that concern the pod's namespaces (`--shm-size`). */
  extraFlags?: string[];
}

export interface ContainerPlan {
  name: string;
  labels: Record<string, string>;
  image: string;
  pull: PullPolicy;
  /** Name of the pod's infra container, whose network and IPC namespaces this one joins. */
  infra: string;
  restart: DockerRestart;
  /**
   * Variables passed as `--env=NAME` (after the env file): docker copies each value from
   * the environment of the `docker create` process, so no value is ever an argv word.
   */
  envNames: string[];
  /** A 0600 `--env-file` holding the single-line variables. */
  envFile?: string;
  workingDir?: string;
  /** `uid[:gid]`. */
  user?: string;
  groupAdd: number[];
  /** Decimal CPUs (`--cpus`). */
  cpus?: string;
  cpuShares?: number;
  memoryBytes?: number;
  memoryReservationBytes?: number;
  gpus?: number;
  mounts: Mount[];
  readOnlyRootFilesystem: boolean;
  privileged: boolean;
  capAdd: string[];
  capDrop: string[];
  noNewPrivileges: boolean;
  tty: boolean;
  stdin: boolean;
  /** Allow-listed flags from the pod annotation. */
  extraFlags: string[];
  /** `--entrypoint`; undefined = the image's. */
  entrypoint?: string;
  /** Words after the image (replace the image's CMD when non-empty). */
  args: string[];
}

/** One CSV field of a `--mount` value (docker parses it with encoding/csv). */
export function csvField(s: string): string {
  return /[",\r\n]/.test(s) || /^\s/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

export function mountArg(m: Mount): string {
  const fields = [`type=${m.type}`, `source=${m.source}`, `target=${m.target}`];
  if (m.readOnly) fields.push('readonly');
  return fields.map(csvField).join(',');
}

export function infraCreateArgs(p: InfraPlan): string[] {
  return [
    'create',
    `--name=${p.name}`,
    ...labelArgs(p.labels),
    '--ipc=shareable',
    // Survives a dockerd restart; `docker stop` (our delete) still stops it for good.
    '--restart=unless-stopped',
    ...(p.network ? [`--network=${p.network}`] : []),
    ...(p.hostname ? [`--hostname=${p.hostname}`] : []),
    `--pull=${p.pull}`,
    ...(p.extraFlags ?? []),
    '--',
    p.image,
    ...p.command,
  ];
}

export function containerCreateArgs(p: ContainerPlan): string[] {
  const a: string[] = ['create', `--name=${p.name}`, ...labelArgs(p.labels)];
  a.push(`--network=container:${p.infra}`, `--ipc=container:${p.infra}`);
  a.push(`--restart=${p.restart}`);
  if (p.envFile) a.push(`--env-file=${p.envFile}`);
  for (const k of p.envNames) a.push(`--env=${k}`);
  if (p.workingDir) a.push(`--workdir=${p.workingDir}`);
  if (p.user) a.push(`--user=${p.user}`);
  for (const g of p.groupAdd) a.push(`--group-add=${g}`);
  if (p.cpus) a.push(`--cpus=${p.cpus}`);
  if (p.cpuShares) a.push(`--cpu-shares=${p.cpuShares}`);
  if (p.memoryBytes) {
    // No swap beyond the limit, as on a kubelet node.
    a.push(`--memory=${p.memoryBytes}`, `--memory-swap=${p.memoryBytes}`);
  }
  if (p.memoryReservationBytes) a.push(`--memory-reservation=${p.memoryReservationBytes}`);
  if (p.gpus) a.push(`--gpus=${p.gpus}`);
  for (const m of p.mounts) a.push(`--mount=${mountArg(m)}`);
  if (p.readOnlyRootFilesystem) a.push('--read-only');
  if (p.privileged) a.push('--privileged');
  for (const c of p.capAdd) a.push(`--cap-add=${c}`);
  for (const c of p.capDrop) a.push(`--cap-drop=${c}`);
  if (p.noNewPrivileges) a.push('--security-opt=no-new-privileges');
  if (p.tty) a.push('--tty');
  if (p.stdin) a.push('--interactive');
  a.push(`--pull=${p.pull}`);
  a.push(...p.extraFlags);
  if (p.entrypoint !== undefined) a.push(`--entrypoint=${p.entrypoint}`);
  a.push('--', p.image, ...p.args);
  return a;
}

export const startArgs = (ids: string[]) => ['start', '--', ...ids];
export const stopArgs = (ids: string[], graceSeconds: number) => [
  'stop',
  `--time=${Math.max(0, Math.floor(graceSeconds))}`,
  '--',
  ...ids,
];
export const rmArgs = (ids: string[]) => ['rm', '--force', '--volumes', '--', ...ids];
export const inspectArgs = (ids: string[]) => ['inspect', '--type', 'container', '--', ...ids];
/** The id of the container of that name (a retried create finds it). */
export const idOfArgs = (name: string) => [
  'inspect',
  '--type',
  'container',
  '--format',
  '{{.Id}}',
  '--',
  name,
];
export const infoArgs = () => ['info', '--format', '{{json .}}'];

const labelFilters = (labels: Record<string, string>) =>
  Object.keys(labels)
    .sort()
    .map((k) => `--filter=label=${k}=${labels[k]}`);

/** Full ids of every container carrying all these labels (`k=v`), running or not. */
export function psArgs(labels: Record<string, string>): string[] {
  return ['ps', '--all', '--quiet', '--no-trunc', ...labelFilters(labels)];
}

export function volumeCreateArgs(name: string, labels: Record<string, string>, sizeBytes?: number): string[] {
  const o = ['mode=1777', ...(sizeBytes ? [`size=${sizeBytes}`] : [])].join(',');
  return [
    'volume',
    'create',
    '--driver',
    'local',
    '--opt',
    'type=tmpfs',
    '--opt',
    'device=tmpfs',
    `--opt=o=${o}`,
    ...labelArgs(labels),
    '--',
    name,
  ];
}

export function volumeLsArgs(labels: Record<string, string>): string[] {
  return ['volume', 'ls', '--quiet', ...labelFilters(labels)];
}

export const volumeRmArgs = (names: string[]) => ['volume', 'rm', '--force', '--', ...names];

const ZERO_TIME = '0001-01-01T00:00:00Z';

/**
 * `docker logs` for a LogStruct's options. Tail 0 means "all" (the wire cannot tell an
 * absent Tail from 0). SinceTime wins over SinceSeconds. The byte limit is applied by the
 * caller on the stream; `Previous` has no docker equivalent (docker keeps one log across
 * restarts, which this returns).
 */
export function logsArgs(id: string, o: LogOpts): string[] {
  const a = ['logs'];
  if (o.Tail && o.Tail > 0) a.push(`--tail=${o.Tail}`);
  if (o.SinceTime && o.SinceTime !== ZERO_TIME) a.push(`--since=${o.SinceTime}`);
  else if (o.SinceSeconds && o.SinceSeconds > 0) a.push(`--since=${o.SinceSeconds}s`);
  if (o.Timestamps) a.push('--timestamps');
  if (o.Follow) a.push('--follow');
  a.push('--', id);
  return a;
}
