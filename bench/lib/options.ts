/**
 * Command line of `npm run bench` (pure: argv in, options out; table-tested). A mistake
 * throws a UsageError whose message names the flag.
 */
import { parseArgs } from 'node:util';
import { parseDuration } from '../../src/plugins/mock/behaviour.ts';

export const PLUGINS = ['mock', 'docker', 'slurm'] as const;
export type BenchPlugin = (typeof PLUGINS)[number];

export interface BenchOptions {
  pods: number;
  plugin: BenchPlugin;
  /** Create requests in flight at once (pods mode). */
  concurrency: number;
  /** One Job with `pods` completions instead of `pods` bare Pods. */
  job: boolean;
  /** How long each pod's container runs (mock annotation run-time; `sleep` for docker/slurm). */
  runTimeMs: number;
  /** Mock start delay (annotation start-delay). */
  startDelayMs: number;
  /** The VK's batched /status interval. */
  statusIntervalMs: number;
  /** VK pod workers; undefined = the VK's default. */
  vkWorkers: number | undefined;
  /** How the control plane is found: a new one, the `npm run cluster:up` one, or a kubeconfig. */
  cluster: { kind: 'start' } | { kind: 'reuse' } | { kind: 'kubeconfig'; path: string };
  /** `node --cpu-prof` on the VK, API and plugin children. */
  profile: boolean;
  /** Where the JSON and SVG go. */
  outDir: string;
  /** Give up (and still report and clean up) after this long, ms. */
  timeoutMs: number;
  /** Progress line interval, ms (0 = none). */
  progressMs: number;
  /** Container image (docker/slurm; the mock ignores it). */
  image: string;
  /** Configuration file of the docker/slurm plugin. */
  pluginConfig: string | undefined;
  /** Pods get a projected service-account token, like ordinary pods (default); off = the VK skips TokenRequests. */
  serviceAccountToken: boolean;
  /** Extra node flags for the VK process (e.g. `--max-old-space-size=200`). */
  vkNodeOptions: string[];
  /** Start the children with their shipped heap limits (src/cli/heap-limits.ts); off = Node's defaults. */
  heapLimits: boolean;
  /** Run the compiled dist/ (as shipped) instead of src/*.ts. */
  dist: boolean;
  /** Restart the started cluster's kube-scheduler with this client QPS (its default is 50). */
  schedulerQps: number | undefined;
  /** Run the same burst against a KWOK node next, on the same control plane (bench/lib/kwok.ts). */
  baseline: 'kwok' | null;
  help: boolean;
}

export class UsageError extends Error {
  override name = 'UsageError';
}

export const USAGE = `usage: npm run bench -- --pods N [options]

  --pods N                 pods to run (required)
  --plugin mock|docker|slurm   plugin behind the API (default mock)
  --concurrency C          create requests in flight (default 50)
  --job                    one Job with N completions (parallelism N) instead of N pods
  --run-time D             how long each pod runs (default 5s; Go-style duration)
  --start-delay D          mock: time from create to start (default 0)
  --status-interval D      VK batched /status interval (default 2s)
  --vk-workers W           VK pod workers (default: the VK's)
  --reuse-cluster          use the control plane of \`npm run cluster:up\` (must be running)
  --kubeconfig FILE        use the cluster of this admin kubeconfig (tests)
  --profile                node --cpu-prof on the VK, API and plugin; top functions in the report
  --out DIR                results directory (default bench/results)
  --timeout D              give up after this long (default 3m + 0.3 s per pod)
  --progress D             progress line interval (default 5s; 0 = off)
  --image IMAGE            container image for docker/slurm (default interlink-test/busybox:1)
  --plugin-config FILE     docker/slurm plugin configuration file
  --no-sa-token            pods without a service-account token volume
  --vk-node-options FLAGS  node flags for the VK process, e.g. "--max-old-space-size=200"
                           (after its shipped heap limits, so these win)
  --dist                   run the VK, API and plugin from dist/ (\`npm run build\` first), as
                           the image does, instead of src/*.ts with type stripping
  --no-heap-limits         start the VK, API and plugin without their shipped heap limits
                           and malloc setting (src/cli/heap-limits.ts): Node's and glibc's
                           defaults
  --scheduler-qps Q        restart the started cluster's kube-scheduler with client QPS Q
                           (burst 2Q; its default, 50, caps binding at ~50 pods/s)
  --baseline kwok          then the same burst against a KWOK-managed node on the same
                           control plane; the summary gains KWOK's figures and our/KWOK
                           ratios (KWOK is built by scripts/kwok/build.sh, cached)
`;

