/**
 * A pod → everything to create in Docker: the infra container, one container per
 * Kubernetes container (init containers first), their environment, mounts, resources and
 * security settings, and the volume plan. Pure: every refusal (a flag not allowed, a
 * hostPath outside the roots, a privileged container on a node that forbids it) happens
 * here, before anything is created.
 */
import { memoryBytes, milliCpu } from '../../core/kube/quantity.ts';
import { commandLine, type EnvList, type NodeCapacity, resolveEnv } from '../../core/pod/env.ts';
import { safeRelative } from '../../core/pod/paths.ts';
import { splitEnv } from '../../core/pod/runtime-env.ts';
import type { ContainerSpec, PodRef, PodSpecView, RestartPolicy } from '../../core/pod/spec.ts';
import { planVolumes, type VolumePlan } from '../../core/pod/volumes.ts';
import { invalidInput } from '../../errors/index.ts';
import type { RetrievedContainer } from '../../wire/interlink.ts';
import type { ConfigMap, Pod, Secret } from '../../wire/k8s.ts';
import type { ContainerPlan, DockerRestart, InfraPlan, PullPolicy } from './argv.ts';
import { normalizeAllowed, parseFlagsAnnotation } from './flags.ts';
import { containerName, infraName, LABEL, podLabels, type Role } from './names.ts';

/** The configuration keys planning depends on. */
export interface PlanOptions {
  instance: string;
  infraImage: string;
  infraCommand: string[];
  network: string;
  gpus: boolean;
  flagsAnnotation: string;
  allowedFlags: string[];
  hostPathRoots: string[];
  allowPrivileged: boolean;
  expandVariables: boolean;
}

export interface PlannedContainer {
  role: Exclude<Role, 'infra'>;
  /** The Kubernetes container name. */
  k8sName: string;
  plan: ContainerPlan;
  /** `NAME=value` lines for the container's env file (see splitEnv). */
  envFileLines: string[];
  /** Values of the variables named by `plan.envNames`, for the environment of `docker create`. */
  cliEnv: EnvList;
}

export interface PodPlan {
  ref: PodRef;
  podDir: string;
  infra: InfraPlan;
  /** Init containers in order, then app containers. */
  containers: PlannedContainer[];
  volumes: VolumePlan;
}

export interface PodPlanInput {
  pod: Pod;
  spec: PodSpecView;
  retrieved: RetrievedContainer[];
  podDir: string;
  options: PlanOptions;
  node?: NodeCapacity;
}

/** Kubernetes' default pull policy: Always for `:latest` or an untagged image, else IfNotPresent. */
export function pullPolicy(image: string, policy: ContainerSpec['imagePullPolicy']): PullPolicy {
  const p = policy ?? defaultPolicy(image);
  return p === 'Always' ? 'always' : p === 'Never' ? 'never' : 'missing';
}

function defaultPolicy(image: string): 'Always' | 'IfNotPresent' {
  if (image.includes('@')) return 'IfNotPresent';
  const last = image.slice(image.lastIndexOf('/') + 1);
  const colon = last.lastIndexOf(':');
  if (colon < 0) return 'Always';
  return last.slice(colon + 1) === 'latest' ? 'Always' : 'IfNotPresent';
}

export function dockerRestart(role: 'init' | 'app', pod: RestartPolicy, sidecar: boolean): DockerRestart {
  if (sidecar) return 'always';
  if (pod === 'Never') return 'no';
  // An init container must succeed once: Always behaves as OnFailure for it.
  if (role === 'init' || pod === 'OnFailure') return 'on-failure';
  return 'always';
}

/** The kubelet's hostname rule: the pod name, cut to 63 characters, no trailing "-" or ".". */
export function podHostname(pod: Pod, spec: PodSpecView): string {
  return (spec.hostname || pod.metadata.name).slice(0, 63).replace(/[-.]+$/, '');
}

