/**
 * The pod syncer driven with fakes (no apiserver, no interLink API): every transition of
 * the life-cycle table in src/vk/pods/lifecycle.ts is taken by some test here, and the
 * last test checks that none was left out.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { invalidInput, unavailable } from '../../../src/errors/index.ts';
import { JOB_ID_ANNOTATION, JOB_UID_ANNOTATION, TOKEN_REFRESH_ANNOTATION } from '../../../src/vk/pods/job.ts';
import { kubeTime } from '../../../src/vk/pods/kpod.ts';
import { allTransitions, PodState } from '../../../src/vk/pods/lifecycle.ts';
import { activeDeadline, needsCorrection } from '../../../src/vk/pods/syncer.ts';
import { LOST_AFTER_MS, MISSING_TIMEOUT_MS, makePod, running, START, terminated, world } from './fakes.ts';

const taken = new Set<string>();
const track = () => world((_key, from, to) => taken.add(`${from}→${to}`));
type W = ReturnType<typeof track>;

const jobOf = (uid: string) => ({ [JOB_ID_ANNOTATION]: 'job-7', [JOB_UID_ANNOTATION]: uid });

/** A pod created in the backend (Pending → InBackend). */
async function created(w: W, name: string) {
  w.cache.put(makePod(name));
  await w.sync(name);
  expect(w.state(name)).toBe(PodState.InBackend);
}

/** The backend reports `containers`; the poller records it and the syncer writes the status. */
async function reported(w: W, name: string, containers: Parameters<W['interlink']['report']>[1]) {
  w.interlink.report(`uid-${name}`, containers);
  await w.poller.pollOnce();
  return w.sync(name);
}

/** A pod the backend lost: one poll starts the clock, one after the timeout calls it lost. */
async function lose(w: W, name: string) {
  w.interlink.jobs.delete(`uid-${name}`);
  await w.poller.pollOnce();
  await w.clock.advance(LOST_AFTER_MS);
  await w.poller.pollOnce();
}

/** A pod in InBackend whose active deadline is `secs` after START. */
function withDeadline(w: W, name: string, secs: number) {
  const uid = `uid-${name}`;
  w.interlink.jobs.set(uid, { name, namespace: 'ns', UID: uid, JID: 'job-7', containers: [running()] });
  w.cache.put(
    makePod(name, {
      annotations: jobOf(uid),
      deadlineSeconds: secs,
      status: { phase: 'Running', startTime: kubeTime(START) },
    }),
  );
}

