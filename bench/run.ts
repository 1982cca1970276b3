/**
 * `npm run bench -- --pods N [--plugin mock|docker|slurm] [--concurrency C] [--job] ...`:
 * pods through the whole chain (control plane → VK → interLink API → plugin), measured.
 * Prints a report and writes to bench/results/ (or `--out`) `<date>-<N>.json`, the summary
 * to commit, `<date>-<N>.raw.json.gz`, the raw samples (git-ignored), and `<date>-<N>.svg`,
 * the chart (schemas: bench/lib/result.ts). `--help` lists the options (bench/lib/options.ts).
 *
 * Exit codes: 0 complete run, 1 incomplete run (timeout, failure; the JSON says which),
 * 2 usage error.
 */
import { runBench } from './lib/bench.ts';
import { parseBenchArgs, USAGE, UsageError } from './lib/options.ts';
import { renderReport } from './lib/report.ts';

const log = (line: string) => process.stderr.write(`[bench] ${line}\n`);

let opts: ReturnType<typeof parseBenchArgs>;
try {
  opts = parseBenchArgs(process.argv.slice(2));
} catch (err) {
  if (!(err instanceof UsageError)) throw err;
  process.stderr.write(`bench: ${err.message}\n\n${USAGE}`);
  process.exit(2);
}
if (opts.help) {
  process.stdout.write(USAGE);
  process.exit(0);
}

const ctl = new AbortController();
let signals = 0;
const onSignal = (sig: NodeJS.Signals) => {
  // First signal: stop measuring and clean up; a second one: leave now (children die with us).
  if (++signals > 1) process.exit(130);
  log(`${sig}: stopping and cleaning up (again to quit at once)`);
  ctl.abort();
};
process.on('SIGINT', onSignal);
process.on('SIGTERM', onSignal);

const { result } = await runBench(opts, { log, signal: ctl.signal });
process.stdout.write(`${renderReport(result)}\n`);
process.exitCode = result.outcome.complete && (result.baseline?.outcome.complete ?? true) ? 0 : 1;
// A watch or keep-alive socket still closing must not hold a finished run.
setTimeout(() => process.exit(process.exitCode), 2_000).unref();
