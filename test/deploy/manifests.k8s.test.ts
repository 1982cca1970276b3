/**
 * The deploy manifests against the real kube-apiserver: a server-side dry run applies them
 * with full validation (schemas, strict field validation, admission, RBAC escalation
 * checks) without creating anything. Covers `kubectl apply -k deploy/kustomize` exactly as
 * documented, the Helm chart rendered in both modes and with the optional features on, and
 * every example manifest. The configuration files the chart renders are loaded with the
 * code's own schemas, so a renamed key fails here instead of at a site.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { loadApiConfig, resolveApiConfig } from '../../src/api/config.ts';
import { loadPluginConfig } from '../../src/plugins/serve.ts';
import { loadVkConfig } from '../../src/vk/config.ts';
import { helmBinary, type Manifest, parseManifests, ROOT, renderChart, run } from './tools.ts';

const kubeconfig = inject('kubeconfig');
const kubectlBin = join(inject('k8sBinDir'), 'kubectl');
const kubectl = (args: string[], input?: string) =>
  run(kubectlBin, ['--kubeconfig', kubeconfig, ...args], input === undefined ? {} : { input });

const ns = `deploy-${Math.random().toString(36).slice(2, 8)}`;

async function ensureNamespace(name: string) {
  const r = await kubectl(['create', 'namespace', name]);
  if (r.code !== 0 && !/AlreadyExists/.test(r.stderr))
    throw new Error(`create namespace ${name}: ${r.stderr}`);
}

/** Server-side dry run; returns kubectl's answer for the assertions to show. */
const dryRun = (args: string[], input?: string) => kubectl(['apply', '--dry-run=server', ...args], input);

const EDGE = {
  mode: 'edge',
  interlink: { url: 'https://interlink.example.org', port: 443 },
  auth: { token: 'abc' },
};

beforeAll(async () => {
  await Promise.all([ensureNamespace('vk'), ensureNamespace(ns), helmBinary()]);
}, 900_000);

afterAll(async () => {
  await kubectl(['delete', 'namespace', ns, '--wait=false']);
});

describe('server-side dry run', () => {
  it('rejects an invalid manifest (the check can fail)', async () => {
    const bad =
      'apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: bad}\nspec: {replicas: 1, selector: {matchLabels: {a: b}}, template: {metadata: {labels: {a: b}}, spec: {containers: [{name: c, image: i, imagePullPolicy: Sometimes}]}}}\n';
    const r = await dryRun(['-n', ns, '-f', '-'], bad);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/imagePullPolicy/);
  });
});

