/**
 * Vitest globalSetup for the tracing suites (`test/e2e/tracing*.test.ts`): Jaeger all-in-one
 * (v2, an OpenTelemetry collector distribution: a real OTLP/HTTP receiver, in-memory trace
 * storage and the query HTTP API), built once from the Go module proxy by
 * scripts/jaeger/build.sh (cached under ~/.cache/interlink), started on free loopback ports
 * with a generated configuration, and stopped after the run.
 *
 * Provides `otlpEndpoint` (the value of OTEL_EXPORTER_OTLP_ENDPOINT for the processes under
 * test) and `jaegerQuery` (base URL of the query API: `/api/traces?service=...`). Started
 * only when a file of the run needs it (components.ts), so other e2e runs never build it.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import type { TestProject } from 'vitest/node';
import { freePort } from '../vk/pods-harness.ts';
import { acquire, runNeeds, type Starter, timing } from './components.ts';
import { starters } from './starters.ts';

const run = promisify(execFile);
const script = join(import.meta.dirname, '..', '..', 'scripts', 'jaeger', 'build.sh');

export interface Jaeger {
  otlpEndpoint: string;
  queryUrl: string;
  proc: ChildProcess;
  dir: string;
  output: string[];
}

/** The all-in-one configuration, trimmed to OTLP/HTTP in, memory storage, query API out. */
export function jaegerConfig(ports: { otlp: number; query: number; queryGrpc: number }): string {
  return `service:
  extensions: [jaeger_storage, jaeger_query]
  pipelines:
    traces:
      receivers: [otlp]
      processors: [batch]
      exporters: [jaeger_storage_exporter]
  telemetry:
    metrics:
      level: none
    logs:
      level: warn
extensions:
  jaeger_query:
    storage:
      traces: memstore
    http:
      endpoint: 127.0.0.1:${ports.query}
    grpc:
      endpoint: 127.0.0.1:${ports.queryGrpc}
  jaeger_storage:
    backends:
      memstore:
        memory:
          max_traces: 100000
receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:${ports.otlp}
processors:
  batch:
    timeout: 200ms
exporters:
  jaeger_storage_exporter:
    trace_storage: memstore
`;
}

async function build(): Promise<string> {
  try {
    const { stdout } = await run('bash', [script], {
      env: process.env,
      maxBuffer: 16 * 1024 * 1024,
      timeout: 90 * 60_000,
    });
    return stdout.trim().split('\n').at(-1) ?? '';
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`scripts/jaeger/build.sh failed: ${e.message}\n${e.stderr?.slice(-4000) ?? ''}`);
  }
}

export const jaegerStarter: Starter<Jaeger> = {
  async start() {
    const bin = await build();
    timing('jaeger: binary ready');
    const dir = await mkdtemp(join(tmpdir(), 'interlink-jaeger-'));
    const ports = { otlp: await freePort(), query: await freePort(), queryGrpc: await freePort() };
    await writeFile(join(dir, 'config.yaml'), jaegerConfig(ports));
    const proc = spawn(bin, ['--config', join(dir, 'config.yaml')], { stdio: ['ignore', 'pipe', 'pipe'] });
    const output: string[] = [];
    const keep = (b: Buffer) => output.push(...String(b).split('\n').filter(Boolean));
    proc.stdout!.on('data', keep);
    proc.stderr!.on('data', keep);
    const j: Jaeger = {
      otlpEndpoint: `http://127.0.0.1:${ports.otlp}`,
      queryUrl: `http://127.0.0.1:${ports.query}`,
      proc,
      dir,
      output,
    };
    // Ready when the query API answers and the OTLP receiver accepts an (empty) export.
    for (let i = 0; ; i++) {
      if (proc.exitCode !== null || proc.signalCode !== null)
        throw new Error(`jaeger exited ${proc.exitCode}:\n${output.join('\n')}`);
      const ok = await Promise.all([
        fetch(`${j.queryUrl}/api/services`).then((r) => r.ok),
        fetch(`${j.otlpEndpoint}/v1/traces`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: '{"resourceSpans":[]}',
        }).then((r) => r.ok),
      ]).then(
        (all) => all.every(Boolean),
        () => false,
      );
      if (ok) return j;
      if (i > 600) {
        proc.kill('SIGKILL');
        throw new Error(`jaeger did not answer within 60 s:\n${output.join('\n')}`);
      }
      await sleep(100);
    }
  },
  async stop(j) {
    if (j.proc.exitCode === null && j.proc.signalCode === null) {
      const exited = new Promise((r) => j.proc.once('exit', r));
      j.proc.kill('SIGTERM');
      await exited;
    }
    await rm(j.dir, { recursive: true, force: true });
  },
};

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  if (!runNeeds(project, 'jaeger')) return async () => {};
  const { value, release } = await acquire<Jaeger>(project, 'jaeger', starters());
  project.provide('otlpEndpoint', value.otlpEndpoint);
  project.provide('jaegerQuery', value.queryUrl);
  return release;
}
