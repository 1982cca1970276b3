/**
 * Stopping `interlink up --cluster` must leave no backend pod behind: its control plane goes
 * away with it, so nothing would ever delete those containers or jobs later. Before the
 * virtual kubelet stops, `drainNode` cordons the virtual node, deletes every Pod bound to
 * it through the apiserver and waits (bounded) until the VK has seen the backend confirm
 * each delete and removed the Pod object — the same path as a `kubectl delete pod`.
 * Pods still there when the time is up are deleted through the interLink API directly.
 *
 * I/O is injected (kubectl, the API delete, the clock), so tests drive it without sleeping.
 */
import type { Clock } from '../core/clock.ts';

export type KubectlCall = (
  args: string[],
) => Promise<{ code: number | null; stdout: string; stderr: string }>;

export interface DrainOptions {
  nodeName: string;
  kubectl: KubectlCall;
  /** Delete one pod in the backend through the interLink API; resolves once the plugin confirmed. */
  deleteInBackend: (pod: unknown) => Promise<void>;
  /** Human progress lines ("stopping: ..."). */
  say: (line: string) => void;
  clock: Pick<Clock, 'now' | 'sleep'>;
  /** How long to wait for the VK's deletes. Default 60 s. */
  timeoutMs?: number;
  /** Poll interval of the pod list. Default 500 ms. */
  pollMs?: number;
  /** Grace period given to the pods (seconds). Default 2: the cluster is going away. */
  gracePeriodSeconds?: number;
}

export interface DrainResult {
  /** Pods the VK deleted in the backend (Pod object gone). */
  deleted: number;
  /** Pods deleted through the API after the wait. */
  deletedDirectly: number;
  /** `namespace/name` of pods whose backend delete failed: their containers or jobs may remain. */
  failed: string[];
}

interface PodRef {
  key: string;
  obj: unknown;
}

/** The Pods of a `kubectl get pods -o json` answer, as `namespace/name` keys. Pure. */
export function podsOf(json: string): PodRef[] {
  const list = JSON.parse(json) as {
    items?: Array<{ metadata?: { namespace?: string; name?: string } }>;
  };
  return (list.items ?? []).map((p) => ({
    key: `${p.metadata?.namespace ?? ''}/${p.metadata?.name ?? ''}`,
    obj: p,
  }));
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

export async function drainNode(opts: DrainOptions): Promise<DrainResult> {
  const timeoutMs = opts.timeoutMs ?? 60_000;
  const pollMs = opts.pollMs ?? 500;
  const selector = `spec.nodeName=${opts.nodeName}`;
  const list = async (): Promise<PodRef[]> => {
    const r = await opts.kubectl([
      'get',
      'pods',
      '--all-namespaces',
      '--field-selector',
      selector,
      '-o',
      'json',
    ]);
    if (r.code !== 0) throw new Error(`kubectl get pods: ${r.stderr.trim()}`);
    return podsOf(r.stdout);
  };

  // New pods (a Deployment's replacements) must not land on the node while it drains.
  await opts.kubectl(['cordon', opts.nodeName]);
  const initial = await list();
  if (initial.length === 0) {
    opts.say(`stopping: no pods on ${opts.nodeName}`);
    return { deleted: 0, deletedDirectly: 0, failed: [] };
  }
  opts.say(
    `stopping: deleting the ${plural(initial.length, 'pod')} on ${opts.nodeName} so the plugin removes their containers/jobs (up to ${Math.round(timeoutMs / 1000)} s)`,
  );
  const del = await opts.kubectl([
    'delete',
    'pods',
    '--all-namespaces',
    '--field-selector',
    selector,
    `--grace-period=${opts.gracePeriodSeconds ?? 2}`,
    '--wait=false',
  ]);
  if (del.code !== 0) opts.say(`stopping: kubectl delete pods failed: ${del.stderr.trim()}`);

  const deadline = opts.clock.now() + timeoutMs;
  let left = initial;
  let lastReport = opts.clock.now();
  for (;;) {
    left = await list().catch(() => left);
    if (left.length === 0 || opts.clock.now() >= deadline) break;
    if (opts.clock.now() - lastReport >= 5_000) {
      opts.say(`stopping: waiting for the backend to confirm ${plural(left.length, 'delete')}`);
      lastReport = opts.clock.now();
    }
    await opts.clock.sleep(pollMs);
  }
  const deleted = initial.filter((p) => !left.some((l) => l.key === p.key)).length;
  if (left.length === 0) {
    opts.say(`stopping: ${plural(deleted, 'pod')} deleted in the backend`);
    return { deleted, deletedDirectly: 0, failed: [] };
  }

  opts.say(
    `stopping: ${plural(left.length, 'pod')} not deleted by the virtual kubelet in time; deleting them through the interLink API`,
  );
  const failed: string[] = [];
  for (const p of left) {
    try {
      await opts.deleteInBackend(p.obj);
    } catch {
      failed.push(p.key);
    }
  }
  const deletedDirectly = left.length - failed.length;
  if (failed.length > 0)
    opts.say(
      `stopping: could not delete ${plural(failed.length, 'pod')} in the backend (${failed.join(', ')}): their containers/jobs may still run`,
    );
  else opts.say(`stopping: ${plural(deleted + deletedDirectly, 'pod')} deleted in the backend`);
  return { deleted, deletedDirectly, failed };
}