describe('create', () => {
  it('submits a new pod once, records the job id with the first status write', async () => {
    const w = track();
    await created(w, 'a');
    expect(w.interlink.created).toHaveLength(1);
    expect(w.events.find('Submitted')?.message).toBe(
      'Submitted to the interLink API at fake://interlink as job job-1',
    );
    expect(w.writer.writes).toHaveLength(0);
    await reported(w, 'a', [running()]);
    expect(w.writer.writes[0]?.annotations).toEqual({
      [JOB_ID_ANNOTATION]: 'job-1',
      [JOB_UID_ANNOTATION]: 'uid-a',
    });
    expect(w.cache.get(w.key('a'))?.status?.phase).toBe('Running');
    // A second sync with nothing new writes nothing and creates nothing.
    await w.sync('a');
    expect(w.writer.writes).toHaveLength(1);
    expect(w.interlink.created).toHaveLength(1);
  });

  it('a refused create fails the pod: ProviderFailed and an Event', async () => {
    const w = track();
    w.interlink.createErrors.push(invalidInput('image not allowed'));
    w.cache.put(makePod('r'));
    await w.sync('r');
    expect(w.state('r')).toBe(PodState.Finished);
    const st = w.cache.get(w.key('r'))?.status;
    expect([st?.phase, st?.reason]).toEqual(['Failed', 'ProviderFailed']);
    expect(w.events.find('ProviderFailed')?.message).toBe('interLink create failed: image not allowed');
  });

  it('a retryable create failure stays Pending (ProviderFailed), is retried, and the retry clears it', async () => {
    const w = track();
    w.interlink.createErrors.push(unavailable('API down'));
    w.cache.put(makePod('t'));
    await expect(w.sync('t')).rejects.toThrow('API down');
    expect(w.state('t')).toBe(PodState.Pending);
    const st = w.cache.get(w.key('t'))?.status;
    expect([st?.phase, st?.reason]).toEqual(['Pending', 'ProviderFailed']);
    expect(w.events.find('BackendError')?.message).toBe('interLink create failed: API down; retrying');
    await w.sync('t');
    expect(w.state('t')).toBe(PodState.InBackend);
    // The earlier failure is corrected at once, with the job id; the first answer clears the reason.
    expect(w.writer.writes.at(-1)?.annotations?.[JOB_ID_ANNOTATION]).toBe('job-1');
    await reported(w, 't', [running()]);
    expect(w.cache.get(w.key('t'))?.status?.reason).toBeUndefined();
  });

  it('waits for a missing ConfigMap (FailedMount once), then creates when it appears', async () => {
    const w = track();
    w.resolver.missing = [{ kind: 'ConfigMap', name: 'cfg' }];
    w.cache.put(makePod('m'));
    expect(await w.sync('m')).toEqual({ requeueAfterMs: 2_000 });
    expect(w.state('m')).toBe(PodState.WaitingForConfig);
    const waiting = w.cache.get(w.key('m'))?.status?.containerStatuses?.[0]?.state?.waiting;
    expect(waiting?.reason).toBe('CreateContainerConfigError');
    await w.clock.advance(2_000);
    expect(await w.sync('m')).toEqual({ requeueAfterMs: 2_000 });
    expect(w.events.reasons('m')).toEqual(['FailedMount']);
    w.resolver.missing = [];
    await w.sync('m');
    expect(w.state('m')).toBe(PodState.InBackend);
    expect(w.interlink.created).toHaveLength(1);
  });

  it('gives up on a missing Secret after missingResourceTimeoutMs: Failed, ProviderFailed', async () => {
    const w = track();
    w.resolver.missing = [{ kind: 'Secret', name: 's', key: 'k' }];
    w.cache.put(makePod('x'));
    await w.sync('x');
    await w.clock.advance(MISSING_TIMEOUT_MS);
    expect(await w.sync('x')).toBeUndefined();
    expect(w.state('x')).toBe(PodState.Finished);
    const st = w.cache.get(w.key('x'))?.status;
    expect([st?.phase, st?.reason]).toEqual(['Failed', 'ProviderFailed']);
    expect(w.events.list.at(-1)?.message).toBe(
      'key "k" not found in Secret "ns/s" (waited 5 s); create it and recreate the pod',
    );
    expect(w.interlink.created).toHaveLength(0);
  });
});

describe('run and finish', () => {
  it('probe Events the plugin reports are written once per growth of their count, on the container', async () => {
    const w = track();
    await created(w, 'pr');
    const failing = (count: number) => ({
      ...running(),
      ready: false,
      probeEvents: [{ reason: 'Unhealthy', message: 'Readiness probe failed: no', count }],
    });
    await reported(w, 'pr', [failing(1)]);
    await reported(w, 'pr', [failing(1)]);
    await reported(w, 'pr', [failing(4)]);
    const unhealthy = w.events.list.filter((e) => e.reason === 'Unhealthy');
    expect(unhealthy).toHaveLength(2);
    expect(unhealthy[0]).toMatchObject({
      type: 'Warning',
      message: 'Readiness probe failed: no',
      obj: { name: 'pr', fieldPath: 'spec.containers{main}' },
    });
    const st = w.cache.get(w.key('pr'))?.status;
    expect(st?.containerStatuses?.[0]?.ready).toBe(false);
    expect(JSON.stringify(st)).not.toContain('probeEvents');
  });

  it.each([
    [0, 'Succeeded'],
    [3, 'Failed'],
  ])('exit code %i ends the pod %s; the poller stops asking', async (code, phase) => {
    const w = track();
    await created(w, 'f');
    await reported(w, 'f', [running()]);
    await reported(w, 'f', [terminated(code)]);
    expect(w.cache.get(w.key('f'))?.status?.phase).toBe(phase);
    expect(w.state('f')).toBe(PodState.Finished);
    const calls = w.interlink.statusCalls.length;
    await w.poller.pollOnce();
    expect(w.interlink.statusCalls).toHaveLength(calls);
  });

  it('a pod first seen finished goes straight to Finished', async () => {
    const w = track();
    w.cache.put(makePod('done', { status: { phase: 'Succeeded' } }));
    await w.sync('done');
    expect(w.state('done')).toBe(PodState.Finished);
    expect(w.interlink.created).toHaveLength(0);
  });
});