describe('kustomize', () => {
  it('`kubectl apply -n vk -k deploy/kustomize` is accepted, as documented', async () => {
    const r = await dryRun(['-n', 'vk', '-k', join(ROOT, 'deploy/kustomize')]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    for (const what of [
      'serviceaccount/interlink-vk',
      'clusterrole.rbac.authorization.k8s.io/interlink-vk',
      'clusterrolebinding.rbac.authorization.k8s.io/interlink-vk',
      'configmap/interlink-vk-config-',
      'secret/interlink-vk-token-',
      'deployment.apps/interlink-vk',
    ]) {
      expect(r.stdout).toContain(what);
    }
  });

  it('renders everything into namespace vk, with generated names wired into the Deployment', async () => {
    const r = await kubectl(['kustomize', join(ROOT, 'deploy/kustomize')]);
    expect(r.code).toBe(0);
    const objs = parseManifests(r.stdout);
    const byKind = (k: string) => objs.filter((o) => o.kind === k);
    for (const o of objs)
      if (o.kind !== 'ClusterRole' && o.kind !== 'ClusterRoleBinding')
        expect(o.metadata.namespace).toBe('vk');
    const cm = byKind('ConfigMap')[0]!;
    const secret = byKind('Secret')[0]!;
    const pod = byKind('Deployment')[0]!.spec.template.spec;
    expect(pod.volumes.find((v: Manifest) => v.name === 'config').configMap.name).toBe(cm.metadata.name);
    expect(pod.volumes.find((v: Manifest) => v.name === 'token').secret.secretName).toBe(
      secret.metadata.name,
    );
    expect(
      pod.containers[0].env.find((e: Manifest) => e.name === 'NODENAME').valueFrom.configMapKeyRef.name,
    ).toBe(cm.metadata.name);
    expect(cm.data.NODENAME).toBe('interlink-node');
    const rules = parseYaml(readFileSync(join(ROOT, 'deploy/rbac/clusterrole.yaml'), 'utf8')).rules;
    expect(byKind('ClusterRole')[0]!.rules).toEqual(rules);
  });
});

// ---- Helm ---------------------------------------------------------------------------------

const variants: Array<[string, Manifest]> = [
  ['edge (defaults)', EDGE],
  [
    'edge with TLS, mTLS, kubelet certificate from a Secret, extra labels and taints',
    {
      ...EDGE,
      tls: { caSecret: 'site-ca', clientCertSecret: 'vk-client' },
      kubeletTls: { mode: 'secret', secretName: 'vk-serving', clientCaSecret: 'kubelet-client-ca' },
      virtualNode: {
        labels: { 'site.example.org/name': 'hpc1' },
        taints: [{ key: 'site.example.org/hpc', value: 'true', effect: 'NoSchedule' }],
        resources: {
          cpu: '2000',
          memory: '8Ti',
          pods: '500',
          accelerators: [{ resourceType: 'nvidia.com/gpu', model: 'a100', available: 16 }],
        },
      },
    },
  ],
  [
    'edge with CSR self-approval and an existing token Secret',
    {
      ...EDGE,
      auth: { existingSecret: 'mytoken', existingSecretKey: 'jwt' },
      kubeletTls: { mode: 'csr', selfApprove: true },
    },
  ],
  ['in-cluster (mock, generated token)', { mode: 'in-cluster' }],
  [
    'in-cluster (docker plugin, OIDC, extra volumes)',
    {
      mode: 'in-cluster',
      auth: {
        token: 'abc',
        oidc: {
          enabled: true,
          issuer: 'https://idp.example.org/realms/hpc',
          audience: 'interlink',
          requiredGroup: 'hpc',
        },
      },
      plugin: {
        name: 'docker',
        config: { dataRoot: '/var/lib/interlink/docker' },
        extraVolumeMounts: [{ name: 'docker-sock', mountPath: '/var/run/docker.sock' }],
      },
      extraVolumes: [{ name: 'docker-sock', hostPath: { path: '/var/run/docker.sock', type: 'Socket' } }],
      podSecurityContext: {
        runAsNonRoot: true,
        runAsUser: 10001,
        runAsGroup: 10001,
        fsGroup: 10001,
        supplementalGroups: [999],
      },
    },
  ],
];

describe('helm chart', () => {
  it.each(variants)('%s: accepted by the apiserver', async (_name, values) => {
    const text = await renderChart(values, { namespace: ns });
    const r = await dryRun(['-n', ns, '-f', '-'], text);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/deployment\.apps\/t-interlink (created|configured) \(server dry run\)/);
  });

  it.each(variants)(
    '%s: rendered configuration files load with the code schemas, no unknown keys',
    async (_name, values) => {
      const objs = parseManifests(await renderChart(values, { namespace: ns }));
      const cm = objs.find((o) => o.kind === 'ConfigMap')!;
      const dir = await mkdtemp(join(tmpdir(), 'interlink-chart-config-'));
      const warn: Manifest[] = [];
      const logger = pino(
        { level: 'warn' },
        new Writable({
          write(c, _e, cb) {
            warn.push(JSON.parse(String(c)));
            cb();
          },
        }),
      );
      try {
        for (const [k, v] of Object.entries(cm.data as Record<string, string>))
          await writeFile(join(dir, k), v);
        const vk = loadVkConfig({ file: join(dir, 'vk.yaml'), env: {}, logger });
        expect(vk.vkTokenFile).toBe('/etc/interlink/token/token');
        if (values.mode === 'in-cluster') {
          expect(vk.interlinkUrl).toBe('unix:///var/run/interlink/api.sock');
          const api = resolveApiConfig(loadApiConfig({ file: join(dir, 'api.yaml'), env: {}, logger }));
          expect(api.listen).toEqual({ kind: 'unix', path: '/var/run/interlink/api.sock' });
          expect(api.plugin).toEqual({ kind: 'unix', path: '/var/run/interlink/plugin.sock' });
          expect(api.auth.tokenFile).toBe('/etc/interlink/token/token');
          if (values.auth?.oidc)
            expect(api.auth.oidc).toMatchObject({
              issuer: values.auth.oidc.issuer,
              audience: 'interlink',
              requiredGroup: 'hpc',
            });
          const plugin = await loadPluginConfig(values.plugin?.name ?? 'mock', {
            configFile: join(dir, 'plugin.yaml'),
            env: {},
            logger,
          });
          expect(plugin.endpoint).toEqual({ kind: 'unix', path: '/var/run/interlink/plugin.sock' });
        } else {
          expect(vk.interlinkUrl).toBe('https://interlink.example.org');
          expect(Object.keys(cm.data)).toEqual(['vk.yaml']);
        }
        if (values.virtualNode) {
          expect(vk.nodeLabels).toEqual({ 'site.example.org/name': 'hpc1' });
          expect(vk.nodeTaints).toEqual([
            { key: 'site.example.org/hpc', value: 'true', effect: 'NoSchedule' },
          ]);
          expect(vk.resources.accelerators).toEqual([
            { resourceType: 'nvidia.com/gpu', model: 'a100', available: 16 },
          ]);
          expect(vk.http.caCert).toBe('/etc/interlink/api-ca/ca.crt');
          expect(vk.tls).toMatchObject({ enabled: true, certFile: '/etc/interlink/client-tls/tls.crt' });
          expect(vk.kubeletHttp).toMatchObject({
            certFile: '/etc/interlink/kubelet-tls/tls.crt',
            clientCaFile: '/etc/interlink/kubelet-client-ca/ca.crt',
          });
        }
        expect(warn.filter((w) => /unknown/i.test(String(w.msg)))).toEqual([]);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    },
  );

  it('in-cluster: VK, API and plugin share the socket emptyDir; edge runs the VK alone', async () => {
    const inCluster = parseManifests(
      await renderChart({ mode: 'in-cluster', plugin: { name: 'mock' } }),
    ).find((o) => o.kind === 'Deployment')!;
    const spec = inCluster.spec.template.spec;
    expect(spec.containers.map((c: Manifest) => c.name)).toEqual(['vk', 'api', 'plugin']);
    expect(spec.containers.map((c: Manifest) => c.args)).toEqual([
      ['vk', '--config', '/etc/interlink/vk.yaml'],
      ['api', '--config', '/etc/interlink/api.yaml'],
      ['plugin', 'mock', '--config', '/etc/interlink/plugin.yaml'],
    ]);
    for (const c of spec.containers) {
      expect(c.volumeMounts).toContainEqual({ name: 'sockets', mountPath: '/var/run/interlink' });
    }
    expect(spec.volumes).toContainEqual({ name: 'sockets', emptyDir: {} });
    const edge = parseManifests(await renderChart(EDGE)).find((o) => o.kind === 'Deployment')!;
    expect(edge.spec.template.spec.containers.map((c: Manifest) => c.name)).toEqual(['vk']);
  });

  it('the ClusterRole is deploy/rbac/clusterrole.yaml; self-approval adds only the signer approval', async () => {
    const rules = parseYaml(readFileSync(join(ROOT, 'deploy/rbac/clusterrole.yaml'), 'utf8')).rules;
    const plain = parseManifests(await renderChart(EDGE)).filter((o) => o.kind === 'ClusterRole');
    expect(plain).toHaveLength(1);
    expect(plain[0]!.rules).toEqual(rules);
    const approving = parseManifests(
      await renderChart({ ...EDGE, kubeletTls: { mode: 'csr', selfApprove: true } }),
    ).filter((o) => o.kind === 'ClusterRole');
    expect(approving).toHaveLength(2);
    expect(approving[1]!.rules).toContainEqual({
      apiGroups: ['certificates.k8s.io'],
      resources: ['signers'],
      resourceNames: ['kubernetes.io/kubelet-serving'],
      verbs: ['approve'],
    });
  });

  it('refuses what cannot work: edge without an API URL or a token, an unknown mode', async () => {
    await expect(renderChart({ mode: 'edge', auth: { token: 'x' } })).rejects.toThrow(
      /interlink.url is required/,
    );
    await expect(renderChart({ mode: 'edge', interlink: { url: 'https://x' } })).rejects.toThrow(
      /auth.token or auth.existingSecret/,
    );
    await expect(renderChart({ mode: 'sideways' })).rejects.toThrow(/mode must be edge or in-cluster/);
  });

  it('`helm lint` passes', async () => {
    const r = await run(await helmBinary(), [
      'lint',
      join(ROOT, 'deploy/helm/interlink'),
      '--set',
      'interlink.url=https://x',
      '--set',
      'auth.token=y',
    ]);
    expect(r.stdout).toMatch(/0 chart\(s\) failed/);
    expect(r.code).toBe(0);
  });
});

describe('examples', () => {
  const files = readdirSync(join(ROOT, 'examples')).filter((f) => f.endsWith('.yaml'));
  it.each(files)('%s is accepted by the apiserver', async (file) => {
    const r = await dryRun(['-n', ns, '-f', join(ROOT, 'examples', file)]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
  });
});
