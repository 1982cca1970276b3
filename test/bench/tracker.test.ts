import { describe, expect, it } from 'vitest';
import { PodTracker, type PodView } from '../../bench/lib/tracker.ts';

const pod = (uid: string, over: { node?: string; phase?: string; startedAt?: string } = {}): PodView => ({
  metadata: { uid, name: `p-${uid}` },
  spec: over.node ? { nodeName: over.node } : {},
  status: {
    phase: over.phase ?? 'Pending',
    ...(over.startedAt
      ? { containerStatuses: [{ state: { terminated: { startedAt: over.startedAt } } }] }
      : {}),
  },
});

describe('PodTracker', () => {
  it('records the first observation of each stage, from the create request time', () => {
    const t = new PodTracker(() => 0);
    t.requested('p-a', 1);
    t.observe('ADDED', pod('a'), 1.2);
    t.observe('MODIFIED', pod('a', { node: 'n' }), 1.5);
    t.observe('MODIFIED', pod('a', { node: 'n' }), 1.7);
    t.observe('MODIFIED', pod('a', { node: 'n', phase: 'Running' }), 3);
    t.observe('MODIFIED', pod('a', { node: 'n', phase: 'Running' }), 4);
    t.observe('MODIFIED', pod('a', { node: 'n', phase: 'Succeeded' }), 8);
    t.observe('DELETED', pod('a', { node: 'n', phase: 'Succeeded' }), 9);
    expect(t.records()).toEqual([
      {
        uid: 'a',
        name: 'p-a',
        created: 1,
        scheduled: 1.5,
        running: 3,
        reported: 3,
        finished: 8,
        deleted: 9,
        phase: 'Succeeded',
      },
    ]);
    expect(t.finishedCount()).toBe(1);
    expect(t.deletedCount()).toBe(1);
  });

  it('uses the first sighting as creation for pods it did not create (Job pods)', () => {
    const t = new PodTracker(() => 0);
    t.observe('ADDED', pod('j'), 2.5);
    expect(t.records()[0]!.created).toBe(2.5);
  });

  it('takes Running from the containers when a pod was never seen running, clamped to its life', () => {
    const zero = Date.parse('2026-01-01T00:00:00Z');
    const t = new PodTracker(() => zero);
    t.requested('p-a', 0);
    t.requested('p-b', 0);
    t.observe('ADDED', pod('a', { node: 'n' }), 1);
    t.observe('MODIFIED', pod('a', { node: 'n', phase: 'Succeeded', startedAt: '2026-01-01T00:00:03Z' }), 6);
    t.observe('ADDED', pod('b', { node: 'n' }), 2);
    // Second-resolution startedAt before it was even scheduled: clamped to the scheduling.
    t.observe('MODIFIED', pod('b', { node: 'n', phase: 'Failed', startedAt: '2026-01-01T00:00:01Z' }), 6);
    const [a, b] = t.records();
    // Started at 3 s, but shown past Pending only when seen Succeeded.
    expect(a).toMatchObject({
      running: 3,
      runningFromStartedAt: true,
      reported: 6,
      finished: 6,
      phase: 'Succeeded',
    });
    expect(b).toMatchObject({ running: 2, runningFromStartedAt: true, phase: 'Failed' });
  });

  it('never moves a finished pod back (events replayed after a relist)', () => {
    const t = new PodTracker(() => 0);
    t.observe('ADDED', pod('a', { node: 'n', phase: 'Running' }), 1);
    t.observe('MODIFIED', pod('a', { node: 'n', phase: 'Succeeded' }), 2);
    t.observe('MODIFIED', pod('a', { node: 'n', phase: 'Running' }), 3);
    expect(t.records()[0]).toMatchObject({ phase: 'Succeeded', finished: 2, running: 1 });
  });

  it('marks pods missing from a relist as deleted, and forgets abandoned creates', () => {
    const t = new PodTracker(() => 0);
    t.requested('p-x', 0);
    t.abandoned('p-x');
    t.observe('ADDED', pod('x'), 4); // a pod of that name made by someone else later
    t.observe('ADDED', pod('y'), 4);
    t.relisted(new Set(['y']), 5);
    expect(t.records().map((r) => [r.uid, r.created, r.deleted])).toEqual([
      ['x', 4, 5],
      ['y', 4, undefined],
    ]);
  });

  it('counts pods by where they are now', () => {
    const t = new PodTracker(() => 0);
    t.observe('ADDED', pod('u'), 0);
    t.observe('ADDED', pod('s', { node: 'n' }), 0);
    t.observe('ADDED', pod('r', { node: 'n', phase: 'Running' }), 0);
    t.observe('ADDED', pod('ok', { node: 'n', phase: 'Succeeded' }), 0);
    t.observe('ADDED', pod('ko', { node: 'n', phase: 'Failed' }), 0);
    t.observe('DELETED', pod('d', { node: 'n', phase: 'Succeeded' }), 0);
    t.observe('ADDED', { metadata: { name: 'no-uid' } }, 0);
    expect(t.counts()).toEqual({
      unscheduled: 1,
      scheduled: 1,
      running: 1,
      succeeded: 1,
      failed: 1,
      deleted: 1,
    });
    expect(t.size).toBe(6);
  });
});
