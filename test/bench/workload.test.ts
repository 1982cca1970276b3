import { describe, expect, it } from 'vitest';
import {
  benchJob,
  benchPod,
  RUN_LABEL,
  VIRTUAL_NODE_TAINT,
  type WorkloadSpec,
} from '../../bench/lib/workload.ts';
import { parseBehaviour } from '../../src/plugins/mock/behaviour.ts';

const spec: WorkloadSpec = {
  runId: 'abc123',
  namespace: 'bench-abc123',
  nodeName: 'bench-node',
  plugin: 'mock',
  runTimeMs: 5_000,
  startDelayMs: 250,
  image: 'busybox',
  serviceAccountToken: true,
};

describe('benchPod', () => {
  const p = benchPod(spec, 7);
  it('selects the virtual node and tolerates its taint', () => {
    expect(p.metadata).toMatchObject({
      name: 'bench-7',
      namespace: 'bench-abc123',
      labels: { [RUN_LABEL]: 'abc123' },
    });
    expect(p.spec!.nodeSelector).toEqual({ 'kubernetes.io/hostname': 'bench-node' });
    expect(p.spec!.tolerations).toEqual([
      { key: VIRTUAL_NODE_TAINT, operator: 'Exists', effect: 'NoSchedule' },
    ]);
    expect(p.spec!.restartPolicy).toBe('Never');
  });
  it('sets a run time the mock plugin accepts and obeys', () => {
    const b = parseBehaviour(p as Parameters<typeof parseBehaviour>[0]);
    expect(b.startDelayMs).toBe(250);
    expect(b.containers).toMatchObject([{ name: 'main', runTimeMs: 5_000, exitCode: 0, logLines: 0 }]);
  });
  it('sleeps for the run time on real plugins, without mock annotations', () => {
    const d = benchPod({ ...spec, plugin: 'docker', runTimeMs: 1_500, serviceAccountToken: false }, 0);
    expect(d.metadata!.annotations).toEqual({});
    expect(d.spec!.containers[0]!.command).toEqual(['sleep', '2']);
    expect(d.spec!.automountServiceAccountToken).toBe(false);
  });
});

describe('benchJob', () => {
  it('runs all completions at once from the same pod template', () => {
    const j = benchJob(spec, 40);
    expect(j.spec).toMatchObject({ completions: 40, parallelism: 40, backoffLimit: 40 });
    expect(j.spec!.template.spec).toEqual(benchPod(spec, 0).spec);
    expect(j.spec!.template.metadata!.labels).toEqual(benchPod(spec, 0).metadata!.labels);
  });
});
