import { describe, expect, it } from 'vitest';
import {
  buildNode,
  capacityPatch,
  labelValue,
  MANAGED_TAINTS_ANNOTATION,
  mergeTaints,
  type NodeInput,
  nodeCapacity,
  nodeSpecPatch,
  nodeTaints,
} from '../../../src/vk/node/build.ts';
import type { PingResponse } from '../../../src/wire/interlink.ts';

const input: NodeInput = {
  nodeName: 'vk-hpc',
  resources: {
    cpu: '64',
    memory: '256Gi',
    pods: '500',
    accelerators: [{ resourceType: 'nvidia.com/gpu', model: 'Tesla A100 80GB', available: 4 }],
  },
  nodeLabels: { site: 'infn', 'kubernetes.io/role': 'hpc' },
  nodeTaints: [{ key: 'site', value: 'infn', effect: 'NoExecute' }],
  kubeletPort: 10250,
  internalIp: '10.0.0.7',
  version: '1.2.3',
};

describe('node object from config', () => {
  const node = buildNode(input);
  it('has the fixed labels, the model label and the configured ones (configured win)', () => {
    expect(node.metadata?.labels).toEqual({
      type: 'virtual-kubelet',
      'kubernetes.io/role': 'hpc',
      'kubernetes.io/hostname': 'vk-hpc',
      'kubernetes.io/os': 'linux',
      'node.kubernetes.io/exclude-from-external-load-balancers': 'true',
      'nvidia.com/gpu.product': 'Tesla-A100-80GB',
      site: 'infn',
    });
  });
  it('has the interlink taint and the configured one', () => {
    expect(node.spec?.taints).toEqual([
      { key: 'virtual-node.interlink/no-schedule', value: 'true', effect: 'NoSchedule' },
      { key: 'site', value: 'infn', effect: 'NoExecute' },
    ]);
    expect(node.metadata?.annotations?.[MANAGED_TAINTS_ANNOTATION]).toBe(
      'virtual-node.interlink/no-schedule,site',
    );
  });
  it('has capacity = allocatable with accelerators', () => {
    const cap = { cpu: '64', memory: '256Gi', pods: '500', 'nvidia.com/gpu': '4' };
    expect(node.status?.capacity).toEqual(cap);
    expect(node.status?.allocatable).toEqual(cap);
  });
  it('has addresses, the kubelet port and node info', () => {
    expect(node.status?.addresses).toEqual([
      { type: 'InternalIP', address: '10.0.0.7' },
      { type: 'Hostname', address: 'vk-hpc' },
    ]);
    expect(node.status?.daemonEndpoints).toEqual({ kubeletEndpoint: { Port: 10250 } });
    expect(node.status?.nodeInfo).toMatchObject({
      kubeletVersion: 'v1.37.2-interlink-1.2.3',
      operatingSystem: 'linux',
      architecture: 'amd64',
    });
  });
  it('omits InternalIP when unknown', () => {
    expect(buildNode({ ...input, internalIp: undefined }).status?.addresses).toEqual([
      { type: 'Hostname', address: 'vk-hpc' },
    ]);
  });
});

describe('PingResponse updates capacity and taints', () => {
  const table: Array<[string, PingResponse | undefined, Record<string, string>]> = [
    ['no ping', undefined, { cpu: '64', memory: '256Gi', pods: '500', 'nvidia.com/gpu': '4' }],
    ['empty ping', {}, { cpu: '64', memory: '256Gi', pods: '500', 'nvidia.com/gpu': '4' }],
    [
      'blank strings ignored',
      { resources: { cpu: ' ', memory: '' } },
      { cpu: '64', memory: '256Gi', pods: '500', 'nvidia.com/gpu': '4' },
    ],
    [
      'plugin numbers replace config',
      {
        resources: {
          cpu: '12',
          memory: '64Gi',
          pods: '40',
          accelerators: [
            { resourceType: 'nvidia.com/gpu', available: 2 },
            { resourceType: 'amd.com/gpu', available: '1' },
          ],
        },
      },
      { cpu: '12', memory: '64Gi', pods: '40', 'nvidia.com/gpu': '2', 'amd.com/gpu': '1' },
    ],
  ];
  it.each(table)('%s', (_n, ping, expected) => {
    expect(nodeCapacity(input.resources, ping)).toEqual(expected);
  });

  it('adds the plugin taints; a plugin taint replaces a configured one of the same key and effect', () => {
    expect(
      nodeTaints(input.nodeTaints, {
        taints: [
          { key: 'site', value: 'maint', effect: 'NoExecute' },
          { key: 'slurm/drain', effect: 'NoSchedule' },
        ],
      }),
    ).toEqual([
      { key: 'virtual-node.interlink/no-schedule', value: 'true', effect: 'NoSchedule' },
      { key: 'site', value: 'maint', effect: 'NoExecute' },
      { key: 'slurm/drain', value: '', effect: 'NoSchedule' },
    ]);
  });
});

describe('taint merging keeps other agents’ taints', () => {
  const ours = [{ key: 'virtual-node.interlink/no-schedule', value: 'true', effect: 'NoSchedule' }];
  it('keeps unreachable and cordon taints, drops a taint we managed before', () => {
    const existing = [
      {
        key: 'node.kubernetes.io/unreachable',
        effect: 'NoExecute',
        timeAdded: '2026-01-01T00:00:00Z' as unknown as Date,
      },
      { key: 'node.kubernetes.io/unschedulable', effect: 'NoSchedule' },
      { key: 'slurm/drain', value: '', effect: 'NoSchedule' },
      { key: 'virtual-node.interlink/no-schedule', value: 'old', effect: 'NoSchedule' },
    ];
    expect(mergeTaints(existing, ours, ['virtual-node.interlink/no-schedule', 'slurm/drain'])).toEqual([
      existing[0],
      existing[1],
      { key: 'virtual-node.interlink/no-schedule', value: 'true', effect: 'NoSchedule' },
    ]);
  });

  it('nodeSpecPatch is undefined when nothing changed and carries resourceVersion otherwise', () => {
    const node = buildNode(input);
    node.metadata!.resourceVersion = '42';
    expect(nodeSpecPatch(node, input)).toBeUndefined();
    const patch = nodeSpecPatch(node, input, { taints: [{ key: 'slurm/drain', effect: 'NoSchedule' }] });
    expect(patch).toMatchObject({
      metadata: {
        resourceVersion: '42',
        annotations: { [MANAGED_TAINTS_ANNOTATION]: 'virtual-node.interlink/no-schedule,site,slurm/drain' },
      },
    });
    expect((patch as { spec: { taints: unknown[] } }).spec.taints).toHaveLength(3);
  });
});

describe('helpers', () => {
  it.each([
    ['Tesla A100 80GB', 'Tesla-A100-80GB'],
    ['  h100 ', 'h100'],
    ['x'.repeat(80), 'x'.repeat(63)],
    ['--', ''],
  ])('labelValue(%j) = %j', (raw, expected) => {
    expect(labelValue(raw)).toBe(expected);
  });
  it('capacityPatch deletes resources no longer offered', () => {
    expect(capacityPatch({ cpu: '1', 'amd.com/gpu': '1' }, { cpu: '2' })).toEqual({
      cpu: '2',
      'amd.com/gpu': null,
    });
  });
});
