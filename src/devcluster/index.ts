/** A real Kubernetes control plane for tests and local runs; see cluster.ts. */
export { BINARIES, defaultBinDir, ensureBinaries, K8S_VERSION, missingBinaries } from './binaries.ts';
export {
  attachCluster,
  type Cluster,
  type ClusterState,
  clusterRunning,
  type KubectlOptions,
  type KubectlResult,
  readClusterState,
  runKubectl,
  type StartOptions,
  startCluster,
  sweepStaleClusters,
} from './cluster.ts';
export { createCa, type IssueOptions, issueCert, type KeyPair } from './pki.ts';