describe('delete', () => {
  it('retries the backend delete until confirmed, then reports terminated and deletes the Pod (grace 0, UID)', async () => {
    const w = track();
    await created(w, 'd');
    await reported(w, 'd', [running()]);
    w.cache.markDeleted('d');
    w.interlink.deleteErrors.push(unavailable('plugin down'), unavailable('plugin down'));
    await expect(w.sync('d')).rejects.toThrow('plugin down');
    await expect(w.sync('d')).rejects.toThrow('plugin down');
    expect(w.state('d')).toBe(PodState.Deleting);
    expect(w.writer.deletes).toHaveLength(0);
    await w.sync('d');
    expect(w.state('d')).toBe('Gone');
    expect(w.interlink.jobs.has('uid-d')).toBe(false);
    expect(w.writer.statuses('d').at(-1)?.containerStatuses?.[0]?.state?.terminated).toBeDefined();
    expect(w.writer.deletes).toEqual([{ key: 'ns/d', uid: 'uid-d', gracePeriodSeconds: 0 }]);
    const mine = w.events.list.filter((e) =>
      ['Killing', 'BackendDeleteFailed', 'Deleted'].includes(e.reason),
    );
    expect(mine.map((e) => [e.reason, e.message])).toEqual([
      ['Killing', 'Stopping the pod in the interLink backend (job job-1)'],
      [
        'BackendDeleteFailed',
        'Deleting the pod in the interLink backend failed (attempt 1); it stays until the backend confirms: plugin down',
      ],
      [
        'BackendDeleteFailed',
        'Deleting the pod in the interLink backend failed (attempt 2); it stays until the backend confirms: plugin down',
      ],
      ['Deleted', 'Deleted in the interLink backend after 2 failed attempts'],
    ]);
  });

  it('a failed preStop hook in the delete answer becomes a Warning Event on its container', async () => {
    const w = track();
    await created(w, 'h');
    await reported(w, 'h', [running()]);
    w.cache.markDeleted('h');
    w.interlink.deleteAnswers.push({
      message: 'pod ns/h deleted',
      containers: [
        {
          name: 'main',
          probeEvents: [
            { reason: 'FailedPreStopHook', message: 'PreStopHook failed', type: 'Warning', count: 1 },
          ],
        },
      ],
    });
    await w.sync('h');
    expect(w.state('h')).toBe('Gone');
    const e = w.events.find('FailedPreStopHook');
    expect(e).toMatchObject({ type: 'Warning', message: 'PreStopHook failed' });
    expect(e?.obj.fieldPath).toBe('spec.containers{main}');
    const mine = w.events.reasons('h').filter((r) => ['Killing', 'FailedPreStopHook', 'Deleted'].includes(r));
    expect(mine).toEqual(['Killing', 'FailedPreStopHook', 'Deleted']);
  });

  it('a failed status or Pod delete after the confirmation does not delete in the backend again', async () => {
    const w = track();
    await created(w, 'e');
    w.cache.markDeleted('e');
    w.writer.failures.push(new Error('apiserver hiccup'));
    await expect(w.sync('e')).rejects.toThrow('apiserver hiccup');
    expect(w.state('e')).toBe(PodState.BackendDeleted);
    await w.sync('e');
    expect(w.interlink.deleted).toHaveLength(1);
    expect(w.writer.deletes).toHaveLength(1);
  });

  it.each([
    ['Pending', async (w: W) => w.cache.put(makePod('p'))],
    [
      'WaitingForConfig',
      async (w: W) => {
        w.resolver.missing = [{ kind: 'ConfigMap', name: 'cfg' }];
        w.cache.put(makePod('p'));
        await w.sync('p');
      },
    ],
    [
      'Finished',
      async (w: W) => {
        w.cache.put(makePod('p', { status: { phase: 'Failed' } }));
        await w.sync('p');
      },
    ],
  ])('from %s: deleted in the backend (no Killing for a finished pod), then the Pod', async (from, setup) => {
    const w = track();
    await setup(w);
    if (from !== 'Pending') expect(w.state('p')).toBe(from);
    w.cache.markDeleted('p');
    await w.sync('p');
    expect(w.state('p')).toBe('Gone');
    expect(w.interlink.deleted).toHaveLength(1);
    expect(w.events.reasons('p').includes('Killing')).toBe(from !== 'Finished');
    expect(w.writer.deletes).toHaveLength(1);
  });

  it.each([
    ['InBackend', async (w: W) => created(w, 'q')],
    [
      'Finished',
      async (w: W) => {
        await created(w, 'q');
        await reported(w, 'q', [terminated(0)]);
      },
    ],
    ['Pending', async (w: W) => w.cache.put(makePod('q'))],
  ])(
    'from %s: re-syncs until the informer drops the pod never delete in the backend again',
    async (_from, setup) => {
      const w = track();
      await setup(w);
      w.writer.informerLags = true;
      w.cache.markDeleted('q');
      await w.sync('q');
      expect(w.state('q')).toBe(PodState.BackendDeleted);
      // Our own status write and the Pod delete come back through the informer: re-syncs.
      await w.sync('q');
      await w.sync('q');
      expect(w.interlink.deleted).toHaveLength(1);
      expect(w.writer.deletes).toHaveLength(1);
      expect(w.events.reasons('q').filter((r) => r === 'Deleted')).toHaveLength(1);
      w.cache.remove('q');
      await w.sync('q');
      expect(w.state('q')).toBe('Gone');
      expect(w.interlink.deleted).toHaveLength(1);
      expect(w.interlink.created.length).toBeLessThanOrEqual(1);
    },
  );

  it('a namesake replacing a deleted pod the informer still showed is created; the old job is not deleted again', async () => {
    const w = track();
    await created(w, 's');
    w.writer.informerLags = true;
    w.cache.markDeleted('s');
    await w.sync('s');
    w.cache.put(makePod('s', { uid: 'uid-s2' }));
    await w.sync('s');
    expect(w.interlink.deleted.map((p) => (p.metadata as { uid: string }).uid)).toEqual(['uid-s']);
    expect(w.syncer.records.get(w.key('s'))?.uid).toBe('uid-s2');
    expect(w.state('s')).toBe(PodState.InBackend);
  });

  it('force-deleted while the backend delete was failing: the backend delete is still retried', async () => {
    const w = track();
    await created(w, 'g');
    w.cache.markDeleted('g');
    w.interlink.deleteErrors.push(unavailable('down'));
    await expect(w.sync('g')).rejects.toThrow('down');
    w.cache.remove('g');
    w.interlink.deleteErrors.push(unavailable('down'));
    await expect(w.sync('g')).rejects.toThrow('down');
    expect(w.state('g')).toBe(PodState.Deleting);
    await w.sync('g');
    expect(w.state('g')).toBe('Gone');
    expect(w.interlink.jobs.size).toBe(0);
  });
});

