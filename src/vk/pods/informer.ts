/**
 * Our own pod informer (client-go style; not client-node's ListWatch, which stops for
 * good on most errors and swallows exceptions from callbacks): list + watch the pods
 * bound to one node (`spec.nodeName=<node>`), kept in a cache of raw JSON objects.
 *
 *   - a watch that ends quietly (the server's timeoutSeconds) resumes from the last
 *     resourceVersion: no relist, not a failure;
 *   - 410 Gone (resourceVersion too old) relists at once;
 *   - any other error relists after an exponential backoff;
 *   - after a relist, objects that disappeared are reported as deletions.
 *
 * Handlers (`onChange`) must only record/enqueue (STYLE habit 3); an exception they
 * throw is logged and does not stop the informer.
 */

import { Backoff } from '../../core/backoff.ts';
import type { Clock } from '../../core/clock.ts';
import type { Logger } from '../../core/logger.ts';
import { httpStatusOf, kubeRequest, kubeWatch } from '../kube.ts';
import type { KubeConnection } from '../kube-connection.ts';
import { type KPod, keyOf, podKey } from './kpod.ts';

export type ChangeKind = 'add' | 'update' | 'delete';

export interface InformerOptions {
  kubeConfig: KubeConnection;
  nodeName: string;
  logger: Logger;
  clock: Clock;
  onChange: (key: string, kind: ChangeKind, pod: KPod) => void;
  /** Called after every completed full list (the first one makes the cache "synced"). */
  onListed?: () => void;
  backoff?: Backoff;
  /** Page size of the list (default 500). */
  pageSize?: number;
  /** Server-side timeout of one watch (default 5 min ± jitter). */
  watchTimeoutSeconds?: number;
  /** Counters for metrics. */
  onRelist?: (reason: string) => void;
}

interface PodList {
  metadata?: { resourceVersion?: string; continue?: string };
  items?: KPod[];
}

/** Numeric compare of resourceVersions; they are opaque but etcd revisions in practice. */
export function newerRV(a: string | undefined, b: string | undefined): boolean {
  if (!a) return false;
  if (!b) return true;
  try {
    return BigInt(a) > BigInt(b);
  } catch {
    return a !== b;
  }
}

/** kubectl's copy of the whole manifest on an applied object: as large as the pod's spec. */
export const LAST_APPLIED_ANNOTATION = 'kubectl.kubernetes.io/last-applied-configuration';

/**
 * Drop what no reader of the cache uses before an object is kept: `managedFields` (one
 * entry per writer — the benchmark, the scheduler, the VK — about a third of a pod's JSON)
 * and the `kubectl apply` annotation (a second copy of the manifest; the VK writes Pod
 * status and annotations by merge patch, so leaving it out of the cache never removes it
 * from the Pod, and no plugin reads it). Kept objects live long enough to reach V8's old
 * generation; this keeps both the live set and the garbage left by replaced versions
 * smaller. Mutates `pod` (freshly parsed, ours) and returns it.
 */
export function trimForCache(pod: KPod): KPod {
  const meta = pod.metadata;
  if (!meta) return pod;
  if ('managedFields' in meta) delete meta.managedFields;
  if (meta.annotations && LAST_APPLIED_ANNOTATION in meta.annotations)
    delete meta.annotations[LAST_APPLIED_ANNOTATION];
  return pod;
}

export class PodInformer {
  readonly #opts: InformerOptions;
  readonly #store = new Map<string, KPod>();
  readonly #backoff: Backoff;
  #rv: string | undefined;
  #synced = false;

  constructor(opts: InformerOptions) {
    if (!opts.nodeName) throw new Error('PodInformer: nodeName is required');
    this.#opts = opts;
    this.#backoff = opts.backoff ?? new Backoff({ initialMs: 500, maxMs: 30_000, jitter: 0.2 });
  }

  get hasSynced(): boolean {
    return this.#synced;
  }

  get(key: string): KPod | undefined {
    return this.#store.get(key);
  }

  getByName(namespace: string, name: string): KPod | undefined {
    return this.#store.get(podKey(namespace, name));
  }

