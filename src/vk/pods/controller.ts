/** Placeholder while the pod controller is being written (contract only). */
import { type Controller, controllerShell, type PodLister, type VkDeps } from '../types.ts';

export type PodControllerDeps = Omit<VkDeps, 'pods'>;

export interface PodController extends Controller {
  /** The informer cache, for the node side and the kubelet API. */
  readonly lister: PodLister;
}

export function createPodController(_deps: PodControllerDeps): PodController {
  const shell = controllerShell(async (signal, markReady) => {
    markReady();
    await new Promise((r) => signal.addEventListener('abort', r, { once: true }));
  });
  return Object.assign(shell, { lister: { list: () => [], get: () => undefined } });
}
