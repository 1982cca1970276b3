/**
 * Vitest globalSetup of the `k8s` and `e2e` projects: one real control plane per run
 * (etcd, kube-apiserver, kube-controller-manager, kube-scheduler; src/devcluster), built
 * first when the binaries are not cached (minutes, with progress on stderr).
 *
 * Both projects in one `vitest run` share the cluster (components.ts: started once, at the
 * same time as the run's other components, stopped after the last project); test files keep
 * apart by using their own namespaces. INTERLINK_KEEP_CLUSTER=1 keeps the directory (logs, etcd data) after the run.
 */
import type { TestProject } from 'vitest/node';
import { type Cluster, ensureBinaries, startCluster } from '../../src/devcluster/index.ts';
import { acquire, type Starter, timing } from './components.ts';
import { starters } from './starters.ts';

export const k8sStarter: Starter<Cluster> = {
  async start() {
    const log = (line: string) => process.stderr.write(`[k8s.setup] ${line}\n`);
    const binDir = await ensureBinaries({ log });
    timing('k8s: binaries ready');
    return startCluster({ binDir, log });
  },
  stop: (cluster) => cluster.stop(),
};

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const { value: cluster, release } = await acquire<Cluster>(project, 'k8s', starters());
  project.provide('kubeconfig', cluster.kubeconfig);
  project.provide('k8sBinDir', cluster.binDir);
  project.provide('k8sServer', cluster.server);
  project.provide('caCertPath', cluster.caCertPath);
  project.provide('caKeyPath', cluster.caKeyPath);
  return release;
}
