/**
 * Redraw the SVG chart of runs from their raw samples (after a change to the chart, or to
 * compare):
 *
 *   node bench/render.ts bench/results/2026-12-04-1000.json [...]
 *
 * For each summary `<base>.json`, reads `<base>.raw.json.gz` beside it (both validated
 * against their schemas) and rewrites `<base>.svg`.
 */
import { existsSync, writeFileSync } from 'node:fs';
import { chartOfResult, RAW_SUFFIX, readRaw, readSummary, SUMMARY_SUFFIX } from './lib/result.ts';

const files = process.argv.slice(2);
if (files.length === 0) {
  process.stderr.write('usage: node bench/render.ts <summary.json>...\n');
  process.exit(2);
}
for (const file of files) {
  if (!file.endsWith(SUMMARY_SUFFIX) || file.endsWith(RAW_SUFFIX)) {
    process.stderr.write(`${file}: give the summary, <base>${SUMMARY_SUFFIX}\n`);
    process.exitCode = 1;
    continue;
  }
  const base = file.slice(0, -SUMMARY_SUFFIX.length);
  const rawFile = base + RAW_SUFFIX;
  if (!existsSync(rawFile)) {
    process.stderr.write(
      `${file}: no raw samples beside it (${rawFile}); only the run that wrote them has them\n`,
    );
    process.exitCode = 1;
    continue;
  }
  try {
    const svg = `${base}.svg`;
    writeFileSync(svg, chartOfResult(readSummary(file), readRaw(rawFile).timeline.samples));
    process.stdout.write(`${svg}\n`);
  } catch (err) {
    process.stderr.write(`${file}: ${(err as Error).message}\n`);
    process.exitCode = 1;
  }
}
