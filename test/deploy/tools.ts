/**
 * Helpers of the deploy tests: the helm binary (built once by scripts/helm/build.sh, like
 * the control-plane binaries), rendering the chart, and running commands without a shell.
 */
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parseAllDocuments, stringify as stringifyYaml } from 'yaml';

export const ROOT = join(import.meta.dirname, '..', '..');
export const CHART = join(ROOT, 'deploy', 'helm', 'interlink');

const execFileP = promisify(execFile);

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Run a program with an argument array (no shell); never rejects on a non-zero exit. */
export function run(
  cmd: string,
  args: string[],
  opts: { input?: string; env?: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number } = {},
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      cwd: opts.cwd ?? ROOT,
      env: opts.env ?? process.env,
      stdio: ['pipe', 'pipe', 'pipe'],
      timeout: opts.timeoutMs ?? 120_000,
      killSignal: 'SIGKILL',
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    child.once('error', reject);
    child.once('close', (code) =>
      resolve({
        code,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
      }),
    );
    child.stdin.on('error', () => {});
    child.stdin.end(opts.input ?? '');
  });
}

let helmPath: Promise<string> | undefined;

/** Path of the helm binary; builds it on first use (a minute or two, cached afterwards). */
export function helmBinary(): Promise<string> {
  helmPath ??= execFileP('bash', [join(ROOT, 'scripts', 'helm', 'build.sh')], {
    maxBuffer: 16 * 1024 * 1024,
    timeout: 15 * 60_000,
  })
    .then(({ stdout }) => stdout.trim().split('\n').at(-1)!)
    .catch((err: { message: string; stderr?: string }) => {
      throw new Error(`scripts/helm/build.sh failed: ${err.message}\n${err.stderr ?? ''}`);
    });
  return helmPath;
}

/**
 * `helm template` of the chart with these values (nested, as in values.yaml: written to a
 * values file, so types survive); throws with helm's message when rendering fails.
 */
export async function renderChart(
  values: Manifest,
  opts: { namespace?: string; release?: string } = {},
): Promise<string> {
  const helm = await helmBinary();
  const dir = await mkdtemp(join(tmpdir(), 'interlink-chart-'));
  try {
    const file = join(dir, 'values.yaml');
    await writeFile(file, stringifyYaml(values));
    const r = await run(helm, [
      'template',
      opts.release ?? 't',
      CHART,
      '--namespace',
      opts.namespace ?? 'default',
      '-f',
      file,
    ]);
    if (r.code !== 0) throw new Error(`helm template failed: ${r.stderr}`);
    return r.stdout;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

// biome-ignore lint/suspicious/noExplicitAny: manifests are read field by field
export type Manifest = Record<string, any>;

/** Kubernetes reads YAML 1.1 (`0644` is octal, `yes` is true): parse it the same way. */
export function parseManifests(text: string): Manifest[] {
  return parseAllDocuments(text, { version: '1.1' })
    .map((d) => d.toJS() as Manifest | null)
    .filter((d): d is Manifest => d !== null && typeof d === 'object');
}
