import { describe, expect, it } from 'vitest';
import {
  apiserverArgs,
  type ClusterLayout,
  type ClusterPorts,
  CONTROLLERS,
  controllerManagerArgs,
  etcdArgs,
  schedulerArgs,
} from '../../src/devcluster/args.ts';

const l: ClusterLayout = {
  dir: '/d',
  etcdDataDir: '/d/etcd',
  caCert: '/d/pki/ca.crt',
  caKey: '/d/pki/ca.key',
  apiserverCert: '/d/pki/apiserver.crt',
  apiserverKey: '/d/pki/apiserver.key',
  kubeletClientCert: '/d/pki/kubelet-client.crt',
  kubeletClientKey: '/d/pki/kubelet-client.key',
  frontProxyCaCert: '/d/pki/front-proxy-ca.crt',
  frontProxyClientCert: '/d/pki/front-proxy-client.crt',
  frontProxyClientKey: '/d/pki/front-proxy-client.key',
  saKey: '/d/pki/sa.key',
  saPub: '/d/pki/sa.pub',
  controllerManagerKubeconfig: '/d/cm.kubeconfig',
  schedulerKubeconfig: '/d/sched.kubeconfig',
};
const p: ClusterPorts = {
  etcdClient: 2001,
  etcdPeer: 2002,
  apiserver: 6443,
  controllerManager: 10257,
  scheduler: 10259,
};

/** argv → flag name → value (flags are all --name=value here). */
function flags(argv: string[]): Map<string, string> {
  const m = new Map<string, string>();
  for (const a of argv) {
    const match = /^--([a-z0-9-]+)=(.*)$/.exec(a);
    if (!match) throw new Error(`not --flag=value: ${a}`);
    if (m.has(match[1]!)) throw new Error(`duplicate flag ${match[1]}`);
    m.set(match[1]!, match[2]!);
  }
  return m;
}

describe('control-plane argv', () => {
  it.each([
    ['etcd', etcdArgs],
    ['kube-apiserver', apiserverArgs],
    ['kube-controller-manager', controllerManagerArgs],
    ['kube-scheduler', schedulerArgs],
  ])('%s: only --flag=value, no duplicates, loopback only', (_name, build) => {
    const f = flags(build(l, p));
    for (const [k, v] of f) {
      if (/(^|-)address$|urls$|^initial-cluster$|^etcd-servers$/.test(k)) {
        expect(v, k).toMatch(/127\.0\.0\.1/);
      }
    }
  });

  it.each<[string, string]>([
    ['etcd-servers', 'http://127.0.0.1:2001'],
    ['secure-port', '6443'],
    ['authorization-mode', 'Node,RBAC'],
    ['client-ca-file', '/d/pki/ca.crt'],
    ['service-account-issuer', 'https://kubernetes.default.svc.cluster.local'],
    ['service-account-key-file', '/d/pki/sa.pub'],
    ['service-account-signing-key-file', '/d/pki/sa.key'],
    ['service-cluster-ip-range', '10.0.0.0/24'],
    ['kubelet-client-certificate', '/d/pki/kubelet-client.crt'],
    ['kubelet-client-key', '/d/pki/kubelet-client.key'],
    ['kubelet-certificate-authority', '/d/pki/ca.crt'],
    ['kubelet-preferred-address-types', 'InternalIP'],
    ['requestheader-client-ca-file', '/d/pki/front-proxy-ca.crt'],
    ['requestheader-allowed-names', 'front-proxy-client'],
    ['proxy-client-cert-file', '/d/pki/front-proxy-client.crt'],
    ['proxy-client-key-file', '/d/pki/front-proxy-client.key'],
  ])('kube-apiserver --%s=%s', (flag, value) => {
    expect(flags(apiserverArgs(l, p)).get(flag)).toBe(value);
  });

  it('kube-apiserver routes to an APIService by its Service (an ExternalName works), not its endpoints', () => {
    expect(flags(apiserverArgs(l, p)).has('enable-aggregator-routing')).toBe(false);
  });

  it.each<[string, string]>([
    ['kubeconfig', '/d/cm.kubeconfig'],
    ['secure-port', '10257'],
    ['use-service-account-credentials', 'true'],
    ['root-ca-file', '/d/pki/ca.crt'],
    ['service-account-private-key-file', '/d/pki/sa.key'],
    ['cluster-signing-cert-file', '/d/pki/ca.crt'],
    ['cluster-signing-key-file', '/d/pki/ca.key'],
    ['leader-elect', 'false'],
  ])('kube-controller-manager --%s=%s', (flag, value) => {
    expect(flags(controllerManagerArgs(l, p)).get(flag)).toBe(value);
  });

  it.each([
    ['kube-controller-manager', controllerManagerArgs],
    ['kube-scheduler', schedulerArgs],
  ] as const)(
    '%s gets a client rate above the defaults (benchmarks measure the chain, not its limiter)',
    (_name, fn) => {
      const f = flags(fn(l, p));
      expect(Number(f.get('kube-api-qps'))).toBeGreaterThanOrEqual(500);
      expect(Number(f.get('kube-api-burst'))).toBeGreaterThanOrEqual(Number(f.get('kube-api-qps')));
    },
  );

  it('runs the controllers a virtual node relies on', () => {
    const list = flags(controllerManagerArgs(l, p)).get('controllers')!.split(',');
    expect(list).toEqual([...CONTROLLERS]);
    for (const c of [
      'node-lifecycle-controller',
      'job-controller',
      'replicaset-controller',
      'deployment-controller',
      'garbage-collector-controller',
      'serviceaccount-controller',
      'serviceaccount-token-controller',
      'namespace-controller',
      'certificatesigningrequest-signing-controller',
      'certificatesigningrequest-approving-controller',
      'certificatesigningrequest-cleaner-controller',
      'root-ca-certificate-publisher-controller',
    ]) {
      expect(list).toContain(c);
    }
  });

  it('kube-scheduler uses its own kubeconfig and port', () => {
    expect(Object.fromEntries(flags(schedulerArgs(l, p)))).toMatchObject({
      kubeconfig: '/d/sched.kubeconfig',
      'secure-port': '10259',
      'leader-elect': 'false',
    });
  });
});
