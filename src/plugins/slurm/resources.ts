/**
 * Pod resources and site flavors → sbatch options. Pure.
 *
 * A pod is one Slurm task whose CPUs and memory are what the pod can use at once: app
 * containers run side by side (their limits add up) after the init containers, which run one
 * at a time (the largest counts), as Kubernetes computes a pod's effective request. Limits
 * are used, else requests. GPUs (`nvidia.com/gpu`, `amd.com/gpu`) become `--gres=gpu:N`.
 *
 * Precedence of options, later winning per option: flavor defaults < flavor flags <
 * `slurm-job.vk.io/flags` < the pod's own resources.
 */
import { resourceQuantity } from '../../core/kube/quantity.ts';
import type { ContainerSpec, PodSpecView } from '../../core/pod/spec.ts';
import { invalidInput } from '../../errors/index.ts';
import type { Flavor } from './config.ts';
import { type FlagGroup, flagKey, groupFlags, splitWords } from './flags.ts';

export const GPU_RESOURCES = ['nvidia.com/gpu', 'amd.com/gpu'] as const;

export interface PodResources {
  /** Whole CPUs (rounded up); undefined when no container says. */
  cpus?: number;
  memoryBytes?: number;
  /** GPUs by resource name. */
  gpus: Record<string, number>;
}

function amount(c: ContainerSpec, name: string, field: string): number | undefined {
  const raw = c.resources?.limits?.[name] ?? c.resources?.requests?.[name];
  return raw === undefined ? undefined : resourceQuantity(raw, `${field}.resources[${name}]`);
}

/** max(sum over app containers, max over init containers), per resource. */
function effective(spec: PodSpecView, name: string): number | undefined {
  let apps: number | undefined;
  for (const c of spec.containers) {
    const v = amount(c, name, `pod.spec.containers[${c.name}]`);
    if (v !== undefined) apps = (apps ?? 0) + v;
  }
  let inits: number | undefined;
  for (const c of spec.initContainers ?? []) {
    const v = amount(c, name, `pod.spec.initContainers[${c.name}]`);
    if (v !== undefined) inits = Math.max(inits ?? 0, v);
  }
  if (apps === undefined) return inits;
  return inits === undefined ? apps : Math.max(apps, inits);
}

export function podResources(spec: PodSpecView): PodResources {
  const cpu = effective(spec, 'cpu');
  const mem = effective(spec, 'memory');
  const gpus: Record<string, number> = {};
  for (const g of GPU_RESOURCES) {
    const n = effective(spec, g);
    if (n !== undefined && n > 0) gpus[g] = Math.ceil(n);
  }
  return {
    ...(cpu !== undefined && cpu > 0 ? { cpus: Math.max(1, Math.ceil(cpu - 1e-9)) } : {}),
    ...(mem !== undefined && mem > 0 ? { memoryBytes: Math.ceil(mem) } : {}),
    gpus,
  };
}

export const totalGpus = (r: PodResources) => Object.values(r.gpus).reduce((a, b) => a + b, 0);

/** `--mem` value in MiB for a byte count. */
export const memFlag = (bytes: number) => `--mem=${Math.ceil(bytes / 2 ** 20)}M`;

/** A flavor's memory default: a Kubernetes quantity ("16Gi") or a Slurm size ("16G", "4000M", "4000"). */
export function flavorMemoryFlag(memory: string, field: string): string {
  const slurm = /^(\d+)([KMGT]?)$/i.exec(memory.trim());
  if (slurm) return `--mem=${slurm[1]}${(slurm[2] || 'M').toUpperCase()}`;
  return memFlag(resourceQuantity(memory, field));
}

/** GPUs a flavor provides: its `gpu` key, else `--gres=gpu[:type]:N` / `--gpus=N` in its flags. */
export function flavorGpus(f: Flavor): number {
  if (f.gpu !== undefined) return f.gpu;
  for (const word of f.flags.flatMap((flag) => splitWords(flag, 'flavor flags'))) {
    const m = /^--(?:gres=gpu(?::[^:,\s]+)?:(\d+)|gpus(?:-per-node)?=(?:[^:,\s]+:)?(\d+))/.exec(word);
    if (m) return Number(m[1] ?? m[2]);
  }
  return 0;
}

/**
 * The flavor for a pod: the annotation's (an unknown name is an error: the user asked for
 * it), else for a GPU pod the flavor with exactly that many GPUs, else any GPU flavor, else
 * the default flavor. Flavors are examined in name order so the choice is stable.
 */
export function selectFlavor(
  flavors: Record<string, Flavor>,
  defaultFlavor: string | undefined,
  requested: string | undefined,
  gpus: number,
): { name: string; flavor: Flavor } | undefined {
  if (requested !== undefined && requested !== '') {
    const f = flavors[requested];
    if (!f) {
      const known = Object.keys(flavors).sort().join(', ') || 'none configured';
      throw invalidInput(
        `annotation slurm-job.vk.io/flavor: unknown flavor "${requested}" (known: ${known})`,
        'slurm-job.vk.io/flavor',
      );
    }
    return { name: requested, flavor: f };
  }
  const names = Object.keys(flavors).sort();
  if (gpus > 0) {
    const exact = names.find((n) => flavorGpus(flavors[n]!) === gpus);
    const any = names.find((n) => flavorGpus(flavors[n]!) > 0);
    const pick = exact ?? any;
    if (pick) return { name: pick, flavor: flavors[pick]! };
  }
  if (defaultFlavor && flavors[defaultFlavor])
    return { name: defaultFlavor, flavor: flavors[defaultFlavor]! };
  return undefined;
}

/** Option groups of a flavor: its CPU/memory defaults first, then its flags. */
export function flavorFlags(name: string, f: Flavor): FlagGroup[] {
  const out: FlagGroup[] = [];
  if (f.cpu !== undefined) out.push([`--cpus-per-task=${Math.ceil(f.cpu)}`]);
  if (f.memory !== undefined) out.push([flavorMemoryFlag(f.memory, `flavors.${name}.memory`)]);
  for (const flag of f.flags)
    out.push(...groupFlags(splitWords(flag, `flavors.${name}.flags`), `flavors.${name}.flags`));
  return out;
}

/** Option groups from the pod's own resources (the highest precedence). */
export function resourceFlags(r: PodResources): FlagGroup[] {
  const out: FlagGroup[] = [];
  if (r.cpus !== undefined) out.push([`--cpus-per-task=${r.cpus}`]);
  if (r.memoryBytes !== undefined) out.push([memFlag(r.memoryBytes)]);
  const gpus = totalGpus(r);
  if (gpus > 0) out.push([`--gres=gpu:${gpus}`]);
  return out;
}

/** Whether a list of groups already asks for GPUs (a flavor's `--gres=gpu:...` or `--gpus`). */
export const asksGpus = (groups: readonly FlagGroup[]) =>
  groups.some(
    (g) =>
      ['--gpus', '--gpus-per-node', '--gpus-per-task'].includes(flagKey(g)) ||
      /^--gres=.*gpu/.test(g[0] ?? ''),
  );
