/**
 * The resourceVersions of ConfigMaps and Secrets, kept fresh by watches, for the volume
 * resync (`volumeResyncSeconds`): without it, every running pod asks the apiserver for
 * each of its volume sources once per period (at 1,000 pods, thousands of GETs a minute
 * for objects that almost never change).
 *
 * Design: ONE metadata-only list + watch per (namespace, kind), started the first time a
 * pod of that namespace needs it and stopped when no pod has asked for `idleMs`. A resync
 * is then a lookup in memory: no request per pod, and an edit is seen as soon as its
 * watch event arrives (well within one period). Alternatives weighed:
 *   - one GET per object per period (before): requests grow with pods × sources;
 *   - one watch per object (`fieldSelector=metadata.name=<name>`, the kubelet's way): a
 *     connection per distinct object (HTTP/1.1 here: a socket each), and a list per object;
 *   - a full informer per namespace: the same requests as ours but holds every Secret's
 *     data of the namespace in the VK.
 * Metadata only (`as=PartialObjectMetadata`): no ConfigMap or Secret content is sent to the
 * VK, and only name → resourceVersion is kept (not annotations, where
 * `last-applied-configuration` may repeat a Secret's data). The content a refresh delivers
 * is still read by GET, for the pods whose versions changed only.
 *
 * RBAC: `list` and `watch` on configmaps and secrets. Without them (403) or while a watch is
 * broken, `versions` answers undefined and the caller falls back to GETs; a namespace
 * refused with 403 is tried again after `forbiddenRetryMs`.
 */

import { Backoff } from '../../core/backoff.ts';
import type { Clock } from '../../core/clock.ts';
import type { Logger } from '../../core/logger.ts';
import { httpStatusOf, kubeRequest, kubeWatch } from '../kube.ts';
import type { KubeConnection } from '../kube-connection.ts';

export type SourceKind = 'configmaps' | 'secrets';

export interface MetaList {
  resourceVersion: string | undefined;
  /** name → resourceVersion */
  items: Map<string, string>;
}

export type MetaEvent =
  | { type: 'ADDED' | 'MODIFIED' | 'DELETED'; name: string; resourceVersion: string }
  | { type: 'BOOKMARK'; resourceVersion: string }
  | { type: 'ERROR'; code: number | undefined; message: string };

/** What the cache needs from the apiserver (a fake in unit tests). */
export interface MetaListWatch {
  list(kind: SourceKind, namespace: string, signal: AbortSignal): Promise<MetaList>;
  /** One watch from `resourceVersion`; resolves when it ends quietly, rejects on errors. */
  watch(
    kind: SourceKind,
    namespace: string,
    resourceVersion: string | undefined,
    onEvent: (e: MetaEvent) => void,
    signal: AbortSignal,
  ): Promise<void>;
}

export interface SourceVersionCacheOptions {
  listWatch: MetaListWatch;
  clock: Clock;
  logger: Logger;
  /** Stop a namespace's watches when no pod asked for this long (ms). */
  idleMs: number;
  /** Wait before trying a namespace again whose list was forbidden (default 10 min). */
  forbiddenRetryMs?: number;
  backoff?: Backoff;
}

interface Entry {
  kind: SourceKind;
  namespace: string;
  versions: Map<string, string>;
  rv: string | undefined;
  /** The watch is current: `versions` may be answered from memory. */
  synced: boolean;
  lastUsed: number;
  stop: AbortController;
  /** Settles after the first list, successful or not. */
  firstList: Promise<void>;
}

class WatchExpired extends Error {}

export class SourceVersionCache {
  readonly #o: SourceVersionCacheOptions;
  readonly #backoff: Backoff;
  readonly #entries = new Map<string, Entry>();
  #signal: AbortSignal | undefined;

  constructor(opts: SourceVersionCacheOptions) {
    if (!opts.listWatch || !opts.clock || !opts.logger)
      throw new Error('SourceVersionCache: missing dependency');
    if (!(opts.idleMs > 0)) throw new Error('SourceVersionCache: idleMs must be > 0');
    this.#o = opts;
    this.#backoff = opts.backoff ?? new Backoff({ initialMs: 500, maxMs: 30_000, jitter: 0.2 });
  }

