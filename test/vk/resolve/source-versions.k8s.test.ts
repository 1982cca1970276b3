/**
 * The volume resync against the real apiserver, requests counted at the client (every
 * request and watch of a kubeconfig goes through applySecurityAuthentication): without
 * the cache, each resync round costs one GET per volume source per pod; with it, one
 * metadata-only list and one watch per (namespace, kind), whatever the number of pods and
 * rounds, and an edit or a deletion is still seen (through the watch). The VK's
 * ClusterRole allows the list and watch.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import { systemClock } from '../../../src/core/clock.ts';
import { KubeConnection } from '../../../src/vk/kube.ts';
import { readKubeconfigs, resolveTarget } from '../../../src/vk/kubeconfig.ts';
import type { KPod } from '../../../src/vk/pods/kpod.ts';
import { PodResolver } from '../../../src/vk/resolve/resolver.ts';
import { apiserverMetaListWatch, SourceVersionCache } from '../../../src/vk/resolve/source-versions.ts';
import { eventually, kubectl, testLogger } from '../pods-harness.ts';

const ns = 'vk-sourcever';
const PODS = 200;
const ROLE = fileURLToPath(new URL('../../../deploy/rbac/clusterrole.yaml', import.meta.url));

/** A kubeconfig that records `METHOD path[?watch]` of every call made with it. */
class CountingKubeConfig extends KubeConnection {
  readonly calls: string[] = [];
  override async prepare(method: string, url: URL) {
    this.calls.push(`${method} ${url.pathname}${url.searchParams.get('watch') ? ' watch' : ''}`);
    return super.prepare(method, url);
  }
}

const counting = () => new CountingKubeConfig(resolveTarget(readKubeconfigs(inject('kubeconfig'))));

const pods: KPod[] = Array.from({ length: PODS }, (_, i) => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name: `p${i}`, namespace: ns, uid: `uid-${i}` },
  spec: {
    containers: [{ name: 'c', image: 'busybox' }],
    volumes: [
      { name: 'cfg', configMap: { name: 'app-config' } },
      { name: 'tls', secret: { secretName: 'app-tls' } },
    ],
  },
}));

const stop = new AbortController();
let done: Promise<void>;
const plainKc = counting();
const cachedKc = counting();
const resolverOf = (kc: CountingKubeConfig, cache?: SourceVersionCache) =>
  new PodResolver({
    kubeConfig: kc,
    clock: systemClock,
    ctx: { nodeName: 'n', nodeAllocatable: { cpu: '1', memory: '1Gi' } },
    tokenSeconds: 3600,
    ...(cache ? { sourceVersions: cache } : {}),
  });
let plain: PodResolver;
let cached: PodResolver;

beforeAll(async () => {
  await kubectl(['create', 'namespace', ns]).catch(() => undefined);
  await kubectl(['-n', ns, 'create', 'configmap', 'app-config', '--from-literal=a=1']);
  await kubectl(['-n', ns, 'create', 'secret', 'generic', 'app-tls', '--from-literal=k=v']);
  const cache = new SourceVersionCache({
    listWatch: apiserverMetaListWatch(cachedKc),
    clock: systemClock,
    logger: testLogger('sources'),
    idleMs: 600_000,
  });
  done = cache.run(stop.signal);
  plain = resolverOf(plainKc);
  cached = resolverOf(cachedKc, cache);
}, 60_000);

afterAll(async () => {
  stop.abort();
  await done;
  await kubectl(['delete', 'namespace', ns, '--wait=false']).catch(() => undefined);
});

/** One resync period: each pod's resync runs on its own timer, one after another. */
const round = async (r: PodResolver) => {
  const out: Array<string | undefined> = [];
  for (const p of pods) out.push(await r.volumeSourceVersions(p));
  return out;
};
const sourceCalls = (kc: CountingKubeConfig) => kc.calls.filter((c) => /\/(configmaps|secrets)/.test(c));