export function planPod(input: PodPlanInput): PodPlan {
  const { pod, spec, options: o } = input;
  const ref: PodRef = { uid: pod.metadata.uid, namespace: pod.metadata.namespace, name: pod.metadata.name };
  const restartPolicy: RestartPolicy = spec.restartPolicy ?? 'Always';
  const base = podLabels(o.instance, ref);
  const infraNet = spec.hostNetwork ? 'host' : o.network || undefined;
  const infra: InfraPlan = {
    name: infraName(ref),
    labels: { ...base, [LABEL.role]: 'infra', [LABEL.restartPolicy]: restartPolicy },
    image: o.infraImage,
    pull: 'missing',
    command: o.infraCommand,
    ...(infraNet ? { network: infraNet } : {}),
    ...(infraNet === 'host' ? {} : { hostname: podHostname(pod, spec) }),
  };

  const configMaps = new Map<string, ConfigMap>();
  const secrets = new Map<string, Secret>();
  for (const rc of input.retrieved) {
    for (const c of rc.configMaps ?? []) configMaps.set(c.metadata.name, c);
    for (const s of rc.secrets ?? []) secrets.set(s.metadata.name, s);
  }
  const envs = new Map<string, EnvList>();
  const all: Array<[ContainerSpec, 'init' | 'app', number]> = [
    ...(spec.initContainers ?? []).map((c, i) => [c, 'init', i] as [ContainerSpec, 'init', number]),
    ...spec.containers.map((c, i) => [c, 'app', i] as [ContainerSpec, 'app', number]),
  ];
  const names = new Set<string>();
  for (const [c, role] of all) {
    const f = `pod.spec.${role === 'init' ? 'initContainers' : 'containers'}[${c.name}]`;
    if (names.has(c.name)) throw invalidInput(`${f}: container name "${c.name}" is used twice`, f);
    names.add(c.name);
    envs.set(
      c.name,
      resolveEnv(c, {
        pod,
        spec,
        sources: { configMaps, secrets },
        expandVariables: o.expandVariables,
        field: f,
        ...(input.node ? { node: input.node } : {}),
      }),
    );
  }
  const volumes = planVolumes({
    pod,
    spec,
    ref,
    retrieved: input.retrieved,
    podDir: input.podDir,
    hostPathRoots: o.hostPathRoots,
    ...(input.node ? { node: input.node } : {}),
    envOf: (name) => envs.get(name) ?? [],
  });
  const annotation = `pod.metadata.annotations[${o.flagsAnnotation}]`;
  const flags = parseFlagsAnnotation(
    pod.metadata.annotations?.[o.flagsAnnotation],
    normalizeAllowed(o.allowedFlags),
    annotation,
  );
  // /dev/shm belongs to the IPC namespace, which the infra container owns: a container that
  // joins it ignores its own --shm-size, so that flag goes to the infra container.
  const isShm = (f: string) => f.startsWith('--shm-size=');
  const extraFlags = flags.filter((f) => !isShm(f));
  if (flags.some(isShm)) infra.extraFlags = flags.filter(isShm);

  const containers = all.map(([c, role, index]): PlannedContainer => {
    const f = `pod.spec.${role === 'init' ? 'initContainers' : 'containers'}[${c.name}]`;
    const sidecar = role === 'init' && c.restartPolicy === 'Always';
    const env = envs.get(c.name)!;
    const { fileLines, names: envNames, cliEnv } = splitEnv(env, f);
    const cmd = commandLine(c, env, o.expandVariables);
    const labels: Record<string, string> = {
      ...base,
      [LABEL.containerName]: c.name,
      [LABEL.role]: role,
      [LABEL.index]: String(index),
      [LABEL.restartPolicy]: restartPolicy,
      ...(sidecar ? { [LABEL.sidecar]: 'true' } : {}),
    };
    if (c.workingDir && !c.workingDir.startsWith('/')) {
      throw invalidInput(`${f}.workingDir: must be an absolute path`, `${f}.workingDir`);
    }
    const plan: ContainerPlan = {
      name: containerName(ref, c.name),
      labels,
      image: c.image,
      pull: pullPolicy(c.image, c.imagePullPolicy),
      infra: infra.name,
      restart: dockerRestart(role, restartPolicy, sidecar),
      envNames,
      ...(c.workingDir ? { workingDir: c.workingDir } : {}),
      ...resources(c, o, f),
      ...security(c, spec, o, f),
      mounts: volumes.mounts.get(c.name) ?? [],
      tty: c.tty === true,
      stdin: c.stdin === true,
      extraFlags,
      ...(cmd.entrypoint !== undefined ? { entrypoint: cmd.entrypoint } : {}),
      args: cmd.args,
    };
    return { role, k8sName: c.name, plan, envFileLines: fileLines, cliEnv };
  });
  return { ref, podDir: input.podDir, infra, containers, volumes };
}

/** Where a container's env file is written, relative to the pod directory (deleted again once the container exists). */
export function envFileRel(container: string): string {
  return safeRelative(`env/${container}.env`, `pod.spec.containers[${container}]`);
}

type ResourceFlags = Pick<
  ContainerPlan,
  'cpus' | 'cpuShares' | 'memoryBytes' | 'memoryReservationBytes' | 'gpus'
>;

const MIN_MEMORY = 6 * 1024 * 1024;

