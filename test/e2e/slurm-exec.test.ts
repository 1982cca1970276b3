/**
 * kubectl exec, cp and port-forward into a Slurm pod through the whole chain (control plane →
 * VK kubelet API → interLink API → slurm plugin → `srun --overlap` in the pod's job), with
 * SPDY and WebSocket kubectl. The `none` runtime: the container is a process on the Slurm
 * node (its `tar` serves kubectl cp), here a node echo server for port-forward.
 */
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { runProcess } from '../../src/core/command.ts';
import { type Chain, eventually, freePort, reportOnFailure, startChain, suffix } from './harness.ts';
import { runOnPty, ttyProbe } from './pty.ts';

const execFileP = promisify(execFile);
const id = suffix();
const slurmEnv = { ...process.env, SLURM_CONF: inject('slurmConf') };
let chain: Chain;
let dataRoot: string;
let scratch: string;
let podPort: number;
let jobId: string;

const kubectlBin = () => join(inject('k8sBinDir'), 'kubectl');
const env = (ws: boolean): NodeJS.ProcessEnv => ({
  ...process.env,
  KUBECTL_REMOTE_COMMAND_WEBSOCKETS: String(ws),
  KUBECTL_PORT_FORWARD_WEBSOCKETS: String(ws),
});
const kubectl = (args: string[], ws: boolean, input?: string) =>
  runProcess(kubectlBin(), ['--kubeconfig', inject('kubeconfig'), '-n', chain.namespace, ...args], {
    timeoutMs: 120_000,
    env: env(ws),
    input,
  });

/** Steps of the job other than the batch script (exec steps). */
const execSteps = async () =>
  (
    await execFileP('squeue', ['--noheader', '--steps', `--jobs=${jobId}`, '--format=%i'], { env: slurmEnv })
  ).stdout
    .split('\n')
    .map((s) => s.trim())
    .filter((s) => s !== '' && !s.endsWith('.batch') && !s.endsWith('.extern'));

beforeAll(async () => {
  dataRoot = await mkdtemp(join(tmpdir(), 'interlink-e2e-slurm-exec-data-'));
  scratch = await mkdtemp(join(tmpdir(), 'interlink-e2e-slurm-exec-'));
  podPort = await freePort();
  chain = await startChain({
    plugin: 'slurm',
    nodeName: `e2e-slurm-exec-${id}`,
    namespace: `e2e-slurm-exec-${id}`,
    pluginConfig: { dataRoot, containerRuntime: 'none', logPollMs: 200 },
    pluginEnv: { SLURM_CONF: inject('slurmConf') },
  });
  await chain.apply(
    chain.pod('echo', {
      containers: [
        {
          name: 'main',
          image: 'busybox:1.36', // not pulled: the `none` runtime runs the command on the node
          workingDir: scratch,
          command: [
            process.execPath,
            '-e',
            `require('net').createServer((c) => c.pipe(c)).listen(${podPort}, '127.0.0.1')`,
          ],
        },
      ],
    }),
  );
  const pod = await chain.waitPhase('echo', 'Running', 180_000);
  jobId = pod.metadata.annotations?.['interlink.io/job-id'];
  expect(jobId).toMatch(/^\d+$/);
}, 300_000);

afterAll(async () => {
  await chain?.stop();
  await rm(dataRoot, { recursive: true, force: true }).catch(() => {});
  await rm(scratch, { recursive: true, force: true }).catch(() => {});
}, 300_000);

reportOnFailure(() => chain);

/** Send `payload` through the forwarded port and read as much back (the pod echoes). */
function roundTrip(port: number, payload: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const sock = connect(port, '127.0.0.1');
    const got: Buffer[] = [];
    let n = 0;
    sock.on('data', (b: Buffer) => {
      got.push(b);
      n += b.length;
      if (n >= payload.length) {
        sock.destroy();
        resolve(Buffer.concat(got));
      }
    });
    sock.on('error', reject);
    sock.on('close', () => {
      if (n < payload.length) reject(new Error(`connection closed after ${n} bytes`));
    });
    sock.write(payload);
  });
}

