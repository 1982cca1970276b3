/**
 * client-node 2.0.1 builds a new undici Agent for every request (one TLS handshake per
 * call, no keep-alive). The benchmark's own clients keep the first dispatcher built and
 * hand it to every later request, so its load on the apiserver stays small. (The VK no
 * longer uses client-node at run time: src/vk/kube.ts.)
 */
import { KubeConfig, type RequestContext } from '@kubernetes/client-node';
import type { Dispatcher } from 'undici';

export class PooledKubeConfig extends KubeConfig {
  #dispatcher: Dispatcher | undefined;
  #cluster: string | undefined;

  override async applySecurityAuthentication(context: RequestContext): Promise<void> {
    await super.applySecurityAuthentication(context);
    const cluster = this.getCurrentCluster()?.server;
    const fresh = context.getDispatcher();
    if (!fresh) return;
    if (this.#dispatcher && this.#cluster === cluster) {
      if (fresh !== this.#dispatcher) void (fresh as Dispatcher).close().catch(() => {});
      context.setDispatcher(this.#dispatcher as never);
      return;
    }
    this.#dispatcher = fresh as Dispatcher;
    this.#cluster = cluster;
  }
}
