/**
 * The install as a site does it, end to end on the real control plane, dockerd and Slurm:
 *
 * - The virtual kubelet runs with a kubeconfig for the ServiceAccount that
 *   deploy/kustomize creates and binds to deploy/rbac/clusterrole.yaml — not the admin one —
 *   so every API call it makes (node, lease, pods, status, ConfigMaps, Secrets, events,
 *   CSR, TokenReview/SubjectAccessReview, ...) is checked against that ClusterRole. Its
 *   serving certificate comes from a kubelet-serving CSR approved with `kubectl certificate
 *   approve`, as docs/deploy-hpc.md says.
 * - The three roles run as the shipped CLI (`node src/cli/main.ts vk|api|plugin ...`),
 *   talking over unix sockets with token auth.
 * - Every example of examples/ is applied with the plugin it names and reaches the end
 *   state its header documents (pods are pinned to this test's node with a hostname
 *   selector, on top of their own `type: virtual-kubelet`, because other suites may run
 *   virtual nodes on the same cluster; docker examples get the locally built busybox image).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { stringify as toYaml } from 'yaml';
import { freePort } from '../../src/core/free-ports.ts';
import { type Manifest, parseManifests, ROOT, run } from '../deploy/tools.ts';

const suffix = Math.random().toString(36).slice(2, 7);
const ns = `e2e-deploy-${suffix}`;
const TOKEN = `e2e-deploy-token-${suffix}-0123456789`;
const kubectlBin = join(inject('k8sBinDir'), 'kubectl');
const admin = (args: string[], input?: string) =>
  run(kubectlBin, ['--kubeconfig', inject('kubeconfig'), ...args], input === undefined ? {} : { input });

async function must(args: string[], input?: string): Promise<string> {
  const r = await admin(args, input);
  if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

async function eventually<T>(
  what: string,
  fn: () => Promise<T | undefined | false | null>,
  timeoutMs = 120_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    await sleep(500);
  }
}

// ---- the three roles as child processes ------------------------------------------------------

interface Role {
  name: string;
  proc: ChildProcess;
  output: string[];
  exited: Promise<number | null>;
}

function startRole(name: string, args: string[], env: NodeJS.ProcessEnv = {}): Role {
  const proc = spawn(process.execPath, ['src/cli/main.ts', ...args], {
    cwd: ROOT,
    env: { ...process.env, LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  const collect = (c: Buffer) => output.push(...String(c).split('\n').filter(Boolean));
  proc.stdout!.on('data', collect);
  proc.stderr!.on('data', collect);
  const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
  return { name, proc, output, exited };
}

async function stopRole(role: Role): Promise<void> {
  if (role.proc.exitCode !== null || role.proc.signalCode !== null) return;
  role.proc.kill('SIGTERM');
  const done = await Promise.race([role.exited.then(() => true), sleep(15_000).then(() => false)]);
  if (!done) {
    role.proc.kill('SIGKILL');
    await role.exited;
  }
}

async function waitForSocket(path: string, role: Role): Promise<void> {
  await eventually(
    `${role.name} listening on ${path}`,
    async () => {
      if (role.proc.exitCode !== null)
        throw new Error(`${role.name} exited ${role.proc.exitCode}:\n${role.output.join('\n')}`);
      return existsSync(path);
    },
    60_000,
  );
}

/** Log lines of a role that say the apiserver refused it something (RBAC). */
const forbidden = (role: Role) => role.output.filter((l) => /forbidden|\b403\b/i.test(l));

/**
 * Positive evidence of the permissions whose use no pod state shows (Events, the Lease),
 * then the VK's whole log, read after it stopped (its log writes are buffered until then),
 * must hold no refusal. Node, pod status, ConfigMaps/Secrets, tokens, CSR, delete and the
 * kubelet API's TokenReview/SubjectAccessReview are proven by the examples' end states.
 */
async function clusterRoleSufficed(chain: Chain): Promise<void> {
  const events = JSON.parse(await must(['get', 'events', '-n', ns, '-o', 'json'])).items as Manifest[];
  expect(
    events.filter((e) => e.source?.component === 'interlink-vk' && e.source?.host === chain.nodeName).length,
  ).toBeGreaterThan(0);
  const lease = JSON.parse(
    await must(['get', 'lease', chain.nodeName, '-n', 'kube-node-lease', '-o', 'json']),
  ) as Manifest;
  expect(lease.spec.holderIdentity).toBe(chain.nodeName);
  await stopRole(chain.vk);
  expect(chain.vk.output.some((l) => l.includes('virtual kubelet stopped'))).toBe(true);
  expect(forbidden(chain.vk)).toEqual([]);
}

// ---- the ServiceAccount identity of deploy/kustomize ------------------------------------------

let saKubeconfig: string;
let work: string;

