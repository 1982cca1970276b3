/**
 * `logs -f` on the mock: a stream that wakes once per produced line (one timer per follower,
 * none per pod), ends when the container's log is complete, the byte budget is spent, the
 * caller goes away or the pod is deleted.
 */
import { Readable } from 'node:stream';
import type { Clock, Timer } from '../../core/clock.ts';
import { applyByteLimit, followDone, formatRange, type LogQuery, nextWakeAt, producedCount } from './logs.ts';
import type { PodRecord } from './pods.ts';
import type { ContainerPlan } from './timeline.ts';

export interface FollowStart {
  /** Bytes already selected for the first chunk. */
  first: Buffer;
  /** Lines already covered by `first`. */
  emitted: number;
  /** Bytes left of limitBytes, or undefined for no limit. */
  budget: number | undefined;
}

export function followLogs(
  clock: Clock,
  rec: PodRecord,
  c: ContainerPlan,
  q: LogQuery,
  start: FollowStart,
  signal: AbortSignal,
): Readable {
  const out = new Readable({ read() {} });
  let emitted = start.emitted;
  let remaining = start.budget;
  let timer: Timer | undefined;
  let ended = false;
  const end = () => {
    if (ended) return;
    ended = true;
    timer?.cancel();
    rec.followers.delete(end);
    signal.removeEventListener('abort', end);
    out.push(null);
  };
  const tick = () => {
    timer = undefined;
    if (ended) return;
    const now = clock.now();
    const produced = producedCount(c, now);
    if (produced > emitted) {
      const cut = applyByteLimit(formatRange(c, [emitted, produced], q.timestamps), remaining);
      emitted = produced;
      remaining = cut.remaining;
      if (cut.bytes.length > 0) out.push(cut.bytes);
    }
    if (remaining === 0 || followDone(c, emitted, now)) return end();
    const at = nextWakeAt(c, emitted);
    if (at !== undefined) timer = clock.setTimer(tick, Math.max(0, at - now));
  };
  if (start.first.length > 0) out.push(start.first);
  rec.followers.add(end);
  signal.addEventListener('abort', end, { once: true });
  if (signal.aborted || remaining === 0) end();
  else tick();
  return out;
}
