/**
 * The real components of the test run (control plane, dockerd, Slurm), each started once
 * per `vitest run` and shared by the projects whose globalSetup needs it.
 *
 * Vitest runs every project's globalSetup one after another, so a run that needs all three
 * would start them in sequence (minutes on a 2-core machine). Instead the first setup that
 * runs starts every component the run's test files need (by the same file-name rule as
 * vitest.config.ts) at once, and each setup then waits only for its own. A component no
 * file of the run needs is never started.
 *
 * Slots live on globalThis (each project may load this module separately). Teardown is
 * reference-counted: when the last setup of the run releases its component, every
 * component this run started is stopped (also one started ahead that no setup acquired).
 *
 * Each component's start and ready times are written to stderr (`[setup] ...`) and, when
 * INTERLINK_SETUP_TIMES names a file, appended to it (.ci/run prints it among its phases).
 */
import { appendFileSync } from 'node:fs';
import type { TestProject } from 'vitest/node';

export type ComponentName = 'k8s' | 'docker' | 'slurm' | 'jaeger';

interface Slot {
  users: number;
  value: Promise<unknown>;
  stop: (value: unknown) => Promise<void>;
}

interface Registry {
  t0: number;
  slots: Map<ComponentName, Slot>;
  starters: Map<ComponentName, Starter<unknown>>;
}

export interface Starter<T> {
  start(): Promise<T>;
  /** Undo what start did (may decide to leave a component it found running). */
  stop(value: T): Promise<void>;
}

const key = Symbol.for('interlink.test.components');
const slot = globalThis as unknown as Record<symbol, Registry | undefined>;
const registry = (): Registry => {
  slot[key] ??= { t0: performance.now(), slots: new Map(), starters: new Map() };
  return slot[key];
};

/**
 * Which components a test file needs: the include patterns of vitest.config.ts, plus a
 * trace receiver (Jaeger) for the e2e files named `tracing*.test.ts`.
 */
export function componentsFor(file: string): ComponentName[] {
  const f = file.replaceAll('\\', '/');
  if (/\/test\/e2e\/tracing[^/]*\.test\.ts$/.test(f)) return ['k8s', 'docker', 'slurm', 'jaeger'];
  if (/\/test\/e2e\//.test(f)) return ['k8s', 'docker', 'slurm'];
  if (f.endsWith('.k8s.test.ts')) return ['k8s'];
  if (f.endsWith('.docker.test.ts')) return ['docker'];
  if (f.endsWith('.slurm.test.ts')) return ['docker', 'slurm'];
  return [];
}

/** The components the files of this run need; undefined when vitest does not tell. */
function neededByRun(project: TestProject): Set<ComponentName> | undefined {
  const state = (project.vitest as unknown as { state?: { getPaths?: () => string[] } }).state;
  const paths = state?.getPaths?.();
  if (!paths) return undefined;
  return new Set(paths.flatMap(componentsFor));
}

/**
 * Whether this run needs `name`: some file of it does, or vitest does not tell which files
 * run (then every component of the project is started).
 */
export function runNeeds(project: TestProject, name: ComponentName): boolean {
  return neededByRun(project)?.has(name) ?? true;
}

export function timing(line: string): void {
  const at = ((performance.now() - registry().t0) / 1000).toFixed(1);
  const text = `[setup +${at}s] ${line}`;
  process.stderr.write(`${text}\n`);
  const file = process.env.INTERLINK_SETUP_TIMES;
  if (file) appendFileSync(file, `${text}\n`);
}

function begin(name: ComponentName): Slot {
  const reg = registry();
  const existing = reg.slots.get(name);
  if (existing) return existing;
  const starter = reg.starters.get(name);
  if (!starter) throw new Error(`no starter for component ${name}`);
  const t = performance.now();
  timing(`${name}: starting`);
  const s: Slot = {
    users: 0,
    value: starter.start().then(
      (v) => {
        timing(`${name}: ready in ${((performance.now() - t) / 1000).toFixed(1)}s`);
        return v;
      },
      (err: unknown) => {
        timing(`${name}: failed after ${((performance.now() - t) / 1000).toFixed(1)}s`);
        // A failed start is not reused by the next project.
        if (reg.slots.get(name) === s) reg.slots.delete(name);
        throw err;
      },
    ),
    stop: starter.stop as (v: unknown) => Promise<void>,
  };
  // Started ahead: nobody may await it before its own setup; keep a failure from being unhandled.
  s.value.catch(() => {});
  reg.slots.set(name, s);
  return s;
}

/**
 * Start every component the run needs at once, and wait for this one. Returns its value
 * and the release function the setup returns as its teardown.
 */
export async function acquire<T>(
  project: TestProject,
  name: ComponentName,
  starters: Record<ComponentName, Starter<unknown>>,
): Promise<{ value: T; release: () => Promise<void> }> {
  const reg = registry();
  for (const n of Object.keys(starters) as ComponentName[])
    if (!reg.starters.has(n)) reg.starters.set(n, starters[n]);
  const needed = neededByRun(project);
  if (needed) for (const n of needed) begin(n);
  const s = begin(name);
  s.users++;
  let value: T;
  try {
    value = (await s.value) as T;
  } catch (err) {
    s.users--;
    throw err;
  }
  let released = false;
  return {
    value,
    release: async () => {
      if (released) return;
      released = true;
      s.users--;
      if ([...reg.slots.values()].some((x) => x.users > 0)) return;
      const all = [...reg.slots.entries()];
      reg.slots.clear();
      for (const [n, x] of all) {
        const v = await x.value.catch(() => undefined);
        if (v !== undefined) {
          await x.stop(v);
          timing(`${n}: torn down`);
        }
      }
    },
  };
}
