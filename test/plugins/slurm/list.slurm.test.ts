/**
 * The Slurm plugin's `GET /list` against the real one-node Slurm: running and finished jobs
 * are listed with their job ids, a new plugin over the same data root (a restart) lists the
 * same, a deleted pod leaves the list.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { parseEndpoint } from '../../../src/core/endpoint.ts';
import { HttpClient } from '../../../src/core/http-client.ts';
import { silentLogger } from '../../../src/core/logger.ts';
import { buildPluginApp } from '../../../src/plugins/sdk/server.ts';
import { slurmConfig } from '../../../src/plugins/slurm/config.ts';
import { createSlurmPlugin, type SlurmPlugin } from '../../../src/plugins/slurm/plugin.ts';
import { BackendPodList, CreateStruct, PodStatusList } from '../../../src/wire/interlink.ts';

process.env.SLURM_CONF = inject('slurmConf');
const root = mkdtempSync(join(tmpdir(), 'il-slurm-list-'));
const cleanups: Array<() => Promise<unknown>> = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => {});
  rmSync(root, { recursive: true, force: true });
});

async function serve(): Promise<{
  client: HttpClient;
  plugin: SlurmPlugin;
  metrics: () => Promise<string>;
  close: () => Promise<void>;
}> {
  const cfg = slurmConfig({ dataRoot: join(root, 'data'), containerRuntime: 'none', deleteGraceSeconds: 1 });
  const plugin = createSlurmPlugin({ config: cfg, logger: silentLogger(), pollMs: 200 });
  const { app } = buildPluginApp(plugin, { logger: silentLogger() });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const port = (app.server.address() as { port: number }).port;
  const client = new HttpClient({
    endpoint: parseEndpoint(`http://127.0.0.1:${port}`, undefined),
    timeoutMs: 60_000,
  });
  const close = async () => {
    await client.close();
    await app.close();
  };
  cleanups.push(close);
  const metrics = async () => (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  return { client, plugin, metrics, close };
}

const pod = (name: string, command: string) => ({
  metadata: { name, namespace: 'default', uid: randomUUID() },
  spec: { containers: [{ name: 'main', image: 'busybox', command: ['sh', '-c', command] }] },
});

async function until<T>(what: string, fn: () => Promise<T | undefined | false>, ms = 60_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 300));
  }
}

describe('slurm plugin GET /list (real Slurm)', () => {
  it('lists running and finished jobs, also after a restart, and not once deleted', async () => {
    let s = await serve();
    const list = async () =>
      (await s.client.call({ method: 'GET', path: '/list', schema: BackendPodList })).sort((a, b) =>
        a.name.localeCompare(b.name),
      );
    expect(await list()).toEqual([]);
    const long = pod('list-long', 'sleep 600');
    const short = pod('list-short', 'true');
    const jid = new Map<string, string>();
    for (const p of [long, short]) {
      const c = await s.client.call({
        method: 'POST',
        path: '/create',
        body: { pod: p, container: [] },
        schema: CreateStruct,
      });
      jid.set(p.metadata.uid, c.PodJID);
    }
    await until('short finished, long running', async () => {
      const st = await s.client.call({
        method: 'GET',
        path: '/status',
        body: [long, short],
        schema: PodStatusList,
      });
      const of = (p: typeof long) => st.find((x) => x.UID === p.metadata.uid)?.containers?.[0]?.state;
      return of(short)?.terminated !== undefined && of(long)?.running !== undefined;
    });
    const want = (p: typeof long) => ({
      UID: p.metadata.uid,
      namespace: 'default',
      name: p.metadata.name,
      JID: jid.get(p.metadata.uid),
    });
    const squeues = s.plugin.cli.calls.get('squeue') ?? 0;
    expect(await list()).toEqual([want(long), want(short)]);
    // Every job id is on disk: listing asks Slurm nothing.
    expect(s.plugin.cli.calls.get('squeue') ?? 0).toBe(squeues);

    await s.close();
    s = await serve();
    expect(await list()).toEqual([want(long), want(short)]);

    // A directory whose job.id was never written (a create interrupted around sbatch): its
    // job is found by name, in one squeue call.
    rmSync(join(s.plugin.jobDir('default', short.metadata.uid), 'job.id'));
    const before = s.plugin.cli.calls.get('squeue') ?? 0;
    expect(await list()).toEqual([want(long), want(short)]);
    expect(s.plugin.cli.calls.get('squeue') ?? 0).toBe(before + 1);

    await s.client.call({ method: 'POST', path: '/delete', body: long });
    expect(await list()).toEqual([want(short)]);

    // Every Slurm program run above is timed under its own name (docs/metrics.md).
    const text = await s.metrics();
    for (const command of ['sbatch', 'squeue', 'scancel'])
      expect(text).toMatch(
        new RegExp(
          `^interlink_plugin_backend_command_duration_seconds_count\\{command="${command}",outcome="ok"\\} [1-9]`,
          'm',
        ),
      );
  });
});
