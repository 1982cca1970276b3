/**
 * The control plane of test/support/k8s.setup.ts is a real one: the apiserver stores and
 * watches objects, the controller-manager runs workloads, CSRs and service accounts, the
 * scheduler binds, and the apiserver reaches a kubelet through its kubelet client cert.
 */
import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import {
  AppsV1Api,
  AuthenticationV1Api,
  CertificatesV1Api,
  CoreV1Api,
  KubeConfig,
  PatchStrategy,
  setHeaderOptions,
  type V1Node,
  type V1Pod,
  Watch,
} from '@kubernetes/client-node';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { runKubectl } from '../../src/devcluster/cluster.ts';
import { issueCert } from '../../src/devcluster/pki.ts';

const execFileP = promisify(execFile);
const suffix = Math.random().toString(36).slice(2, 8);
const ns = `devcluster-${suffix}`;
const kubeconfig = inject('kubeconfig');
const kubectl = (args: string[], input?: string) =>
  runKubectl(inject('k8sBinDir'), kubeconfig, args, { input });

const kc = new KubeConfig();
kc.loadFromFile(kubeconfig);
const core = kc.makeApiClient(CoreV1Api);
const apps = kc.makeApiClient(AppsV1Api);
const certs = kc.makeApiClient(CertificatesV1Api);
const authn = kc.makeApiClient(AuthenticationV1Api);
const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

/** Poll `fn` until it returns a value other than undefined/false; rethrows its last error on timeout. */
async function eventually<T>(
  what: string,
  fn: () => Promise<T | undefined | false>,
  timeoutMs = 45_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined && v !== false) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await sleep(200);
  }
}

const nodesToDelete: string[] = [];

async function createReadyNode(node: V1Node, extraStatus: Partial<NonNullable<V1Node['status']>> = {}) {
  await core.createNode({ body: node });
  nodesToDelete.push(node.metadata!.name!);
  const now = new Date().toISOString();
  await core.patchNodeStatus(
    {
      name: node.metadata!.name!,
      body: {
        status: {
          capacity: { cpu: '4', memory: '8Gi', pods: '110' },
          allocatable: { cpu: '4', memory: '8Gi', pods: '110' },
          conditions: [
            {
              type: 'Ready',
              status: 'True',
              reason: 'TestReady',
              message: 'set by the test',
              lastHeartbeatTime: now,
              lastTransitionTime: now,
            },
          ],
          ...extraStatus,
        },
      },
    },
    mergePatch,
  );
}

beforeAll(async () => {
  await core.createNamespace({ body: { metadata: { name: ns } } });
});

afterAll(async () => {
  // Pods bound to a node without a kubelet never finish a graceful delete: force them.
  const pods = await core.listNamespacedPod({ namespace: ns });
  await Promise.all(
    pods.items.map((p) =>
      core
        .deleteNamespacedPod({ name: p.metadata!.name!, namespace: ns, gracePeriodSeconds: 0 })
        .catch(() => {}),
    ),
  );
  await Promise.all(nodesToDelete.map((name) => core.deleteNode({ name }).catch(() => {})));
  await core.deleteNamespace({ name: ns }).catch(() => {});
});

describe('apiserver', () => {
  it('stores a ConfigMap, a Secret and a Pod, and a watch sees each of them', async () => {
    const seen = new Map<string, string>(); // "Kind/name" -> first event type
    const watch = new Watch(kc);
    const watches = await Promise.all(
      (['configmaps', 'secrets', 'pods'] as const).map((res) =>
        watch.watch(
          `/api/v1/namespaces/${ns}/${res}`,
          {},
          (type, obj: { kind?: string; metadata?: { name?: string } }) => {
            const k = `${res}/${obj.metadata?.name}`;
            if (!seen.has(k)) seen.set(k, type);
          },
          () => {},
        ),
      ),
    );
    try {
      await core.createNamespacedConfigMap({
        namespace: ns,
        body: { metadata: { name: 'cm1' }, data: { 'app.conf': 'line1\nline2 "$HOME" `x`\n' } },
      });
      await core.createNamespacedSecret({
        namespace: ns,
        body: { metadata: { name: 's1' }, stringData: { token: 's3cr3t' } },
      });
      await core.createNamespacedPod({
        namespace: ns,
        body: { metadata: { name: 'p1' }, spec: { containers: [{ name: 'main', image: 'busybox' }] } },
      });
      const ours = ['configmaps/cm1', 'secrets/s1', 'pods/p1'];
      await eventually('watch events', async () => ours.every((k) => seen.has(k)));
      expect(ours.map((k) => seen.get(k))).toEqual(['ADDED', 'ADDED', 'ADDED']);
    } finally {
      for (const w of watches) w.abort();
    }

    const cm = await kubectl(['get', 'configmap', 'cm1', '-n', ns, '-o', 'jsonpath={.data.app\\.conf}']);
    expect(cm).toMatchObject({ code: 0, stdout: 'line1\nline2 "$HOME" `x`\n' });
    const secret = await core.readNamespacedSecret({ name: 's1', namespace: ns });
    expect(Buffer.from(secret.data!.token!, 'base64').toString()).toBe('s3cr3t');
    // The root-ca publisher puts the cluster CA into every namespace.
    const rootCa = await eventually('kube-root-ca.crt', () =>
      core.readNamespacedConfigMap({ name: 'kube-root-ca.crt', namespace: ns }),
    );
    expect(rootCa.data!['ca.crt']).toBe(await readFile(inject('caCertPath'), 'utf8'));
  });
});