it('a resync round costs a GET per source per pod without the cache, and nothing per pod with it', async () => {
  const before = await round(plain);
  const after = await round(cached);
  expect(new Set(before).size).toBe(1);
  expect(after).toEqual(before);
  await round(plain);
  await round(cached);
  await round(cached);
  expect(sourceCalls(plainKc)).toHaveLength(2 * PODS * 2);
  expect(sourceCalls(cachedKc).sort()).toEqual([
    `GET /api/v1/namespaces/${ns}/configmaps`,
    `GET /api/v1/namespaces/${ns}/configmaps watch`,
    `GET /api/v1/namespaces/${ns}/secrets`,
    `GET /api/v1/namespaces/${ns}/secrets watch`,
  ]);
  process.stdout.write(
    `volume resync, ${PODS} pods × 2 sources: ${sourceCalls(plainKc).length / 2} requests per round by GET, ` +
      `${sourceCalls(cachedKc).length} in all (3 rounds) with the watched cache\n`,
  );
});

it('sees an edit and a deletion through the watch, as a GET would', async () => {
  const old = (await cached.volumeSourceVersions(pods[0]!))!;
  await kubectl(['-n', ns, 'patch', 'configmap', 'app-config', '-p', '{"data":{"a":"2"}}']);
  const edited = await eventually('the edit', async () => {
    const v = await cached.volumeSourceVersions(pods[0]!);
    return v !== old && v;
  });
  expect(edited).toBe(await plain.volumeSourceVersions(pods[0]!));
  await kubectl(['-n', ns, 'delete', 'secret', 'app-tls']);
  const deleted = await eventually('the deletion', async () => {
    const v = await cached.volumeSourceVersions(pods[0]!);
    return v?.includes('secret/app-tls@-') && v;
  });
  expect(deleted).toBe(await plain.volumeSourceVersions(pods[0]!));
  // Still the one list and watch per kind: the changes came through the watch.
  expect(sourceCalls(cachedKc)).toHaveLength(4);
});

it("the VK's ClusterRole allows the metadata list and watch", async () => {
  await kubectl(['apply', '-f', '-'], readFileSync(ROLE, 'utf8'));
  await kubectl(['-n', ns, 'create', 'serviceaccount', 'vk']).catch(() => undefined);
  await kubectl([
    'create',
    'clusterrolebinding',
    'vk-sourcever',
    '--clusterrole=interlink-vk',
    `--serviceaccount=${ns}:vk`,
  ]).catch(() => undefined);
  for (const verb of ['list', 'watch'])
    for (const kind of ['configmaps', 'secrets']) {
      const r = await kubectl([
        'auth',
        'can-i',
        verb,
        kind,
        '-n',
        'elsewhere',
        `--as=system:serviceaccount:${ns}:vk`,
      ]);
      expect(r.stdout.trim(), `${verb} ${kind}`).toBe('yes');
    }
  await kubectl(['delete', 'clusterrolebinding', 'vk-sourcever']).catch(() => undefined);
});

it('kube-root-ca.crt is read once per namespace while the watch shows its version; an edit is read again', async () => {
  const caPod: KPod = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'ca', namespace: ns, uid: 'uid-ca' },
    spec: {
      containers: [{ name: 'c', image: 'busybox' }],
      volumes: [{ name: 'ca', configMap: { name: 'kube-root-ca.crt' } }],
    },
  };
  const caOf = async (r: PodResolver) => (await r.fetchSources(caPod)).configMaps.get('kube-root-ca.crt');
  await eventually('kube-root-ca.crt published', async () => (await caOf(plain)) !== undefined);
  const gets = () =>
    cachedKc.calls.filter((c) => c === `GET /api/v1/namespaces/${ns}/configmaps/kube-root-ca.crt`).length;
  const before = gets();
  for (let i = 0; i < 20; i++) expect((await caOf(cached))?.data?.['ca.crt']).toMatch(/BEGIN CERTIFICATE/);
  expect(gets() - before).toBe(1);
  await kubectl(['-n', ns, 'label', 'configmap', 'kube-root-ca.crt', 'edited=yes']);
  await eventually('the edit read', async () => {
    const labels = (await caOf(cached))?.metadata.labels as Record<string, string> | undefined;
    return labels?.edited === 'yes';
  });
  expect(gets() - before).toBe(2);
  await caOf(cached);
  expect(gets() - before).toBe(2);
});
