/**
 * The node controller's schedule, driven by a FakeClock over in-memory stand-ins for the
 * apiserver calls it makes (the real apiserver is in node.k8s.test.ts): the lease renews
 * every tick, pings failing for notReadyAfterMs patch the status at once with an Event, and the status is
 * patched at least every nodeStatusIntervalMs when nothing changes.
 */
import type { V1Lease, V1Node } from '@kubernetes/client-node';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { FakeClock, flushMicrotasks } from '../../../src/core/clock.ts';
import { silentLogger } from '../../../src/core/logger.ts';
import { unavailable } from '../../../src/errors/index.ts';
import { VkConfigSchema } from '../../../src/vk/config.ts';
import type { EventRecorder } from '../../../src/vk/events.ts';
import type { InterlinkClient } from '../../../src/vk/interlink-client.ts';
import { createNodeController } from '../../../src/vk/node/controller.ts';
import type { KubeClients, VkDeps } from '../../../src/vk/types.ts';

function fakeCluster(clock: FakeClock) {
  let node: V1Node | undefined;
  let lease: V1Lease | undefined;
  let rv = 0;
  const log: Array<{ at: number; op: string; body?: unknown }> = [];
  const notFound = () => Object.assign(new Error('not found'), { code: 404 });
  const core = {
    async readNode() {
      if (!node) throw notFound();
      return structuredClone(node);
    },
    async createNode({ body }: { body: V1Node }) {
      log.push({ at: clock.now(), op: 'createNode', body });
      node = {
        ...structuredClone(body),
        metadata: { ...body.metadata, uid: `uid-${++rv}`, resourceVersion: String(rv) },
      };
      return structuredClone(node);
    },
    async patchNode({ body }: { body: V1Node }) {
      log.push({ at: clock.now(), op: 'patchNode', body });
      return structuredClone(node!);
    },
    async patchNodeStatus({ body }: { body: { status: V1Node['status'] } }) {
      if (!node) throw notFound();
      log.push({ at: clock.now(), op: 'patchNodeStatus', body });
      node.status = { ...node.status, ...body.status };
      return structuredClone(node);
    },
  };
  const coordination = {
    async readNamespacedLease() {
      if (!lease) throw notFound();
      return structuredClone(lease);
    },
    async createNamespacedLease({ body }: { body: V1Lease }) {
      log.push({ at: clock.now(), op: 'createLease', body });
      lease = { ...body, metadata: { ...body.metadata, resourceVersion: String(++rv) } };
      return lease;
    },
    async replaceNamespacedLease({ body }: { body: V1Lease }) {
      log.push({ at: clock.now(), op: 'renewLease', body });
      lease = { ...body, metadata: { ...body.metadata, resourceVersion: String(++rv) } };
      return lease;
    },
  };
  return {
    kube: { core, coordination } as unknown as KubeClients,
    log,
    deleteNode: () => {
      node = undefined;
    },
  };
}

