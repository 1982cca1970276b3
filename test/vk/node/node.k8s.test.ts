/**
 * The virtual node against the real control plane: registration, lease, readiness that
 * follows the interLink API and its plugin, recreation after a delete, and status patches
 * that leave other agents' conditions alone.
 */
import { PatchStrategy, setHeaderOptions, type V1Node } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kubeRequest } from '../../../src/vk/kube.ts';
import { eventually, type Stack, startStack } from '../kubelet/k8s-harness.ts';

const suffix = Math.random().toString(36).slice(2, 7);
const nodeName = `vk-node-${suffix}`;

const ready = (n: V1Node) => n.status?.conditions?.find((c) => c.type === 'Ready');
const cond = (n: V1Node, type: string) => n.status?.conditions?.find((c) => c.type === type);

describe('virtual node', () => {
  let stack: Stack;
  const read = () => stack.admin.core.readNode({ name: nodeName });

  beforeAll(async () => {
    stack = await startStack({
      nodeName,
      config: {
        // Short, so an outage shows within the test's waits (the default is 30 s).
        notReadyAfterMs: 2_000,
        nodeLabels: ['site=test-site'],
        nodeTaints: [{ Key: 'site', Value: 'test', Effect: 'NoExecute' }],
        resources: {
          cpu: '4',
          memory: '8Gi',
          pods: '50',
          accelerators: [{ resourceType: 'nvidia.com/gpu', model: 'Tesla A100', available: 2 }],
        },
      },
      // The plugin's ping reports 16 CPUs and 4 GPUs: those win over the configured numbers.
      mock: {
        capacity: {
          cpu: '16',
          memory: '64Gi',
          pods: '200',
          accelerators: [{ resourceType: 'nvidia.com/gpu', available: 4 }],
        },
      },
    });
  });
  afterAll(async () => {
    await stack?.close();
  });

  it('registers Ready with labels, taints, capacity from the ping, addresses and node info', async () => {
    const node = await read();
    expect(ready(node)).toMatchObject({ status: 'True', reason: 'KubeletReady' });
    expect(cond(node, 'InterlinkConnectivity')).toMatchObject({ status: 'True' });
    for (const t of ['MemoryPressure', 'DiskPressure', 'PIDPressure', 'NetworkUnavailable'])
      expect(cond(node, t)?.status).toBe('False');
    expect(node.metadata?.labels).toMatchObject({
      type: 'virtual-kubelet',
      'kubernetes.io/role': 'agent',
      'kubernetes.io/hostname': nodeName,
      'node.kubernetes.io/exclude-from-external-load-balancers': 'true',
      'nvidia.com/gpu.product': 'Tesla-A100',
      site: 'test-site',
    });
    expect(node.spec?.taints).toEqual(
      expect.arrayContaining([
        { key: 'virtual-node.interlink/no-schedule', value: 'true', effect: 'NoSchedule' },
        { key: 'site', value: 'test', effect: 'NoExecute' },
      ]),
    );
    const expected = { cpu: '16', memory: '64Gi', pods: '200', 'nvidia.com/gpu': '4' };
    expect(node.status?.capacity).toEqual(expected);
    expect(node.status?.allocatable).toEqual(expected);
    expect(node.status?.addresses).toEqual([
      { type: 'InternalIP', address: '127.0.0.1' },
      { type: 'Hostname', address: nodeName },
    ]);
    expect(node.status?.daemonEndpoints?.kubeletEndpoint?.Port).toBe(10250);
    expect(node.status?.nodeInfo).toMatchObject({ operatingSystem: 'linux', architecture: 'amd64' });
    expect(node.status?.nodeInfo?.kubeletVersion).toMatch(/^v1\.37\.2-interlink-\d+\.\d+\.\d+/);
  });

  it('holds a Lease owned by the Node and renews it', async () => {
    const node = await read();
    const first = await stack.admin.coordination.readNamespacedLease({
      name: nodeName,
      namespace: 'kube-node-lease',
    });
    expect(first.spec).toMatchObject({ holderIdentity: nodeName, leaseDurationSeconds: 40 });
    expect(first.metadata?.ownerReferences).toEqual([
      expect.objectContaining({ kind: 'Node', name: nodeName, uid: node.metadata?.uid }),
    ]);
    const t1 = new Date(first.spec!.renewTime as unknown as string).getTime();
    const renewed = await eventually('a lease renewal', async () => {
      const l = await stack.admin.coordination.readNamespacedLease({
        name: nodeName,
        namespace: 'kube-node-lease',
      });
      return new Date(l.spec!.renewTime as unknown as string).getTime() > t1 ? l : undefined;
    });
    expect(renewed.metadata?.resourceVersion).not.toBe(first.metadata?.resourceVersion);
    // MicroTime: the raw JSON carries microseconds (6 fractional digits).
    const raw = await kubeRequest(stack.kube.kubeConfig, {
      method: 'GET',
      path: `/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/${nodeName}`,
    });
    expect((raw as { spec: { renewTime: string } }).spec.renewTime).toMatch(/\.\d{6}Z$/);
  });

  it('patches only its own conditions: a condition another agent set survives', async () => {
    const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch);
    const now = new Date().toISOString();
    await stack.admin.core.patchNodeStatus(
      {
        name: nodeName,
        body: {
          status: {
            conditions: [
              {
                type: 'SiteMaintenance',
                status: 'False',
                reason: 'Scheduled',
                message: 'set by a test',
                lastHeartbeatTime: now,
                lastTransitionTime: now,
              },
            ],
          },
        },
      },
      mergePatch,
    );
    const before = new Date(ready(await read())!.lastHeartbeatTime as unknown as string).getTime();
    const after = await eventually('a status patch by the VK', async () => {
      const n = await read();
      return new Date(ready(n)!.lastHeartbeatTime as unknown as string).getTime() > before ? n : undefined;
    });
    expect(cond(after, 'SiteMaintenance')).toMatchObject({ status: 'False', reason: 'Scheduled' });
  });

  it('goes Ready=False (InterlinkUnreachable) when the API stops, with an Event, and back when it returns', async () => {
    await stack.stopApi();
    const down = await eventually(
      'Ready=False',
      async () => {
        const n = await read();
        return ready(n)?.status === 'False' ? n : undefined;
      },
      30_000,
    );
    expect(ready(down)).toMatchObject({ reason: 'InterlinkUnreachable' });
    expect(ready(down)?.message).toContain('ECONNREFUSED');
    expect(cond(down, 'InterlinkConnectivity')).toMatchObject({
      status: 'False',
      reason: 'InterlinkUnreachable',
    });

    await stack.startApi();
    const up = await eventually(
      'Ready=True again',
      async () => {
        const n = await read();
        return ready(n)?.status === 'True' ? n : undefined;
      },
      30_000,
    );
    expect(ready(up)?.reason).toBe('KubeletReady');

    const reasons = await eventually('both Events', async () => {
      const list = await stack.admin.core.listNamespacedEvent({
        namespace: 'default',
        fieldSelector: `involvedObject.name=${nodeName}`,
      });
      const r = list.items.map((e) => e.reason);
      return r.includes('NodeNotReady') && r.includes('NodeReady') ? list.items : undefined;
    });
    const notReady = reasons.find((e) => e.reason === 'NodeNotReady');
    expect(notReady).toMatchObject({ type: 'Warning', involvedObject: { kind: 'Node', name: nodeName } });
    expect(notReady?.message).toContain('InterlinkUnreachable');
  });

  it('goes Ready=False (PluginUnreachable) when the plugin fails its pings, and back', async () => {
    stack.mock.mock.setFaults({ pingFails: 'slurmctld is down' });
    const down = await eventually(
      'Ready=False',
      async () => {
        const n = await read();
        return ready(n)?.status === 'False' ? n : undefined;
      },
      30_000,
    );
    expect(ready(down)?.reason).toBe('PluginUnreachable');
    expect(ready(down)?.message).toContain('slurmctld is down');
    stack.mock.mock.setFaults({});
    await eventually('Ready=True again', async () => ready(await read())?.status === 'True', 30_000);
  });

  it('registers the node again when someone deletes it, and re-owns the Lease', async () => {
    const old = await read();
    await stack.admin.core.deleteNode({ name: nodeName });
    const again = await eventually(
      'the node recreated',
      async () => {
        const n = await read();
        return n.metadata?.uid !== old.metadata?.uid && ready(n)?.status === 'True' ? n : undefined;
      },
      30_000,
    );
    expect(again.metadata?.labels?.type).toBe('virtual-kubelet');
    await eventually(
      'the lease owned by the new node',
      async () => {
        const l = await stack.admin.coordination.readNamespacedLease({
          name: nodeName,
          namespace: 'kube-node-lease',
        });
        return l.metadata?.ownerReferences?.some((o) => o.uid === again.metadata?.uid);
      },
      30_000,
    );
  });
});
