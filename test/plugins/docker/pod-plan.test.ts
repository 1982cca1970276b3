import { describe, expect, it } from 'vitest';
import { podSpecOf } from '../../../src/core/pod/spec.ts';
import {
  dockerRestart,
  type PlanOptions,
  planPod,
  podHostname,
  pullPolicy,
} from '../../../src/plugins/docker/pod-plan.ts';
import type { Pod } from '../../../src/wire/k8s.ts';

const options: PlanOptions = {
  instance: 'test',
  infraImage: 'pause:1',
  infraCommand: [],
  network: '',
  gpus: false,
  flagsAnnotation: 'docker-options.vk.io/flags',
  allowedFlags: ['--shm-size', '--ulimit'],
  hostPathRoots: [],
  allowPrivileged: false,
  expandVariables: true,
};

function plan(
  spec: Record<string, unknown>,
  over: Partial<PlanOptions> = {},
  annotations?: Record<string, string>,
) {
  const pod = {
    metadata: { name: 'web', namespace: 'ns', uid: 'u1', ...(annotations ? { annotations } : {}) },
    spec,
  } as unknown as Pod;
  return planPod({
    pod,
    spec: podSpecOf(pod),
    retrieved: [],
    podDir: '/d/u1',
    options: { ...options, ...over },
  });
}

describe('pod plan', () => {
  it('names and labels every container after the pod, init containers first', () => {
    const p = plan({
      restartPolicy: 'OnFailure',
      initContainers: [{ name: 'setup', image: 'busybox:1' }],
      containers: [
        { name: 'app', image: 'busybox:1' },
        { name: 'side', image: 'busybox:1' },
      ],
    });
    expect(p.infra.name).toBe('ilk_POD_web_ns_u1');
    expect(p.infra.labels).toMatchObject({
      'interlink.vk.io/role': 'infra',
      'interlink.vk.io/pod-uid': 'u1',
    });
    expect(p.infra.hostname).toBe('web');
    expect(
      p.containers.map((c) => [c.role, c.plan.name, c.plan.restart, c.plan.labels['interlink.vk.io/index']]),
    ).toEqual([
      ['init', 'ilk_setup_web_ns_u1', 'on-failure', '0'],
      ['app', 'ilk_app_web_ns_u1', 'on-failure', '0'],
      ['app', 'ilk_side_web_ns_u1', 'on-failure', '1'],
    ]);
    expect(p.containers[0]!.plan.labels).toEqual({
      'interlink.vk.io/instance': 'test',
      'interlink.vk.io/pod-uid': 'u1',
      'interlink.vk.io/pod-namespace': 'ns',
      'interlink.vk.io/pod-name': 'web',
      'interlink.vk.io/container-name': 'setup',
      'interlink.vk.io/role': 'init',
      'interlink.vk.io/index': '0',
      'interlink.vk.io/restart-policy': 'OnFailure',
    });
    expect(p.containers.every((c) => c.plan.infra === 'ilk_POD_web_ns_u1')).toBe(true);
  });

  it('maps resources, user and security settings', () => {
    const p = plan({
      securityContext: { runAsUser: 1000, runAsGroup: 2000, supplementalGroups: [5], fsGroup: 7 },
      containers: [
        {
          name: 'app',
          image: 'busybox:1',
          workingDir: '/work',
          resources: { limits: { cpu: '500m', memory: '64Mi' }, requests: { cpu: '250m', memory: '32Mi' } },
          securityContext: {
            runAsUser: 1001,
            readOnlyRootFilesystem: true,
            allowPrivilegeEscalation: false,
            capabilities: { drop: ['ALL'] },
          },
        },
      ],
    }).containers[0]!.plan;
    expect(p).toMatchObject({
      user: '1001:2000',
      groupAdd: [5, 7],
      workingDir: '/work',
      cpus: '0.5',
      cpuShares: 256,
      memoryBytes: 64 * 2 ** 20,
      memoryReservationBytes: 32 * 2 ** 20,
      readOnlyRootFilesystem: true,
      noNewPrivileges: true,
      capDrop: ['ALL'],
    });
    expect(p.gpus).toBeUndefined();
  });

  it('maps GPUs only where the node offers them', () => {
    const spec = {
      containers: [{ name: 'app', image: 'i:1', resources: { limits: { 'nvidia.com/gpu': '2' } } }],
    };
    expect(() => plan(spec)).toThrow(/does not offer GPUs/);
    expect(plan(spec, { gpus: true }).containers[0]!.plan.gpus).toBe(2);
  });

  it('passes allow-listed annotation flags to every container, --shm-size to the infra container', () => {
    const p = plan(
      { initContainers: [{ name: 'i', image: 'i:1' }], containers: [{ name: 'a', image: 'i:1' }] },
      {},
      { 'docker-options.vk.io/flags': '--shm-size=256m --ulimit=nofile=512:512' },
    );
    expect(p.containers.map((c) => c.plan.extraFlags)).toEqual([
      ['--ulimit=nofile=512:512'],
      ['--ulimit=nofile=512:512'],
    ]);
    // /dev/shm belongs to the IPC namespace the infra container owns.
    expect(p.infra.extraFlags).toEqual(['--shm-size=256m']);
    expect(() =>
      plan(
        { containers: [{ name: 'a', image: 'i:1' }] },
        {},
        { 'docker-options.vk.io/flags': '--privileged' },
      ),
    ).toThrow(/annotations\[docker-options.vk.io\/flags\].*not allowed/);
  });

  it('uses host networking for hostNetwork pods, without a hostname', () => {
    const p = plan({ hostNetwork: true, containers: [{ name: 'a', image: 'i:1' }] }, { network: 'none' });
    expect(p.infra.network).toBe('host');
    expect(p.infra.hostname).toBeUndefined();
    expect(plan({ containers: [{ name: 'a', image: 'i:1' }] }, { network: 'none' }).infra.network).toBe(
      'none',
    );
  });

  it.each([
    [
      { containers: [{ name: 'a', image: 'i', securityContext: { privileged: true } }] },
      /privileged containers are not allowed/,
    ],
    [
      { containers: [{ name: 'a', image: 'i', securityContext: { capabilities: { add: ['SYS_ADMIN'] } } }] },
      /adding capabilities/,
    ],
    [
      { containers: [{ name: 'a', image: 'i', securityContext: { capabilities: { drop: ['--all'] } } }] },
      /not a capability/,
    ],
    [
      { securityContext: { runAsNonRoot: true, runAsUser: 0 }, containers: [{ name: 'a', image: 'i' }] },
      /runAsNonRoot/,
    ],
    [{ containers: [{ name: 'a', image: 'i', workingDir: 'rel' }] }, /workingDir.*absolute/],
    [{ containers: [{ name: 'a', image: 'i', resources: { limits: { memory: '1Mi' } } }] }, /minimum of 6Mi/],
    [
      {
        containers: [
          { name: 'a', image: 'i' },
          { name: 'a', image: 'i' },
        ],
      },
      /used twice/,
    ],
    [{ containers: [{ name: 'a' }] }, /pod\.spec\.containers\.0\.image/],
    [{ containers: [{ name: 'a', image: 'i', resources: { limits: { cpu: 'lots' } } }] }, /limits\.cpu/],
  ])('refuses %j', (spec, msg) => {
    expect(() => plan(spec)).toThrow(msg);
  });
});

