/**
 * Kubernetes controllers on top of the virtual node: the Job controller sees our Failed
 * phase, the Deployment controller our Ready condition.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { eventually, type PodStack, startPodStack } from './pods-harness.ts';

let s: PodStack;

beforeAll(async () => {
  s = await startPodStack({ nodeName: 'vk-workloads', namespace: 'vk-workloads' });
}, 180_000);
afterAll(async () => {
  await s?.close();
});

const podTemplate = (annotations: Record<string, string>, restartPolicy: string) => {
  const t = s.podManifest('x', { containers: [{ name: 'main', image: 'busybox:1.36' }] }, annotations);
  return {
    metadata: { labels: { app: 'w' }, annotations: t.metadata?.annotations },
    spec: { ...t.spec, restartPolicy },
  };
};

it('a Job (backoffLimit 0) whose pod fails is marked Failed by the Job controller', async () => {
  const batch = s.admin.kubeConfig.makeApiClient((await import('@kubernetes/client-node')).BatchV1Api);
  await batch.createNamespacedJob({
    namespace: s.namespace,
    body: {
      metadata: { name: 'fails' },
      spec: {
        backoffLimit: 0,
        template: podTemplate(
          { 'mock.interlink.io/run-time': '1s', 'mock.interlink.io/exit-code': '2' },
          'Never',
        ) as never,
      },
    },
  });
  const job = await eventually(
    'Job Failed',
    async () => {
      const j = await batch.readNamespacedJob({ name: 'fails', namespace: s.namespace });
      return j.status?.conditions?.find((c) => c.type === 'Failed' && c.status === 'True') ? j : undefined;
    },
    90_000,
  );
  expect(job.status?.failed).toBe(1);
  expect(job.status?.conditions?.find((c) => c.type === 'Failed')?.reason).toBe('BackoffLimitExceeded');
});

it('a Job whose pod succeeds Completes', async () => {
  const batch = s.admin.kubeConfig.makeApiClient((await import('@kubernetes/client-node')).BatchV1Api);
  await batch.createNamespacedJob({
    namespace: s.namespace,
    body: {
      metadata: { name: 'works' },
      spec: {
        backoffLimit: 0,
        template: podTemplate({ 'mock.interlink.io/run-time': '1s' }, 'Never') as never,
      },
    },
  });
  await eventually(
    'Job Complete',
    async () => {
      const j = await batch.readNamespacedJob({ name: 'works', namespace: s.namespace });
      return j.status?.conditions?.some((c) => c.type === 'Complete' && c.status === 'True');
    },
    90_000,
  );
});

it('a Deployment of 3 replicas on the virtual node becomes Available', async () => {
  const apps = s.admin.kubeConfig.makeApiClient((await import('@kubernetes/client-node')).AppsV1Api);
  await apps.createNamespacedDeployment({
    namespace: s.namespace,
    body: {
      metadata: { name: 'web' },
      spec: {
        replicas: 3,
        selector: { matchLabels: { app: 'w' } },
        template: podTemplate({}, 'Always') as never,
      },
    },
  });
  const d = await eventually(
    'Deployment Available',
    async () => {
      const dep = await apps.readNamespacedDeployment({ name: 'web', namespace: s.namespace });
      const available = dep.status?.conditions?.find((c) => c.type === 'Available')?.status === 'True';
      return available && dep.status?.availableReplicas === 3 ? dep : undefined;
    },
    120_000,
  );
  expect(d.status?.readyReplicas).toBe(3);
  const pods = await s.core.listNamespacedPod({ namespace: s.namespace, labelSelector: 'app=w' });
  const mine = pods.items.filter((p) => p.metadata?.ownerReferences?.[0]?.kind === 'ReplicaSet');
  expect(mine.every((p) => p.spec?.nodeName === s.nodeName && p.status?.phase === 'Running')).toBe(true);

  // Scale down: the controller deletes pods; the VK finishes their deletion.
  await apps.patchNamespacedDeploymentScale(
    { name: 'web', namespace: s.namespace, body: { spec: { replicas: 1 } } },
    (await import('@kubernetes/client-node')).setHeaderOptions(
      'Content-Type',
      'application/merge-patch+json',
    ),
  );
  await eventually(
    'scaled down to 1 pod',
    async () => {
      const list = await s.core.listNamespacedPod({ namespace: s.namespace, labelSelector: 'app=w' });
      return list.items.filter((p) => p.metadata?.ownerReferences?.[0]?.kind === 'ReplicaSet').length === 1;
    },
    90_000,
  );
});