describe('the pod leaves the cache', () => {
  it.each([
    [
      'Pending',
      async (w: W) => {
        w.interlink.createErrors.push(unavailable('down'));
        w.cache.put(makePod('v'));
        await w.sync('v').catch(() => undefined);
      },
    ],
    [
      'WaitingForConfig',
      async (w: W) => {
        w.resolver.missing = [{ kind: 'ConfigMap', name: 'cfg' }];
        w.cache.put(makePod('v'));
        await w.sync('v');
      },
    ],
    ['InBackend', async (w: W) => created(w, 'v')],
    [
      'Finished',
      async (w: W) => {
        await created(w, 'v');
        await reported(w, 'v', [terminated(0)]);
      },
    ],
  ])('from %s: its backend job is deleted and the record dropped', async (from, setup) => {
    const w = track();
    await setup(w);
    expect(w.state('v')).toBe(from);
    w.cache.remove('v');
    await w.sync('v');
    expect(w.state('v')).toBe('Gone');
    expect(w.interlink.deleted).toHaveLength(1);
    expect(w.interlink.jobs.size).toBe(0);
    expect(w.events.list.at(-1)).toMatchObject({
      reason: 'Deleted',
      message: 'Deleted in the interLink backend',
    });
  });

  it('a namesake with a new UID: the old job is deleted, the new pod created', async () => {
    const w = track();
    await created(w, 'n');
    w.cache.put(makePod('n', { uid: 'uid-n2' }));
    await w.sync('n');
    expect(w.interlink.deleted.map((p) => (p.metadata as { uid: string }).uid)).toEqual(['uid-n']);
    expect(w.syncer.records.get(w.key('n'))?.uid).toBe('uid-n2');
    expect([...w.interlink.jobs.keys()]).toEqual(['uid-n2']);
  });
});