function positiveInt(flag: string, v: string | undefined, dflt: number): number {
  if (v === undefined) return dflt;
  if (!/^\d+$/.test(v) || Number(v) < 1)
    throw new UsageError(`--${flag}: "${v}" is not a positive whole number`);
  return Number(v);
}

function duration(flag: string, v: string | undefined, dflt: number): number {
  if (v === undefined) return dflt;
  try {
    return parseDuration(v);
  } catch (err) {
    throw new UsageError(`--${flag}: ${(err as Error).message}`);
  }
}

/** Parse `npm run bench -- ...` arguments (without node and the script). */
export function parseBenchArgs(argv: string[]): BenchOptions {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        pods: { type: 'string' },
        plugin: { type: 'string' },
        concurrency: { type: 'string' },
        job: { type: 'boolean' },
        'run-time': { type: 'string' },
        'start-delay': { type: 'string' },
        'status-interval': { type: 'string' },
        'vk-workers': { type: 'string' },
        'reuse-cluster': { type: 'boolean' },
        kubeconfig: { type: 'string' },
        profile: { type: 'boolean' },
        out: { type: 'string' },
        timeout: { type: 'string' },
        progress: { type: 'string' },
        image: { type: 'string' },
        'plugin-config': { type: 'string' },
        'no-sa-token': { type: 'boolean' },
        'vk-node-options': { type: 'string' },
        'no-heap-limits': { type: 'boolean' },
        dist: { type: 'boolean' },
        'scheduler-qps': { type: 'string' },
        baseline: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const str = (k: string) => values[k] as string | undefined;
  const help = values.help === true;
  if (!help && str('pods') === undefined) throw new UsageError('--pods: required');
  const pods = positiveInt('pods', str('pods'), 1);
  const plugin = (str('plugin') ?? 'mock') as BenchPlugin;
  if (!PLUGINS.includes(plugin))
    throw new UsageError(`--plugin: "${plugin}" is not one of ${PLUGINS.join(', ')}`);
  if (values['reuse-cluster'] && str('kubeconfig') !== undefined)
    throw new UsageError('--reuse-cluster and --kubeconfig: give one or the other');
  const cluster: BenchOptions['cluster'] = values['reuse-cluster']
    ? { kind: 'reuse' }
    : str('kubeconfig') !== undefined
      ? { kind: 'kubeconfig', path: str('kubeconfig')! }
      : { kind: 'start' };
  const schedulerQps =
    str('scheduler-qps') === undefined ? undefined : positiveInt('scheduler-qps', str('scheduler-qps'), 1);
  if (schedulerQps !== undefined && cluster.kind !== 'start')
    throw new UsageError('--scheduler-qps: only for a control plane the benchmark starts itself');
  const baseline = str('baseline') ?? null;
  if (baseline !== null && baseline !== 'kwok')
    throw new UsageError(`--baseline: "${baseline}" is not kwok (the only baseline)`);
  if (baseline !== null && (values.job === true || plugin !== 'mock' || values.profile === true))
    throw new UsageError('--baseline kwok: only for bare pods through the mock plugin, without --profile');
  const statusIntervalMs = duration('status-interval', str('status-interval'), 2_000);
  if (statusIntervalMs < 1) throw new UsageError('--status-interval: must be longer than 0');
  return {
    pods,
    plugin,
    concurrency: positiveInt('concurrency', str('concurrency'), 50),
    job: values.job === true,
    runTimeMs: duration('run-time', str('run-time'), 5_000),
    startDelayMs: duration('start-delay', str('start-delay'), 0),
    statusIntervalMs,
    vkWorkers: str('vk-workers') === undefined ? undefined : positiveInt('vk-workers', str('vk-workers'), 1),
    cluster,
    profile: values.profile === true,
    outDir: str('out') ?? 'bench/results',
    timeoutMs: duration('timeout', str('timeout'), 180_000 + pods * 300),
    progressMs: duration('progress', str('progress'), 5_000),
    image: str('image') ?? 'interlink-test/busybox:1',
    pluginConfig: str('plugin-config'),
    serviceAccountToken: values['no-sa-token'] !== true,
    vkNodeOptions: (str('vk-node-options') ?? '').split(/\s+/).filter(Boolean),
    heapLimits: values['no-heap-limits'] !== true,
    dist: values.dist === true,
    schedulerQps,
    baseline,
    help,
  };
}