describe('small rules', () => {
  it.each([
    ['busybox', undefined, 'always'],
    ['busybox:latest', undefined, 'always'],
    ['busybox:1.36', undefined, 'missing'],
    ['registry:5000/busybox', undefined, 'always'],
    ['registry:5000/busybox:1', undefined, 'missing'],
    ['busybox@sha256:abc', undefined, 'missing'],
    ['busybox:1', 'Always', 'always'],
    ['busybox', 'Never', 'never'],
    ['busybox', 'IfNotPresent', 'missing'],
  ] as const)('pull %s with %s → %s', (image, policy, want) => {
    expect(pullPolicy(image, policy)).toBe(want);
  });

  it.each([
    ['init', 'Never', false, 'no'],
    ['init', 'OnFailure', false, 'on-failure'],
    ['init', 'Always', false, 'on-failure'],
    ['init', 'Never', true, 'always'],
    ['app', 'Never', false, 'no'],
    ['app', 'OnFailure', false, 'on-failure'],
    ['app', 'Always', false, 'always'],
  ] as const)('%s container under %s (sidecar %s) → --restart %s', (role, policy, sidecar, want) => {
    expect(dockerRestart(role, policy, sidecar)).toBe(want);
  });

  it('cuts the hostname as the kubelet does', () => {
    const long = `${'a'.repeat(62)}-b`;
    expect(podHostname({ metadata: { name: long } } as Pod, { containers: [] } as never)).toBe(
      'a'.repeat(62),
    );
    expect(podHostname({ metadata: { name: 'x' } } as Pod, { containers: [], hostname: 'h' } as never)).toBe(
      'h',
    );
  });
});
