/**
 * `npm run bench:check [-- --write-baseline] [--kubeconfig FILE | --reuse-cluster]`: the
 * quick benchmark CI runs after the tests. 100 pods on the mock plugin through the whole
 * chain (a control plane of src/devcluster, started and stopped here, unless told to use
 * one → VK → interLink API → plugin), its figures printed beside bench/baseline.json;
 * fails when one is worse than twice its baseline (and than the baseline plus a slack:
 * bench/lib/baseline.ts). About 40 s on the 2-core machine.
 *
 * The run's files go to a temp dir, kept and named when the check fails.
 * `--write-baseline` replaces bench/baseline.json with this run's figures (commit it with
 * the change that moved them, and say why).
 *
 * Exit codes: 0 pass, 1 a figure is worse or the run was incomplete, 2 usage error.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Baseline, baselineOf, compareToBaseline, renderVerdicts } from './lib/baseline.ts';
import { REPO_ROOT, runBench } from './lib/bench.ts';
import { parseBenchArgs } from './lib/options.ts';
import { renderReport } from './lib/report.ts';

const PODS = 100;
const BASELINE = join(REPO_ROOT, 'bench', 'baseline.json');
const log = (line: string) => process.stderr.write(`[bench:check] ${line}\n`);

let values: { 'write-baseline'?: boolean; kubeconfig?: string; 'reuse-cluster'?: boolean };
try {
  ({ values } = parseArgs({
    args: process.argv.slice(2),
    options: {
      'write-baseline': { type: 'boolean' },
      kubeconfig: { type: 'string' },
      'reuse-cluster': { type: 'boolean' },
    },
  }));
} catch (err) {
  process.stderr.write(
    `bench:check: ${(err as Error).message}\nusage: npm run bench:check [-- --write-baseline] [--kubeconfig FILE | --reuse-cluster]\n`,
  );
  process.exit(2);
}

const baseline = values['write-baseline']
  ? undefined
  : Baseline.parse(JSON.parse(readFileSync(BASELINE, 'utf8')));
const out = mkdtempSync(join(tmpdir(), 'interlink-bench-check-'));
const opts = parseBenchArgs([
  '--pods',
  String(PODS),
  '--progress',
  '0',
  '--out',
  out,
  ...(values.kubeconfig ? ['--kubeconfig', values.kubeconfig] : []),
  ...(values['reuse-cluster'] ? ['--reuse-cluster'] : []),
]);

const ctl = new AbortController();
process.once('SIGINT', () => ctl.abort());
process.once('SIGTERM', () => ctl.abort());

const startedAt = Date.now();
const { result } = await runBench(opts, { log, signal: ctl.signal });
const took = Math.round((Date.now() - startedAt) / 1000);
process.stdout.write(`${renderReport(result)}\n\n`);

if (!baseline) {
  if (!result.outcome.complete) {
    log(`the run was incomplete, no baseline written: ${result.outcome.error}; files in ${out}`);
    process.exitCode = 1;
  } else {
    writeFileSync(BASELINE, `${JSON.stringify(baselineOf(result), null, 2)}\n`);
    log(`wrote ${BASELINE} (${took} s)`);
    rmSync(out, { recursive: true, force: true });
  }
} else {
  const { verdicts, failures } = compareToBaseline(result, baseline);
  process.stdout.write(
    `bench:check, ${PODS} pods on the mock plugin, against bench/baseline.json (${baseline.measuredAt.slice(0, 10)}, ${baseline.machine}):\n` +
      `${renderVerdicts(verdicts)}\n`,
  );
  if (failures.length > 0) {
    process.stdout.write(
      `bench:check FAILED after ${took} s:\n${failures.map((f) => `  - ${f}`).join('\n')}\n`,
    );
    process.stdout.write(`the run's files (summary, raw samples, chart) are in ${out}\n`);
    process.exitCode = 1;
  } else {
    process.stdout.write(`bench:check passed in ${took} s\n`);
    rmSync(out, { recursive: true, force: true });
  }
}
// A watch or keep-alive socket still closing must not hold a finished run.
setTimeout(() => process.exit(process.exitCode), 2_000).unref();
