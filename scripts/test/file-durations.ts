/**
 * Writes test/support/file-durations.json from a whole run's vitest JSON report
 * (`.vitest-report.json`, written by `npm test`): how long each test file took, in whole
 * seconds, for the files that took 5 s or more. test/support/sequencer.ts starts the longest
 * files first from it. Rerun after adding or changing a long test file:
 *
 *   node scripts/test/file-durations.ts [report.json]
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

const ROOT = join(import.meta.dirname, '..', '..');
// The report names files by absolute path in the checkout that ran: the report's own folder.
const file = resolve(process.argv[2] ?? join(ROOT, '.vitest-report.json'));
const report = JSON.parse(readFileSync(file, 'utf8')) as {
  testResults: { name: string; startTime: number; endTime: number }[];
};
const durations = Object.fromEntries(
  report.testResults
    .map((r) => [relative(dirname(file), r.name), Math.round((r.endTime - r.startTime) / 1000)] as const)
    .filter(([, s]) => s >= 5)
    .sort(([a], [b]) => (a < b ? -1 : 1)),
);
writeFileSync(join(ROOT, 'test/support/file-durations.json'), `${JSON.stringify(durations, null, 2)}\n`);
console.log(`${Object.keys(durations).length} files of 5 s or more`);
