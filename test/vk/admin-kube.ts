/**
 * The tests' own apiserver clients (client-node, admin kubeconfig): creating namespaces,
 * pods, tokens, reading Events. The VK itself uses src/vk/kube.ts, which has only the
 * calls it makes; tests that check the VK's view use `stack.kube`, and this for the rest.
 */
import { CertificatesV1Api, CoordinationV1Api, CoreV1Api, KubeConfig } from '@kubernetes/client-node';

export interface AdminKube {
  kubeConfig: KubeConfig;
  core: CoreV1Api;
  coordination: CoordinationV1Api;
  certificates: CertificatesV1Api;
}

export function adminKube(kubeconfig: string): AdminKube {
  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfig);
  return {
    kubeConfig: kc,
    core: kc.makeApiClient(CoreV1Api),
    coordination: kc.makeApiClient(CoordinationV1Api),
    certificates: kc.makeApiClient(CertificatesV1Api),
  };
}