function resources(c: ContainerSpec, o: PlanOptions, f: string): ResourceFlags {
  const limits = c.resources?.limits ?? {};
  const requests = c.resources?.requests ?? {};
  const out: ResourceFlags = {};
  if (limits.cpu !== undefined) {
    const m = milliCpu(limits.cpu, `${f}.resources.limits.cpu`);
    if (m > 0) out.cpus = String(Math.max(m, 10) / 1000);
  }
  const reqCpu = requests.cpu ?? limits.cpu;
  if (reqCpu !== undefined) {
    const m = milliCpu(reqCpu, `${f}.resources.requests.cpu`);
    if (m > 0) out.cpuShares = Math.max(2, Math.floor((m * 1024) / 1000));
  }
  if (limits.memory !== undefined) {
    const b = memoryBytes(limits.memory, `${f}.resources.limits.memory`);
    if (b > 0 && b < MIN_MEMORY) {
      throw invalidInput(
        `${f}.resources.limits.memory: ${limits.memory} is below Docker's minimum of 6Mi`,
        `${f}.resources.limits.memory`,
      );
    }
    if (b > 0) out.memoryBytes = b;
  }
  if (requests.memory !== undefined) {
    const b = memoryBytes(requests.memory, `${f}.resources.requests.memory`);
    if (b > 0 && (out.memoryBytes === undefined || b < out.memoryBytes)) out.memoryReservationBytes = b;
  }
  const gpu = limits['nvidia.com/gpu'] ?? requests['nvidia.com/gpu'];
  if (gpu !== undefined) {
    const n = Number(gpu);
    if (!Number.isInteger(n) || n < 0)
      throw invalidInput(
        `${f}.resources.limits[nvidia.com/gpu]: must be a whole number`,
        `${f}.resources.limits`,
      );
    if (n > 0 && !o.gpus)
      throw invalidInput(
        `${f}.resources.limits[nvidia.com/gpu]: this node does not offer GPUs`,
        `${f}.resources.limits`,
      );
    if (n > 0) out.gpus = n;
  }
  return out;
}

type SecurityFlags = Pick<
  ContainerPlan,
  'user' | 'groupAdd' | 'readOnlyRootFilesystem' | 'privileged' | 'capAdd' | 'capDrop' | 'noNewPrivileges'
>;

const CAP = /^[A-Z][A-Z0-9_]*$/;

function security(c: ContainerSpec, spec: PodSpecView, o: PlanOptions, f: string): SecurityFlags {
  const sc: Partial<NonNullable<ContainerSpec['securityContext']>> = c.securityContext ?? {};
  const psc: Partial<NonNullable<PodSpecView['securityContext']>> = spec.securityContext ?? {};
  const uid = sc.runAsUser ?? psc.runAsUser;
  const gid = sc.runAsGroup ?? psc.runAsGroup;
  const groups = new Set<number>([
    ...(psc.supplementalGroups ?? []),
    ...(psc.fsGroup !== undefined ? [psc.fsGroup] : []),
  ]);
  // Without runAsUser docker cannot set only the primary group; add it as a supplementary one.
  if (uid === undefined && gid !== undefined) groups.add(gid);
  const nonRoot = sc.runAsNonRoot ?? psc.runAsNonRoot;
  if (nonRoot && uid === 0) {
    throw invalidInput(
      `${f}.securityContext: runAsNonRoot is set but runAsUser is 0`,
      `${f}.securityContext.runAsUser`,
    );
  }
  if (sc.privileged && !o.allowPrivileged) {
    throw invalidInput(
      `${f}.securityContext.privileged: privileged containers are not allowed on this node`,
      `${f}.securityContext.privileged`,
    );
  }
  const add = sc.capabilities?.add ?? [];
  const drop = sc.capabilities?.drop ?? [];
  for (const cap of [...add, ...drop]) {
    if (!CAP.test(cap))
      throw invalidInput(
        `${f}.securityContext.capabilities: an entry is not a capability name ([A-Z][A-Z0-9_]*)`,
        `${f}.securityContext.capabilities`,
      );
  }
  if (add.length > 0 && !o.allowPrivileged) {
    throw invalidInput(
      `${f}.securityContext.capabilities.add: adding capabilities is not allowed on this node`,
      `${f}.securityContext.capabilities.add`,
    );
  }
  return {
    ...(uid !== undefined ? { user: gid !== undefined ? `${uid}:${gid}` : String(uid) } : {}),
    groupAdd: [...groups],
    readOnlyRootFilesystem: sc.readOnlyRootFilesystem === true,
    privileged: sc.privileged === true,
    capAdd: add,
    capDrop: drop,
    noNewPrivileges: sc.allowPrivilegeEscalation === false,
  };
}
