/**
 * The pod side of the VK against the real control plane, the real interLink API and the
 * mock plugin: lifecycle, status mapping, resolution byte-for-byte, create failures, delete.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, freePort, type PodStack, receivedEnv, startPodStack } from './pods-harness.ts';
import { HOSTILE, PEM } from './resolve/fixtures.ts';

let s: PodStack;
let metricsPort: number;
const image = 'busybox:1.36';

beforeAll(async () => {
  metricsPort = await freePort();
  s = await startPodStack({
    nodeName: 'vk-pods',
    namespace: 'vk-pods',
    config: { metricsPort, metricsAddress: '127.0.0.1' },
  });
}, 180_000);
afterAll(async () => {
  await s?.close();
});

const created = (name: string) => s.received.filter((r) => r.pod.metadata.name === name);

describe('pod lifecycle', () => {
  it('is scheduled onto the virtual node and goes Pending → Running → Succeeded', async () => {
    await s.core.createNamespacedPod({
      namespace: s.namespace,
      body: s.podManifest(
        'ok',
        { containers: [{ name: 'main', image }] },
        { 'mock.interlink.io/run-time': '3s' },
      ),
    });
    const running = await s.waitPhase('ok', 'Running');
    expect(running.spec?.nodeName).toBe(s.nodeName);
    expect(running.status?.hostIP).toBe('127.0.0.1');
    expect(running.status?.podIP).toBe('127.0.0.1');
    expect(running.status?.startTime).toBeTruthy();
    const ready = running.status?.conditions?.find((c) => c.type === 'Ready');
    expect(ready?.status).toBe('True');
    expect(running.status?.containerStatuses?.[0]).toMatchObject({
      name: 'main',
      ready: true,
      restartCount: 0,
      image,
    });
    expect(running.metadata?.annotations?.['interlink.io/job-id']).toMatch(/^mock-/);
    expect(running.metadata?.annotations?.['interlink.io/job-pod-uid']).toBe(running.metadata?.uid);

    const done = await s.waitPhase('ok', 'Succeeded');
    const term = done.status?.containerStatuses?.[0]?.state?.terminated;
    expect(term).toMatchObject({ exitCode: 0, reason: 'Completed' });
    expect(term?.finishedAt).toBeTruthy();
    expect(done.status?.conditions?.find((c) => c.type === 'Ready')).toMatchObject({
      status: 'False',
      reason: 'PodCompleted',
    });
    const reasons = (await s.events('ok')).map((e) => e.reason);
    expect(reasons).toEqual(expect.arrayContaining(['Scheduled', 'Submitted', 'Started', 'Completed']));
    expect(created('ok')).toHaveLength(1);
    expect(s.mock.calls().create[running.metadata!.uid!]).toBe(1);
  });

  it('a failing container ends Failed with its exit code', async () => {
    await s.core.createNamespacedPod({
      namespace: s.namespace,
      body: s.podManifest(
        'fails',
        { containers: [{ name: 'main', image }] },
        { 'mock.interlink.io/run-time': '1s', 'mock.interlink.io/exit-code': '3' },
      ),
    });
    const p = await s.waitPhase('fails', 'Failed');
    expect(p.status?.containerStatuses?.[0]?.state?.terminated).toMatchObject({
      exitCode: 3,
      reason: 'Error',
    });
    const failed = (await s.events('fails')).find((e) => e.reason === 'Failed');
    expect(failed?.message).toMatch(/exited with code 3/);
  });

  it('an init-container pod shows Init:0/2 → PodInitializing → Running', async () => {
    await s.core.createNamespacedPod({
      namespace: s.namespace,
      body: s.podManifest(
        'init',
        {
          initContainers: [
            { name: 'i1', image },
            { name: 'i2', image },
          ],
          containers: [{ name: 'main', image }],
        },
        { 'mock.interlink.io/init-run-time': '2s', 'mock.interlink.io/start-delay': '1s' },
      ),
    });
    const seen = new Set<string>();
    await eventually(
      'init pod Running',
      async () => {
        const p = await s.getPod('init');
        const st = p?.status;
        const inits = st?.initContainerStatuses ?? [];
        const doneInits = inits.filter((c) => c.state?.terminated?.exitCode === 0).length;
        if (st?.phase === 'Pending' && inits.length === 2 && doneInits < 2) {
          seen.add(`Init:${doneInits}/2`);
          expect(st.containerStatuses?.[0]?.state?.waiting?.reason).toBe('PodInitializing');
        }
        if (st?.phase === 'Pending' && doneInits === 2) seen.add('PodInitializing');
        return st?.phase === 'Running';
      },
      60_000,
    );
    expect(seen.has('Init:0/2')).toBe(true);
    const p = await s.getPod('init');
    expect(p?.status?.initContainerStatuses?.map((c) => c.state?.terminated?.reason)).toEqual([
      'Completed',
      'Completed',
    ]);
    expect(p?.status?.conditions?.find((c) => c.type === 'Initialized')?.status).toBe('True');
  });
});

describe('resolution before create', () => {
  it('env from literal, ConfigMap key, Secret key, fieldRef and envFrom with prefix arrive byte-for-byte', async () => {
    await s.core.createNamespacedConfigMap({
      namespace: s.namespace,
      body: { metadata: { name: 'app-cfg' }, data: { pem: PEM, hostile: HOSTILE, plain: 'p' } },
    });
    await s.core.createNamespacedSecret({
      namespace: s.namespace,
      body: { metadata: { name: 'app-sec' }, stringData: { password: HOSTILE, cert: PEM } },
    });
    await s.core.createNamespacedPod({
      namespace: s.namespace,
      body: s.podManifest('env', {
        containers: [
          {
            name: 'main',
            image,
            env: [
              { name: 'LITERAL', value: HOSTILE },
              { name: 'CM_PEM', valueFrom: { configMapKeyRef: { name: 'app-cfg', key: 'pem' } } },
              { name: 'CM_HOSTILE', valueFrom: { configMapKeyRef: { name: 'app-cfg', key: 'hostile' } } },
              { name: 'SEC_PASSWORD', valueFrom: { secretKeyRef: { name: 'app-sec', key: 'password' } } },
              { name: 'SEC_CERT', valueFrom: { secretKeyRef: { name: 'app-sec', key: 'cert' } } },
              { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
              { name: 'POD_NS', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
              { name: 'POD_UID', valueFrom: { fieldRef: { fieldPath: 'metadata.uid' } } },
              { name: 'NODE', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } },
              { name: 'HOST_IP', valueFrom: { fieldRef: { fieldPath: 'status.hostIP' } } },
            ],
            envFrom: [
              { configMapRef: { name: 'app-cfg' }, prefix: 'CFG_' },
              { secretRef: { name: 'app-sec' }, prefix: 'SEC_' },
            ],
          },
        ],
      }),
    });
    const p = await s.waitPhase('env', 'Running');
    const env = receivedEnv(created('env')[0]);
    expect(env.LITERAL).toBe(HOSTILE);
    expect(env.CM_PEM).toBe(PEM);
    expect(env.CM_HOSTILE).toBe(HOSTILE);
    expect(env.SEC_PASSWORD).toBe(HOSTILE);
    expect(env.SEC_CERT).toBe(PEM);
    expect(env.CFG_pem).toBe(PEM);
    expect(env.CFG_hostile).toBe(HOSTILE);
    expect(env.SEC_password).toBe(HOSTILE);
    expect(env.SEC_cert).toBe(PEM);
    expect(env.POD_NAME).toBe('env');
    expect(env.POD_NS).toBe(s.namespace);
    expect(env.POD_UID).toBe(p.metadata?.uid);
    expect(env.NODE).toBe(s.nodeName);
    expect(env.HOST_IP).toBe('127.0.0.1');
    // Resolved into literal values: nothing left for a plugin to look up.
    const c = created('env')[0]!.pod.spec!.containers[0]!;
    expect(c.envFrom).toBeUndefined();
    expect(c.env!.every((e) => e.valueFrom === undefined)).toBe(true);
    // The Pod object in the cluster is untouched.
    expect(p.spec?.containers[0]?.env?.[1]?.valueFrom?.configMapKeyRef?.name).toBe('app-cfg');
  });

  it('volumes: ConfigMap/Secret objects sent; projected token, CA and downwardAPI resolved', async () => {
    await s.core.createNamespacedPod({
      namespace: s.namespace,
      body: s.podManifest('vols', {
        containers: [
          {
            name: 'main',
            image,
            volumeMounts: [
              { name: 'cfg', mountPath: '/cfg' },
              { name: 'sec', mountPath: '/sec' },
              { name: 'info', mountPath: '/info' },
            ],
          },
        ],
        volumes: [
          { name: 'cfg', configMap: { name: 'app-cfg' } },
          { name: 'sec', secret: { secretName: 'app-sec' } },
          {
            name: 'info',
            downwardAPI: { items: [{ path: 'labels', fieldRef: { fieldPath: 'metadata.labels' } }] },
          },
        ],
      }),
    });
    const p = await s.waitPhase('vols', 'Running');
    const req = created('vols')[0]!;
    const ctr = req.container?.find((c) => c.name === 'main');
    expect(ctr?.configMaps?.map((c) => c.metadata.name)).toEqual(['app-cfg']);
    expect(ctr?.configMaps?.[0]?.data?.pem).toBe(PEM);
    expect(Buffer.from(ctr?.secrets?.[0]?.data?.cert ?? '', 'base64').toString()).toBe(PEM);
    const projected = Object.fromEntries(
      (ctr?.projectedvolumemaps ?? []).map((m) => [m.metadata.name, m.data ?? {}]),
    );
    const api = Object.keys(projected).find((n) => n.startsWith('kube-api-access-'));
    expect(api).toBeTruthy();
    const files = projected[api!]!;
    expect(files.namespace).toBe(s.namespace);
    expect(files['ca.crt']).toMatch(/BEGIN CERTIFICATE/);
    // A real, pod-bound token from TokenRequest.
    const claims = JSON.parse(Buffer.from(files.token!.split('.')[1]!, 'base64url').toString());
    expect(claims['kubernetes.io'].pod.uid).toBe(p.metadata?.uid);
    expect(claims.exp - claims.iat).toBeGreaterThanOrEqual(600);
    expect(projected.info?.labels).toBe('');
  });

  it('a pod referencing a missing ConfigMap ends ProviderFailed naming it, with an Event', async () => {
    await s.core.createNamespacedPod({
      namespace: s.namespace,
      body: s.podManifest('missing', {
        containers: [
          {
            name: 'main',
            image,
            env: [{ name: 'X', valueFrom: { configMapKeyRef: { name: 'no-such-cfg', key: 'k' } } }],
          },
        ],
      }),
    });
    const waiting = await eventually('CreateContainerConfigError', async () => {
      const p = await s.getPod('missing');
      return p?.status?.containerStatuses?.[0]?.state?.waiting?.reason === 'CreateContainerConfigError'
        ? p
        : undefined;
    });
    expect(waiting.status?.containerStatuses?.[0]?.state?.waiting?.message).toMatch(
      /ConfigMap "vk-pods\/no-such-cfg" not found/,
    );
    const p = await s.waitPhase('missing', 'Failed');
    expect(p.status?.reason).toBe('ProviderFailed');
    expect(p.status?.message).toMatch(/ConfigMap "vk-pods\/no-such-cfg" not found/);
    const ev = (await s.events('missing')).find((e) => e.reason === 'ProviderFailed');
    expect(ev?.type).toBe('Warning');
    expect(ev?.message).toMatch(/no-such-cfg/);
    expect(created('missing')).toHaveLength(0);
  });

  it('a ConfigMap that appears during the wait lets the pod start', async () => {
    await s.core.createNamespacedPod({
      namespace: s.namespace,
      body: s.podManifest('late', {
        containers: [{ name: 'main', image, envFrom: [{ configMapRef: { name: 'late-cfg' } }] }],
      }),
    });
    await eventually('waiting for late-cfg', async () =>
      (await s.events('late')).some((e) => e.reason === 'FailedMount'),
    );
    await s.core.createNamespacedConfigMap({
      namespace: s.namespace,
      body: { metadata: { name: 'late-cfg' }, data: { LATE: 'yes' } },
    });
    await s.waitPhase('late', 'Running');
    expect(receivedEnv(created('late')[0]).LATE).toBe('yes');
  });

  it('a create the backend refuses ends ProviderFailed with its message', async () => {
    await s.core.createNamespacedPod({
      namespace: s.namespace,
      body: s.podManifest(
        'refused',
        { containers: [{ name: 'main', image }] },
        { 'mock.interlink.io/create-error': 'INVALID_INPUT: image not allowed at this site' },
      ),
    });
    const p = await s.waitPhase('refused', 'Failed');
    expect(p.status?.reason).toBe('ProviderFailed');
    expect(p.status?.message).toMatch(/image not allowed at this site/);
  });

  it('a create that fails transiently is retried and then runs', async () => {
    await s.core.createNamespacedPod({
      namespace: s.namespace,
      body: s.podManifest(
        'flaky',
        { containers: [{ name: 'main', image }] },
        { 'mock.interlink.io/create-error': 'backend busy', 'mock.interlink.io/create-error-times': '2' },
      ),
    });
    const p = await s.waitPhase('flaky', 'Running');
    expect(p.status?.reason).toBeUndefined();
    expect(s.mock.calls().create[p.metadata!.uid!]).toBe(3);
    expect((await s.events('flaky')).find((e) => e.reason === 'BackendError')?.type).toBe('Warning');
  });
});

describe('delete', () => {
  it('kubectl delete of a running pod: backend delete seen, Pod gone', async () => {
    await s.core.createNamespacedPod({
      namespace: s.namespace,
      body: s.podManifest('del', { containers: [{ name: 'main', image }] }),
    });
    const p = await s.waitPhase('del', 'Running');
    const uid = p.metadata!.uid!;
    await s.core.deleteNamespacedPod({ name: 'del', namespace: s.namespace });
    await eventually('pod gone', async () => (await s.getPod('del')) === undefined);
    expect(s.mock.calls().delete[uid]).toBeGreaterThanOrEqual(1);
    expect(s.mock.pods().some((x) => x.uid === uid)).toBe(false);
  });

  it('with the plugin failing deletes, the pod stays Terminating with an Event, and finishes once it recovers', async () => {
    await s.core.createNamespacedPod({
      namespace: s.namespace,
      body: s.podManifest('stuck', { containers: [{ name: 'main', image }] }),
    });
    const p = await s.waitPhase('stuck', 'Running');
    const uid = p.metadata!.uid!;
    s.mock.setFaults({ deleteFails: 'scancel: socket timed out' });
    try {
      await s.core.deleteNamespacedPod({ name: 'stuck', namespace: s.namespace });
      const ev = await eventually('BackendDeleteFailed event', async () =>
        (await s.events('stuck')).find((e) => e.reason === 'BackendDeleteFailed'),
      );
      expect(ev.type).toBe('Warning');
      expect(ev.message).toMatch(/scancel: socket timed out/);
      await eventually('several failed attempts', async () => (s.mock.calls().delete[uid] ?? 0) >= 3);
      const still = await s.getPod('stuck');
      expect(still?.metadata?.deletionTimestamp).toBeTruthy();
      expect(s.mock.pods().some((x) => x.uid === uid)).toBe(true);
    } finally {
      s.mock.setFaults({});
    }
    await eventually('pod gone after recovery', async () => (await s.getPod('stuck')) === undefined, 60_000);
    await eventually('Killing, BackendDeleteFailed and Deleted events', async () => {
      const reasons = new Set((await s.events('stuck')).map((e) => e.reason));
      return ['Killing', 'BackendDeleteFailed', 'Deleted'].every((r) => reasons.has(r));
    });
    expect(s.mock.pods().some((x) => x.uid === uid)).toBe(false);
  });

  it('a pod force-deleted from the cluster is deleted in the backend', async () => {
    await s.core.createNamespacedPod({
      namespace: s.namespace,
      body: s.podManifest('forced', { containers: [{ name: 'main', image }] }),
    });
    const p = await s.waitPhase('forced', 'Running');
    await s.core.deleteNamespacedPod({ name: 'forced', namespace: s.namespace, gracePeriodSeconds: 0 });
    await eventually('backend delete', async () => !s.mock.pods().some((x) => x.uid === p.metadata?.uid));
  });
});

describe('status polling', () => {
  it('asks the backend about all active pods in one /status call per interval', async () => {
    for (const i of [1, 2, 3]) {
      await s.core.createNamespacedPod({
        namespace: s.namespace,
        body: s.podManifest(`batch-${i}`, { containers: [{ name: 'main', image }] }),
      });
    }
    for (const i of [1, 2, 3]) await s.waitPhase(`batch-${i}`, 'Running');
    const before = s.mock.calls();
    await eventually('a few polls', async () => s.mock.calls().status >= before.status + 3);
    const after = s.mock.calls();
    const calls = after.status - before.status;
    const podsPerCall = (after.statusPods - before.statusPods) / calls;
    expect(podsPerCall).toBeGreaterThanOrEqual(3);
  });

  it('a pod the backend lost becomes Failed with BackendLost', async () => {
    await s.core.createNamespacedPod({
      namespace: s.namespace,
      body: s.podManifest('lost', { containers: [{ name: 'main', image }] }),
    });
    const p = await s.waitPhase('lost', 'Running');
    // Remove it behind the VK's back, as a backend restart without state would.
    await s.mock.delete(
      { metadata: { name: 'lost', namespace: s.namespace, uid: p.metadata!.uid! } } as never,
      {} as never,
    );
    const failed = await s.waitPhase('lost', 'Failed');
    expect(failed.status?.reason).toBe('BackendLost');
    expect(failed.status?.containerStatuses?.[0]?.state?.terminated).toMatchObject({
      exitCode: 137,
      reason: 'ContainerStatusUnknown',
    });
  });

  it('/metrics: queue depth, reconcile latency, status round-trips, pods by phase', async () => {
    const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    const value = (re: RegExp) => Number(re.exec(text)?.[1] ?? Number.NaN);
    expect(value(/^interlink_vk_queue_depth (\d+)/m)).toBeGreaterThanOrEqual(0);
    expect(value(/^interlink_vk_reconcile_duration_seconds_count\{outcome="ok"\} (\d+)/m)).toBeGreaterThan(
      10,
    );
    expect(value(/^interlink_vk_status_roundtrips_total\{outcome="ok"\} (\d+)/m)).toBeGreaterThan(3);
    expect(value(/^interlink_vk_pods\{phase="Running"\} (\d+)/m)).toBeGreaterThanOrEqual(3);
    expect(value(/^interlink_vk_pods\{phase="Succeeded"\} (\d+)/m)).toBeGreaterThanOrEqual(1);
    expect(value(/^interlink_vk_backend_calls_total\{op="create",outcome="ok"\} (\d+)/m)).toBeGreaterThan(5);
    expect(await (await fetch(`http://127.0.0.1:${metricsPort}/readyz`)).text()).toBe('ok');
  });

  it('writes pods/status only when something changed: steady running pods cost no writes', async () => {
    const scrape = async () => {
      const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
      const n = (re: RegExp) => Number(re.exec(text)?.[1] ?? Number.NaN);
      return {
        writes: n(/^interlink_vk_pod_status_writes_total\{outcome="ok"\} (\d+)/m),
        polls: n(/^interlink_vk_status_roundtrips_total\{outcome="ok"\} (\d+)/m),
      };
    };
    const running = (await s.core.listNamespacedPod({ namespace: s.namespace })).items.filter(
      (p) => p.status?.phase === 'Running',
    );
    expect(running.length).toBeGreaterThanOrEqual(3);
    const before = await scrape();
    await eventually('four more polls', async () => (await scrape()).polls >= before.polls + 4);
    expect((await scrape()).writes).toBe(before.writes);
  });
});
