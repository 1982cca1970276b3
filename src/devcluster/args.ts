/**
 * Command lines of the four control-plane processes. Pure: paths and ports in, argv out,
 * so the flags are reviewed in one place and tested by tables.
 */

/** Where each process finds its files; all paths absolute. */
export interface ClusterLayout {
  dir: string;
  etcdDataDir: string;
  caCert: string;
  caKey: string;
  apiserverCert: string;
  apiserverKey: string;
  kubeletClientCert: string;
  kubeletClientKey: string;
  frontProxyCaCert: string;
  frontProxyClientCert: string;
  frontProxyClientKey: string;
  saKey: string;
  saPub: string;
  controllerManagerKubeconfig: string;
  schedulerKubeconfig: string;
}

export interface ClusterPorts {
  etcdClient: number;
  etcdPeer: number;
  apiserver: number;
  controllerManager: number;
  scheduler: number;
}

/** The Service CIDR; its first address (10.0.0.1) is the `kubernetes` Service and is in the serving cert. */
export const SERVICE_CIDR = '10.0.0.0/24';
export const KUBERNETES_SERVICE_IP = '10.0.0.1';
export const SERVICE_ACCOUNT_ISSUER = 'https://kubernetes.default.svc.cluster.local';
/** The CN of the apiserver's proxy client cert: the one name an aggregated API server accepts request headers from. */
export const FRONT_PROXY_CLIENT = 'front-proxy-client';

/**
 * Controllers a virtual node needs to look like a real cluster: node lifecycle and taint
 * eviction (unreachable nodes), workloads (Job, CronJob, ReplicaSet/Deployment, StatefulSet,
 * DaemonSet), garbage collection, service accounts and their tokens, namespaces, CSR
 * signing/approving/cleaning (kubelet-serving certs) and kube-root-ca.crt publishing.
 * Volume, IPAM and cloud controllers are left out: nothing here has volumes or routes.
 */
export const CONTROLLERS = [
  'node-lifecycle-controller',
  'taint-eviction-controller',
  'job-controller',
  'cronjob-controller',
  'ttl-after-finished-controller',
  'replicaset-controller',
  'deployment-controller',
  'statefulset-controller',
  'daemonset-controller',
  'disruption-controller',
  'garbage-collector-controller',
  'pod-garbage-collector-controller',
  'serviceaccount-controller',
  'serviceaccount-token-controller',
  'legacy-serviceaccount-token-cleaner-controller',
  'namespace-controller',
  'resourcequota-controller',
  'endpoints-controller',
  'endpointslice-controller',
  'certificatesigningrequest-signing-controller',
  'certificatesigningrequest-approving-controller',
  'certificatesigningrequest-cleaner-controller',
  'root-ca-certificate-publisher-controller',
  'clusterrole-aggregation-controller',
  'ttl-controller',
] as const;

const loopback = '127.0.0.1';

export function etcdArgs(l: ClusterLayout, p: ClusterPorts): string[] {
  const client = `http://${loopback}:${p.etcdClient}`;
  const peer = `http://${loopback}:${p.etcdPeer}`;
  return [
    '--name=devcluster',
    `--data-dir=${l.etcdDataDir}`,
    `--listen-client-urls=${client}`,
    `--advertise-client-urls=${client}`,
    `--listen-peer-urls=${peer}`,
    `--initial-advertise-peer-urls=${peer}`,
    `--initial-cluster=devcluster=${peer}`,
    '--initial-cluster-state=new',
    // A throw-away cluster: durability buys nothing, and fsync on a busy 2-core box costs seconds.
    '--unsafe-no-fsync=true',
    '--log-level=warn',
  ];
}