describe('controller-manager', () => {
  it('turns a Deployment into a ReplicaSet and Pods, and garbage-collects them with it', async () => {
    const labels = { app: 'web' };
    await apps.createNamespacedDeployment({
      namespace: ns,
      body: {
        metadata: { name: 'web' },
        spec: {
          replicas: 2,
          selector: { matchLabels: labels },
          template: { metadata: { labels }, spec: { containers: [{ name: 'main', image: 'busybox' }] } },
        },
      },
    });
    const rs = await eventually('a ReplicaSet', async () => {
      const list = await apps.listNamespacedReplicaSet({ namespace: ns, labelSelector: 'app=web' });
      return list.items[0];
    });
    expect(rs.metadata!.ownerReferences).toEqual([
      expect.objectContaining({ kind: 'Deployment', name: 'web', controller: true }),
    ]);
    const pods = await eventually('two Pods', async () => {
      const list = await core.listNamespacedPod({ namespace: ns, labelSelector: 'app=web' });
      return list.items.length === 2 && list.items;
    });
    for (const p of pods) {
      expect(p.metadata!.ownerReferences).toEqual([
        expect.objectContaining({ kind: 'ReplicaSet', name: rs.metadata!.name, controller: true }),
      ]);
    }

    await apps.deleteNamespacedDeployment({ name: 'web', namespace: ns, propagationPolicy: 'Background' });
    await eventually('the garbage collector', async () => {
      const [rsList, podList] = await Promise.all([
        apps.listNamespacedReplicaSet({ namespace: ns, labelSelector: 'app=web' }),
        core.listNamespacedPod({ namespace: ns, labelSelector: 'app=web' }),
      ]);
      return rsList.items.length === 0 && podList.items.length === 0;
    });
  });

  it('signs an approved kubelet-serving CSR with the cluster CA', async () => {
    const node = `vk-${suffix}`;
    const dir = await mkdtemp(join(tmpdir(), 'csr-'));
    try {
      await execFileP('openssl', [
        'req',
        '-new',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-keyout',
        join(dir, 'k.pem'),
        '-out',
        join(dir, 'csr.pem'),
        '-subj',
        `/O=system:nodes/CN=system:node:${node}`,
        '-addext',
        'subjectAltName=IP:127.0.0.1',
      ]);
      const name = `kubelet-serving-${suffix}`;
      await certs.createCertificateSigningRequest({
        body: {
          metadata: { name },
          spec: {
            request: (await readFile(join(dir, 'csr.pem'))).toString('base64'),
            signerName: 'kubernetes.io/kubelet-serving',
            usages: ['digital signature', 'server auth'],
          },
        },
      });
      const approve = await kubectl(['certificate', 'approve', name]);
      expect(approve).toMatchObject({ code: 0, stdout: expect.stringContaining('approved') });

      const csr = await eventually('a certificate', async () => {
        const c = await certs.readCertificateSigningRequest({ name });
        return c.status?.certificate ? c : undefined;
      });
      expect(csr.status!.conditions).toEqual([expect.objectContaining({ type: 'Approved', status: 'True' })]);
      const cert = new X509Certificate(Buffer.from(csr.status!.certificate!, 'base64'));
      const ca = new X509Certificate(await readFile(inject('caCertPath')));
      expect(cert.checkIssued(ca)).toBe(true);
      expect(cert.verify(ca.publicKey)).toBe(true);
      expect(cert.subject).toContain(`CN=system:node:${node}`);
      expect(cert.subjectAltName).toBe('IP Address:127.0.0.1');
      await certs.deleteCertificateSigningRequest({ name });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('issues a TokenRequest token for the default ServiceAccount, with an expiry, that authenticates', async () => {
    await eventually('the default ServiceAccount', () =>
      core.readNamespacedServiceAccount({ name: 'default', namespace: ns }),
    );
    const tr = await core.createNamespacedServiceAccountToken({
      name: 'default',
      namespace: ns,
      body: {
        spec: { audiences: ['https://kubernetes.default.svc.cluster.local'], expirationSeconds: 3600 },
      },
    });
    const token = tr.status?.token ?? '';
    const expiry = tr.status?.expirationTimestamp;
    expect(expiry).toBeInstanceOf(Date);
    const claims = decodeJwt(token);
    expect(claims.sub).toBe(`system:serviceaccount:${ns}:default`);
    expect(claims.exp).toBe(Math.floor(new Date(expiry!).getTime() / 1000));
    expect(claims.exp! - claims.iat!).toBe(3600);

    const review = await authn.createTokenReview({ body: { spec: { token } } });
    expect(review.status).toMatchObject({
      authenticated: true,
      user: { username: `system:serviceaccount:${ns}:default` },
    });
  });
});

describe('scheduler', () => {
  it('binds a Pod that tolerates a taint and selects a label once a matching Ready Node exists', async () => {
    const node = `pool-${suffix}`;
    const taint = { key: 'interlink.test/dedicated', value: suffix, effect: 'NoSchedule' };
    const pod: V1Pod = {
      metadata: { name: 'picky' },
      spec: {
        nodeSelector: { 'interlink.test/pool': suffix },
        tolerations: [{ key: taint.key, operator: 'Equal', value: taint.value, effect: taint.effect }],
        containers: [{ name: 'main', image: 'busybox' }],
      },
    };
    await core.createNamespacedPod({ namespace: ns, body: pod });
    // The scheduler has looked at it and found no node.
    const unschedulable = await eventually('PodScheduled=False', async () => {
      const p = await core.readNamespacedPod({ name: 'picky', namespace: ns });
      return p.status?.conditions?.find((c) => c.type === 'PodScheduled' && c.status === 'False');
    });
    expect(unschedulable.reason).toBe('Unschedulable');

    // A tainted node the pod does not select stays unused; the matching one gets it.
    await createReadyNode({
      metadata: { name: `${node}-other`, labels: { 'interlink.test/pool': 'other' } },
      spec: { taints: [taint] },
    });
    await createReadyNode({
      metadata: { name: node, labels: { 'interlink.test/pool': suffix } },
      spec: { taints: [taint] },
    });
    // TaintNodesByCondition marks a new node not-ready until the node-lifecycle controller
    // sees Ready=True, so binding also shows that controller at work.
    const bound = await eventually('the binding', async () => {
      const p = await core.readNamespacedPod({ name: 'picky', namespace: ns });
      return p.spec?.nodeName ? p : undefined;
    });
    expect(bound.spec!.nodeName).toBe(node);
  });
});

describe('apiserver → kubelet', () => {
  let kubelet: Server;
  const clients: string[] = [];

  afterAll(() => new Promise<void>((resolve) => (kubelet ? kubelet.close(() => resolve()) : resolve())));

  it('proxies kubectl logs to the node InternalIP with its kubelet client cert, trusting a CA-signed serving cert', async () => {
    const node = `kubelet-${suffix}`;
    const dir = await mkdtemp(join(tmpdir(), 'kubelet-'));
    const ca = { cert: inject('caCertPath'), key: inject('caKeyPath') };
    const serving = await issueCert({
      ca,
      out: { cert: join(dir, 'tls.crt'), key: join(dir, 'tls.key') },
      cn: `system:node:${node}`,
      orgs: ['system:nodes'],
      ips: ['127.0.0.1'],
      usages: ['server'],
    });
    kubelet = createServer(
      {
        cert: await readFile(serving.cert),
        key: await readFile(serving.key),
        ca: await readFile(ca.cert),
        requestCert: true,
        rejectUnauthorized: true,
      },
      (req, res) => {
        const peer = (req.socket as import('node:tls').TLSSocket).getPeerCertificate();
        clients.push(String(peer.subject?.CN ?? ''));
        if (req.url?.startsWith(`/containerLogs/${ns}/logpod/main`)) {
          res.writeHead(200, { 'content-type': 'text/plain' });
          res.end('hello from the kubelet\n');
        } else {
          res.writeHead(404);
          res.end(`unexpected ${req.url}`);
        }
      },
    );
    await new Promise<void>((resolve) => kubelet.listen(0, '127.0.0.1', () => resolve()));
    await rm(dir, { recursive: true, force: true });
    const port = (kubelet.address() as AddressInfo).port;

    await createReadyNode(
      {
        metadata: { name: node },
        spec: { taints: [{ key: 'interlink.test/kubelet', effect: 'NoSchedule' }] },
      },
      {
        addresses: [{ type: 'InternalIP', address: '127.0.0.1' }],
        daemonEndpoints: { kubeletEndpoint: { Port: port } },
      },
    );
    await core.createNamespacedPod({
      namespace: ns,
      body: {
        metadata: { name: 'logpod' },
        spec: { nodeName: node, containers: [{ name: 'main', image: 'busybox' }] },
      },
    });
    const logs = await kubectl(['logs', '-n', ns, 'logpod', '-c', 'main']);
    expect(logs).toMatchObject({ code: 0, stdout: 'hello from the kubelet\n' });
    expect(clients).toContain('kube-apiserver-kubelet-client');
  });
});