async function serviceAccountKubeconfig(): Promise<string> {
  await admin(['create', 'namespace', 'vk']);
  // Exactly the RBAC objects of the documented install (the Deployment itself cannot run
  // here: there is no real node for it; the VK runs as a process with the same identity).
  const rendered = parseManifests(await must(['kustomize', join(ROOT, 'deploy/kustomize')]));
  const rbac = rendered.filter((o) =>
    ['ServiceAccount', 'ClusterRole', 'ClusterRoleBinding'].includes(o.kind),
  );
  expect(rbac.map((o) => o.kind).sort()).toEqual(['ClusterRole', 'ClusterRoleBinding', 'ServiceAccount']);
  await must(['apply', '-n', 'vk', '-f', '-'], rbac.map((o) => toYaml(o)).join('---\n'));
  const sa = rbac.find((o) => o.kind === 'ServiceAccount')!.metadata.name as string;
  const token = (await must(['create', 'token', sa, '-n', 'vk', '--duration=2h'])).trim();
  const file = join(work, 'sa.kubeconfig');
  await writeFile(
    file,
    toYaml({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [
        {
          name: 'e2e',
          cluster: { server: inject('k8sServer'), 'certificate-authority': inject('caCertPath') },
        },
      ],
      users: [{ name: sa, user: { token } }],
      contexts: [{ name: 'vk', context: { cluster: 'e2e', user: sa } }],
      'current-context': 'vk',
    }),
    { mode: 0o600 },
  );
  // The identity really is the ServiceAccount, and it is no admin.
  const who = await run(kubectlBin, ['--kubeconfig', file, 'auth', 'can-i', 'delete', 'namespaces']);
  expect(who.stdout.trim()).toBe('no');
  return file;
}

// ---- one chain: plugin + API + VK ----------------------------------------------------------

interface Chain {
  nodeName: string;
  roles: Role[];
  vk: Role;
  stop(): Promise<void>;
}

async function startChain(
  kind: 'docker' | 'slurm',
  pluginConfig: Record<string, unknown>,
  env: NodeJS.ProcessEnv,
): Promise<Chain> {
  const nodeName = `e2e-${kind}-${suffix}`;
  const dir = await mkdtemp(join(work, `${kind}-`));
  const pluginSock = join(dir, 'plugin.sock');
  const apiSock = join(dir, 'api.sock');
  await writeFile(join(dir, 'tokens'), `${TOKEN} e2e\n`, { mode: 0o600 });
  await writeFile(join(dir, 'vk-token'), `${TOKEN}\n`, { mode: 0o600 });
  await writeFile(join(dir, 'plugin.yaml'), toYaml({ socket: pluginSock, ...pluginConfig }));
  await writeFile(
    join(dir, 'api.yaml'),
    toYaml({
      interlinkUrl: `unix://${apiSock}`,
      sidecarUrl: `unix://${pluginSock}`,
      auth: { tokenFile: join(dir, 'tokens') },
    }),
  );
  await writeFile(
    join(dir, 'vk.yaml'),
    toYaml({
      nodeName,
      interlinkUrl: `unix://${apiSock}`,
      vkTokenFile: join(dir, 'vk-token'),
      podIp: '127.0.0.1',
      kubeletHttp: { port: await freePort(), address: '127.0.0.1', csr: true },
      statusIntervalMs: 1_000,
      pingIntervalMs: 2_000,
    }),
  );
  const plugin = startRole(`plugin ${kind}`, ['plugin', kind, '--config', join(dir, 'plugin.yaml')], env);
  await waitForSocket(pluginSock, plugin);
  const api = startRole('api', ['api', '--config', join(dir, 'api.yaml')]);
  await waitForSocket(apiSock, api);
  const vk = startRole('vk', ['vk', '--config', join(dir, 'vk.yaml'), '--kubeconfig', saKubeconfig]);
  const roles = [vk, api, plugin];
  const chain: Chain = {
    nodeName,
    roles,
    vk,
    async stop() {
      for (const r of roles) await stopRole(r);
      await admin(['delete', 'node', nodeName, '--wait=false']);
    },
  };
  try {
    // The documented step: an admin approves the VK's kubelet-serving CSR.
    const csr = await eventually(
      'the VK serving CSR',
      async () => {
        if (vk.proc.exitCode !== null)
          throw new Error(`vk exited ${vk.proc.exitCode}:\n${vk.output.join('\n')}`);
        return (await must(['get', 'csr', '-l', `interlink.io/node=${nodeName}`, '-o', 'name']))
          .trim()
          .split('\n')[0];
      },
      60_000,
    );
    await must(['certificate', 'approve', csr]);
    await eventually(
      `node ${nodeName} Ready`,
      async () => {
        const conds = JSON.parse(
          await must(['get', 'node', nodeName, '-o', 'jsonpath={.status.conditions}']),
        ) as Manifest[];
        return conds.some((c) => c.type === 'Ready' && c.status === 'True');
      },
      90_000,
    );
  } catch (err) {
    await chain.stop();
    throw new Error(`${(err as Error).message}\n--- vk output:\n${vk.output.slice(-40).join('\n')}`);
  }
  return chain;
}

