/**
 * `interlink up --cluster` as a user runs it: one command that starts its own control plane,
 * the interLink API, the mock plugin and a virtual kubelet, prints a banner with the
 * KUBECONFIG to use, and stops everything on SIGTERM.
 *
 * This file uses nothing of the e2e project's shared control plane: the kubeconfig and the
 * kubectl binary come from the command's banner.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { type Obj, ROOT, run, suffix } from './harness.ts';

const nodeName = `e2e-up-${suffix()}`;
let proc: ChildProcess;
let exited: Promise<number | null>;
const output: string[] = [];
let kubeconfig: string;
let kubectlBin: string;
let tokenFile: string | undefined;

const logTail = () => `--- interlink up --cluster output (last 80 lines):\n${output.slice(-80).join('\n')}`;

async function kubectl(args: string[], input?: string): Promise<string> {
  const r = await run(
    kubectlBin,
    ['--kubeconfig', kubeconfig, ...args],
    input === undefined ? {} : { input },
  );
  if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')}: exit ${r.code}: ${r.stderr.trim()}`);
  return r.stdout;
}

async function until<T>(what: string, fn: () => Promise<T | undefined | false>, ms: number): Promise<T> {
  const deadline = Date.now() + ms;
  let last: unknown;
  for (;;) {
    if (proc.exitCode !== null || proc.signalCode !== null)
      throw new Error(
        `interlink up exited (${proc.exitCode ?? proc.signalCode}) while waiting for ${what}\n${logTail()}`,
      );
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline)
      throw new Error(
        `timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}\n${logTail()}`,
      );
    await sleep(500);
  }
}

/** Processes whose command line mentions `dir` (etcd's data dir, the apiserver's certs, ...). */
function processesUsing(dir: string): string[] {
  const found: string[] = [];
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
      if (cmd.includes(dir)) found.push(`${pid}: ${cmd.slice(0, 200)}`);
    } catch {
      // the process ended while we looked
    }
  }
  return found;
}

beforeAll(async () => {
  proc = spawn(
    process.execPath,
    ['src/cli/main.ts', 'up', '--cluster', '--port', '0', '--nodename', nodeName],
    { cwd: ROOT, env: { ...process.env, LOG_LEVEL: 'info' }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  exited = new Promise((r) => proc.once('exit', (code) => r(code)));
  const collect = (c: Buffer) => output.push(...String(c).split('\n').filter(Boolean));
  proc.stdout!.on('data', collect);
  proc.stderr!.on('data', collect);
  // The banner comes once everything is up (the cluster start is the slow part).
  kubeconfig = await until(
    'the banner with KUBECONFIG',
    async () => output.map((l) => /^export KUBECONFIG=(\S+)$/.exec(l)?.[1]).find(Boolean),
    280_000,
  );
  kubectlBin = output.map((l) => /^(\S+\/kubectl) get nodes$/.exec(l)?.[1]).find(Boolean) ?? '';
  tokenFile = output.map((l) => /^token file\s+(\S+)$/.exec(l)?.[1]).find(Boolean);
  expect(kubectlBin, logTail()).not.toBe('');
}, 300_000);

afterAll(async () => {
  if (proc && proc.exitCode === null && proc.signalCode === null) {
    proc.kill('SIGTERM');
    await Promise.race([exited, sleep(60_000)]);
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
  }
}, 120_000);

it('prints a banner naming a kubeconfig of its own cluster and the virtual node', () => {
  expect(existsSync(kubeconfig)).toBe(true);
  const cfg = parseYaml(readFileSync(kubeconfig, 'utf8')) as Obj;
  expect(cfg.clusters[0].cluster.server).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
  expect(output.some((l) => l.startsWith(`virtual node   ${nodeName} `))).toBe(true);
  expect(output).toContain(
    `${kubectlBin} apply -f ${join(ROOT, 'examples', 'busy-echo.yaml')}   # runs on plugin mock`,
  );
  expect(tokenFile && existsSync(tokenFile)).toBe(true);
});

it('the virtual node is Ready', async () => {
  await until(
    `node ${nodeName} Ready`,
    async () => {
      const node = JSON.parse(await kubectl(['get', 'node', nodeName, '-o', 'json'])) as Obj;
      return (node.status.conditions as Obj[]).some((c) => c.type === 'Ready' && c.status === 'True');
    },
    120_000,
  );
});

it('examples/busy-echo.yaml runs on the mock plugin and kubectl logs returns mock lines', async () => {
  await kubectl(['apply', '-f', join(ROOT, 'examples', 'busy-echo.yaml')]);
  const pod = await until(
    'busy-echo Running',
    async () => {
      const p = JSON.parse(await kubectl(['get', 'pod', 'busy-echo', '-o', 'json'])) as Obj;
      return p.status?.phase === 'Running' ? p : undefined;
    },
    120_000,
  );
  expect(pod.spec.nodeName).toBe(nodeName);
  // The mock writes `<container> line <n>`, one a second, from the container's start.
  const log = await until(
    'two mock log lines through kubectl logs',
    async () => {
      const l = await kubectl(['logs', 'busy-echo']);
      return l.split('\n').length > 2 ? l : undefined;
    },
    60_000,
  );
  const lines = log.trimEnd().split('\n');
  expect(lines.slice(0, 2)).toEqual(['echo line 1', 'echo line 2']);
  expect(lines.every((l, i) => l === `echo line ${i + 1}`)).toBe(true);
});

it('SIGTERM stops everything: exit 0, no process of its cluster left, its directories removed', async () => {
  const clusterDir = dirname(kubeconfig);
  expect(processesUsing(clusterDir).length).toBeGreaterThan(0); // etcd, apiserver, ... while up
  proc.kill('SIGTERM');
  const code = await Promise.race([exited, sleep(90_000).then(() => 'still running' as const)]);
  expect(code, logTail()).toBe(0);
  // busy-echo (still running on the mock) was deleted through the VK before the cluster went.
  expect(output, logTail()).toContain('stopping: 1 pod deleted in the backend');
  // The control plane runs in process groups of its own: they are gone once `up` has exited.
  const left = processesUsing(clusterDir);
  expect(left).toEqual([]);
  expect(existsSync(clusterDir)).toBe(false);
  if (tokenFile) expect(existsSync(dirname(tokenFile))).toBe(false);
}, 150_000);
