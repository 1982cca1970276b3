/**
 * The order test files start in: longest first, across all projects (longest-processing-time
 * scheduling). vitest's own sequencer runs the projects one after another (docker, e2e, k8s,
 * slurm, unit), so the long e2e files (first-run, deploy, up-stop: 1.5–3 min each) started
 * together in the middle of the run and the short unit files waited until the end; the
 * workers overlapped long files with each other instead of with short ones.
 *
 * The expected durations come from test/support/file-durations.json (a whole run's report,
 * written by scripts/test/file-durations.ts), so a clean clone in CI, which has no vitest
 * cache, orders the same way; a file missing there counts as its project's typical length.
 */
import { readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

const ROOT = join(import.meta.dirname, '..', '..');
const known = JSON.parse(readFileSync(join(import.meta.dirname, 'file-durations.json'), 'utf8')) as Record<
  string,
  number
>;

/** Seconds a file not in the table is taken to run: below the table's 5 s threshold. */
const typical: Record<string, number> = { e2e: 4, docker: 3, slurm: 3, k8s: 2, unit: 1 };

export function expectedSeconds(file: string, project: string): number {
  return known[file] ?? typical[project] ?? 1;
}

export default class LongestFirstSequencer extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const seconds = (s: TestSpecification) => expectedSeconds(relative(ROOT, s.moduleId), s.project.name);
    // Ties by name, so every run has the same order.
    return [...files].sort(
      (a, b) => seconds(b) - seconds(a) || (a.moduleId < b.moduleId ? -1 : a.moduleId > b.moduleId ? 1 : 0),
    );
  }
}
