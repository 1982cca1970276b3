import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { ErrorCode, InterlinkError } from '../../../src/errors/index.ts';
import {
  createFailure,
  createRetryDelayMs,
  creatingStatus,
  readCreateMarkers,
  removeCreateMarker,
  writeCreateMarker,
} from '../../../src/plugins/docker/background-create.ts';
import { writeDeleteMarker } from '../../../src/plugins/docker/background-delete.ts';
import type { RetrievedPodData } from '../../../src/wire/interlink.ts';

/** A fresh directory, removed when the test ends. */
async function tempRoot(): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'ilk-bgcreate-'));
  onTestFinished(() => rm(root, { recursive: true, force: true }));
  return root;
}

const data = (uid: string, spec: Record<string, unknown>): RetrievedPodData =>
  ({
    pod: { metadata: { name: 'p', namespace: 'ns', uid }, spec },
    container: [],
  }) as unknown as RetrievedPodData;
const one = { containers: [{ name: 'a', image: 'busybox' }] };

describe('create markers', () => {
  it('reads back what was written (0600); a pod being deleted, a bad or foreign marker is none', async () => {
    const root = await tempRoot();
    await writeCreateMarker(root, 'u-a', data('u-a', one));
    await writeCreateMarker(root, 'u-b', data('u-b', one));
    await writeDeleteMarker(root, 'u-b', 0);
    await writeCreateMarker(root, 'u-c', data('u-c', one));
    await writeFile(join(root, 'u-c', '.creating'), '{"pod":');
    await writeCreateMarker(root, 'u-d', data('u-other', one));
    await writeCreateMarker(root, 'u-e', data('u-e', one));
    await removeCreateMarker(join(root, 'u-e'));
    expect((await stat(join(root, 'u-a', '.creating'))).mode & 0o777).toBe(0o600);
    const got = await readCreateMarkers(root);
    expect([...got.keys()]).toEqual(['u-a']);
    expect(got.get('u-a')?.pod.metadata.uid).toBe('u-a');
    expect((await readCreateMarkers(join(root, 'nope'))).size).toBe(0);
  });

  it.each(['..', '../x', '/etc', ''])('refuses the uid %j as a path', async (uid) => {
    const root = await tempRoot();
    await expect(writeCreateMarker(root, uid, data(uid, one))).rejects.toThrow();
  });
});

describe('a failed create in the status', () => {
  it.each([
    ['creating container x: Error response from daemon: No such image: nope:1', 'ErrImagePull'],
    ['creating container x: pull access denied for nope, repository does not exist', 'ErrImagePull'],
    ['creating container x: invalid mount config for type "bind"', 'CreateContainerError'],
  ])('%s → %s', (message, reason) => {
    expect(createFailure(new Error(message))).toEqual({ reason, message });
  });

  it('waits while creating: ContainerCreating, PodInitializing with init containers, or the failure', () => {
    expect(creatingStatus(data('u', one), 'ilk_POD_p_ns_u')).toMatchObject({
      name: 'p',
      namespace: 'ns',
      UID: 'u',
      JID: 'ilk_POD_p_ns_u',
      initContainers: [],
      containers: [{ name: 'a', ready: false, state: { waiting: { reason: 'ContainerCreating' } } }],
    });
    const withInit = creatingStatus(
      data('u', { ...one, initContainers: [{ name: 'i', image: 'busybox' }] }),
      'j',
    );
    expect(withInit.initContainers?.[0]?.state?.waiting?.reason).toBe('PodInitializing');
    expect(withInit.containers?.[0]?.state?.waiting?.reason).toBe('PodInitializing');
    const failed = creatingStatus(data('u', one), 'j', { reason: 'ErrImagePull', message: 'm' });
    expect(failed.containers?.[0]?.state?.waiting).toEqual({ reason: 'ErrImagePull', message: 'm' });
  });

  it('retries a refusal as an image pull (10 s to 5 min), anything else as a delete (1 s to 30 s)', () => {
    const refused = new InterlinkError(ErrorCode.INVALID_INPUT, 'no such image');
    const down = new InterlinkError(ErrorCode.UNAVAILABLE, 'docker down');
    expect([0, 1, 5, 9].map((a) => createRetryDelayMs(a, refused))).toEqual([
      10_000, 20_000, 300_000, 300_000,
    ]);
    expect([0, 1, 5, 9].map((a) => createRetryDelayMs(a, down))).toEqual([1000, 2000, 30_000, 30_000]);
  });
});
