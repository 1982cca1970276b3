/**
 * Docker deletes answered once recorded (issue #16 item 4): `/delete` writes a marker file
 * `<dataRoot>/<uid>/.deleting` (the grace period in it), answers, and the removal (stop with
 * grace, rm, volumes, the pod directory — marker included) runs in the background, retried
 * with backoff until dockerd confirms it, at most `backgroundConcurrency` at a time. A
 * plugin killed after the answer finds the marker on its next start and finishes the
 * delete: nothing is lost, and a repeated `/delete` for a pod already queued is a no-op.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Clock } from '../../core/clock.ts';
import type { Logger } from '../../core/logger.ts';
import { mkdirUnder, writeFileUnder } from '../../core/pod/safe-fs.ts';
import { type BackgroundTasks, backgroundTasks } from './background.ts';

export const DELETE_MARKER = '.deleting';

/** Record a delete durably: the marker in the pod's directory (created if need be). */
export async function writeDeleteMarker(dataRoot: string, uid: string, graceSeconds: number): Promise<void> {
  const dir = await mkdirUnder(dataRoot, uid, 0o700, 'pod.metadata.uid');
  await writeFileUnder(dir, DELETE_MARKER, JSON.stringify({ graceSeconds }), 0o600, 'delete marker');
}

/**
 * The text of the marker file `name` in every pod directory under `dataRoot` that has one,
 * by pod uid (the directory's name). A missing root is none; an unreadable marker is left out.
 */
export async function readMarkers(dataRoot: string, name: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const uids = await readdir(dataRoot).catch(() => [] as string[]);
  for (const uid of uids) {
    const text = await readFile(join(dataRoot, uid, name), 'utf8').catch(() => undefined);
    if (text !== undefined) out.set(uid, text);
  }
  return out;
}

/** Every delete recorded and not finished: pod uid → grace seconds. A missing root is none. */
export async function readDeleteMarkers(dataRoot: string): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const [uid, text] of await readMarkers(dataRoot, DELETE_MARKER)) {
    try {
      const grace = Number((JSON.parse(text) as { graceSeconds?: unknown }).graceSeconds);
      out.set(uid, Number.isFinite(grace) && grace >= 0 ? grace : 0);
    } catch {
      // an unreadable marker
    }
  }
  return out;
}

export type BackgroundDeletes = BackgroundTasks<number>;

/** The deletes queue: `start(uid, graceSeconds)`; "pod deleted" logged once each is carried out. */
export function backgroundDeletes(opts: {
  /** One attempt; throws to be retried. */
  remove: (uid: string, graceSeconds: number) => Promise<void>;
  concurrency: number;
  log: Logger;
  /** Times the retries (default the real clock). */
  clock?: Clock;
}): BackgroundDeletes {
  return backgroundTasks<number>({
    what: 'delete',
    concurrency: opts.concurrency,
    log: opts.log,
    ...(opts.clock ? { clock: opts.clock } : {}),
    run: async (uid, grace) => {
      await opts.remove(uid, grace);
      opts.log.info({ uid }, 'pod deleted');
    },
  });
}
