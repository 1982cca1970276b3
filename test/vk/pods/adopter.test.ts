/** The adopter: after a restart, pods the backend already runs are adopted, not created again. */
import { describe, expect, it } from 'vitest';
import type { FakeClock } from '../../../src/core/clock.ts';
import { silentLogger } from '../../../src/core/logger.ts';
import { unavailable } from '../../../src/errors/index.ts';
import { adoptFromBackend } from '../../../src/vk/pods/adopter.ts';
import { JOB_ID_ANNOTATION, JOB_UID_ANNOTATION } from '../../../src/vk/pods/job.ts';
import { PodState } from '../../../src/vk/pods/lifecycle.ts';
import { makePod, running, world } from './fakes.ts';

function setup() {
  const w = world();
  const adopted: string[] = [];
  const deps = {
    cache: w.cache,
    interlink: w.interlink,
    adopt: (...args: Parameters<typeof w.syncer.adopt>) => {
      adopted.push(args[3]);
      w.syncer.adopt(...args);
    },
    events: w.events,
    clock: w.clock,
    logger: silentLogger(),
  };
  return { w, adopted, deps };
}

describe('adopter', () => {
  it('asks once about the non-terminal pods without a job annotation and adopts those the backend knows', async () => {
    const { w, adopted, deps } = setup();
    w.cache.put(makePod('known'));
    w.cache.put(makePod('unknown'));
    w.cache.put(makePod('done', { status: { phase: 'Succeeded' } }));
    w.cache.put(
      makePod('annotated', {
        annotations: { [JOB_ID_ANNOTATION]: 'j', [JOB_UID_ANNOTATION]: 'uid-annotated' },
      }),
    );
    w.interlink.jobs.set('uid-known', {
      name: 'known',
      namespace: 'ns',
      UID: 'uid-known',
      JID: '',
      containers: [running()],
    });
    expect(await adoptFromBackend(deps, new AbortController().signal)).toBe(1);
    expect(w.interlink.statusCalls.map((c) => c.map((p) => p.metadata.name))).toEqual([['known', 'unknown']]);
    expect(adopted).toEqual(['ns/known']);
    expect(w.events.find('Adopted')?.message).toBe(
      'Found in the interLink backend as job adopted-uid-known after a restart; not submitted again',
    );
    // The adopted pod is not created again; the other one is.
    expect(w.state('known')).toBe(PodState.InBackend);
    await w.sync('known');
    await w.sync('unknown');
    expect(w.interlink.created.map((c) => c.pod.metadata.name)).toEqual(['unknown']);
  });

  it('retries a failed status call (1 s, then 2 s) and gives up after 3 attempts', async () => {
    const { w, deps } = setup();
    w.cache.put(makePod('p'));
    w.interlink.statusErrors.push(unavailable('down'), unavailable('down'), unavailable('down'));
    const clock = w.clock as FakeClock;
    const done = adoptFromBackend(deps, new AbortController().signal);
    await clock.advance(1_000);
    expect(w.interlink.statusCalls).toHaveLength(2);
    await clock.advance(2_000);
    expect(w.interlink.statusCalls).toHaveLength(3);
    await clock.advance(3_000);
    expect(await done).toBe(0);
  });

  it('a second attempt that works adopts', async () => {
    const { w, deps } = setup();
    w.cache.put(makePod('p'));
    w.interlink.jobs.set('uid-p', { name: 'p', namespace: 'ns', UID: 'uid-p', JID: 'job-3', containers: [] });
    w.interlink.statusErrors.push(unavailable('down'));
    const done = adoptFromBackend(deps, new AbortController().signal);
    await w.clock.advance(1_000);
    expect(await done).toBe(1);
    expect(w.syncer.records.get('ns/p')?.jobId).toBe('job-3');
  });

  it('makes no call when there is nothing to adopt', async () => {
    const { w, deps } = setup();
    expect(await adoptFromBackend(deps, new AbortController().signal)).toBe(0);
    expect(w.interlink.statusCalls).toEqual([]);
  });
});
