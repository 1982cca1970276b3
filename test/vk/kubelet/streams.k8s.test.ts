/**
 * kubectl exec and port-forward through the real apiserver to the VK's kubelet API (SPDY/3.1,
 * also when kubectl speaks WebSocket to the apiserver), the real interLink API and the mock
 * plugin's built-in commands (src/plugins/mock/exec.ts).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { runProcess } from '../../../src/core/command.ts';
import { eventually, freePort, type Stack, startStack } from './k8s-harness.ts';

const suffix = Math.random().toString(36).slice(2, 7);
const nodeName = `vk-streams-${suffix}`;
const ns = `vk-streams-${suffix}`;

const kubectlPath = () => join(inject('k8sBinDir'), 'kubectl');

function kubectlEnv(websockets: boolean): NodeJS.ProcessEnv {
  return {
    ...process.env,
    KUBECTL_REMOTE_COMMAND_WEBSOCKETS: String(websockets),
    KUBECTL_PORT_FORWARD_WEBSOCKETS: String(websockets),
  };
}

const kubectl = (args: string[], websockets: boolean, input?: string) =>
  runProcess(kubectlPath(), ['--kubeconfig', inject('kubeconfig'), ...args], {
    timeoutMs: 60_000,
    env: kubectlEnv(websockets),
    input,
  });

describe('kubectl exec and port-forward through the virtual kubelet', () => {
  let stack: Stack;
  let port: number;

  beforeAll(async () => {
    port = await freePort();
    stack = await startStack({
      nodeName,
      kubelet: true,
      config: { kubeletHttp: { port, address: '127.0.0.1', csr: true, selfApprove: true } },
      mock: { startDelay: '0s' },
    });
    await stack.admin.core.createNamespace({ body: { metadata: { name: ns } } });
    const pod = await stack.admin.core.createNamespacedPod({
      namespace: ns,
      body: {
        metadata: { name: 'shell' },
        spec: {
          nodeName,
          tolerations: [{ key: 'virtual-node.interlink/no-schedule', operator: 'Exists' }],
          containers: [{ name: 'main', image: 'busybox' }],
        },
      },
    });
    await stack.deps.interlink.create({ pod: JSON.parse(JSON.stringify(pod)) });
    // No pod controller runs here; kubectl port-forward wants a Running pod.
    await stack.admin.core.replaceNamespacedPodStatus({
      name: 'shell',
      namespace: ns,
      body: { ...pod, status: { phase: 'Running' } },
    });
    await stack.pods.refresh();
  });

  afterAll(async () => {
    await stack?.admin.core.deleteNamespace({ name: ns }).catch(() => {});
    await stack?.close();
  });

  describe.each([false, true])('KUBECTL_*_WEBSOCKETS=%s', (websockets) => {
    it('exec: stdout, stdin and stderr', async () => {
      const echo = await kubectl(['exec', '-n', ns, 'shell', '--', 'echo', 'hello', 'world'], websockets);
      expect(echo).toMatchObject({ stderr: '', code: 0, stdout: 'hello world\n' });
      const input = `${randomBytes(300_000).toString('base64')}\nend\n`;
      const cat = await kubectl(
        ['exec', '-i', '-n', ns, 'shell', '-c', 'main', '--', 'cat'],
        websockets,
        input,
      );
      expect(cat.code).toBe(0);
      expect(createHash('sha256').update(cat.stdout).digest('hex')).toBe(
        createHash('sha256').update(input).digest('hex'),
      );
      const err = await kubectl(['exec', '-n', ns, 'shell', '--', 'stderr', 'to', 'stderr'], websockets);
      expect(err).toMatchObject({ code: 0, stdout: '' });
      expect(err.stderr).toContain('to stderr\n');
    });

    it("exec: the exit code of the command is kubectl's", async () => {
      const r = await kubectl(['exec', '-n', ns, 'shell', '--', 'exit', '3'], websockets);
      expect(r.code).toBe(3);
      expect(r.stderr).toContain('command terminated with exit code 3');
      const missing = await kubectl(['exec', '-n', ns, 'shell', '--', 'no-such-command'], websockets);
      expect(missing.code).toBe(127);
    });

    it('port-forward: two parallel connections, 4 MiB each way, intact', async () => {
      const pf = spawn(
        kubectlPath(),
        ['--kubeconfig', inject('kubeconfig'), 'port-forward', '-n', ns, 'pod/shell', ':8080'],
        {
          env: kubectlEnv(websockets),
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      );
      try {
        const local = await forwardedPort(pf);
        const payloads = [randomBytes(4 << 20), randomBytes(4 << 20)];
        const echoed = await Promise.all(payloads.map((p) => roundTrip(local, p)));
        for (const [i, e] of echoed.entries()) expect(e.equals(payloads[i]!)).toBe(true);
      } finally {
        pf.kill('SIGKILL');
      }
    });
  });

  it('a user without pods/exec is refused by the apiserver', async () => {
    // A user who may read pods but has no pods/exec.
    const viewer = `viewer-${suffix}`;
    for (const args of [
      ['create', 'role', 'pod-reader', '-n', ns, '--verb=get,list', '--resource=pods'],
      ['create', 'rolebinding', 'pod-reader', '-n', ns, '--role=pod-reader', `--user=${viewer}`],
    ])
      expect((await kubectl(args, false)).code).toBe(0);
    for (const ws of [false, true]) {
      const r = await kubectl(['exec', '--as', viewer, '-n', ns, 'shell', '--', 'echo', 'x'], ws);
      expect(r.code).not.toBe(0);
      expect(r.stderr).toMatch(/forbidden.*cannot (create|get) resource "pods\/exec"/i);
      const pf = await kubectl(['port-forward', '--as', viewer, '-n', ns, 'pod/shell', ':8080'], ws);
      expect(pf.code).not.toBe(0);
      expect(pf.stderr).toMatch(/forbidden.*cannot (create|get) resource "pods\/portforward"/i);
    }
  });

  it('the VK itself refuses 403 a direct stream request without nodes/proxy', async () => {
    // A ServiceAccount that may exec into pods (pods/exec) but has no nodes/proxy: going
    // around the apiserver to :10250 must not work.
    const sa = `exec-only-${suffix}`;
    for (const args of [
      ['create', 'serviceaccount', sa, '-n', ns],
      [
        'create',
        'role',
        'exec-only',
        '-n',
        ns,
        '--verb=get,create',
        '--resource=pods,pods/exec,pods/portforward',
      ],
      ['create', 'rolebinding', 'exec-only', '-n', ns, '--role=exec-only', `--serviceaccount=${ns}:${sa}`],
    ])
      expect((await kubectl(args, false)).code, args.join(' ')).toBe(0);
    const tr = await stack.admin.core.createNamespacedServiceAccountToken({
      name: sa,
      namespace: ns,
      body: { spec: { expirationSeconds: 600 } },
    });
    const ca = await readFile(inject('caCertPath'), 'utf8');
    for (const [path, protocol] of [
      [`/exec/${ns}/shell/main?command=echo&command=x&output=1`, 'v4.channel.k8s.io'],
      [`/attach/${ns}/shell/main?output=1`, 'v4.channel.k8s.io'],
      [`/portForward/${ns}/shell`, 'portforward.k8s.io'],
    ] as const) {
      const head = await upgradeHead(port, ca, nodeName, path, {
        authorization: `Bearer ${tr.status?.token}`,
        connection: 'Upgrade',
        upgrade: 'SPDY/3.1',
        'x-stream-protocol-version': protocol,
      });
      expect(head.split('\r\n')[0], path).toMatch(/^HTTP\/1\.1 403 /);
      expect(head).toContain(`user=system:serviceaccount:${ns}:${sa}`);
      expect(head).toContain('subresource(s)=[proxy]');
    }
  });

  it('a container that does not exist is named in the error', async () => {
    const r = await kubectl(['exec', '-n', ns, 'shell', '-c', 'ghost', '--', 'echo'], false);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('ghost');
  });

  it('killing kubectl mid-stream ends the exec in the plugin', async () => {
    const child = spawn(
      kubectlPath(),
      ['--kubeconfig', inject('kubeconfig'), 'exec', '-i', '-n', ns, 'shell', '--', 'cat'],
      {
        env: kubectlEnv(false),
        stdio: ['pipe', 'pipe', 'pipe'],
      },
    );
    child.stdin.write('ping\n');
    await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
    child.kill('SIGKILL');
    // The mock's exec of `cat` ends only when its stdin ends or the call is cancelled.
    await eventually('no exec left in the plugin', async () => (await pluginStreams(stack)) === 0, 30_000);
  });
});

/** exec/port-forward streams open in the mock plugin, from its metrics. */
async function pluginStreams(stack: Stack): Promise<number> {
  const text = await stack.mock.parts.registry.metrics();
  return Number(/^interlink_plugin_exec_streams (\d+)/m.exec(text)?.[1] ?? Number.NaN);
}

