/**
 * Convert results of schema 1 (`interlink-bench/1`: figures and the whole timeline in one
 * file) to schema 2 in place: `<base>.json` becomes the summary, the timeline goes to
 * `<base>.raw.json.gz` (git-ignored) and `<base>.svg` is redrawn from it.
 *
 *   node bench/migrate-v1.ts bench/results/old-run.json [...]
 */
import { readFileSync } from 'node:fs';
import { BenchResultV1, RAW_SUFFIX, SUMMARY_SUFFIX, splitV1, writeRun } from './lib/result.ts';

const files = process.argv.slice(2);
if (files.length === 0) {
  process.stderr.write('usage: node bench/migrate-v1.ts <result.json>...\n');
  process.exit(2);
}
for (const file of files) {
  const parsed = BenchResultV1.safeParse(JSON.parse(readFileSync(file, 'utf8')));
  if (!parsed.success) {
    const first = parsed.error.issues[0];
    process.stderr.write(`${file}: not a schema-1 result (${first?.path.join('.')}: ${first?.message})\n`);
    process.exitCode = 1;
    continue;
  }
  const base = file.slice(0, -SUMMARY_SUFFIX.length);
  const { summary, raw } = splitV1(parsed.data);
  writeRun({ json: file, raw: base + RAW_SUFFIX, svg: `${base}.svg` }, summary, raw);
  process.stdout.write(`${file}\n`);
}
