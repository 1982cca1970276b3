/**
 * `interlink up --cluster`: the whole chain on one machine for a demo — a local control
 * plane (src/devcluster: etcd, kube-apiserver, controller-manager, scheduler), the
 * interLink API and a plugin (`startUp`), and a virtual kubelet registered as a node.
 *
 * The VK gets its serving certificate the way a real node does: a kubelet-serving CSR it
 * approves itself (the admin kubeconfig may), signed by the cluster CA the apiserver
 * trusts, so `kubectl logs` works through the apiserver. Everything stops on the signal.
 */
import { writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { stringify } from 'yaml';
import type { Cluster } from '../devcluster/cluster.ts';
import { startUp, type UpHandle, type UpOptions } from './up.ts';

export interface UpClusterOptions extends UpOptions {
  nodeName: string;
  /** Port of the VK's kubelet API; 0 picks a free one. */
  kubeletPort: number;
}

export interface UpClusterHandle extends UpHandle {
  kubeconfig: string;
  nodeName: string;
  /** Resolves when the VK has stopped (after close() or on its own failure). */
  vkDone: Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === 'object' && addr ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

export async function startUpCluster(opts: UpClusterOptions): Promise<UpClusterHandle> {
  const { startCluster } = await import('../devcluster/cluster.ts');
  const log = opts.logger.child({ component: 'up' });
  let cluster: Cluster | undefined;
  let up: UpHandle | undefined;
  const vkAbort = new AbortController();
  const stopAll = async () => {
    vkAbort.abort(new Error('shutting down'));
    await vkDone.catch(() => {});
    await up?.close();
    await cluster?.stop();
  };
  let vkDone: Promise<void> = Promise.resolve();
  try {
    cluster = await startCluster({ log: (line) => log.info(line) });
    // The API needs a fixed port the VK can be told about; 0 is resolved by listening.
    up = await startUp({ ...opts, port: opts.port });
    const kubeletPort = opts.kubeletPort || (await freePort());
    const vkConfig = join(up.dir, 'vk.yaml');
    await writeFile(
      vkConfig,
      stringify({
        nodeName: opts.nodeName,
        interlinkUrl: up.apiUrl,
        ...(up.tokenFile ? { vkTokenFile: up.tokenFile } : {}),
        podIp: '127.0.0.1',
        kubeletHttp: {
          port: kubeletPort,
          address: '127.0.0.1',
          csr: true,
          selfApprove: true,
          clientCaFile: cluster.caCertPath,
        },
        pingIntervalMs: 5_000,
      }),
      { mode: 0o600 },
    );
    const { runVirtualKubelet } = await import('../vk/run.ts');
    let ready!: () => void;
    const vkReady = new Promise<void>((r) => {
      ready = r;
    });
    vkDone = runVirtualKubelet({
      configFile: vkConfig,
      kubeconfig: cluster.kubeconfig,
      logger: opts.logger,
      signal: vkAbort.signal,
      onReady: ready,
    });
    await Promise.race([
      vkReady,
      vkDone.then(() => Promise.reject(new Error('the virtual kubelet stopped'))),
    ]);
    const banner = [
      up.banner.replace(/\nstop .*$/, ''),
      `kubeconfig     ${cluster.kubeconfig}`,
      `virtual node   ${opts.nodeName} (kubelet API on 127.0.0.1:${kubeletPort})`,
      '',
      `export KUBECONFIG=${cluster.kubeconfig}`,
      `${join(cluster.binDir, 'kubectl')} get nodes`,
      `${join(cluster.binDir, 'kubectl')} apply -f examples/busy-echo.yaml   # plugin ${opts.plugin}`,
      'stop           Ctrl-C',
    ].join('\n');
    const handle: UpClusterHandle = {
      ...up,
      banner,
      kubeconfig: cluster.kubeconfig,
      nodeName: opts.nodeName,
      vkDone,
      close: stopAll,
    };
    if (opts.signal.aborted) await stopAll();
    else opts.signal.addEventListener('abort', () => void stopAll(), { once: true });
    return handle;
  } catch (err) {
    await stopAll();
    throw err;
  }
}