function forwardedPort(child: ChildProcess): Promise<number> {
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (c: Buffer) => {
      out += c.toString();
      const m = /Forwarding from 127\.0\.0\.1:(\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    let err = '';
    child.stderr!.on('data', (c: Buffer) => {
      err += c.toString();
    });
    child.once('exit', (code) => reject(new Error(`kubectl port-forward exited (${code}): ${err}`)));
  });
}

function roundTrip(port: number, payload: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const sock = connect(port, '127.0.0.1');
    const parts: Buffer[] = [];
    let n = 0;
    sock.on('data', (c: Buffer) => {
      parts.push(c);
      n += c.length;
      if (n >= payload.length) {
        sock.end();
        resolve(Buffer.concat(parts));
      }
    });
    sock.on('error', reject);
    sock.on('connect', () => sock.write(payload));
  });
}

/** Send one upgrade request over TLS and return the whole answer (the VK closes after a refusal). */
function upgradeHead(
  port: number,
  ca: string,
  servername: string,
  path: string,
  headers: Record<string, string>,
): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = tlsConnect({ host: '127.0.0.1', port, ca, servername }, () => {
      const lines = [`GET ${path} HTTP/1.1`, `Host: 127.0.0.1:${port}`];
      for (const [k, v] of Object.entries(headers)) lines.push(`${k}: ${v}`);
      sock.write(`${lines.join('\r\n')}\r\n\r\n`);
    });
    let got = '';
    sock.on('data', (c: Buffer) => {
      got += c.toString('utf8');
    });
    sock.on('error', reject);
    sock.on('close', () => resolve(got));
  });
}
