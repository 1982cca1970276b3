/**
 * After a restart: pods without a job annotation may still have reached the backend (the
 * VK died between create and recording it). One status call finds them; they are
 * adopted, not created again. Runs once, after the first full list and before the
 * workers start.
 */
import type { Clock } from '../../core/clock.ts';
import type { Logger } from '../../core/logger.ts';
import type { PodStatus } from '../../wire/interlink.ts';
import { type EventRecorder, podRef } from '../events.ts';
import type { InterlinkClient } from '../interlink-client.ts';
import { annotatedJob, errMessage, forStatus } from './job.ts';
import { isTerminalPhase, type KPod, keyOf } from './kpod.ts';

export interface AdopterDeps {
  cache: { list(): KPod[] };
  interlink: Pick<InterlinkClient, 'status'>;
  /** Record the pod as in the backend with `jobId` (PodSyncer.adopt). */
  adopt: (pod: KPod, jobId: string, answer: PodStatus, key: string) => void;
  events: Pick<EventRecorder, 'normal'>;
  clock: Clock;
  logger: Logger;
  /** Status calls tried before giving up (default 3; the n-th waits n s first). */
  attempts?: number;
}

/**
 * Ask the backend about every non-terminal pod without a job annotation; adopt those it
 * knows. Resolves once done, skipped (the API did not answer) or `signal` aborted;
 * never rejects. Returns how many pods were adopted.
 */
export async function adoptFromBackend(d: AdopterDeps, signal: AbortSignal): Promise<number> {
  const log = d.logger;
  const candidates = d.cache
    .list()
    // Pending+ProviderFailed pods too: a create that timed out here may have reached the backend.
    .filter((p) => !annotatedJob(p) && !isTerminalPhase(p.status?.phase));
  if (candidates.length === 0) return 0;
  const attempts = d.attempts ?? 3;
  for (let attempt = 1; attempt <= attempts && !signal.aborted; attempt++) {
    try {
      const answers = await d.interlink.status(candidates.map(forStatus), signal);
      const byUid = new Map(answers.map((a) => [a.UID, a]));
      let adopted = 0;
      for (const p of candidates) {
        const a = byUid.get(p.metadata.uid);
        if (!a) continue;
        const jid = a.JID || `adopted-${p.metadata.uid}`;
        d.adopt(p, jid, a, keyOf(p));
        adopted++;
        d.events.normal(
          podRef(p),
          'Adopted',
          `Found in the interLink backend as job ${jid} after a restart; not submitted again`,
        );
      }
      log.info({ asked: candidates.length, adopted: answers.length }, 'adoption check done');
      return adopted;
    } catch (err) {
      log.warn({ err: errMessage(err), attempt }, 'adoption check: status call failed');
      await d.clock.sleep(1_000 * attempt, signal).catch(() => {});
    }
  }
  log.warn('adoption check skipped: the interLink API did not answer; creates rely on its idempotency');
  return 0;
}
