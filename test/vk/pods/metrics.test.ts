/** The VK's pod metrics: the pure timing helpers and the series that exist from the start. */
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import type { KPod } from '../../../src/vk/pods/kpod.ts';
import { oldestPendingSeconds, podMetrics, startLatencySeconds } from '../../../src/vk/pods/metrics.ts';

const T0 = Date.parse('2026-01-01T00:00:00Z');
const pod = (created: string | undefined, phase?: string, deleting = false): KPod =>
  ({
    metadata: {
      name: 'p',
      namespace: 'ns',
      uid: 'u',
      ...(created ? { creationTimestamp: created } : {}),
      ...(deleting ? { deletionTimestamp: '2026-01-01T00:00:09Z' } : {}),
    },
    spec: { containers: [] },
    ...(phase ? { status: { phase } } : {}),
  }) as KPod;

describe('startLatencySeconds', () => {
  it.each([
    ['Pending → Running', 'Pending', 'Running', 12.5],
    ['no status yet → Running', undefined, 'Running', 12.5],
    ['Running → Running (a later write)', 'Running', 'Running', undefined],
    ['Pending → Pending', 'Pending', 'Pending', undefined],
    ['Pending → Failed', 'Pending', 'Failed', undefined],
  ])('%s', (_what, before, after, want) => {
    expect(startLatencySeconds(pod('2026-01-01T00:00:00Z', before), { phase: after }, T0 + 12_500)).toBe(
      want,
    );
  });

  it('is undefined without a creationTimestamp and never negative (clock skew)', () => {
    expect(startLatencySeconds(pod(undefined, 'Pending'), { phase: 'Running' }, T0)).toBeUndefined();
    expect(startLatencySeconds(pod('2026-01-01T00:00:05Z'), { phase: 'Running' }, T0)).toBe(0);
  });
});

describe('oldestPendingSeconds', () => {
  it('is the age of the oldest Pending pod not being deleted, 0 when there is none', () => {
    expect(oldestPendingSeconds([], T0)).toBe(0);
    const pods = [
      pod('2026-01-01T00:00:00Z', 'Running'),
      pod('2026-01-01T00:00:01Z', 'Pending', true),
      pod('2026-01-01T00:00:03Z'),
      pod('2026-01-01T00:00:07Z', 'Pending'),
      pod(undefined, 'Pending'),
    ];
    expect(oldestPendingSeconds(pods, T0 + 10_000)).toBe(7);
    expect(oldestPendingSeconds(pods.slice(0, 2), T0 + 10_000)).toBe(0);
  });
});

describe('podMetrics', () => {
  it('exposes every bounded label value at 0 before anything happened', async () => {
    const registry = new Registry();
    podMetrics(registry, {
      queueDepth: () => 0,
      queueDelayed: () => 0,
      queueProcessing: () => 0,
      podsByPhase: () => ({}),
      tracked: () => 0,
      oldestPendingSeconds: () => 42,
    });
    const text = await registry.metrics();
    expect(text).toContain('interlink_vk_status_roundtrips_total{outcome="error"} 0');
    expect(text).toContain('interlink_vk_token_refreshes_total{outcome="ok"} 0');
    expect(text).toContain('interlink_vk_backend_calls_total{op="create",outcome="error"} 0');
    expect(text).toContain('interlink_vk_reconcile_duration_seconds_count{outcome="ok"} 0');
    expect(text).toContain('interlink_vk_oldest_pending_pod_age_seconds 42');
    expect(text).toContain('interlink_vk_pod_start_duration_seconds_count 0');
  });
});