describe('node controller schedule', () => {
  it('renews the lease each tick, turns NotReady once pings fail for notReadyAfterMs, and patches the status at least every interval', async () => {
    const clock = new FakeClock(Date.parse('2026-01-01T00:00:00Z'));
    const cluster = fakeCluster(clock);
    let pingError: Error | undefined;
    const interlink = {
      ping: async () => {
        if (pingError) throw pingError;
        return { status: 'ok', resources: { cpu: '7' } };
      },
    } as unknown as InterlinkClient;
    const recorded: string[] = [];
    const events = {
      normal: (_o: unknown, reason: string) => recorded.push(reason),
      warning: (_o: unknown, reason: string) => recorded.push(reason),
      record: () => {},
      flush: async () => {},
    } as unknown as EventRecorder;
    const config = VkConfigSchema.parse({ nodeName: 'vk-fake', podIp: '10.0.0.1' });
    const registry = new Registry();
    const up = async () => {
      const text = await registry.metrics();
      return [/^interlink_vk_api_up (\d)$/m, /^interlink_vk_plugin_up (\d)$/m].map(
        (re) => re.exec(text)?.[1],
      );
    };
    const deps = {
      config,
      kube: cluster.kube,
      logger: silentLogger(),
      interlink,
      events,
      registry,
      clock,
    } as unknown as VkDeps;
    const ctl = createNodeController(deps, { version: '9.9.9' });
    const stop = new AbortController();
    const run = ctl.run(stop.signal);
    await ctl.ready;

    const ops = () => cluster.log.map((l) => l.op);
    expect(ops()).toEqual(['createNode', 'patchNodeStatus', 'createLease']);
    const created = cluster.log[0]!.body as V1Node;
    expect(created.status?.capacity?.cpu).toBe('7');
    expect(created.status?.conditions?.find((c) => c.type === 'Ready')?.status).toBe('True');
    expect(recorded).toEqual(['RegisteredNode', 'NodeReady']);
    expect(await up()).toEqual(['1', '1']);

    // Each 10 s tick renews the lease; the renewTime is the clock's.
    cluster.log.length = 0;
    await clock.advance(10_000);
    const renew = cluster.log.find((l) => l.op === 'renewLease')!;
    expect(renew.at).toBe(clock.now());
    expect(new Date((renew.body as V1Lease).spec!.renewTime!).getTime()).toBe(clock.now());

    // The API goes away. Failed pings within notReadyAfterMs (30 s) of the last good one
    // leave the node Ready (a slow answer under load is no outage); they show in the metrics.
    pingError = unavailable(
      'POST /pinglink on http://127.0.0.1:3000: unreachable (ECONNREFUSED)',
      new Error('ECONNREFUSED'),
    );
    cluster.log.length = 0;
    for (let i = 0; i < 2; i++) {
      await clock.advance(10_000);
      await flushMicrotasks();
    }
    expect(ctl.lastPing().kind).toBe('ok');
    expect(cluster.log.filter((l) => l.op === 'patchNodeStatus')).toEqual([]);
    expect(recorded.at(-1)).toBe('NodeReady');
    expect(await up()).toEqual(['0', '0']);
    // The third failure is 30 s after the last good ping: the node loop patches Ready=False at once.
    await clock.advance(10_000);
    await flushMicrotasks();
    const patch = cluster.log.find((l) => l.op === 'patchNodeStatus');
    expect(patch).toBeDefined();
    const ready = (patch!.body as { status: V1Node['status'] }).status?.conditions?.find(
      (c) => c.type === 'Ready',
    );
    expect(ready).toMatchObject({ status: 'False', reason: 'InterlinkUnreachable' });
    expect(ready?.message).toContain('ECONNREFUSED');
    expect(recorded.at(-1)).toBe('NodeNotReady');
    expect(await up()).toEqual(['0', '0']);

    // Nothing changes for five minutes: a status patch at least every 60 s, a lease renewal every 10 s.
    cluster.log.length = 0;
    const from = clock.now();
    await clock.advance(300_000);
    const patches = cluster.log.filter((l) => l.op === 'patchNodeStatus').map((l) => l.at);
    const gaps = [from, ...patches, clock.now()]
      .slice(1)
      .map((t, i, arr) => t - (i === 0 ? from : arr[i - 1]!));
    expect(Math.max(...gaps)).toBeLessThanOrEqual(60_000);
    expect(cluster.log.filter((l) => l.op === 'renewLease')).toHaveLength(30);

    // Someone deletes the node: the next tick registers it again.
    cluster.deleteNode();
    cluster.log.length = 0;
    await clock.advance(10_000);
    expect(ops()[0]).toBe('createNode');

    stop.abort();
    await run;
  });

  it('refuses to start without its dependencies', () => {
    expect(() => createNodeController({} as VkDeps)).toThrow(/missing dependency "config"/);
  });
});
