/**
 * The watched ConfigMap/Secret versions behind the volume resync, driven by a fake
 * apiserver (list + watch in memory) and a FakeClock: one list and one watch per
 * (namespace, kind) however many pods ask, edits and deletions seen through the watch,
 * resume without a relist after a quiet end, relist after 410 or an error, "cannot answer"
 * while broken or forbidden, and watches stopped when no pod asks. Then the resolver:
 * its volume resync answers from the cache without one GET.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { FakeClock, flushMicrotasks } from '../../../src/core/clock.ts';
import { silentLogger } from '../../../src/core/logger.ts';
import { KubeApiError, KubeConnection } from '../../../src/vk/kube.ts';
import type { KPod } from '../../../src/vk/pods/kpod.ts';
import { PodResolver } from '../../../src/vk/resolve/resolver.ts';
import {
  type MetaEvent,
  type MetaListWatch,
  type SourceKind,
  SourceVersionCache,
} from '../../../src/vk/resolve/source-versions.ts';

interface OpenWatch {
  key: string;
  from: string | undefined;
  onEvent: (e: MetaEvent) => void;
  end: (err?: unknown) => void;
}

/** An apiserver in memory: objects per `kind/namespace`, one global revision counter. */
class FakeApiserver implements MetaListWatch {
  rev = 100;
  readonly objects = new Map<string, Map<string, string>>();
  readonly lists: string[] = [];
  readonly watches: OpenWatch[] = [];
  listError: unknown;

