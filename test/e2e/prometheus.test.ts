/**
 * Issue #17 items 2–3, acceptance: every query of the Grafana dashboard
 * (deploy/grafana/interlink-dashboard.json) and every alerting rule
 * (deploy/prometheus/interlink-alerts.yaml) returns data from a live chain in a real
 * Prometheus (Debian's `prometheus`, scripts/prometheus/install.sh).
 *
 * The docker chain runs with the API and the plugin on loopback TCP (Prometheus cannot
 * scrape a unix socket) and the VK's metricsPort; Prometheus, started here with a temporary
 * config and storage, scrapes the three every second with the chain's bearer token and
 * loads the alerts file. Pods go create → Running → delete; then every query must answer.
 *
 * Conventions, so that "returns data" means something:
 * - Grafana's `$__rate_interval` becomes `5m` (the whole test fits in it).
 * - An alert `expr` is `<query> <comparison> <number>` (the alerts file says so); the test
 *   runs `<query>`: the condition itself is false on a healthy chain, but the metric it
 *   watches must exist.
 * - A query passes when it returns at least one series with a finite value (a quantile of a
 *   histogram nobody observed would be NaN: not data).
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { parse as parseYaml, stringify as toYaml } from 'yaml';
import {
  type Chain,
  eventually,
  freePort,
  must,
  type Obj,
  ROOT,
  reportOnFailure,
  startChain,
  suffix,
} from './harness.ts';

const execFileP = promisify(execFile);
const id = suffix();
const instance = `e2e-prom-${id}`;
const image = inject('testImage');
const DASHBOARD = join(ROOT, 'deploy/grafana/interlink-dashboard.json');
const REFERENCE = join(ROOT, 'docs/metrics.md');
const ALERTS = join(ROOT, 'deploy/prometheus/interlink-alerts.yaml');
/** Grafana's automatic rate window, fixed for the test. */
const RATE_WINDOW = '5m';

let chain: Chain;
let dataRoot: string;
let promDir: string;
let prom: ChildProcess | undefined;
const promLog: string[] = [];
let promUrl: string;

interface Sample {
  metric: Record<string, string>;
  value: [number, string];
}

/** Every panel target's PromQL, with the panel's title, Grafana variables substituted. */
function dashboardQueries(dashboard: Obj): { what: string; expr: string }[] {
  const out: { what: string; expr: string }[] = [];
  const walk = (panels: Obj[]) => {
    for (const p of panels) {
      for (const t of (p.targets as Obj[] | undefined) ?? [])
        out.push({
          what: `panel "${p.title}" ${t.refId}`,
          expr: String(t.expr).replaceAll('$__rate_interval', RATE_WINDOW),
        });
      walk((p.panels as Obj[] | undefined) ?? []);
    }
  };
  walk(dashboard.panels as Obj[]);
  return out;
}

/** An alert's expression without its final comparison with a number (see the header). */
function withoutCondition(expr: string): string {
  const m = /^([\s\S]*?)\s*(?:==|!=|>=|<=|>|<)\s*-?[0-9.]+(?:e[+-]?\d+)?\s*$/.exec(expr.trim());
  if (!m) throw new Error(`alert expression is not "<query> <comparison> <number>": ${expr}`);
  return m[1]!;
}

function alertQueries(): { what: string; expr: string }[] {
  const doc = parseYaml(readFileSync(ALERTS, 'utf8')) as Obj;
  return (doc.groups as Obj[]).flatMap((g) =>
    (g.rules as Obj[]).map((r) => ({ what: `alert ${r.alert}`, expr: withoutCondition(String(r.expr)) })),
  );
}

async function query(expr: string): Promise<Sample[]> {
  const res = await fetch(`${promUrl}/api/v1/query?${new URLSearchParams({ query: expr })}`);
  const body = (await res.json()) as {
    status: string;
    error?: string;
    data?: { resultType: string; result: Sample[] };
  };
  if (body.status !== 'success') throw new Error(`query failed (${res.status}): ${body.error}: ${expr}`);
  if (body.data!.resultType !== 'vector')
    throw new Error(`expected a vector from ${expr}, got ${body.data!.resultType}`);
  return body.data!.result;
}

const hasData = (samples: Sample[]) => samples.some((s) => Number.isFinite(Number(s.value[1])));

