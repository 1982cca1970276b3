/** The dependencies of the slurm plugin's operations (one object, passed first). */
import type { Clock } from '../../core/clock.ts';
import type { SlurmConfig } from './config.ts';
import type { JobDir } from './jobdir.ts';
import type { SlurmCli } from './slurm-cli.ts';

/** What the slurm plugin's operations share; built once by createSlurmPlugin. */
export interface SlurmDeps {
  cfg: SlurmConfig;
  cli: SlurmCli;
  clock: Clock;
  /** ms epoch. */
  now: () => number;
  /** Delay between polls of Slurm while deleting. */
  pollMs: number;
  dirOf(namespace: string, uid: string): JobDir;
}
