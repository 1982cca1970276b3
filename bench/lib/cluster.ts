/**
 * The control plane a run uses: a fresh one (stopped at the end), the one of
 * `npm run cluster:up` (left running), or the cluster of a given admin kubeconfig (tests).
 * When the cluster was started by src/devcluster, its cluster.json names the pids of
 * etcd and the control plane, so their memory and CPU go into the report as well.
 */
import { dirname, join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { schedulerArgs } from '../../src/devcluster/args.ts';
import { cacheRoot } from '../../src/devcluster/binaries.ts';
import {
  type ClusterState,
  clusterRunning,
  readClusterState,
  startCluster,
} from '../../src/devcluster/cluster.ts';
import { probe } from '../../src/devcluster/probe.ts';
import { commandLineHas, isAlive, spawnGroup, stopGroups } from '../../src/devcluster/process.ts';
import type { BenchOptions } from './options.ts';

export interface ClusterHandle {
  kind: 'started' | 'reused' | 'kubeconfig';
  kubeconfig: string;
  /** Control-plane pids by our report's names (only those known and alive). */
  pids: Partial<Record<'apiserver' | 'etcd' | 'scheduler' | 'controllerManager', number>>;
  /** Stops what this run started; a no-op for a reused cluster. */
  release(): Promise<void>;
}

const NAMES = {
  'kube-apiserver': 'apiserver',
  etcd: 'etcd',
  'kube-scheduler': 'scheduler',
  'kube-controller-manager': 'controllerManager',
} as const;

function pidsOf(state: ClusterState | undefined): ClusterHandle['pids'] {
  const out: ClusterHandle['pids'] = {};
  if (!state) return out;
  for (const [proc, name] of Object.entries(NAMES)) {
    const pid = state.pids[proc];
    if (pid && isAlive(pid) && commandLineHas(pid, state.dir)) out[name] = pid;
  }
  return out;
}

export async function acquireCluster(
  opts: Pick<BenchOptions, 'cluster' | 'schedulerQps'>,
  log: (line: string) => void,
): Promise<ClusterHandle> {
  if (opts.cluster.kind === 'reuse') {
    const dir = join(cacheRoot(), 'devcluster');
    const state = await readClusterState(dir);
    if (!state || !clusterRunning(state))
      throw new Error(`--reuse-cluster: no running cluster in ${dir}; start one with \`npm run cluster:up\``);
    log(`reusing the dev cluster at ${state.server}`);
    return { kind: 'reused', kubeconfig: state.kubeconfig, pids: pidsOf(state), release: async () => {} };
  }
  if (opts.cluster.kind === 'kubeconfig') {
    const kubeconfig = resolve(opts.cluster.path);
    // A devcluster keeps its admin kubeconfig next to its cluster.json.
    const state = await readClusterState(dirname(kubeconfig));
    const known = state && resolve(state.kubeconfig) === kubeconfig ? state : undefined;
    return { kind: 'kubeconfig', kubeconfig, pids: pidsOf(known), release: async () => {} };
  }
  log('starting a control plane (src/devcluster)');
  const cluster = await startCluster({ log: (l) => log(`[devcluster] ${l}`) });
  const state = await readClusterState(cluster.dir);
  const pids = pidsOf(state);
  let extra: number | undefined;
  if (opts.schedulerQps !== undefined && state) {
    try {
      extra = await restartScheduler(state, opts.schedulerQps, log);
      pids.scheduler = extra;
    } catch (err) {
      await cluster.stop();
      throw err;
    }
  }
  return {
    kind: 'started',
    kubeconfig: cluster.kubeconfig,
    pids,
    release: async () => {
      if (extra) await stopGroups([extra]);
      await cluster.stop();
    },
  };
}

/**
 * Replace the devcluster's kube-scheduler by one allowed `qps` apiserver requests per
 * second (burst 2×): the default 50 caps binding at ~50 pods/s, which hides what comes
 * after it. Resolves with the new scheduler's pid once it is healthy.
 */
async function restartScheduler(
  state: ClusterState,
  qps: number,
  log: (line: string) => void,
): Promise<number> {
  const old = state.pids['kube-scheduler'];
  if (old) await stopGroups([old]);
  const layout = { dir: state.dir, schedulerKubeconfig: join(state.dir, 'scheduler.kubeconfig') };
  const p = spawnGroup({
    name: 'kube-scheduler',
    bin: join(state.binDir, 'kube-scheduler'),
    args: [
      ...schedulerArgs(layout as Parameters<typeof schedulerArgs>[0], state.ports),
      `--kube-api-qps=${qps}`,
      `--kube-api-burst=${2 * qps}`,
    ],
    logPath: join(state.dir, 'kube-scheduler-bench.log'),
  });
  const deadline = Date.now() + 60_000;
  for (;;) {
    const exit = p.exit();
    if (exit)
      throw new Error(
        `kube-scheduler with --kube-api-qps=${qps} exited (${JSON.stringify(exit)}); see ${p.logPath}`,
      );
    if (
      (await probe(`https://127.0.0.1:${state.ports.scheduler}/healthz`, { insecure: true })).status === 200
    )
      break;
    if (Date.now() > deadline) throw new Error('timed out waiting for the restarted kube-scheduler');
    await sleep(100);
  }
  log(`kube-scheduler restarted with --kube-api-qps=${qps} --kube-api-burst=${2 * qps}`);
  return p.pid;
}