  list(): KPod[] {
    return [...this.#store.values()];
  }

  keys(): string[] {
    return [...this.#store.keys()];
  }

  get size(): number {
    return this.#store.size;
  }

  /**
   * Put an object we just got from the apiserver (our own write's answer) into the
   * cache when it is newer than what the watch delivered so far. No handler is called.
   */
  upsertIfNewer(pod: KPod): void {
    const key = keyOf(pod);
    const cur = this.#store.get(key);
    if (
      !cur ||
      (cur.metadata.uid === pod.metadata.uid &&
        newerRV(pod.metadata.resourceVersion, cur.metadata.resourceVersion))
    ) {
      if (cur && cur.metadata.uid !== pod.metadata.uid) return;
      this.#store.set(key, trimForCache(pod));
    }
  }

  /** List and watch until `signal` aborts. Never rejects. `onListed` marks readiness. */
  async run(signal: AbortSignal): Promise<void> {
    const log = this.#opts.logger;
    let failures = 0;
    let needList = true;
    while (!signal.aborted) {
      try {
        if (needList) {
          await this.#list(signal);
          needList = false;
          failures = 0;
        }
        const end = await this.#watch(signal);
        if (end === 'expired') {
          this.#opts.onRelist?.('expired');
          log.info({ rv: this.#rv }, 'pod watch: resourceVersion expired (410); relisting');
          needList = true;
        }
        // 'quiet': resume from the last resourceVersion.
      } catch (err) {
        if (signal.aborted) break;
        failures++;
        const status = httpStatusOf(err);
        if (status === 410) {
          this.#opts.onRelist?.('expired');
          needList = true;
          continue;
        }
        const wait = this.#backoff.delay(failures);
        this.#opts.onRelist?.('error');
        log.warn(
          { err: (err as Error).message, status, failures, retryInMs: wait },
          'pod list/watch failed; relisting after backoff',
        );
        needList = true;
        await this.#opts.clock.sleep(wait, signal).catch(() => {});
      }
    }
  }

  async #list(signal: AbortSignal): Promise<void> {
    const fresh = new Map<string, KPod>();
    let cont: string | undefined;
    let rv: string | undefined;
    do {
      const page: PodList = await kubeRequest<PodList>(this.#opts.kubeConfig, {
        method: 'GET',
        path: '/api/v1/pods',
        query: {
          fieldSelector: `spec.nodeName=${this.#opts.nodeName}`,
          limit: this.#opts.pageSize ?? 500,
          continue: cont,
        },
        signal,
        timeoutMs: 60_000,
      });
      for (const p of page.items ?? []) fresh.set(keyOf(p), trimForCache(p));
      cont = page.metadata?.continue || undefined;
      rv = page.metadata?.resourceVersion;
    } while (cont);
    // Replace the cache, telling the handlers what changed while we were not watching.
    const changes: Array<[string, ChangeKind, KPod]> = [];
    for (const [key, old] of this.#store) {
      const now = fresh.get(key);
      if (!now || now.metadata.uid !== old.metadata.uid) changes.push([key, 'delete', old]);
    }
    for (const [key, p] of fresh) {
      const old = this.#store.get(key);
      if (!old || old.metadata.uid !== p.metadata.uid) changes.push([key, 'add', p]);
      else if (old.metadata.resourceVersion !== p.metadata.resourceVersion) changes.push([key, 'update', p]);
    }
    this.#store.clear();
    for (const [k, p] of fresh) this.#store.set(k, p);
    this.#rv = rv;
    this.#synced = true;
    this.#opts.logger.debug({ pods: fresh.size, rv }, 'pods listed');
    for (const c of changes) this.#emit(...c);
    try {
      this.#opts.onListed?.();
    } catch (err) {
      this.#opts.logger.error({ err }, 'onListed handler threw');
    }
  }

  /** One watch from the current resourceVersion. Resolves how it ended; rejects on errors. */
  async #watch(signal: AbortSignal): Promise<'quiet' | 'expired'> {
    const timeoutSeconds = this.#opts.watchTimeoutSeconds ?? 240 + Math.floor(Math.random() * 120);
    // Ended by us on an ERROR event (410: relist; other: fail), or by the caller's signal.
    const stop = new AbortController();
    const onAbort = () => stop.abort();
    signal.addEventListener('abort', onAbort, { once: true });
    let expired = false;
    let failed: unknown;
    try {
      await kubeWatch(
        this.#opts.kubeConfig,
        {
          path: '/api/v1/pods',
          query: {
            fieldSelector: `spec.nodeName=${this.#opts.nodeName}`,
            resourceVersion: this.#rv,
            allowWatchBookmarks: true,
            timeoutSeconds,
          },
          signal: stop.signal,
          // The server ends the watch after timeoutSeconds; silence well past that is a dead connection.
          idleTimeoutMs: (timeoutSeconds + 30) * 1000,
        },
        (type, obj) => {
          if (stop.signal.aborted) return;
          if (type !== 'ERROR') return this.#onWatchEvent(type, obj as KPod);
          const st = obj as { code?: number; message?: string; reason?: string };
          if (st?.code === 410 || st?.reason === 'Expired' || st?.reason === 'Gone') expired = true;
          else
            failed = Object.assign(new Error(`watch error: ${st?.message ?? JSON.stringify(obj)}`), {
              code: st?.code,
            });
          stop.abort();
        },
      );
    } catch (err) {
      // A silent connection: resume from the last resourceVersion, as after a server timeout.
      if ((err as { name?: string }).name !== 'TimeoutError') throw err;
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
    if (signal.aborted) return 'quiet';
    if (expired) return 'expired';
    if (failed) throw failed;
    return 'quiet';
  }

  #onWatchEvent(type: string, pod: KPod): void {
    const rv = pod?.metadata?.resourceVersion;
    if (rv) this.#rv = rv;
    if (type === 'BOOKMARK') return;
    const key = keyOf(pod);
    if (type === 'DELETED') {
      const cur = this.#store.get(key);
      if (cur && cur.metadata.uid === pod.metadata.uid) this.#store.delete(key);
      this.#emit(key, 'delete', pod);
      return;
    }
    const old = this.#store.get(key);
    // Our own write's answer may already be in the cache (upsertIfNewer): never step
    // back in time, and the watch echo of that write (same resourceVersion, the same
    // object) is no change at all — reconciling it again would cost a sync per write.
    if (
      old &&
      old.metadata.uid === pod.metadata.uid &&
      (old.metadata.resourceVersion === rv || newerRV(old.metadata.resourceVersion, rv))
    )
      return;
    this.#store.set(key, trimForCache(pod));
    this.#emit(key, old && old.metadata.uid === pod.metadata.uid ? 'update' : 'add', pod);
  }

  #emit(key: string, kind: ChangeKind, pod: KPod): void {
    try {
      this.#opts.onChange(key, kind, pod);
    } catch (err) {
      this.#opts.logger.error({ err, key }, 'pod event handler threw');
    }
  }
}
