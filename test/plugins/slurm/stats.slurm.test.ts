/**
 * The Slurm plugin's `GET /stats/summary` against the real one-node Slurm: a running job's pod
 * is measured with ONE sstat call for all jobs (its arguments are accepted by the real sstat).
 * The test cluster gathers job usage with jobacct_gather/linux, so a busy-looping job shows CPU
 * time and memory; what sstat's TRES text means is tested by tables in stats.test.ts.
 */
import { randomUUID } from 'node:crypto';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { parseEndpoint } from '../../../src/core/endpoint.ts';
import { HttpClient } from '../../../src/core/http-client.ts';
import { silentLogger } from '../../../src/core/logger.ts';
import { buildPluginApp } from '../../../src/plugins/sdk/server.ts';
import { slurmConfig } from '../../../src/plugins/slurm/config.ts';
import { createSlurmPlugin } from '../../../src/plugins/slurm/plugin.ts';
import { CreateStruct } from '../../../src/wire/interlink.ts';
import { StatsSummary } from '../../../src/wire/stats.ts';

process.env.SLURM_CONF = inject('slurmConf');
const root = mkdtempSync(join(tmpdir(), 'il-slurm-stats-'));
const cleanups: Array<() => Promise<unknown>> = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => {});
  rmSync(root, { recursive: true, force: true });
});

const callLog = join(root, 'sstat.calls');
const wrapper = join(root, 'sstat');
writeFileSync(wrapper, `#!/bin/sh\necho "$*" >> '${callLog}'\nexec sstat "$@"\n`);
chmodSync(wrapper, 0o755);
const calls = () => {
  try {
    return readFileSync(callLog, 'utf8')
      .split('\n')
      .filter((l) => l !== '');
  } catch {
    return [];
  }
};

async function until<T>(what: string, fn: () => Promise<T | undefined | false>, ms = 60_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 300));
  }
}

describe('slurm plugin GET /stats/summary (real Slurm)', () => {
  it('measures every running job in one sstat call', async () => {
    const cfg = slurmConfig({
      dataRoot: join(root, 'data'),
      containerRuntime: 'none',
      deleteGraceSeconds: 1,
      sstatPath: wrapper,
    });
    const plugin = createSlurmPlugin({ config: cfg, logger: silentLogger(), pollMs: 200 });
    const { app } = buildPluginApp(plugin, { logger: silentLogger() });
    await app.listen({ host: '127.0.0.1', port: 0 });
    const port = (app.server.address() as { port: number }).port;
    const client = new HttpClient({
      endpoint: parseEndpoint(`http://127.0.0.1:${port}`, undefined),
      timeoutMs: 60_000,
    });
    cleanups.push(async () => {
      await client.close();
      await app.close();
    });
    // stats-b loops on the CPU: jobacct_gather/linux (scripts/slurm/start.sh) must see it.
    // Niced, so it yields the core to the tests running beside it.
    const pods = [
      ['stats-a', 'sleep 600'],
      ['stats-b', 'exec nice -n 19 sh -c "while :; do :; done"'],
    ].map(([name, script]) => ({
      metadata: { name: name!, namespace: 'default', uid: randomUUID() },
      spec: { containers: [{ name: 'main', image: 'busybox', command: ['sh', '-c', script!] }] },
    }));
    for (const p of pods) {
      await client.call({
        method: 'POST',
        path: '/create',
        body: { pod: p, container: [] },
        schema: CreateStruct,
      });
      cleanups.push(() => client.call({ method: 'POST', path: '/delete', body: p }));
    }
    const stats = () => client.call({ method: 'GET', path: '/stats/summary', schema: StatsSummary });
    const busy = pods[1]!.metadata.uid;
    const summary = await until(
      'both jobs measured by sstat, the busy one with CPU time',
      async () => {
        const s = await stats();
        const b = s.pods.find((x) => x.podRef.uid === busy);
        return s.pods.length === 2 && (b?.cpu?.usageCoreNanoSeconds ?? 0) > 0 ? s : undefined;
      },
      120_000,
    );
    const before = calls().length;
    await stats();
    expect(calls().slice(before)).toHaveLength(1);
    for (const p of pods) {
      const got = summary.pods.find((x) => x.podRef.uid === p.metadata.uid);
      expect(got?.podRef).toEqual({ name: p.metadata.name, namespace: 'default', uid: p.metadata.uid });
      expect(got?.containers?.map((c) => c.name)).toEqual(['main']);
      expect(got?.cpu?.usageCoreNanoSeconds).toBeGreaterThanOrEqual(0);
    }
    const b = summary.pods.find((x) => x.podRef.uid === busy);
    expect(b?.cpu?.usageCoreNanoSeconds).toBeGreaterThan(0);
    expect(b?.memory?.workingSetBytes).toBeGreaterThan(0);
  });
});