// ---- examples -------------------------------------------------------------------------------

/** An example's objects, pinned to `nodeName`, in the test namespace, with `image` swapped in. */
function example(file: string, nodeName: string, image?: string): string {
  const objs = parseManifests(readFileSync(join(ROOT, 'examples', file), 'utf8'));
  for (const o of objs) {
    o.metadata.namespace = ns;
    const spec =
      o.kind === 'Pod'
        ? o.spec
        : o.kind === 'Job' || o.kind === 'Deployment'
          ? o.spec.template.spec
          : undefined;
    if (!spec) continue;
    expect(spec.nodeSelector).toEqual({ type: 'virtual-kubelet' });
    spec.nodeSelector['kubernetes.io/hostname'] = nodeName;
    if (image) for (const c of spec.containers) if (c.image.startsWith('busybox')) c.image = image;
  }
  return objs.map((o) => toYaml(o)).join('---\n');
}

async function podPhase(name: string): Promise<string> {
  return (await must(['get', 'pod', name, '-n', ns, '-o', 'jsonpath={.status.phase}'])).trim();
}

async function waitPodPhase(name: string, phase: string, timeoutMs = 150_000): Promise<void> {
  await eventually(
    `pod ${name} ${phase}`,
    async () => {
      const p = await podPhase(name);
      if (p === 'Failed' && phase !== 'Failed') {
        throw new Error(
          `pod ${name} Failed: ${await must(['get', 'pod', name, '-n', ns, '-o', 'jsonpath={.status}'])}`,
        );
      }
      return p === phase;
    },
    timeoutMs,
  );
}

const logsOf = async (target: string) => must(['logs', '-n', ns, target]);

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'interlink-e2e-deploy-'));
  saKubeconfig = await serviceAccountKubeconfig();
  await admin(['create', 'namespace', ns]);
  await eventually(
    'the default ServiceAccount',
    async () => (await admin(['get', 'sa', 'default', '-n', ns])).code === 0,
    60_000,
  );
}, 300_000);

afterAll(async () => {
  await admin(['delete', 'namespace', ns, '--wait=false']);
  if (work) await rm(work, { recursive: true, force: true });
});

describe('docker plugin examples, VK with the ServiceAccount of deploy/kustomize', () => {
  let chain: Chain;
  const instance = `e2e-${suffix}`;
  const docker = (args: string[]) =>
    run(inject('dockerCli'), args, { env: { ...process.env, DOCKER_HOST: inject('dockerHost') } });

  beforeAll(async () => {
    const dataRoot = await mkdtemp(join(work, 'docker-data-'));
    chain = await startChain(
      'docker',
      {
        dockerCli: inject('dockerCli'),
        dockerHost: inject('dockerHost'),
        dataRoot,
        instance,
        infraImage: inject('testImage'),
        infraCommand: ['sleep', '2147483647'],
      },
      {},
    );
  }, 300_000);

  afterAll(async () => {
    await chain?.stop();
  });

  it('busy-echo.yaml: Pod Succeeded, its log says hello and bye', async () => {
    await must(['apply', '-f', '-'], example('busy-echo.yaml', chain.nodeName, inject('testImage')));
    await waitPodPhase('busy-echo', 'Succeeded');
    expect(await logsOf('busy-echo')).toBe('hello from interlink\nbye\n');
  });

  it('job.yaml: Job Complete, the log ends with sum=5050', async () => {
    await must(['apply', '-f', '-'], example('job.yaml', chain.nodeName, inject('testImage')));
    await eventually(
      'Job sum-job Complete',
      async () => {
        const conds = JSON.parse(
          (await must(['get', 'job', 'sum-job', '-n', ns, '-o', 'jsonpath={.status.conditions}'])) || '[]',
        ) as Manifest[];
        return conds.some((c) => c.type === 'Complete' && c.status === 'True');
      },
      150_000,
    );
    expect((await logsOf('job/sum-job')).trim().split('\n').at(-1)).toBe('sum=5050');
  });

  it('deployment.yaml: Deployment Available with 2/2 replicas ready', async () => {
    await must(['apply', '-f', '-'], example('deployment.yaml', chain.nodeName, inject('testImage')));
    await eventually(
      'Deployment ticker Available 2/2',
      async () => {
        const status = JSON.parse(
          await must(['get', 'deployment', 'ticker', '-n', ns, '-o', 'jsonpath={.status}']),
        ) as Manifest;
        const available = (status.conditions as Manifest[] | undefined)?.some(
          (c) => c.type === 'Available' && c.status === 'True',
        );
        return available && status.readyReplicas === 2;
      },
      150_000,
    );
    const pods = JSON.parse(await must(['get', 'pods', '-n', ns, '-l', 'app=ticker', '-o', 'json']))
      .items as Manifest[];
    expect(pods.map((p) => [p.spec.nodeName, p.status.phase])).toEqual([
      [chain.nodeName, 'Running'],
      [chain.nodeName, 'Running'],
    ]);
    const log = await eventually(
      'a tick',
      async () => {
        const l = await logsOf(`pod/${pods[0]!.metadata.name}`);
        return /^tick \d\d:\d\d:\d\d$/m.test(l) ? l : undefined;
      },
      60_000,
    );
    expect(log).toMatch(/^tick /);
  });

  it('configmap-secret-volumes.yaml: Pod Succeeded, volume and env content arrived', async () => {
    await must(
      ['apply', '-f', '-'],
      example('configmap-secret-volumes.yaml', chain.nodeName, inject('testImage')),
    );
    await waitPodPhase('app-config', 'Succeeded');
    const log = await logsOf('app-config');
    expect(log).toContain('greeting=hello\n');
    expect(log).toContain('mode=batch\nthreads=4\n');
    expect(log).toContain('password-length=10\n');
  });

  it('deleting the examples removes their pods and containers', async () => {
    for (const f of ['busy-echo.yaml', 'job.yaml', 'deployment.yaml', 'configmap-secret-volumes.yaml']) {
      await must(['delete', '-f', '-', '--wait=false', '--ignore-not-found'], example(f, chain.nodeName));
    }
    await eventually(
      'no pods left',
      async () => JSON.parse(await must(['get', 'pods', '-n', ns, '-o', 'json'])).items.length === 0,
      150_000,
    );
    await eventually(
      'no containers left',
      async () => {
        const r = await docker(['ps', '-aq', '--filter', `label=interlink.vk.io/instance=${instance}`]);
        return r.code === 0 && r.stdout.trim() === '';
      },
      60_000,
    );
  });

  it('the ClusterRole sufficed: the VK was refused nothing', async () => {
    await clusterRoleSufficed(chain);
  });
});