describe.each([false, true])('slurm pod, KUBECTL_*_WEBSOCKETS=%s', (ws) => {
  it("exec -it: a terminal of the client's size, resized with it, and the exit code", async () => {
    const run = runOnPty(
      kubectlBin(),
      [
        '--kubeconfig',
        inject('kubeconfig'),
        '-n',
        chain.namespace,
        'exec',
        '-it',
        'echo',
        '--',
        ...ttyProbe({ Width: 120, Height: 40 }, 5),
      ],
      env(ws),
      { Width: 101, Height: 33 },
    );
    try {
      await run.waitFor('size=');
      await run.resize({ Width: 120, Height: 40 });
      expect(await run.exited, run.output()).toBe(5);
    } finally {
      run.kill();
    }
    const out = run.output();
    expect(out).toMatch(/tty=\/dev\/pts\/\d+\r\n/);
    expect(out).toContain('size=33 101\r\n');
    expect(out).toContain('resized=40 120\r\n');
    expect(out).not.toContain('srun: error');
  });

  it('exec: stdin, stdout, stderr and a non-zero exit code', async () => {
    const input = `${randomBytes(200_000).toString('hex')}\n`;
    const r = await kubectl(
      ['exec', '-i', 'echo', '--', 'sh', '-c', 'cat; echo to-stderr >&2; exit 3'],
      ws,
      input,
    );
    expect(r.code).toBe(3);
    expect(r.stdout === input).toBe(true);
    expect(r.stderr).toContain('to-stderr');
    expect(r.stderr).not.toContain('srun');
    expect(r.stderr).toContain('command terminated with exit code 3');
  });

  it('kubectl cp both ways', async () => {
    const local = join(scratch, `up-${ws}`);
    const content = randomBytes(300_000);
    await writeFile(local, content);
    const remote = join(scratch, `remote-${ws}`);
    const up = await kubectl(['cp', local, `echo:${remote}`], ws);
    expect(up.code, up.stderr).toBe(0);
    expect((await readFile(remote)).equals(content)).toBe(true);
    const back = join(scratch, `down-${ws}`);
    const down = await kubectl(['cp', `echo:${remote}`, back], ws);
    expect(down.code, down.stderr).toBe(0);
    expect((await readFile(back)).equals(content)).toBe(true);
  });

  it('port-forward: two parallel connections, 10 MiB each, intact', async () => {
    const pf = spawn(
      kubectlBin(),
      [
        '--kubeconfig',
        inject('kubeconfig'),
        '-n',
        chain.namespace,
        'port-forward',
        'pod/echo',
        `:${podPort}`,
      ],
      {
        env: env(ws),
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    try {
      const local = await new Promise<number>((resolve, reject) => {
        let out = '';
        pf.stdout.on('data', (c: Buffer) => {
          out += c.toString();
          const m = /Forwarding from 127\.0\.0\.1:(\d+)/.exec(out);
          if (m) resolve(Number(m[1]));
        });
        pf.once('exit', (code) => reject(new Error(`kubectl port-forward exited (${code})`)));
      });
      const payloads = [randomBytes(10 << 20), randomBytes(10 << 20)];
      const echoed = await Promise.all(payloads.map((p) => roundTrip(local, p)));
      for (const [i, e] of echoed.entries()) expect(e.equals(payloads[i]!)).toBe(true);
    } finally {
      pf.kill('SIGKILL');
    }
  });
});

it('killing kubectl mid-exec leaves no srun step and no process', async () => {
  const marker = `marker-${id}`;
  const child = spawn(
    kubectlBin(),
    [
      '--kubeconfig',
      inject('kubeconfig'),
      '-n',
      chain.namespace,
      'exec',
      '-i',
      'echo',
      '--',
      'sh',
      '-c',
      `echo ${marker}; cat`,
    ],
    { env: env(false), stdio: ['pipe', 'pipe', 'pipe'] },
  );
  await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
  const running = async () =>
    (await execFileP('ps', ['-eo', 'args'])).stdout.split('\n').filter((l) => l.includes(marker));
  expect((await execSteps()).length).toBeGreaterThan(0);
  child.kill('SIGKILL');
  await eventually('no exec step left', async () => (await execSteps()).length === 0, 60_000);
  await eventually('no process left', async () => (await running()).length === 0, 60_000);
});