  #bucket(key: string) {
    let m = this.objects.get(key);
    if (!m) {
      m = new Map();
      this.objects.set(key, m);
    }
    return m;
  }

  put(kind: SourceKind, ns: string, name: string): string {
    const key = `${kind}/${ns}`;
    const rv = String(++this.rev);
    const had = this.#bucket(key).has(name);
    this.#bucket(key).set(name, rv);
    this.#emit(key, { type: had ? 'MODIFIED' : 'ADDED', name, resourceVersion: rv });
    return rv;
  }

  remove(kind: SourceKind, ns: string, name: string): void {
    const key = `${kind}/${ns}`;
    this.#bucket(key).delete(name);
    this.#emit(key, { type: 'DELETED', name, resourceVersion: String(++this.rev) });
  }

  #emit(key: string, e: MetaEvent): void {
    for (const w of this.open(key)) w.onEvent(e);
  }

  open(key?: string): OpenWatch[] {
    return this.watches.filter((w) => (key === undefined || w.key === key) && !this.ended.has(w));
  }

  readonly ended = new Set<OpenWatch>();

  async list(kind: SourceKind, namespace: string) {
    const key = `${kind}/${namespace}`;
    this.lists.push(key);
    if (this.listError) throw this.listError;
    return { resourceVersion: String(this.rev), items: new Map(this.#bucket(key)) };
  }

  watch(
    kind: SourceKind,
    namespace: string,
    from: string | undefined,
    onEvent: (e: MetaEvent) => void,
    signal: AbortSignal,
  ): Promise<void> {
    return new Promise((resolve, reject) => {
      const w: OpenWatch = {
        key: `${kind}/${namespace}`,
        from,
        // As a real watch: an exception in the handler ends the watch with it.
        onEvent: (e) => {
          try {
            onEvent(e);
          } catch (err) {
            w.end(err);
          }
        },
        end: (err) => {
          this.ended.add(w);
          if (err) reject(err);
          else resolve();
        },
      };
      signal.addEventListener('abort', () => w.end(), { once: true });
      this.watches.push(w);
    });
  }
}

const IDLE = 180_000;
const stops: AbortController[] = [];
afterEach(() => {
  for (const s of stops.splice(0)) s.abort();
});

function setup(opts: { running?: boolean } = {}) {
  const api = new FakeApiserver();
  const clock = new FakeClock();
  const cache = new SourceVersionCache({ listWatch: api, clock, logger: silentLogger(), idleMs: IDLE });
  const stop = new AbortController();
  stops.push(stop);
  const done = opts.running === false ? Promise.resolve() : cache.run(stop.signal);
  return { api, clock, cache, stop, done };
}

describe('SourceVersionCache', () => {
  it('answers every pod of a namespace from one list and one watch per kind', async () => {
    const { api, cache } = setup();
    const rv = api.put('configmaps', 'a', 'cfg');
    for (let pod = 0; pod < 100; pod++) {
      const v = await cache.versions('configmaps', 'a');
      expect(v?.get('cfg')).toBe(rv);
    }
    await cache.versions('secrets', 'a');
    await cache.versions('configmaps', 'b');
    await flushMicrotasks();
    expect(api.lists).toEqual(['configmaps/a', 'secrets/a', 'configmaps/b']);
    expect(api.watches.map((w) => w.key)).toEqual(['configmaps/a', 'secrets/a', 'configmaps/b']);
    expect(cache.watched().sort()).toEqual(['configmaps/a', 'configmaps/b', 'secrets/a']);
  });

  it('sees an edit, a new object and a deletion through the watch, without asking again', async () => {
    const { api, cache } = setup();
    api.put('secrets', 'a', 's1');
    await cache.versions('secrets', 'a');
    await flushMicrotasks();
    const edited = api.put('secrets', 'a', 's1');
    const added = api.put('secrets', 'a', 's2');
    api.remove('secrets', 'a', 's1');
    const v = await cache.versions('secrets', 'a');
    expect(v?.get('s1')).toBeUndefined();
    expect(v?.get('s2')).toBe(added);
    expect(Number(edited)).toBeLessThan(Number(added));
    expect(api.lists).toHaveLength(1);
  });

  it('resumes a watch that ended quietly from its last version, without a relist', async () => {
    const { api, cache } = setup();
    api.put('configmaps', 'a', 'cfg');
    await cache.versions('configmaps', 'a');
    await flushMicrotasks();
    const rv = api.put('configmaps', 'a', 'cfg');
    api.open()[0]!.end();
    await flushMicrotasks();
    expect(api.watches).toHaveLength(2);
    expect(api.watches[1]!.from).toBe(rv);
    expect(api.lists).toHaveLength(1);
    expect((await cache.versions('configmaps', 'a'))?.get('cfg')).toBe(rv);
  });

  it('relists at once when the watch says 410 (version too old)', async () => {
    const { api, cache } = setup();
    await cache.versions('configmaps', 'a');
    await flushMicrotasks();
    api.open()[0]!.onEvent({ type: 'ERROR', code: 410, message: 'too old' });
    await flushMicrotasks();
    expect(api.lists).toHaveLength(2);
    expect(await cache.versions('configmaps', 'a')).toBeDefined();
  });

  it('cannot answer while its watch is broken (the caller GETs); relists after the backoff', async () => {
    const { api, cache, clock } = setup();
    api.put('configmaps', 'a', 'cfg');
    await cache.versions('configmaps', 'a');
    await flushMicrotasks();
    api.open()[0]!.end(new KubeApiError(500, 'boom'));
    await flushMicrotasks();
    // An edit made while no watch runs must not be missed: no stale answer meanwhile.
    const rv = api.put('configmaps', 'a', 'cfg');
    const during = cache.versions('configmaps', 'a');
    expect(await during).toBeUndefined();
    await clock.advance(1_000);
    expect(api.lists).toHaveLength(2);
    expect((await cache.versions('configmaps', 'a'))?.get('cfg')).toBe(rv);
  });

  it('a forbidden list (no list/watch RBAC) answers undefined and is tried again only much later', async () => {
    const { api, cache, clock } = setup();
    api.listError = new KubeApiError(403, 'forbidden');
    expect(await cache.versions('secrets', 'a')).toBeUndefined();
    api.listError = undefined;
    // A pod asks every minute (the resync period): no list for 10 min, answered by GETs.
    for (let minute = 1; minute < 10; minute++) {
      await clock.advance(60_000);
      expect(await cache.versions('secrets', 'a')).toBeUndefined();
    }
    expect(api.lists).toHaveLength(1);
    await clock.advance(60_000);
    expect(await cache.versions('secrets', 'a')).toBeDefined();
    expect(api.lists).toHaveLength(2);
  });

  it('stops the watches of a namespace no pod asked about for idleMs; starts again on demand', async () => {
    const { api, cache, clock } = setup();
    await cache.versions('configmaps', 'a');
    await cache.versions('configmaps', 'b');
    await flushMicrotasks();
    await clock.advance(IDLE / 2);
    await cache.versions('configmaps', 'b');
    await clock.advance(IDLE / 2);
    expect(cache.watched()).toEqual(['configmaps/b']);
    expect(api.open().map((w) => w.key)).toEqual(['configmaps/b']);
    await cache.versions('configmaps', 'a');
    expect(api.lists).toEqual(['configmaps/a', 'configmaps/b', 'configmaps/a']);
  });

  it('answers undefined before run() and after its signal aborted, and then holds no watch', async () => {
    const idle = setup({ running: false });
    expect(await idle.cache.versions('configmaps', 'a')).toBeUndefined();
    expect(idle.api.lists).toEqual([]);
    const { api, cache, stop, done } = setup();
    await cache.versions('configmaps', 'a');
    await flushMicrotasks();
    stop.abort();
    await done;
    expect(api.open()).toEqual([]);
    expect(cache.watched()).toEqual([]);
    expect(await cache.versions('configmaps', 'a')).toBeUndefined();
  });
});

describe('PodResolver.volumeSourceVersions with the cache', () => {
  // A kubeconfig whose server refuses connections: any GET would throw.
  const kc = new KubeConnection({
    context: 'x',
    server: 'http://127.0.0.1:1',
    tls: { insecure: false },
    auth: {},
    clusterInfo: {},
  });
  const pod = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'p', namespace: 'a', uid: 'u1' },
    spec: {
      containers: [
        {
          name: 'c',
          image: 'i',
          env: [{ name: 'E', valueFrom: { secretKeyRef: { name: 'env-only', key: 'k' } } }],
        },
      ],
      volumes: [
        { name: 'v1', configMap: { name: 'cfg' } },
        {
          name: 'v2',
          projected: {
            sources: [{ secret: { name: 'tls' } }, { configMap: { name: 'gone', optional: true } }],
          },
        },
      ],
    },
  } as KPod;

  it('builds the same version string from watched versions, with no GET', async () => {
    const { api, cache, clock } = setup();
    const cfg = api.put('configmaps', 'a', 'cfg');
    const tls = api.put('secrets', 'a', 'tls');
    api.put('secrets', 'a', 'env-only');
    const resolver = new PodResolver({
      kubeConfig: kc,
      clock,
      ctx: { nodeName: 'n', nodeAllocatable: { cpu: '1', memory: '1Gi' } },
      tokenSeconds: 3600,
      sourceVersions: cache,
    });
    expect(await resolver.volumeSourceVersions(pod)).toBe(
      `configmap/cfg@${cfg},configmap/gone@-,secret/tls@${tls}`,
    );
    // An env-only source is not a volume: its edits need no resync.
    api.put('secrets', 'a', 'env-only');
    expect(await resolver.volumeSourceVersions(pod)).toBe(
      `configmap/cfg@${cfg},configmap/gone@-,secret/tls@${tls}`,
    );
    const edited = api.put('configmaps', 'a', 'cfg');
    expect(await resolver.volumeSourceVersions(pod)).toBe(
      `configmap/cfg@${edited},configmap/gone@-,secret/tls@${tls}`,
    );
  });

  it('falls back to GETs when the cache cannot answer', async () => {
    const { api, cache, clock } = setup();
    api.listError = new KubeApiError(403, 'forbidden');
    const resolver = new PodResolver({
      kubeConfig: kc,
      clock,
      ctx: { nodeName: 'n', nodeAllocatable: { cpu: '1', memory: '1Gi' } },
      tokenSeconds: 3600,
      sourceVersions: cache,
    });
    // The GET goes to the refusing server: the fallback was taken.
    await expect(resolver.volumeSourceVersions(pod)).rejects.toThrow();
  });
});
