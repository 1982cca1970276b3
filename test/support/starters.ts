/**
 * Every component's starter, so that whichever setup runs first can start them all
 * (components.ts). A function: the setup modules import this one and it imports them.
 */
import type { ComponentName, Starter } from './components.ts';
import { dockerStarter } from './docker.setup.ts';
import { jaegerStarter } from './jaeger.setup.ts';
import { k8sStarter } from './k8s.setup.ts';
import { slurmStarter } from './slurm.setup.ts';

export const starters = (): Record<ComponentName, Starter<unknown>> => ({
  k8s: k8sStarter as Starter<unknown>,
  docker: dockerStarter as Starter<unknown>,
  slurm: slurmStarter as Starter<unknown>,
  jaeger: jaegerStarter as Starter<unknown>,
});