export function apiserverArgs(l: ClusterLayout, p: ClusterPorts): string[] {
  return [
    `--etcd-servers=http://${loopback}:${p.etcdClient}`,
    `--bind-address=${loopback}`,
    `--advertise-address=${loopback}`,
    // The endpoint reconciler refuses a loopback address for the `kubernetes` Service; nothing
    // runs in a pod network here, so that Service needs no endpoints.
    '--endpoint-reconciler-type=none',
    `--secure-port=${p.apiserver}`,
    `--tls-cert-file=${l.apiserverCert}`,
    `--tls-private-key-file=${l.apiserverKey}`,
    `--client-ca-file=${l.caCert}`,
    '--authorization-mode=Node,RBAC',
    '--enable-admission-plugins=NodeRestriction',
    '--allow-privileged=true',
    `--service-cluster-ip-range=${SERVICE_CIDR}`,
    `--service-account-issuer=${SERVICE_ACCOUNT_ISSUER}`,
    `--service-account-key-file=${l.saPub}`,
    `--service-account-signing-key-file=${l.saKey}`,
    // The apiserver dials the (virtual) kubelet for logs/exec: it presents this client cert
    // and checks the kubelet's serving cert against the cluster CA, at the node's InternalIP.
    `--kubelet-client-certificate=${l.kubeletClientCert}`,
    `--kubelet-client-key=${l.kubeletClientKey}`,
    `--kubelet-certificate-authority=${l.caCert}`,
    '--kubelet-preferred-address-types=InternalIP',
    // The aggregation layer (metrics-server behind `kubectl top`): the apiserver proxies to an
    // APIService with this client cert and user headers that the extension server trusts
    // only from a cert of the front-proxy CA named front-proxy-client. Nothing here has a
    // Service network: an APIService names an ExternalName Service (`localhost`), which
    // only the default cluster routing resolves (--enable-aggregator-routing would refuse it).
    `--requestheader-client-ca-file=${l.frontProxyCaCert}`,
    `--requestheader-allowed-names=${FRONT_PROXY_CLIENT}`,
    '--requestheader-username-headers=X-Remote-User',
    '--requestheader-group-headers=X-Remote-Group',
    '--requestheader-extra-headers-prefix=X-Remote-Extra-',
    `--proxy-client-cert-file=${l.frontProxyClientCert}`,
    `--proxy-client-key-file=${l.frontProxyClientKey}`,
    '--profiling=false',
  ];
}

/** Client rate of the scheduler and controller-manager: high enough that the apiserver is the limit. */
export const CONTROL_PLANE_QPS = 500;
export const CONTROL_PLANE_BURST = 1000;

export function controllerManagerArgs(l: ClusterLayout, p: ClusterPorts): string[] {
  return [
    `--kubeconfig=${l.controllerManagerKubeconfig}`,
    `--bind-address=${loopback}`,
    `--secure-port=${p.controllerManager}`,
    `--cert-dir=${l.dir}/controller-manager`,
    '--leader-elect=false',
    `--controllers=${CONTROLLERS.join(',')}`,
    '--use-service-account-credentials=true',
    `--root-ca-file=${l.caCert}`,
    `--service-account-private-key-file=${l.saKey}`,
    // Kubelet-serving CSRs (the VK's) are signed by the cluster CA, which the apiserver trusts
    // through --kubelet-certificate-authority.
    `--cluster-signing-cert-file=${l.caCert}`,
    `--cluster-signing-key-file=${l.caKey}`,
    `--service-cluster-ip-range=${SERVICE_CIDR}`,
    '--allocate-node-cidrs=false',
    // The client default (20 QPS) caps Jobs at ~20 pods/s created and garbage-collected:
    // benchmarks would measure this limiter, not the chain (docs/performance.md).
    `--kube-api-qps=${CONTROL_PLANE_QPS}`,
    `--kube-api-burst=${CONTROL_PLANE_BURST}`,
    '--profiling=false',
  ];
}

export function schedulerArgs(l: ClusterLayout, p: ClusterPorts): string[] {
  return [
    `--kubeconfig=${l.schedulerKubeconfig}`,
    `--bind-address=${loopback}`,
    `--secure-port=${p.scheduler}`,
    `--cert-dir=${l.dir}/scheduler`,
    '--leader-elect=false',
    // The client default (50 QPS) binds only ~50 pods/s (docs/performance.md).
    `--kube-api-qps=${CONTROL_PLANE_QPS}`,
    `--kube-api-burst=${CONTROL_PLANE_BURST}`,
    '--profiling=false',
  ];
}
