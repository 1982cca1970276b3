/**
 * The pod controller's life-cycle shape (STYLE habit 7) with a fake pod source and a
 * fake interLink API: deps validated, `ready` after the first list and the adoption
 * check, workers syncing the keys the source reports, `run`/`done` settling on abort.
 */
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { FakeClock, flushMicrotasks } from '../../../src/core/clock.ts';
import { silentLogger } from '../../../src/core/logger.ts';
import { VkConfigSchema } from '../../../src/vk/config.ts';
import type { PodControllerDeps } from '../../../src/vk/pods/controller.ts';
import {
  createPodController,
  type PodSource,
  type PodSourceHandlers,
} from '../../../src/vk/pods/controller.ts';
import { type KPod, keyOf } from '../../../src/vk/pods/kpod.ts';
import { FakeCache, FakeEvents, FakeInterlink, makePod } from './fakes.ts';

/** A pod source that lists `initial` when run (or never, with `list: false`) and then idles. */
function fakeSource(initial: KPod[], opts: { list?: boolean } = {}) {
  const cache = new FakeCache();
  let handlers!: PodSourceHandlers;
  const source: PodSource = {
    get: (k) => cache.get(k),
    getByName: (ns, name) => cache.get(`${ns}/${name}`),
    list: () => cache.list(),
    upsertIfNewer: (p) => cache.put(p),
    get hasSynced() {
      return opts.list !== false;
    },
    get size() {
      return cache.pods.size;
    },
    async run(signal) {
      if (opts.list !== false) {
        for (const p of initial) {
          cache.put(p);
          handlers.onChange(keyOf(p), 'add', p);
        }
        handlers.onListed?.();
      }
      await new Promise<void>((r) => signal.addEventListener('abort', () => r(), { once: true }));
    },
  };
  return {
    cache,
    factory: (h: PodSourceHandlers) => {
      handlers = h;
      return source;
    },
  };
}

function deps(podSource: PodControllerDeps['podSource']) {
  const interlink = new FakeInterlink();
  const d = {
    config: VkConfigSchema.parse({ nodeName: 'vk-fake', podIp: '10.0.0.1', workers: 2 }),
    kube: {},
    logger: silentLogger(),
    interlink,
    events: new FakeEvents(),
    registry: new Registry(),
    clock: new FakeClock(),
    podSource,
  } as unknown as PodControllerDeps;
  return { d, interlink };
}

describe('pod controller', () => {
  it('validates its dependencies', () => {
    const { d } = deps(fakeSource([]).factory);
    expect(() => createPodController({ ...d, interlink: undefined } as unknown as PodControllerDeps)).toThrow(
      'createPodController: missing dependency "interlink"',
    );
  });

  it('is ready after the first list, syncs what the source reports, and stops on abort', async () => {
    const src = fakeSource([makePod('a'), makePod('b')]);
    const { d, interlink } = deps(src.factory);
    const ctl = createPodController(d);
    const stop = new AbortController();
    const run = ctl.run(stop.signal);
    await ctl.ready;
    // The adoption check asked about both pods, then the workers created them.
    expect(interlink.statusCalls.map((c) => c.length)).toEqual([2]);
    await flushMicrotasks();
    expect(interlink.created.map((c) => c.pod.metadata.name).sort()).toEqual(['a', 'b']);
    expect(ctl.lister.get('ns', 'a')?.metadata?.uid).toBe('uid-a');
    expect(ctl.lister.list()).toHaveLength(2);
    stop.abort();
    await run;
    await ctl.done;
    expect(ctl.err()).toBeUndefined();
  });

  it('stopped before the first list: ready rejects, done resolves', async () => {
    const { d } = deps(fakeSource([], { list: false }).factory);
    const ctl = createPodController(d);
    const stop = new AbortController();
    const run = ctl.run(stop.signal);
    stop.abort();
    await run;
    await expect(ctl.ready).rejects.toThrow('stopped before ready');
    await ctl.done;
  });
});