describe('a pod the backend lost', () => {
  it('is marked Failed (BackendLost) once missing for backendLostTimeoutMs', async () => {
    const w = track();
    await created(w, 'l');
    await reported(w, 'l', [running()]);
    w.interlink.jobs.delete('uid-l');
    await w.poller.pollOnce();
    await w.clock.advance(LOST_AFTER_MS - 1);
    await w.poller.pollOnce();
    await w.sync('l');
    expect(w.state('l')).toBe(PodState.InBackend);
    await w.clock.advance(1);
    await w.poller.pollOnce();
    expect(w.enqueued.at(-1)).toBe('ns/l');
    await w.sync('l');
    expect(w.state('l')).toBe(PodState.Finished);
    const st = w.cache.get(w.key('l'))?.status;
    expect([st?.phase, st?.reason]).toEqual(['Failed', 'BackendLost']);
    expect(st?.containerStatuses?.[0]?.state?.terminated?.reason).toBe('ContainerStatusUnknown');
    expect(w.events.find('BackendLost')?.message).toBe(
      'The interLink backend no longer knows this pod (job job-1): it was lost by the backend or removed outside Kubernetes',
    );
  });

  it.each([
    ['deleted', (w: W) => w.cache.markDeleted('l')],
    ['removed', (w: W) => w.cache.remove('l')],
  ])('whose Failed write failed, then %s: leaves Lost', async (_how, change) => {
    const w = track();
    await created(w, 'l');
    await lose(w, 'l');
    w.writer.failures.push(new Error('conflict'));
    await expect(w.sync('l')).rejects.toThrow('conflict');
    expect(w.state('l')).toBe(PodState.Lost);
    change(w);
    await w.sync('l');
    expect(w.state('l')).toBe('Gone');
  });

  it('a Lost pod retried writes the Failed status', async () => {
    const w = track();
    await created(w, 'l');
    await lose(w, 'l');
    w.writer.failures.push(new Error('conflict'));
    await expect(w.sync('l')).rejects.toThrow('conflict');
    await w.sync('l');
    expect(w.state('l')).toBe(PodState.Finished);
  });
});

