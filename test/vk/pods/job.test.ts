import { describe, expect, it } from 'vitest';
import { forStatus } from '../../../src/vk/pods/job.ts';
import type { KPod } from '../../../src/vk/pods/kpod.ts';
import { Pod } from '../../../src/wire/k8s.ts';

const probe = { exec: { command: ['cat', '/tmp/ready'] }, periodSeconds: 5 };
const pod = {
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: {
    name: 'web',
    namespace: 'team',
    uid: '5b0e1d0c-9a52-4c1e-8a57-0b6c1a0c2f11',
    annotations: { 'interlink.io/job-id': '42' },
    managedFields: [{ manager: 'kubectl' }],
  },
  spec: {
    nodeName: 'vk',
    restartPolicy: 'Always',
    terminationGracePeriodSeconds: 10,
    tolerations: [{ key: 'virtual-node.interlink/no-schedule', operator: 'Exists' }],
    affinity: { nodeAffinity: {} },
    volumes: [{ name: 'data', emptyDir: {} }],
    initContainers: [
      {
        name: 'log-shipper',
        image: 'busybox',
        restartPolicy: 'Always',
        env: [{ name: 'SECRET', value: 's3cr3t' }],
        startupProbe: probe,
      },
    ],
    containers: [
      {
        name: 'main',
        image: 'nginx',
        command: ['nginx'],
        ports: [{ containerPort: 80 }],
        env: [{ name: 'A', value: 'x'.repeat(1000) }],
        envFrom: [{ configMapRef: { name: 'cfg' } }],
        volumeMounts: [{ name: 'data', mountPath: '/data' }],
        livenessProbe: probe,
        readinessProbe: probe,
        lifecycle: { preStop: { exec: { command: ['nginx', '-s', 'quit'] } } },
      },
    ],
  },
  status: { phase: 'Running', podIP: '10.0.0.1', conditions: [{ type: 'Ready', status: 'True' }] },
} as unknown as KPod;

describe('forStatus', () => {
  const slim = forStatus(pod);

  it('keeps what status readers use: metadata, names, images, probes, hooks, policies, grace, phase', () => {
    expect(slim.metadata).toEqual({
      name: 'web',
      namespace: 'team',
      uid: '5b0e1d0c-9a52-4c1e-8a57-0b6c1a0c2f11',
      annotations: { 'interlink.io/job-id': '42' },
    });
    expect(slim.status).toEqual({ phase: 'Running' });
    expect(slim.spec).toEqual({
      nodeName: 'vk',
      restartPolicy: 'Always',
      terminationGracePeriodSeconds: 10,
      initContainers: [
        { name: 'log-shipper', image: 'busybox', restartPolicy: 'Always', startupProbe: probe },
      ],
      containers: [
        {
          name: 'main',
          image: 'nginx',
          command: ['nginx'],
          ports: [{ containerPort: 80 }],
          livenessProbe: probe,
          readinessProbe: probe,
          lifecycle: { preStop: { exec: { command: ['nginx', '-s', 'quit'] } } },
        },
      ],
    });
  });

  it('drops env (values are secrets too), volumes and the rest of the status, and stays a valid wire Pod', () => {
    expect(JSON.stringify(slim)).not.toContain('s3cr3t');
    expect(JSON.stringify(slim).length).toBeLessThan(JSON.stringify(pod).length / 2);
    expect(Pod.safeParse(slim).success).toBe(true);
    // The pod itself is untouched (the informer's cache holds it).
    expect(pod.spec.containers[0]?.env).toHaveLength(1);
  });

  it('sends a pod without a phase without a status', () => {
    const { status: _s, ...noStatus } = pod;
    expect(forStatus(noStatus as KPod)).not.toHaveProperty('status');
  });
});
