/**
 * The pod informer against the real apiserver: a quiet node (client-node 2.0.1 aborts a
 * watch after 30 s without events) resumes the watch without a relist; changes made after
 * the quiet period still arrive; a deleted pod is reported.
 */
import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import { systemClock } from '../../src/core/clock.ts';
import { makeKubeClients } from '../../src/vk/kube.ts';
import { type ChangeKind, PodInformer } from '../../src/vk/pods/informer.ts';
import { eventually, kubectl, testLogger } from './pods-harness.ts';

const ns = 'vk-informer';
const node = 'vk-informer-node';
const seen: Array<[string, ChangeKind]> = [];
const relists: string[] = [];
let listed = 0;
const stop = new AbortController();
let informer: PodInformer;
let done: Promise<void>;

beforeAll(async () => {
  await kubectl(['create', 'namespace', ns]).catch(() => undefined);
  const kube = makeKubeClients(inject('kubeconfig'));
  informer = new PodInformer({
    kubeConfig: kube.kubeConfig,
    nodeName: node,
    logger: testLogger(),
    clock: systemClock,
    onChange: (key, kind) => seen.push([key, kind]),
    onListed: () => listed++,
    onRelist: (r) => relists.push(r),
  });
  done = informer.run(stop.signal);
  await eventually('first list', async () => listed === 1);
}, 60_000);
afterAll(async () => {
  stop.abort();
  await done;
  await kubectl(['delete', 'namespace', ns, '--wait=false']).catch(() => undefined);
});

const podYaml = (name: string) =>
  JSON.stringify({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: ns },
    // Bound by name: no scheduler, no kubelet; the informer only needs the object.
    spec: { nodeName: node, containers: [{ name: 'c', image: 'busybox:1.36' }] },
  });

it('sees pods bound to its node, across a quiet period longer than 30 s, without relisting', async () => {
  await kubectl(['apply', '-f', '-'], podYaml('before'));
  await eventually('add of before', async () =>
    seen.some(([k, kind]) => k === `${ns}/before` && kind === 'add'),
  );
  // Quiet: no event for this node for longer than client-node's 30 s watch inactivity abort.
  await new Promise((r) => setTimeout(r, 36_000));
  await kubectl(['apply', '-f', '-'], podYaml('after'));
  await eventually('add of after', async () =>
    seen.some(([k, kind]) => k === `${ns}/after` && kind === 'add'),
  );
  await kubectl(['-n', ns, 'delete', 'pod', 'before', '--grace-period=0', '--force']);
  await eventually('delete of before', async () =>
    seen.some(([k, kind]) => k === `${ns}/before` && kind === 'delete'),
  );
  expect(informer.get(`${ns}/before`)).toBeUndefined();
  expect(informer.get(`${ns}/after`)?.metadata.name).toBe('after');
  expect(relists).toEqual([]);
  expect(listed).toBe(1);
}, 120_000);