describe('activeDeadlineSeconds', () => {
  it('requeues for the deadline, then deletes in the backend and fails the pod', async () => {
    const w = track();
    withDeadline(w, 'dl', 10);
    expect(await w.sync('dl')).toEqual({ requeueAfterMs: 10_000 });
    expect(w.state('dl')).toBe(PodState.InBackend);
    await w.clock.advance(10_000);
    await w.sync('dl');
    expect(w.interlink.deleted).toHaveLength(1);
    expect(w.state('dl')).toBe(PodState.Finished);
    const st = w.cache.get(w.key('dl'))?.status;
    expect([st?.phase, st?.reason]).toEqual(['Failed', 'DeadlineExceeded']);
    expect(w.events.find('DeadlineExceeded')?.message).toBe(
      'Pod was active on the node longer than the specified deadline (10 s)',
    );
  });

  it('a failed status write after the backend delete does not delete again', async () => {
    const w = track();
    withDeadline(w, 'dl', 0);
    w.writer.failures.push(new Error('conflict'));
    await expect(w.sync('dl')).rejects.toThrow('conflict');
    expect(w.state('dl')).toBe(PodState.DeadlineExceeded);
    await w.sync('dl');
    expect(w.state('dl')).toBe(PodState.Finished);
    expect(w.interlink.deleted).toHaveLength(1);
  });

  it.each([
    ['deleted', (w: W) => w.cache.markDeleted('dl')],
    ['removed', (w: W) => w.cache.remove('dl')],
  ])('DeadlineExceeded, then %s', async (_how, change) => {
    const w = track();
    withDeadline(w, 'dl', 0);
    w.writer.failures.push(new Error('conflict'));
    await expect(w.sync('dl')).rejects.toThrow('conflict');
    change(w);
    await w.sync('dl');
    expect(w.state('dl')).toBe('Gone');
  });

  it('activeDeadline: from startTime, none without one', () => {
    expect(activeDeadline(makePod('a', { deadlineSeconds: 5, status: { startTime: kubeTime(START) } }))).toBe(
      START + 5_000,
    );
    expect(activeDeadline(makePod('a', { deadlineSeconds: 5 }))).toBeUndefined();
    expect(activeDeadline(makePod('a', { status: { startTime: kubeTime(START) } }))).toBeUndefined();
  });
});

describe('VK restart', () => {
  it('a pod with our job-id annotation for its UID is re-adopted, not created again', async () => {
    const w = track();
    w.interlink.jobs.set('uid-k', { name: 'k', namespace: 'ns', UID: 'uid-k', JID: 'job-7', containers: [] });
    const status = { phase: 'Running', startTime: kubeTime(START) };
    w.cache.put(makePod('k', { annotations: jobOf('uid-k'), status }));
    await w.sync('k');
    expect(w.state('k')).toBe(PodState.InBackend);
    expect(w.interlink.created).toHaveLength(0);
    // No answer yet: the status is left as it is (never regressed to Pending).
    expect(w.writer.writes).toHaveLength(0);
    await reported(w, 'k', [running()]);
    expect(w.cache.get(w.key('k'))?.status?.phase).toBe('Running');
  });

  it('an annotation recorded for another UID (a copied manifest) is ignored: created', async () => {
    const w = track();
    w.cache.put(makePod('c', { annotations: jobOf('uid-other') }));
    await w.sync('c');
    expect(w.interlink.created).toHaveLength(1);
  });

  it('a pod the adopter found is InBackend with its answer; no second create', async () => {
    const w = track();
    const pod = w.cache.put(makePod('a'));
    w.syncer.adopt(
      pod,
      'job-9',
      { name: 'a', namespace: 'ns', UID: 'uid-a', JID: 'job-9', containers: [running()] },
      'ns/a',
    );
    await w.sync('a');
    expect(w.interlink.created).toHaveLength(0);
    expect(w.cache.get(w.key('a'))?.status?.phase).toBe('Running');
    expect(w.cache.get(w.key('a'))?.metadata.annotations?.[JOB_ID_ANNOTATION]).toBe('job-9');
  });
});

