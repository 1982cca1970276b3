/**
 * The shapes of a volume plan (volumes.ts): what to write, make, create and mount, and what
 * planning reads (the pod, the objects the API handed over). Types and small constants only.
 */
import type { RetrievedContainer } from '../../wire/interlink.ts';
import type { ConfigMap, Pod, Secret } from '../../wire/k8s.ts';
import type { EnvList, NodeCapacity } from './env.ts';
import type { PodRef, PodSpecView } from './spec.ts';

export interface Mount {
  type: 'bind' | 'volume';
  /** Host path (bind) or Docker volume name (volume). */
  source: string;
  target: string;
  readOnly: boolean;
  /** A hostPath source: its real path must stay under the allowed roots. */
  host?: boolean;
}

export interface FileToWrite {
  path: string;
  data: Buffer;
  mode: number;
}

export interface DirToMake {
  path: string;
  mode: number;
}

export interface DockerVolume {
  name: string;
  sizeBytes?: number;
}

/**
 * A hostPath volume: created (`DirectoryOrCreate`, `FileOrCreate`) or checked (`Directory`,
 * `File`, `Socket`, ...; "" = no check) on the host before the containers are created.
 */
export interface HostPathCheck {
  path: string;
  type: string;
  field: string;
}

export interface VolumePlan {
  dirs: DirToMake[];
  files: FileToWrite[];
  dockerVolumes: DockerVolume[];
  hostPathChecks: HostPathCheck[];
  /** Mounts by container name. */
  mounts: Map<string, Mount[]>;
  /** What the pod will miss (an optional object absent, a token not provided). */
  warnings: string[];
}

export interface VolumeInput {
  pod: Pod;
  spec: PodSpecView;
  ref: PodRef;
  retrieved: RetrievedContainer[];
  podDir: string;
  hostPathRoots: string[];
  node?: NodeCapacity;
  /** A container's resolved environment (for subPathExpr). */
  envOf(container: string): EnvList;
}

export const DEFAULT_FILE_MODE = 0o644;
/** A Secret volume's files without a defaultMode: private to the container's owner. */
export const SECRET_FILE_MODE = 0o600;

/** The directories of a files volume: searchable by others only if its files are readable by them. */
export const dirModeFor = (fileMode: number) => (fileMode & 0o044 ? 0o755 : 0o700);

/** The Docker-style volume name of a memory-backed emptyDir: unique per pod UID and volume. */
export function volumeName(pod: PodRef, volume: string): string {
  return `ilk_${pod.uid}_${volume}`;
}

export type FileSet = Map<string, { data: Buffer; mode: number }>;

/** The objects the VK sent with the pod, by name: what files volumes are filled from. */
export interface VolumeSources {
  configMaps: Map<string, ConfigMap>;
  secrets: Map<string, Secret>;
  /** Projected and downwardAPI volumes the VK already resolved, by volume name. */
  projected: Map<string, ConfigMap>;
}

/** Where a volume lives on the node once planned, and what kind of thing it is. */
export interface VolumeDir {
  dir: string;
  kind: 'files' | 'empty' | 'memory' | 'host';
}