describe('slurm plugin examples, VK with the ServiceAccount of deploy/kustomize', () => {
  let chain: Chain;
  const slurmEnv = () => ({ ...process.env, SLURM_CONF: inject('slurmConf') });

  beforeAll(async () => {
    const dataRoot = await mkdtemp(join(work, 'slurm-data-'));
    chain = await startChain(
      'slurm',
      { dataRoot, containerRuntime: 'none' },
      { SLURM_CONF: inject('slurmConf') },
    );
  }, 300_000);

  afterAll(async () => {
    await chain?.stop();
  });

  it('slurm-flags.yaml: Pod Succeeded as a Slurm job with the annotation flags applied', async () => {
    await must(['apply', '-f', '-'], example('slurm-flags.yaml', chain.nodeName));
    await waitPodPhase('slurm-hello', 'Succeeded');
    const log = await logsOf('slurm-hello');
    expect(log).toMatch(/^slurm job \S+ on \S+\n/);
    expect(log.trim().split('\n').at(-1)).toBe('done');
    const uid = (
      await must(['get', 'pod', 'slurm-hello', '-n', ns, '-o', 'jsonpath={.metadata.uid}'])
    ).trim();
    const jobs = await run('scontrol', ['show', 'job', '--oneliner'], { env: slurmEnv() });
    const line = jobs.stdout.split('\n').find((l) => l.includes(uid));
    expect(line, jobs.stdout + jobs.stderr).toBeDefined();
    expect(line).toContain('TimeLimit=00:10:00');
    expect(line).toContain('Comment=interlink-example');
  });

  it('gpu.yaml: Pod Pending with "Insufficient nvidia.com/gpu" on a node without GPUs', async () => {
    await must(['apply', '-f', '-'], example('gpu.yaml', chain.nodeName));
    const message = await eventually(
      'FailedScheduling',
      async () => {
        const ev = JSON.parse(
          await must([
            'get',
            'events',
            '-n',
            ns,
            '--field-selector',
            'involvedObject.name=gpu-smi,reason=FailedScheduling',
            '-o',
            'json',
          ]),
        );
        return (ev.items as Manifest[])[0]?.message as string | undefined;
      },
      90_000,
    );
    expect(message).toContain('Insufficient nvidia.com/gpu');
    expect(await podPhase('gpu-smi')).toBe('Pending');
    expect(await must(['get', 'pod', 'gpu-smi', '-n', ns, '-o', 'jsonpath={.spec.nodeName}'])).toBe('');
  });

  it('the ClusterRole sufficed: the VK was refused nothing', async () => {
    await clusterRoleSufficed(chain);
  });
});
