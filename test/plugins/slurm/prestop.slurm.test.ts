/**
 * preStop hooks through the real one-node Slurm (prestop.ts): a delete runs the hook beside
 * the container before the container gets SIGTERM (both write to one file: the hook's line
 * comes first, although the hook takes a second), and the job still ends CANCELLED in Slurm.
 * A failing hook leaves `failure` in its result file; the status shows FailedPreStopHook and
 * so does the `/delete` answer (DeleteAnswer).
 * Each container gets exactly one SIGTERM, and a pod without hooks too.
 */
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { parseEndpoint } from '../../../src/core/endpoint.ts';
import { HttpClient } from '../../../src/core/http-client.ts';
import { silentLogger } from '../../../src/core/logger.ts';
import { buildPluginApp } from '../../../src/plugins/sdk/server.ts';
import { slurmConfig } from '../../../src/plugins/slurm/config.ts';
import { createSlurmPlugin, type SlurmPlugin } from '../../../src/plugins/slurm/plugin.ts';
import { type PodStatus, PodStatusList } from '../../../src/wire/interlink.ts';

const run = promisify(execFile);
process.env.SLURM_CONF = inject('slurmConf');
const root = mkdtempSync(join(tmpdir(), 'il-slurm-prestop-'));
const cleanups: Array<() => Promise<unknown>> = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => {});
  rmSync(root, { recursive: true, force: true });
});

async function serve(name: string): Promise<{ client: HttpClient; plugin: SlurmPlugin }> {
  const cfg = slurmConfig({
    dataRoot: join(root, name),
    containerRuntime: 'none',
    keepJobDirs: true,
  });
  const plugin = createSlurmPlugin({ config: cfg, logger: silentLogger(), pollMs: 200 });
  const { app } = buildPluginApp(plugin, { logger: silentLogger() });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const port = (app.server.address() as { port: number }).port;
  const client = new HttpClient({
    endpoint: parseEndpoint(`http://127.0.0.1:${port}`, undefined),
    timeoutMs: 90_000,
  });
  cleanups.push(async () => {
    await client.close();
    await app.close();
  });
  return { client, plugin };
}

type PodLike = { metadata: { name: string; namespace: string; uid: string }; spec: object };

async function statusUntil(client: HttpClient, pod: PodLike, what: string, done: (s: PodStatus) => boolean) {
  const end = Date.now() + 90_000;
  let last: PodStatus | undefined;
  while (Date.now() < end) {
    [last] = await client.call({ method: 'GET', path: '/status', body: [pod], schema: PodStatusList });
    if (last && done(last)) return last;
    await new Promise((r) => setTimeout(r, 300));
  }
  throw new Error(`timed out waiting for ${what}: ${JSON.stringify(last)}`);
}

const main = (s: PodStatus) => s.containers?.find((c) => c.name === 'main');

/** A container that records its SIGTERM in `log` (and then exits after `exitDelay` s). */
function pod(name: string, log: string, preStop: object | undefined, exitDelay = 0): PodLike {
  return {
    metadata: { name, namespace: 'default', uid: randomUUID() },
    spec: {
      restartPolicy: 'Never',
      terminationGracePeriodSeconds: 20,
      containers: [
        {
          name: 'main',
          image: 'x',
          command: [
            'bash',
            '-c',
            `trap 'echo term >>"$0"; sleep ${exitDelay}; exit 0' TERM; while :; do sleep 0.2; done`,
            log,
          ],
          ...(preStop ? { lifecycle: { preStop } } : {}),
        },
      ],
    },
  };
}

const jobIdOf = (plugin: SlurmPlugin, p: PodLike) =>
  readFileSync(join(plugin.jobDir(p.metadata.namespace, p.metadata.uid), 'job.id'), 'utf8').trim();

async function jobState(plugin: SlurmPlugin, p: PodLike): Promise<string> {
  const { stdout } = await run('scontrol', ['show', 'job', jobIdOf(plugin, p)]);
  return /JobState=(\S+)/.exec(stdout)?.[1] ?? stdout;
}

