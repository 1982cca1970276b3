/**
 * Vitest globalSetup of the `k8s` and `e2e` projects: one real control plane per run
 * (etcd, kube-apiserver, kube-controller-manager, kube-scheduler; src/devcluster), built
 * first when the binaries are not cached (minutes, with progress on stderr).
 *
 * Both projects in one `vitest run` share the cluster (reference-counted on globalThis, as
 * each project may load this module separately); test files keep apart by using their own
 * namespaces. INTERLINK_KEEP_CLUSTER=1 keeps the directory (logs, etcd data) after the run.
 */
import type { TestProject } from 'vitest/node';
import { type Cluster, ensureBinaries, startCluster } from '../../src/devcluster/index.ts';

interface Shared {
  users: number;
  cluster: Promise<Cluster>;
}
const key = Symbol.for('interlink.test.k8s-cluster');
const slot = globalThis as unknown as Record<symbol, Shared | undefined>;

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  let shared = slot[key];
  if (!shared) {
    const log = (line: string) => process.stderr.write(`[k8s.setup] ${line}\n`);
    const cluster = ensureBinaries({ log }).then((binDir) => startCluster({ binDir, log }));
    shared = { users: 0, cluster };
    slot[key] = shared;
    // A failed start must not be reused by the next project.
    cluster.catch(() => {
      if (slot[key] === shared) slot[key] = undefined;
    });
  }
  shared.users++;
  let cluster: Cluster;
  try {
    cluster = await shared.cluster;
  } catch (err) {
    shared.users--;
    throw err;
  }
  project.provide('kubeconfig', cluster.kubeconfig);
  project.provide('k8sBinDir', cluster.binDir);
  project.provide('k8sServer', cluster.server);
  project.provide('caCertPath', cluster.caCertPath);
  project.provide('caKeyPath', cluster.caKeyPath);
  const own = shared;
  return async () => {
    own.users--;
    if (own.users > 0) return;
    if (slot[key] === own) slot[key] = undefined;
    await cluster.stop();
  };
}
