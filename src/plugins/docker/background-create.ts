/**
 * Docker creates answered once recorded (issue #16 item 4). `/create` plans the pod (every
 * refusal is a 4xx then, before anything exists), writes the request to
 * `<dataRoot>/<uid>/.creating` and answers; pulling images, creating and starting the
 * containers run in the background (background.ts), at most `createConcurrency` pods at a
 * time, retried with backoff. The marker is removed once every container exists; a plugin
 * killed before that finds it on its next start and creates again, which is idempotent per
 * pod UID (containers have names derived from it: an existing one is reused, never doubled).
 *
 * The marker holds the request as sent, ConfigMap and Secret data included: 0600 in the
 * pod's 0700 directory, as the volume files themselves, and never read through a link.
 *
 * Until the containers exist the pod's status says so: every container waiting with
 * ContainerCreating (PodInitializing when the pod has init containers), or, after a failed
 * attempt, with ErrImagePull / CreateContainerError and the (redacted) error, as a kubelet
 * shows it while it keeps retrying.
 */
import { rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { mkdirUnder, writeFileUnder } from '../../core/pod/safe-fs.ts';
import { podSpecOf } from '../../core/pod/spec.ts';
import { codeOf, ErrorCode } from '../../errors/index.ts';
import { type PodStatus, RetrievedPodData } from '../../wire/interlink.ts';
import type { ContainerStatus } from '../../wire/k8s.ts';
import { retryDelayMs } from './background.ts';
import { DELETE_MARKER, readMarkers } from './background-delete.ts';

export const CREATE_MARKER = '.creating';

/** Record a create durably: the request in the pod's directory, replaced atomically. */
export async function writeCreateMarker(
  dataRoot: string,
  uid: string,
  data: RetrievedPodData,
): Promise<void> {
  const dir = await mkdirUnder(dataRoot, uid, 0o700, 'pod.metadata.uid');
  const tmp = await writeFileUnder(dir, `${CREATE_MARKER}.tmp`, JSON.stringify(data), 0o600, 'create marker');
  await rename(tmp, join(dir, CREATE_MARKER));
}

/** The create is carried out: its marker goes (a missing one is fine). */
export async function removeCreateMarker(podDir: string): Promise<void> {
  await rm(join(podDir, CREATE_MARKER), { force: true });
}

/**
 * Every create recorded and not carried out, by pod uid. A pod whose delete is recorded too
 * is left out (the delete wins), as is a marker that does not parse or names another uid.
 */
export async function readCreateMarkers(dataRoot: string): Promise<Map<string, RetrievedPodData>> {
  const out = new Map<string, RetrievedPodData>();
  const deleting = await readMarkers(dataRoot, DELETE_MARKER);
  for (const [uid, text] of await readMarkers(dataRoot, CREATE_MARKER)) {
    if (deleting.has(uid)) continue;
    try {
      const data = RetrievedPodData.parse(JSON.parse(text));
      if (data.pod.metadata.uid === uid) out.set(uid, data);
    } catch {
      // unreadable: nothing to carry out
    }
  }
  return out;
}

/** Why the last attempt failed, as the containers' waiting state shows it. */
export interface CreateFailure {
  reason: 'ErrImagePull' | 'CreateContainerError';
  message: string;
}

const IMAGE_TROUBLE =
  /pull access denied|manifest unknown|manifest for .* not found|repository does not exist|no such image|invalid reference format|unauthorized|toomanyrequests|error pulling image|failed to resolve reference/i;

/** The waiting reason of a failed create attempt (the error's message is already redacted). Pure. */
export function createFailure(err: unknown): CreateFailure {
  const message = err instanceof Error ? err.message : String(err);
  return { reason: IMAGE_TROUBLE.test(message) ? 'ErrImagePull' : 'CreateContainerError', message };
}

/**
 * The wait before the next attempt: a refusal by Docker (a missing image, a bad mount) is
 * retried as a kubelet retries an image pull (10 s doubling to 5 min), anything else as a
 * background delete is (1 s doubling to 30 s). Pure.
 */
export function createRetryDelayMs(attempt: number, err: unknown): number {
  if (codeOf(err) === ErrorCode.INVALID_INPUT) return Math.min(300_000, 10_000 * 2 ** Math.min(attempt, 5));
  return retryDelayMs(attempt);
}

/** The status of a pod whose containers are not all created yet. Pure. */
export function creatingStatus(data: RetrievedPodData, jid: string, failure?: CreateFailure): PodStatus {
  const pod = data.pod;
  const spec = podSpecOf(pod);
  const inits = spec.initContainers ?? [];
  const waiting = (name: string, image: string, reason: string): ContainerStatus => ({
    name,
    image,
    ready: false,
    started: false,
    restartCount: 0,
    state: { waiting: failure ? { reason: failure.reason, message: failure.message } : { reason } },
  });
  return {
    name: pod.metadata.name,
    UID: pod.metadata.uid,
    namespace: pod.metadata.namespace,
    JID: jid,
    initContainers: inits.map((c) => waiting(c.name, c.image, 'PodInitializing')),
    containers: spec.containers.map((c) =>
      waiting(c.name, c.image, inits.length > 0 ? 'PodInitializing' : 'ContainerCreating'),
    ),
  };
}