/** Start Prometheus scraping the chain's three processes every second. */
async function startPrometheus(c: Chain): Promise<void> {
  const ports = c.ports!;
  promDir = await mkdtemp(join(tmpdir(), 'interlink-e2e-prometheus-'));
  const auth = { authorization: { type: 'Bearer', credentials_file: join(c.dir, 'vk-token') } };
  const config = {
    global: { scrape_interval: '1s', scrape_timeout: '1s', evaluation_interval: '1s' },
    rule_files: [ALERTS],
    scrape_configs: [
      { job_name: 'interlink-vk', static_configs: [{ targets: [`127.0.0.1:${ports.vkMetrics}`] }] },
      { job_name: 'interlink-api', ...auth, static_configs: [{ targets: [`127.0.0.1:${ports.api}`] }] },
      { job_name: 'interlink-plugin', ...auth, static_configs: [{ targets: [`127.0.0.1:${ports.plugin}`] }] },
    ],
  };
  await writeFile(join(promDir, 'prometheus.yml'), toYaml(config));
  const port = await freePort();
  promUrl = `http://127.0.0.1:${port}`;
  prom = spawn(
    'prometheus',
    [
      `--config.file=${join(promDir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(promDir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const collect = (b: Buffer) => promLog.push(...String(b).split('\n').filter(Boolean));
  prom.stdout!.on('data', collect);
  prom.stderr!.on('data', collect);
  await eventually(
    'Prometheus ready',
    async () => {
      if (prom!.exitCode !== null)
        throw new Error(`prometheus exited ${prom!.exitCode}:\n${promLog.join('\n')}`);
      return (await fetch(`${promUrl}/-/ready`).catch(() => undefined))?.ok;
    },
    60_000,
  );
}

beforeAll(async () => {
  dataRoot = await mkdtemp(join(tmpdir(), 'interlink-e2e-prom-data-'));
  chain = await startChain({
    plugin: 'docker',
    nodeName: `e2e-prom-${id}`,
    namespace: `e2e-prom-${id}`,
    tcp: true,
    pluginConfig: {
      dockerCli: inject('dockerCli'),
      dockerHost: inject('dockerHost'),
      dataRoot,
      instance,
      infraImage: image,
      infraCommand: ['sleep', '2147483647'],
    },
  });
  await startPrometheus(chain);
}, 300_000);

afterAll(async () => {
  if (prom && prom.exitCode === null && prom.signalCode === null) {
    const exited = new Promise((r) => prom!.once('exit', r));
    prom.kill('SIGTERM');
    await exited;
  }
  await chain?.stop();
  const docker = (args: string[]) =>
    execFileP(inject('dockerCli'), args, { env: { ...process.env, DOCKER_HOST: inject('dockerHost') } });
  const left = (
    await docker(['ps', '-aq', '--filter', `label=interlink.vk.io/instance=${instance}`]).catch(() => ({
      stdout: '',
    }))
  ).stdout.trim();
  if (left) await docker(['rm', '-f', '-v', ...left.split('\n')]).catch(() => undefined);
  for (const d of [dataRoot, promDir]) if (d) await rm(d, { recursive: true, force: true });
}, 300_000);

reportOnFailure(() => chain);

describe('the dashboard and the alerts against a real Prometheus scraping the docker chain', () => {
  it('the alerts file passes promtool and Prometheus loads every rule', async () => {
    const { stdout } = await execFileP('promtool', ['check', 'rules', ALERTS]);
    expect(stdout).toMatch(/SUCCESS: \d+ rules found/);
    const want = alertQueries().length;
    await eventually('every rule loaded and evaluated without error', async () => {
      const body = (await (await fetch(`${promUrl}/api/v1/rules`)).json()) as Obj;
      const rules = (body.data.groups as Obj[]).flatMap((g) => g.rules as Obj[]);
      return rules.length === want && rules.every((r) => r.health === 'ok');
    });
  });

  it('scrapes the VK, the API and the plugin', async () => {
    await eventually('three targets up', async () => {
      const up = await query('up{job=~"interlink-.*"} == 1');
      return up.length === 3;
    });
  });

  it('every dashboard query and every alert expression returns data after pods ran through the chain', async () => {
    const main = (script: string) => ({
      containers: [{ name: 'main', image, command: ['sh', '-c', script] }],
    });
    await chain.apply(chain.pod('prom-long', main('sleep 3600')));
    await chain.apply(chain.pod('prom-short', main('echo done')));
    await chain.apply(chain.pod('prom-second', main('sleep 3600')));
    await chain.waitPhase('prom-long', 'Running');
    await chain.waitPhase('prom-second', 'Running');
    await chain.waitPhase('prom-short', 'Succeeded');
    for (const name of ['prom-long', 'prom-short', 'prom-second'])
      await must(['delete', 'pod', name, '-n', chain.namespace, '--wait=false']);
    for (const name of ['prom-long', 'prom-short', 'prom-second']) await chain.waitGone(name);

    const queries = [
      ...dashboardQueries(JSON.parse(readFileSync(DASHBOARD, 'utf8')) as Obj),
      ...alertQueries(),
    ];
    expect(queries.length).toBeGreaterThan(30);
    let missing: string[] = [];
    try {
      await eventually(
        'every query answered with data',
        async () => {
          missing = [];
          for (const q of queries) if (!hasData(await query(q.expr))) missing.push(`${q.what}: ${q.expr}`);
          return missing.length === 0;
        },
        120_000,
      );
    } catch (err) {
      throw new Error(
        `${(err as Error).message}; without data:\n${missing.join('\n')}\n--- prometheus:\n${promLog.slice(-20).join('\n')}`,
      );
    }
    // The new latency metrics saw the pods, not only their zero series.
    const started = await query('sum(interlink_vk_pod_start_duration_seconds_count)');
    expect(Number(started[0]!.value[1])).toBeGreaterThanOrEqual(2);
    const commands = await query(
      'count(interlink_plugin_backend_command_duration_seconds_count{command=~"docker_(create|start|rm)",outcome="ok"} > 0)',
    );
    expect(Number(commands[0]?.value[1] ?? 0)).toBe(3);
  });

  it('documents every interlink metric the chain exposes in docs/metrics.md', async () => {
    const body = (await (await fetch(`${promUrl}/api/v1/label/__name__/values`)).json()) as {
      data: string[];
    };
    const names = new Set(
      body.data
        .filter((n) => n.startsWith('interlink_') && !/^interlink_\w+?_(process|nodejs)_/.test(n))
        .map((n) => n.replace(/_(bucket|sum|count)$/, '')),
    );
    expect(names.size).toBeGreaterThan(30);
    const doc = readFileSync(REFERENCE, 'utf8');
    expect([...names].filter((n) => !doc.includes(`\`${n}\``)).sort()).toEqual([]);
  });
});
