/**
 * kubectl exec and cp through the whole chain (control plane → VK kubelet API
 * over SPDY → interLink API → docker plugin → dockerd), with SPDY and WebSocket kubectl,
 * and port-forward through the plugin's `docker exec … nc` relay (two parallel 10 MiB
 * downloads; these came back short when the upload half's end tore the connection down).
 */
import { execFile, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { runProcess } from '../../src/core/command.ts';
import { type Chain, eventually, reportOnFailure, startChain, suffix } from './harness.ts';
import { runOnPty, ttyProbe } from './pty.ts';

const execFileP = promisify(execFile);
const id = suffix();
const instance = `e2e-exec-${id}`;
const image = inject('testImage');
let chain: Chain;
let dataRoot: string;
let scratch: string;

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

beforeAll(async () => {
  dataRoot = await mkdtemp(join(tmpdir(), 'interlink-e2e-exec-data-'));
  scratch = await mkdtemp(join(tmpdir(), 'interlink-e2e-exec-'));
  chain = await startChain({
    plugin: 'docker',
    nodeName: `e2e-exec-${id}`,
    namespace: `e2e-exec-${id}`,
    pluginConfig: {
      dockerCli: inject('dockerCli'),
      dockerHost: inject('dockerHost'),
      dataRoot,
      instance,
      infraImage: image,
      infraCommand: ['sleep', '2147483647'],
    },
  });
  // 10 MiB of random bytes served by busybox httpd on 8080, in the pod's network namespace.
  await chain.apply(
    chain.pod('web', {
      containers: [
        {
          name: 'main',
          image,
          command: [
            'sh',
            '-c',
            'mkdir -p /www && head -c 10485760 /dev/urandom > /www/big && exec httpd -f -p 8080 -h /www',
          ],
        },
      ],
    }),
  );
  await chain.waitPhase('web', 'Running');
}, 300_000);

afterAll(async () => {
  await chain?.stop();
  const { stdout } = await execFileP(
    inject('dockerCli'),
    ['ps', '-aq', '--filter', `label=interlink.vk.io/instance=${instance}`],
    { env: { ...process.env, DOCKER_HOST: inject('dockerHost') } },
  ).catch(() => ({ stdout: '' }));
  if (stdout.trim())
    await execFileP(inject('dockerCli'), ['rm', '-f', '-v', ...stdout.trim().split('\n')], {
      env: { ...process.env, DOCKER_HOST: inject('dockerHost') },
    }).catch(() => undefined);
  await rm(dataRoot, { recursive: true, force: true }).catch(() => {});
  await rm(scratch, { recursive: true, force: true }).catch(() => {});
}, 300_000);

reportOnFailure(() => chain);

describe.each([false, true])('docker pod, KUBECTL_*_WEBSOCKETS=%s', (ws) => {
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
        'web',
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
      ['exec', '-i', 'web', '--', 'sh', '-c', 'cat; echo to-stderr >&2; exit 3'],
      ws,
      input,
    );
    expect(r.code).toBe(3);
    expect(r.stdout === input).toBe(true);
    expect(r.stderr).toContain('to-stderr');
    expect(r.stderr).toContain('command terminated with exit code 3');
  });

  it('kubectl cp both ways', async () => {
    const local = join(scratch, `up-${ws}`);
    const content = randomBytes(300_000);
    await writeFile(local, content);
    const up = await kubectl(['cp', local, `web:/tmp/up-${ws}`], ws);
    expect(up.code, up.stderr).toBe(0);
    const back = join(scratch, `down-${ws}`);
    const down = await kubectl(['cp', `web:/tmp/up-${ws}`, back], ws);
    expect(down.code, down.stderr).toBe(0);
    expect((await readFile(back)).equals(content)).toBe(true);
  });

  it('port-forward: two parallel connections, 10 MiB intact each', async () => {
    const sum = await kubectl(['exec', 'web', '--', 'sha256sum', '/www/big'], ws);
    expect(sum.code, sum.stderr).toBe(0);
    const want = sum.stdout.split(' ')[0];
    const pf = spawn(
      kubectlBin(),
      ['--kubeconfig', inject('kubeconfig'), '-n', chain.namespace, 'port-forward', 'pod/web', ':8080'],
      { env: env(ws), stdio: ['ignore', 'pipe', 'pipe'] },
    );
    try {
      const port = await new Promise<number>((resolve, reject) => {
        let out = '';
        pf.stdout.on('data', (c: Buffer) => {
          out += c.toString();
          const m = /127\.0\.0\.1:(\d+) ->/.exec(out);
          if (m) resolve(Number(m[1]));
        });
        pf.once('exit', (code) => reject(new Error(`kubectl port-forward exited ${code}`)));
      });
      const get = async () => {
        const res = await fetch(`http://127.0.0.1:${port}/big`);
        const body = Buffer.from(await res.arrayBuffer());
        return {
          status: res.status,
          length: body.length,
          sha: createHash('sha256').update(body).digest('hex'),
        };
      };
      const results = await Promise.all([get(), get()]);
      for (const r of results) expect(r).toEqual({ status: 200, length: 10 * 1024 * 1024, sha: want });
    } finally {
      pf.kill('SIGKILL');
    }
  });
});

