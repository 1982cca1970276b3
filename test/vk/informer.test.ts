/**
 * The pod informer's event filtering, with the list and the watch stream scripted (the
 * real apiserver cannot order "our write's answer" before "its watch echo" on demand):
 * the echo of our own write — already put in the cache by upsertIfNewer, same
 * resourceVersion — is no change; older versions are ignored; newer ones are reported.
 */
import { afterEach, beforeEach, expect, it, vi } from 'vitest';
import { systemClock } from '../../src/core/clock.ts';
import { silentLogger } from '../../src/core/logger.ts';
import type { KPod } from '../../src/vk/pods/kpod.ts';

type WatchCb = (type: string, obj: unknown) => void;
const streams: WatchCb[] = [];

vi.mock('../../src/vk/kube.ts', async (orig) => ({
  ...(await orig<object>()),
  // One watch: events come from the test; it ends when the informer aborts it.
  kubeWatch: (_kc: unknown, req: { signal: AbortSignal }, onEvent: WatchCb) => {
    streams.push(onEvent);
    return new Promise<void>((resolve) => req.signal.addEventListener('abort', () => resolve()));
  },
  kubeRequest: async () => ({
    metadata: { resourceVersion: '10' },
    items: [{ ...pod('10'), metadata: { ...pod('10').metadata, managedFields: [{ manager: 'x' }] } }],
  }),
}));

const { PodInformer } = await import('../../src/vk/pods/informer.ts');

function pod(rv: string, labels: Record<string, string> = {}): KPod {
  return {
    metadata: { name: 'p', namespace: 'ns', uid: 'u1', resourceVersion: rv, labels },
    spec: { nodeName: 'n', containers: [{ name: 'c' }] },
  } as KPod;
}

let stop: AbortController;
const seen: Array<[string, string | undefined]> = [];
let informer: InstanceType<typeof PodInformer>;

beforeEach(async () => {
  streams.length = 0;
  seen.length = 0;
  stop = new AbortController();
  informer = new PodInformer({
    kubeConfig: {} as never,
    nodeName: 'n',
    logger: silentLogger(),
    clock: systemClock,
    onChange: (_key, kind, p) => seen.push([kind, p.metadata.resourceVersion]),
  });
  void informer.run(stop.signal);
  await vi.waitFor(() => expect(streams).toHaveLength(1));
});
afterEach(() => stop.abort());

it('reports the listed pod, then skips the echo of our own write and reports later changes', async () => {
  expect(seen).toEqual([['add', '10']]);
  const emit = streams[0]!;
  // Our status write answered rv 11; the answer went into the cache first.
  informer.upsertIfNewer(pod('11', { written: 'by-us' }));
  expect(informer.get('ns/p')?.metadata.resourceVersion).toBe('11');
  emit('MODIFIED', pod('11', { written: 'by-us' }));
  // An out-of-date event (older than the cache) changes nothing either.
  emit('MODIFIED', pod('10'));
  expect(seen).toEqual([['add', '10']]);
  // Someone else's change, newer: reported and cached.
  emit('MODIFIED', pod('12', { later: 'yes' }));
  expect(seen).toEqual([
    ['add', '10'],
    ['update', '12'],
  ]);
  expect(informer.get('ns/p')?.metadata.labels).toEqual({ later: 'yes' });
});

it('keeps no managedFields in the cache (listed, watched or written objects)', async () => {
  const withFields = (rv: string) => {
    const p = pod(rv);
    p.metadata.managedFields = [{ manager: 'kube-scheduler', fieldsV1: { 'f:spec': {} } }];
    return p;
  };
  expect(informer.get('ns/p')?.metadata.managedFields).toBeUndefined();
  streams[0]!('MODIFIED', withFields('11'));
  expect(informer.get('ns/p')?.metadata.resourceVersion).toBe('11');
  expect(informer.get('ns/p')?.metadata.managedFields).toBeUndefined();
  informer.upsertIfNewer(withFields('12'));
  expect(informer.get('ns/p')?.metadata.resourceVersion).toBe('12');
  expect(informer.get('ns/p')?.metadata.managedFields).toBeUndefined();
});

it("keeps no `kubectl apply` copy of the manifest in the cache, and the pod's other annotations", async () => {
  const applied = pod('11');
  applied.metadata.annotations = {
    'kubectl.kubernetes.io/last-applied-configuration': JSON.stringify(pod('1')),
    'interlink.io/job-id': 'j-1',
  };
  streams[0]!('MODIFIED', applied);
  expect(informer.get('ns/p')?.metadata.annotations).toEqual({ 'interlink.io/job-id': 'j-1' });
});

it('an event the watch delivers before our write answers is reported once (the answer is not newer)', async () => {
  const emit = streams[0]!;
  emit('MODIFIED', pod('11'));
  informer.upsertIfNewer(pod('11'));
  expect(seen).toEqual([
    ['add', '10'],
    ['update', '11'],
  ]);
});
