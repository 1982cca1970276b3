/**
 * Re-render the SVG chart of result files (after a change to the chart, or to compare):
 *
 *   node bench/render.ts bench/results/2026-11-28-1000.json [...]
 *
 * Each `<name>.json` is validated against the result schema and `<name>.svg` rewritten.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { BenchResult, chartOfResult } from './lib/result.ts';

const files = process.argv.slice(2);
if (files.length === 0) {
  process.stderr.write('usage: node bench/render.ts <result.json>...\n');
  process.exit(2);
}
for (const file of files) {
  const parsed = BenchResult.safeParse(JSON.parse(readFileSync(file, 'utf8')));
  if (!parsed.success) {
    const first = parsed.error.issues[0];
    process.stderr.write(`${file}: not a benchmark result (${first?.path.join('.')}: ${first?.message})\n`);
    process.exitCode = 1;
    continue;
  }
  const svg = file.replace(/\.json$/, '.svg');
  writeFileSync(svg, chartOfResult(parsed.data));
  process.stdout.write(`${svg}\n`);
}
