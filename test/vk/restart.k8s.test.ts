/**
 * kill -9 of the VK (a child process, `node src/cli/main.ts vk`) in the middle of a burst
 * of 100 pods, then a restart: every pod ends in the right phase and the plugin saw
 * exactly one create per pod UID (re-adoption from the job-id annotation, or from the
 * backend's status answer for pods created just before the kill).
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { eventually, type PodStack, startPodStack } from './pods-harness.ts';

let s: PodStack;
const N = 100;

beforeAll(async () => {
  s = await startPodStack({
    nodeName: 'vk-restart',
    namespace: 'vk-restart',
    childProcess: true,
    config: { workers: 8 },
  });
}, 180_000);
afterAll(async () => {
  await s?.close();
});

it('survives kill -9 during a burst of 100 pods without losing or resubmitting any', async () => {
  const expected = new Map<string, string>();
  const creating = (async () => {
    for (let i = 0; i < N; i++) {
      const name = `burst-${i}`;
      const fail = i % 10 === 3;
      expected.set(name, fail ? 'Failed' : 'Succeeded');
      await s.core.createNamespacedPod({
        namespace: s.namespace,
        body: s.podManifest(
          name,
          { containers: [{ name: 'main', image: 'busybox:1.36' }] },
          {
            'mock.interlink.io/run-time': `${2 + (i % 5)}s`,
            'mock.interlink.io/exit-code': fail ? '1' : '0',
          },
        ),
      });
    }
  })();
  // Kill while pods are being submitted: some have job ids, some are in flight, some not yet seen.
  await eventually(
    'a third of the pods submitted',
    async () => Object.keys(s.mock.calls().create).length >= N / 3,
    90_000,
  );
  await s.killVk();
  const atKill = Object.keys(s.mock.calls().create).length;
  expect(atKill).toBeLessThan(N);
  await creating;
  await s.startVk();

  const pods = await eventually(
    'every pod terminal',
    async () => {
      const list = await s.core.listNamespacedPod({ namespace: s.namespace });
      const terminal = list.items.filter(
        (p) => p.status?.phase === 'Succeeded' || p.status?.phase === 'Failed',
      );
      return terminal.length === N ? list.items : undefined;
    },
    180_000,
  );
  const wrong = pods
    .filter((p) => p.status?.phase !== expected.get(p.metadata!.name!))
    .map((p) => `${p.metadata?.name}: ${p.status?.phase} ${p.status?.reason ?? ''}`);
  expect(wrong).toEqual([]);
  const creates = s.mock.calls().create;
  const uids = pods.map((p) => p.metadata!.uid!);
  expect(uids.map((u) => creates[u] ?? 0).filter((n) => n !== 1)).toEqual([]);
  expect(Object.keys(creates).sort()).toEqual([...uids].sort());
}, 400_000);

it('re-adopts a pod the backend got just before the VK died (no job-id annotation yet)', async () => {
  await s.stopVk();
  await s.core.createNamespacedPod({
    namespace: s.namespace,
    body: s.podManifest(
      'orphan',
      { containers: [{ name: 'main', image: 'busybox:1.36' }] },
      { 'mock.interlink.io/run-time': 'forever' },
    ),
  });
  const bound = await eventually('pod bound', async () => {
    const p = await s.getPod('orphan');
    return p?.spec?.nodeName ? p : undefined;
  });
  // What a VK killed between the create call and recording its answer leaves behind.
  await s.mock.create({ pod: JSON.parse(JSON.stringify(bound)), container: [] } as never, {} as never);
  expect(bound.metadata?.annotations?.['interlink.io/job-id']).toBeUndefined();
  await s.startVk();
  const running = await s.waitPhase('orphan', 'Running');
  expect(s.mock.calls().create[running.metadata!.uid!]).toBe(1);
  expect(running.metadata?.annotations?.['interlink.io/job-id']).toMatch(/^mock-/);
  expect((await s.events('orphan')).some((e) => e.reason === 'Adopted')).toBe(true);
}, 120_000);

it('a graceful restart never moves a Running pod back to Pending', async () => {
  await s.core.createNamespacedPod({
    namespace: s.namespace,
    body: s.podManifest(
      'steady',
      { containers: [{ name: 'main', image: 'busybox:1.36' }] },
      { 'mock.interlink.io/run-time': 'forever' },
    ),
  });
  const p = await s.waitPhase('steady', 'Running');
  await s.stopVk();
  // Record every phase the pod shows while the VK restarts and polls again.
  const phases: string[] = [];
  const { Watch } = await import('@kubernetes/client-node');
  const ctl = await new Watch(s.admin.kubeConfig).watch(
    `/api/v1/namespaces/${s.namespace}/pods`,
    { fieldSelector: 'metadata.name=steady', resourceVersion: p.metadata?.resourceVersion },
    (_type, obj: { status?: { phase?: string } }) => phases.push(obj.status?.phase ?? ''),
    () => {},
  );
  try {
    await s.startVk();
    const polls = s.mock.calls().status;
    await eventually('a few polls after the restart', async () => s.mock.calls().status >= polls + 4);
  } finally {
    ctl.abort();
  }
  expect(phases.filter((x) => x !== 'Running')).toEqual([]);
  expect((await s.getPod('steady'))?.status?.phase).toBe('Running');
}, 120_000);
