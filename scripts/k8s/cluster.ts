/**
 * A control plane for local development that outlives this command:
 *
 *   npm run -s cluster:up      start it (or find it running); prints `export KUBECONFIG=...`
 *   npm run -s cluster:down    stop it and remove its state
 *   node scripts/k8s/cluster.ts status|env
 *
 * State (PKI, kubeconfigs, etcd data, logs, cluster.json) lives in
 * ~/.cache/interlink/devcluster/ (under INTERLINK_CACHE when set). Progress goes to stderr,
 * the export line to stdout, so `eval "$(npm run -s cluster:up)"` works.
 */
import { join } from 'node:path';
import { cacheRoot } from '../../src/devcluster/binaries.ts';
import {
  attachCluster,
  type ClusterState,
  clusterRunning,
  readClusterState,
  startCluster,
} from '../../src/devcluster/cluster.ts';

const dir = join(cacheRoot(), 'devcluster');
const log = (line: string) => process.stderr.write(`[cluster] ${line}\n`);

function printEnv(state: ClusterState): void {
  log(`server ${state.server}; logs in ${dir}/*.log; CA ${state.caCertPath}`);
  process.stdout.write(`export KUBECONFIG=${state.kubeconfig}\n`);
}

async function up(): Promise<void> {
  const existing = await readClusterState(dir);
  if (existing && clusterRunning(existing)) {
    log('already running');
    printEnv(existing);
    return;
  }
  if (existing) {
    log('found a stopped or half-running cluster; cleaning it up');
    await attachCluster(existing).stop();
  }
  await startCluster({ dir, detached: true, log });
  const state = await readClusterState(dir);
  if (!state) throw new Error(`no state in ${dir} after start`);
  printEnv(state);
}

async function down(): Promise<void> {
  const state = await readClusterState(dir);
  if (!state) {
    log(`no dev cluster in ${dir}`);
    return;
  }
  await attachCluster(state).stop();
  log('stopped');
}

async function status(): Promise<number> {
  const state = await readClusterState(dir);
  if (!state) {
    log('not started');
    return 1;
  }
  const running = clusterRunning(state);
  log(running ? `running at ${state.server}` : `not running (stale state in ${dir}; run cluster:down)`);
  return running ? 0 : 1;
}

const cmd = process.argv[2];
try {
  if (cmd === 'up') await up();
  else if (cmd === 'down') await down();
  else if (cmd === 'status') process.exitCode = await status();
  else if (cmd === 'env') {
    const state = await readClusterState(dir);
    if (state && clusterRunning(state)) printEnv(state);
    else {
      log('not running');
      process.exitCode = 1;
    }
  } else {
    process.stderr.write('usage: node scripts/k8s/cluster.ts up|down|status|env\n');
    process.exitCode = 2;
  }
} catch (err) {
  log((err as Error).message);
  process.exitCode = 1;
}
