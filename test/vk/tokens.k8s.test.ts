/**
 * Projected service-account tokens: a real TokenRequest bound to the pod, re-requested
 * before it expires and re-delivered to the backend with an idempotent create marked as a
 * refresh (the backend keeps the job; no second pod starts). An edited ConfigMap of a running
 * pod's volume is re-delivered the same way by the volume resync.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { TOKEN_REFRESH_ANNOTATION } from '../../src/vk/pods/controller.ts';
import { eventually, type PodStack, startPodStack } from './pods-harness.ts';

let s: PodStack;

beforeAll(async () => {
  // A token lives 600 s; refreshing at 0.5% of that makes the refresh happen within the test.
  s = await startPodStack({
    nodeName: 'vk-tokens',
    namespace: 'vk-tokens',
    config: { tokenRefreshFraction: 0.005, volumeResyncSeconds: 1 },
  });
}, 180_000);
afterAll(async () => {
  await s?.close();
});

const claims = (jwt: string) => JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString());

it('refreshes a projected token before it expires and re-delivers it', async () => {
  await s.core.createNamespacedPod({
    namespace: s.namespace,
    body: s.podManifest('tok', {
      automountServiceAccountToken: false,
      containers: [
        {
          name: 'main',
          image: 'busybox:1.36',
          volumeMounts: [{ name: 'vault', mountPath: '/var/run/vault' }],
        },
      ],
      volumes: [
        {
          name: 'vault',
          projected: {
            sources: [{ serviceAccountToken: { path: 'token', audience: 'vault', expirationSeconds: 600 } }],
          },
        },
      ],
    }),
  });
  const p = await s.waitPhase('tok', 'Running');
  const creates = () => s.received.filter((r) => r.pod.metadata.uid === p.metadata?.uid);
  await eventually('a refresh', async () => creates().length >= 2, 60_000);
  const [first, refresh] = creates();
  expect(first!.pod.metadata.annotations?.[TOKEN_REFRESH_ANNOTATION]).toBeUndefined();
  expect(refresh!.pod.metadata.annotations?.[TOKEN_REFRESH_ANNOTATION]).toBeTruthy();
  const tokenOf = (r: typeof first) =>
    r!.container?.[0]?.projectedvolumemaps?.find((m) => m.metadata.name === 'vault')?.data?.token ?? '';
  const a = claims(tokenOf(first));
  const b = claims(tokenOf(refresh));
  expect(tokenOf(refresh)).not.toBe(tokenOf(first));
  for (const c of [a, b]) {
    expect(c.aud).toEqual(['vault']);
    expect(c['kubernetes.io'].pod.uid).toBe(p.metadata?.uid);
    expect(c.exp - c.iat).toBe(600);
  }
  // Still one pod in the backend, still Running; the job id is unchanged.
  expect(s.mock.pods().filter((x) => x.uid === p.metadata?.uid)).toHaveLength(1);
  const now = await s.getPod('tok');
  expect(now?.status?.phase).toBe('Running');
  expect(now?.metadata?.annotations?.['interlink.io/job-id']).toBe(
    p.metadata?.annotations?.['interlink.io/job-id'],
  );
});

it('re-delivers an edited ConfigMap of a running pod as a refresh', async () => {
  await s.core.createNamespacedConfigMap({
    namespace: s.namespace,
    body: { metadata: { name: 'app-config' }, data: { 'app.conf': 'v1' } },
  });
  await s.core.createNamespacedPod({
    namespace: s.namespace,
    body: s.podManifest('cm', {
      automountServiceAccountToken: false,
      containers: [
        { name: 'main', image: 'busybox:1.36', volumeMounts: [{ name: 'cfg', mountPath: '/etc/cfg' }] },
      ],
      volumes: [{ name: 'cfg', configMap: { name: 'app-config' } }],
    }),
  });
  const p = await s.waitPhase('cm', 'Running');
  const creates = () => s.received.filter((r) => r.pod.metadata.uid === p.metadata?.uid);
  const confOf = (r: ReturnType<typeof creates>[number] | undefined) =>
    r?.container?.[0]?.configMaps?.find((m) => m.metadata.name === 'app-config')?.data?.['app.conf'];
  expect(confOf(creates()[0])).toBe('v1');
  await s.core.replaceNamespacedConfigMap({
    name: 'app-config',
    namespace: s.namespace,
    body: { metadata: { name: 'app-config' }, data: { 'app.conf': 'v2' } },
  });
  await eventually('the edit re-delivered', async () => confOf(creates().at(-1)) === 'v2', 60_000);
  const last = creates().at(-1);
  expect(last!.pod.metadata.annotations?.[TOKEN_REFRESH_ANNOTATION]).toBeTruthy();
  expect(s.mock.pods().filter((x) => x.uid === p.metadata?.uid)).toHaveLength(1);
});
