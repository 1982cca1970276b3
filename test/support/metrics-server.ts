/**
 * metrics-server against the devcluster, for `kubectl top` in e2e tests: the cached binary
 * of scripts/metrics-server/build.sh on 127.0.0.1 with a free port, registered as the
 * `v1beta1.metrics.k8s.io` APIService behind an ExternalName Service `localhost` (the
 * devcluster has no Service network; src/devcluster/args.ts). It authenticates the
 * apiserver's front-proxy requests from the `extension-apiserver-authentication` ConfigMap
 * and scrapes each node's kubelet API at its InternalIP and status port, trusting the
 * cluster CA, with the admin's client certificate.
 *
 * One per cluster: the APIService is cluster-wide. stop() unregisters it and ends the process.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const BUILD = join(import.meta.dirname, '..', '..', 'scripts', 'metrics-server', 'build.sh');

export interface MetricsServer {
  output: string[];
  stop(): Promise<void>;
}

export async function startMetricsServer(opts: {
  kubeconfig: string;
  caCertPath: string;
  port: number;
  kubectl(args: string[], input?: string): Promise<{ code: number | null; stdout: string; stderr: string }>;
}): Promise<MetricsServer> {
  const { stdout } = await run('bash', [BUILD], { timeout: 20 * 60_000, maxBuffer: 16 << 20 });
  const bin = stdout.trim().split('\n').at(-1)!;
  const certDir = await mkdtemp(join(tmpdir(), 'interlink-metrics-server-'));
  const proc: ChildProcess = spawn(
    bin,
    [
      `--secure-port=${opts.port}`,
      '--bind-address=127.0.0.1',
      `--cert-dir=${certDir}`,
      `--kubeconfig=${opts.kubeconfig}`,
      `--authentication-kubeconfig=${opts.kubeconfig}`,
      `--authorization-kubeconfig=${opts.kubeconfig}`,
      '--kubelet-preferred-address-types=InternalIP',
      '--kubelet-use-node-status-port',
      `--kubelet-certificate-authority=${opts.caCertPath}`,
      '--metric-resolution=10s',
      '--kubelet-request-timeout=5s',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const output: string[] = [];
  const keep = (b: Buffer) => output.push(...b.toString().split('\n').filter(Boolean));
  proc.stdout?.on('data', keep);
  proc.stderr?.on('data', keep);
  const manifest = `apiVersion: v1
kind: Service
metadata: {name: metrics-server, namespace: kube-system}
spec: {type: ExternalName, externalName: localhost, ports: [{port: ${opts.port}}]}
---
apiVersion: apiregistration.k8s.io/v1
kind: APIService
metadata: {name: v1beta1.metrics.k8s.io}
spec:
  group: metrics.k8s.io
  version: v1beta1
  groupPriorityMinimum: 100
  versionPriority: 100
  insecureSkipTLSVerify: true
  service: {name: metrics-server, namespace: kube-system, port: ${opts.port}}
`;
  const r = await opts.kubectl(['apply', '-f', '-'], manifest);
  if (r.code !== 0) {
    proc.kill('SIGKILL');
    throw new Error(`registering metrics-server: ${r.stderr}`);
  }
  return {
    output,
    async stop() {
      await opts.kubectl(['delete', '--ignore-not-found', '-f', '-'], manifest);
      if (proc.exitCode === null && proc.signalCode === null) {
        const exited = new Promise((r) => proc.once('exit', r));
        proc.kill('SIGTERM');
        await exited;
      }
      await rm(certDir, { recursive: true, force: true });
    },
  };
}