  /** The (namespace, kind) pairs watched now, as `kind/namespace` (metrics, tests). */
  watched(): string[] {
    return [...this.#entries.keys()];
  }

  /**
   * name → resourceVersion of every object of `kind` in `namespace` (an absent object has
   * no entry), or undefined when the cache cannot answer (not running, list forbidden,
   * watch broken): the caller then reads the objects itself. Starts the namespace's watch
   * on first use and waits for its first list.
   */
  async versions(kind: SourceKind, namespace: string): Promise<ReadonlyMap<string, string> | undefined> {
    const signal = this.#signal;
    if (!signal || signal.aborted) return undefined;
    const key = `${kind}/${namespace}`;
    let e = this.#entries.get(key);
    if (!e) {
      e = this.#start(kind, namespace, signal);
      this.#entries.set(key, e);
    }
    e.lastUsed = this.#o.clock.now();
    if (!e.synced) await e.firstList;
    return e.synced ? e.versions : undefined;
  }

  /** Serve until `signal` aborts, stopping the watches of namespaces nobody asks about. */
  async run(signal: AbortSignal): Promise<void> {
    this.#signal = signal;
    try {
      while (!signal.aborted) {
        await this.#o.clock.sleep(this.#o.idleMs, signal).catch(() => undefined);
        const now = this.#o.clock.now();
        for (const [key, e] of this.#entries) {
          if (!signal.aborted && now - e.lastUsed < this.#o.idleMs) continue;
          e.stop.abort();
          this.#entries.delete(key);
          this.#o.logger.debug({ watch: key }, 'volume source watch stopped (no pod asked)');
        }
      }
    } finally {
      for (const e of this.#entries.values()) e.stop.abort();
      this.#entries.clear();
    }
  }

  #start(kind: SourceKind, namespace: string, parent: AbortSignal): Entry {
    const stop = new AbortController();
    parent.addEventListener('abort', () => stop.abort(), { once: true, signal: stop.signal });
    let listed: () => void = () => {};
    const e: Entry = {
      kind,
      namespace,
      versions: new Map(),
      rv: undefined,
      synced: false,
      lastUsed: this.#o.clock.now(),
      stop,
      firstList: new Promise<void>((r) => {
        listed = r;
      }),
    };
    void this.#loop(e, listed);
    return e;
  }

  /** List, then watch from the list's version, resuming after quiet ends; never rejects. */
  async #loop(e: Entry, listed: () => void): Promise<void> {
    const { listWatch, clock, logger } = this.#o;
    const signal = e.stop.signal;
    let failures = 0;
    let needList = true;
    while (!signal.aborted) {
      try {
        if (needList) {
          const l = await listWatch.list(e.kind, e.namespace, signal);
          e.versions = l.items;
          e.rv = l.resourceVersion;
          needList = false;
          e.synced = true;
          listed();
        }
        await listWatch.watch(e.kind, e.namespace, e.rv, (ev) => this.#apply(e, ev), signal);
        failures = 0;
      } catch (err) {
        e.synced = false;
        listed();
        if (signal.aborted) break;
        needList = true;
        if (err instanceof WatchExpired || httpStatusOf(err) === 410) continue;
        failures++;
        const forbidden = httpStatusOf(err) === 403;
        const wait = forbidden ? (this.#o.forbiddenRetryMs ?? 600_000) : this.#backoff.delay(failures);
        logger[forbidden || failures > 2 ? 'warn' : 'debug'](
          { watch: `${e.kind}/${e.namespace}`, err: (err as Error).message, retryInMs: wait },
          forbidden
            ? 'volume source list/watch forbidden (RBAC: list, watch); resync reads each object instead'
            : 'volume source watch failed; resync reads each object until it is back',
        );
        await clock.sleep(wait, signal).catch(() => undefined);
      }
    }
    e.synced = false;
  }

  #apply(e: Entry, ev: MetaEvent): void {
    if (ev.type === 'ERROR') {
      if (ev.code === 410) throw new WatchExpired(ev.message);
      throw Object.assign(new Error(`watch error: ${ev.message}`), { code: ev.code });
    }
    e.rv = ev.resourceVersion;
    if (ev.type === 'DELETED') e.versions.delete(ev.name);
    else if (ev.type !== 'BOOKMARK') e.versions.set(ev.name, ev.resourceVersion);
  }
}

const META_LIST = 'application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1, application/json';
const META_ONE = 'application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1, application/json';

interface MetaObject {
  metadata?: { name?: string; resourceVersion?: string };
}

/** The MetaListWatch of a real apiserver: metadata-only lists (paged) and watches. */
export function apiserverMetaListWatch(kc: KubeConnection, watchTimeoutSeconds?: number): MetaListWatch {
  const path = (kind: SourceKind, ns: string) => `/api/v1/namespaces/${encodeURIComponent(ns)}/${kind}`;
  return {
    async list(kind, namespace, signal) {
      const items = new Map<string, string>();
      let cont: string | undefined;
      let rv: string | undefined;
      do {
        const page = await kubeRequest<{
          metadata?: { resourceVersion?: string; continue?: string };
          items?: MetaObject[];
        }>(kc, {
          method: 'GET',
          path: path(kind, namespace),
          query: { limit: 500, continue: cont },
          accept: META_LIST,
          signal,
          timeoutMs: 60_000,
        });
        for (const o of page.items ?? [])
          if (o.metadata?.name && o.metadata.resourceVersion)
            items.set(o.metadata.name, o.metadata.resourceVersion);
        cont = page.metadata?.continue || undefined;
        rv = page.metadata?.resourceVersion;
      } while (cont);
      return { resourceVersion: rv, items };
    },
    async watch(kind, namespace, resourceVersion, onEvent, signal) {
      const timeoutSeconds = watchTimeoutSeconds ?? 240 + Math.floor(Math.random() * 120);
      await kubeWatch(
        kc,
        {
          path: path(kind, namespace),
          query: { resourceVersion, allowWatchBookmarks: true, timeoutSeconds },
          accept: META_ONE,
          signal,
          idleTimeoutMs: (timeoutSeconds + 30) * 1000,
        },
        (type, object) => onEvent(metaEvent(type, object)),
      );
    },
  };
}

function metaEvent(type: string, object: unknown): MetaEvent {
  if (type === 'ERROR') {
    const st = object as { code?: number; message?: string } | undefined;
    return { type: 'ERROR', code: st?.code, message: st?.message ?? JSON.stringify(object) };
  }
  const m = (object as MetaObject | undefined)?.metadata;
  const resourceVersion = m?.resourceVersion ?? '';
  if (type === 'BOOKMARK') return { type, resourceVersion };
  if (type === 'ADDED' || type === 'MODIFIED' || type === 'DELETED')
    return { type, name: m?.name ?? '', resourceVersion };
  return { type: 'ERROR', code: undefined, message: `unexpected watch event type ${type}` };
}
