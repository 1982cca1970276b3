/**
 * Vitest global setup: starts the real components the suites share (kube-apiserver and
 * friends, dockerd, Slurm) once per run. Each component has a module
 * `test/support/<name>.setup.ts` exporting `setup(project)` that starts it, hands its
 * coordinates to tests with `project.provide(...)` and returns a teardown. A component
 * that fails to start fails the run: no suite skips itself for want of a component.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';

type Teardown = () => Promise<void> | void;
interface SetupModule {
  setup(project: TestProject): Promise<Teardown | undefined>;
}

export default async function setup(project: TestProject): Promise<Teardown> {
  const dir = join(import.meta.dirname, 'support');
  const files = readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isFile() && e.name.endsWith('.setup.ts'))
    .map((e) => e.name)
    .sort();
  const teardowns: Teardown[] = [];
  try {
    // Sequential on purpose: on 2 cores starting everything at once only makes each start slower.
    for (const file of files) {
      const mod = (await import(join(dir, file))) as SetupModule;
      const td = await mod.setup(project);
      if (td) teardowns.push(td);
    }
  } catch (err) {
    for (const td of teardowns.reverse()) await td();
    throw err;
  }
  return async () => {
    for (const td of teardowns.reverse()) {
      try {
        await td();
      } catch (err) {
        console.error('teardown failed', err);
      }
    }
  };
}