describe('volume resync (ConfigMap and Secret edits)', () => {
  const resyncing = () => world((_key, from, to) => taken.add(`${from}→${to}`), { volumeResyncMs: 60_000 });

  it('looks again every interval; re-sends as a refresh only when a version changed', async () => {
    const w = resyncing();
    w.resolver.versions = 'configmap/cfg@1';
    w.cache.put(makePod('cm'));
    expect(await w.sync('cm')).toEqual({ requeueAfterMs: 60_000 });
    await w.clock.advance(60_000);
    expect(await w.sync('cm')).toEqual({ requeueAfterMs: 60_000 });
    expect(w.resolver.versionLookups).toBe(1);
    expect(w.interlink.created).toHaveLength(1);
    w.resolver.versions = 'configmap/cfg@2';
    await w.clock.advance(60_000);
    await w.sync('cm');
    expect(w.interlink.created).toHaveLength(2);
    expect(w.interlink.created[1]?.pod.metadata?.annotations?.[TOKEN_REFRESH_ANNOTATION]).toBe(
      kubeTime(START + 120_000),
    );
    // Delivered: the same version is not sent again.
    await w.clock.advance(60_000);
    await w.sync('cm');
    expect(w.interlink.created).toHaveLength(2);
    expect(w.state('cm')).toBe(PodState.InBackend);
  });

  it('a pod without volume sources, or with the resync off, is never looked at', async () => {
    const w = resyncing();
    w.cache.put(makePod('plain'));
    expect(await w.sync('plain')).toBeUndefined();
    const off = track();
    off.resolver.versions = 'secret/s@1';
    off.cache.put(makePod('off'));
    expect(await off.sync('off')).toBeUndefined();
    expect(w.resolver.versionLookups + off.resolver.versionLookups).toBe(0);
  });

  it('an adopted pod gets its volumes and fresh tokens at its first resync', async () => {
    const w = resyncing();
    w.resolver.versions = 'configmap/cfg@1';
    const pod = w.cache.put(makePod('ad'));
    w.syncer.adopt(
      pod,
      'job-9',
      { name: 'ad', namespace: 'ns', UID: 'uid-ad', JID: 'job-9', containers: [running()] },
      'ns/ad',
    );
    await w.sync('ad');
    expect(w.interlink.created).toHaveLength(0);
    await w.clock.advance(60_000);
    await w.sync('ad');
    expect(w.interlink.created).toHaveLength(1);
    expect(w.interlink.created[0]?.pod.metadata?.annotations?.[TOKEN_REFRESH_ANNOTATION]).toBeDefined();
  });
});

describe('service-account token refresh', () => {
  it('re-sends the pod marked as a refresh when due, and drops the API cache entry', async () => {
    const w = track();
    w.resolver.refreshAt = START + 60_000;
    w.cache.put(makePod('tok'));
    expect(await w.sync('tok')).toEqual({ requeueAfterMs: 60_000 });
    w.resolver.refreshAt = START + 120_000;
    await w.clock.advance(60_000);
    expect(await w.sync('tok')).toEqual({ requeueAfterMs: 60_000 });
    expect(w.interlink.created).toHaveLength(2);
    expect(w.interlink.created[0]?.pod.metadata?.annotations?.[TOKEN_REFRESH_ANNOTATION]).toBeUndefined();
    expect(w.interlink.created[1]?.pod.metadata?.annotations?.[TOKEN_REFRESH_ANNOTATION]).toBe(
      kubeTime(START + 60_000),
    );
    expect(w.interlink.cacheDropped).toHaveLength(1);
    expect(w.state('tok')).toBe(PodState.InBackend);
  });

  it('a failed refresh is tried again in 30 s; the pod keeps running', async () => {
    const w = track();
    w.resolver.refreshAt = START + 60_000;
    w.cache.put(makePod('tok'));
    await w.sync('tok');
    await w.clock.advance(60_000);
    w.interlink.createErrors.push(unavailable('down'));
    expect(await w.sync('tok')).toEqual({ requeueAfterMs: 30_000 });
    expect(w.state('tok')).toBe(PodState.InBackend);
  });
});

describe('pure helpers', () => {
  it.each([
    [undefined, false],
    [{ reason: 'ProviderFailed' }, true],
    [
      {
        containerStatuses: [
          {
            name: 'main',
            ready: false,
            restartCount: 0,
            image: '',
            imageID: '',
            state: { waiting: { reason: 'CreateContainerConfigError' } },
          },
        ],
      },
      true,
    ],
    [{ phase: 'Running' }, false],
  ])('needsCorrection(%j) = %s', (status, want) => {
    expect(needsCorrection(makePod('h', status ? { status } : {}))).toBe(want);
  });
});

afterAll(() => {
  // Every transition of the table was taken by a test above (run the whole file).
  expect(allTransitions().filter((t) => !taken.has(t))).toEqual([]);
});
