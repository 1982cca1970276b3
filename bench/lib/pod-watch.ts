/**
 * A list+watch of the benchmark's pods that survives what a long run meets: the client's
 * 30 s idle timeout (resume from the last resourceVersion), a closed connection (same),
 * and 410 Gone / an ERROR event (relist, then watch again). Events go to `onEvent` with
 * the moment they were received.
 */

import { setTimeout as sleep } from 'node:timers/promises';
import { type CoreV1Api, type KubeConfig, Watch } from '@kubernetes/client-node';
import type { PodView } from './tracker.ts';

export interface PodWatchOptions {
  kc: KubeConfig;
  core: CoreV1Api;
  namespace: string;
  labelSelector: string;
  onEvent: (type: string, pod: PodView) => void;
  /** Called after a relist with the uids the list held. */
  onRelist: (uids: Set<string>) => void;
  log: (line: string) => void;
}

export interface PodWatch {
  /** Resolves after the first list, once the watch request is sent. */
  ready: Promise<void>;
  /** How many times the watch was re-established (diagnostics). */
  restarts(): number;
  stop(): void;
}

export function watchPods(opts: PodWatchOptions): PodWatch {
  const watch = new Watch(opts.kc);
  const path = `/api/v1/namespaces/${opts.namespace}/pods`;
  let stopped = false;
  let current: AbortController | undefined;
  let restarts = 0;
  let rv = '';

  const list = async () => {
    const res = await opts.core.listNamespacedPod({
      namespace: opts.namespace,
      labelSelector: opts.labelSelector,
    });
    const uids = new Set<string>();
    for (const p of res.items) {
      if (p.metadata?.uid) uids.add(p.metadata.uid);
      opts.onEvent('MODIFIED', p as PodView);
    }
    opts.onRelist(uids);
    rv = res.metadata?.resourceVersion ?? '';
  };

  /** One watch request; resolves with whether a relist is needed when it ends. */
  const once = () =>
    new Promise<boolean>((resolve) => {
      let relist = false;
      watch
        .watch(
          path,
          { labelSelector: opts.labelSelector, resourceVersion: rv, allowWatchBookmarks: true },
          (type, obj: { metadata?: { resourceVersion?: string }; code?: number }) => {
            if (type === 'ERROR') {
              // 410 Gone (too old a resourceVersion) and anything else: start over from a list.
              relist = true;
              return;
            }
            if (obj?.metadata?.resourceVersion) rv = obj.metadata.resourceVersion;
            if (type === 'BOOKMARK') return;
            opts.onEvent(type, obj as PodView);
          },
          (err: unknown) => {
            const status = (err as { statusCode?: number } | null)?.statusCode;
            resolve(relist || status === 410);
          },
        )
        .then((ctl) => {
          current = ctl;
          if (stopped) ctl.abort();
        })
        .catch(() => resolve(true));
    });

  const ready = (async () => {
    await list();
  })();

  void (async () => {
    try {
      await ready;
    } catch {
      return; // the caller sees the rejection of `ready`
    }
    while (!stopped) {
      const needRelist = await once();
      if (stopped) break;
      restarts++;
      // A watch ending at once again and again (apiserver down) must not spin.
      await sleep(50);
      if (!needRelist) continue;
      for (;;) {
        try {
          await list();
          break;
        } catch (err) {
          opts.log(`pod watch: relist failed (${(err as Error).message}); retrying`);
          await sleep(500);
          if (stopped) return;
        }
      }
    }
  })();

  return {
    ready,
    restarts: () => restarts,
    stop() {
      stopped = true;
      current?.abort();
    },
  };
}
