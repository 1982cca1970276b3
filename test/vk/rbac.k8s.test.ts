/**
 * deploy/rbac/clusterrole.yaml is enough: the whole VK (node, lease, pods, status, events,
 * tokens, deletes) runs as a ServiceAccount bound to that ClusterRole and nothing else.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import { stringify } from 'yaml';
import { eventually, kubectl, type PodStack, receivedEnv, startPodStack } from './pods-harness.ts';

const ROLE = fileURLToPath(new URL('../../deploy/rbac/clusterrole.yaml', import.meta.url));
let s: PodStack;
/** Holds the VK's kubeconfig; removed at the end. */
let dir: string | undefined;

beforeAll(async () => {
  await kubectl(['create', 'namespace', 'vk-rbac-sys']).catch(() => undefined);
  await kubectl(['apply', '-f', '-'], readFileSync(ROLE, 'utf8'));
  await kubectl(['-n', 'vk-rbac-sys', 'create', 'serviceaccount', 'interlink-vk']).catch(() => undefined);
  await kubectl([
    'create',
    'clusterrolebinding',
    'interlink-vk-test',
    '--clusterrole=interlink-vk',
    '--serviceaccount=vk-rbac-sys:interlink-vk',
  ]).catch(() => undefined);
  const token = await eventually('a token', async () =>
    (await kubectl(['-n', 'vk-rbac-sys', 'create', 'token', 'interlink-vk', '--duration=2h'])).stdout.trim(),
  );
  dir = mkdtempSync(join(tmpdir(), 'vk-rbac-'));
  const kubeconfig = join(dir, 'kubeconfig');
  writeFileSync(
    kubeconfig,
    stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [
        {
          name: 'c',
          cluster: { server: inject('k8sServer'), 'certificate-authority': inject('caCertPath') },
        },
      ],
      users: [{ name: 'vk', user: { token } }],
      contexts: [{ name: 'x', context: { cluster: 'c', user: 'vk' } }],
      'current-context': 'x',
    }),
  );
  s = await startPodStack({ nodeName: 'vk-rbac', namespace: 'vk-rbac', config: { kubeconfig } });
}, 180_000);
afterAll(async () => {
  await s?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
  await kubectl(['delete', 'clusterrolebinding', 'interlink-vk-test']).catch(() => undefined);
});

it('runs a pod end to end with only the ClusterRole', async () => {
  await s.core.createNamespacedSecret({
    namespace: s.namespace,
    body: { metadata: { name: 'sec' }, stringData: { k: 'v' } },
  });
  await s.core.createNamespacedPod({
    namespace: s.namespace,
    body: s.podManifest('p', {
      containers: [
        {
          name: 'main',
          image: 'busybox:1.36',
          env: [{ name: 'K', valueFrom: { secretKeyRef: { name: 'sec', key: 'k' } } }],
        },
      ],
    }),
  });
  const p = await s.waitPhase('p', 'Running');
  expect(p.metadata?.annotations?.['interlink.io/job-id']).toBeTruthy();
  expect(receivedEnv(s.received.find((r) => r.pod.metadata.name === 'p')).K).toBe('v');
  const token = s.received.find((r) => r.pod.metadata.name === 'p')?.container?.[0]?.projectedvolumemaps?.[0]
    ?.data?.token;
  expect(token).toBeTruthy();
  await eventually('Events written', async () => (await s.events('p')).some((e) => e.reason === 'Started'));
  const lease = await s.kube.coordination.readNamespacedLease({
    name: 'vk-rbac',
    namespace: 'kube-node-lease',
  });
  expect(lease.spec?.holderIdentity).toBe('vk-rbac');
  await s.core.deleteNamespacedPod({ name: 'p', namespace: s.namespace });
  await eventually('pod gone', async () => (await s.getPod('p')) === undefined);
});