/** The job's line in Slurm's job completion records (`sacct -c`: jobcomp/filetxt, no slurmdbd). */
async function accounted(id: string): Promise<string> {
  const end = Date.now() + 30_000;
  let out = '';
  while (Date.now() < end) {
    ({ stdout: out } = await run('sacct', [
      '-c',
      '-j',
      id,
      '--noheader',
      '--parsable2',
      '-o',
      'JobID,State',
    ]));
    if (out.trim()) return out.trim();
    await new Promise((r) => setTimeout(r, 300));
  }
  throw new Error(`job ${id} never reached the completion records: ${JSON.stringify(out)}`);
}

describe('slurm preStop (runtime none)', () => {
  it('the hook runs before the container gets SIGTERM; Slurm records CANCELLED', async () => {
    const { client, plugin } = await serve('order');
    const log = join(root, `order-${randomUUID()}.log`);
    const p = pod('prestop-order', log, {
      exec: { command: ['bash', '-c', 'sleep 1; echo prestop >>"$0"', log] },
    });
    await client.call({ method: 'POST', path: '/create', body: { pod: p, container: [] } });
    await statusUntil(client, p, 'running', (s) => main(s)?.state?.running !== undefined);
    // A hook that passed leaves the answer as plain as before.
    expect(await client.call({ method: 'POST', path: '/delete', body: p })).toBe(
      `pod default/prestop-order (${p.metadata.uid}) deleted`,
    );
    // The hook's line, then exactly one SIGTERM (the batch shell's, after the hook), as from
    // a kubelet: Slurm's own cancel comes only once the container ended.
    expect(readFileSync(log, 'utf8')).toBe('prestop\nterm\n');
    const dir = plugin.jobDir(p.metadata.namespace, p.metadata.uid);
    expect(readFileSync(join(dir, 'containers', 'main.prestop'), 'utf8')).toBe('success 0\n');
    expect(await jobState(plugin, p)).toBe('CANCELLED');
  });

  it('without hooks: one SIGTERM; Slurm and its accounting (sacct) record CANCELLED', async () => {
    const { client, plugin } = await serve('plain');
    const log = join(root, `plain-${randomUUID()}.log`);
    const p = pod('prestop-none', log, undefined);
    await client.call({ method: 'POST', path: '/create', body: { pod: p, container: [] } });
    await statusUntil(client, p, 'running', (s) => main(s)?.state?.running !== undefined);
    await client.call({ method: 'POST', path: '/delete', body: p });
    expect(readFileSync(log, 'utf8')).toBe('term\n');
    expect(await jobState(plugin, p)).toBe('CANCELLED');
    const id = jobIdOf(plugin, p);
    expect(await accounted(id)).toBe(`${id}|CANCELLED`);
  });

  it('a failing hook is a FailedPreStopHook in the status; the container is still stopped', async () => {
    const { client, plugin } = await serve('fail');
    const log = join(root, `fail-${randomUUID()}.log`);
    // The container takes 3 s to exit after SIGTERM: the status shows the hook's failure meanwhile.
    const p = pod('prestop-fail', log, { exec: { command: ['false'] } }, 3);
    await client.call({ method: 'POST', path: '/create', body: { pod: p, container: [] } });
    await statusUntil(client, p, 'running', (s) => main(s)?.state?.running !== undefined);
    const deleted = client.call({ method: 'POST', path: '/delete', body: p });
    const s = await statusUntil(client, p, 'FailedPreStopHook', (x) =>
      (main(x)?.probeEvents ?? []).some((e) => e.reason === 'FailedPreStopHook'),
    );
    expect(main(s)?.probeEvents).toEqual([
      { reason: 'FailedPreStopHook', message: 'PreStopHook failed', type: 'Warning', count: 1 },
    ]);
    // The delete's answer names the failed hook too: the VK turns it into an Event, since it
    // no longer polls the status of a pod it is deleting.
    expect(await deleted).toEqual({
      message: `pod default/prestop-fail (${p.metadata.uid}) deleted`,
      containers: [{ name: 'main', probeEvents: main(s)?.probeEvents }],
    });
    expect(readFileSync(log, 'utf8')).toBe('term\n');
    const dir = plugin.jobDir(p.metadata.namespace, p.metadata.uid);
    expect(readFileSync(join(dir, 'containers', 'main.prestop'), 'utf8')).toBe('failure 1\n');
    expect(await jobState(plugin, p)).toBe('CANCELLED');
  });
});