it('attach -i: stdin reaches the running container, its output comes back', async () => {
  await chain.apply(
    chain.pod('talk', {
      restartPolicy: 'Never',
      containers: [
        {
          name: 'main',
          image,
          stdin: true,
          command: ['sh', '-c', 'read line; echo "got $line"; echo to-stderr >&2; exit 0'],
        },
      ],
    }),
  );
  await chain.waitPhase('talk', 'Running');
  const r = await kubectl(['attach', '-i', 'talk', '-c', 'main'], false, 'hello from attach\n');
  expect(r.code, r.stderr).toBe(0);
  expect(r.stdout).toContain('got hello from attach');
  expect(r.stderr).toContain('to-stderr');
});

it('killing kubectl mid-exec leaves no docker exec behind', async () => {
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
      'web',
      '--',
      'sh',
      '-c',
      `echo ${marker}; cat`,
    ],
    { env: env(false), stdio: ['pipe', 'pipe', 'pipe'] },
  );
  await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
  const running = async () => {
    const { stdout } = await execFileP('ps', ['-eo', 'args']);
    return stdout.split('\n').filter((l) => l.includes(marker));
  };
  expect((await running()).some((l) => l.includes('exec -i --'))).toBe(true);
  child.kill('SIGKILL');
  await eventually('the docker exec child gone', async () => (await running()).length === 0, 60_000);
});

it('killing kubectl mid-exec -it leaves no process behind in the container either', async () => {
  // With a TTY, dockerd keeps the exec's terminal open when its client goes: the plugin must
  // stop the command itself (src/plugins/docker/streams.ts).
  const marker = `tty-marker-${id}`;
  const run = runOnPty(
    kubectlBin(),
    [
      '--kubeconfig',
      inject('kubeconfig'),
      '-n',
      chain.namespace,
      'exec',
      '-it',
      'web',
      '--',
      'sh',
      '-c',
      'echo ready; sleep 100000; true',
      marker,
    ],
    env(false),
    { Width: 80, Height: 24 },
  );
  const running = async () => {
    const { stdout } = await execFileP('ps', ['-eo', 'args']);
    return stdout.split('\n').filter((l) => l.includes(marker));
  };
  try {
    await run.waitFor('ready');
    // kubectl, the plugin's `docker exec` and the shell in the container all carry the marker.
    expect((await running()).some((l) => l.startsWith('sh -c echo ready'))).toBe(true);
  } finally {
    run.kill();
  }
  await eventually(
    'the exec-ed shell in the container gone',
    async () => (await running()).length === 0,
    60_000,
  );
});
