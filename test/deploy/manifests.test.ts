/**
 * What the deploy files promise, checked without a cluster: the Helm chart's ClusterRole is
 * the VK's own (deploy/rbac/clusterrole.yaml), the configuration files we ship load with the
 * code's own schemas (no unknown keys), the examples carry their header and reach the
 * virtual node, and the annotations reference names every annotation the plugins read.
 * The same files against a real apiserver: manifests.k8s.test.ts.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { loadApiConfig } from '../../src/api/config.ts';
import { loadPluginConfig } from '../../src/plugins/serve.ts';
import { loadVkConfig } from '../../src/vk/config.ts';
import { type Manifest, parseManifests } from './tools.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const read = (rel: string) => readFileSync(join(ROOT, rel), 'utf8');

type Obj = Manifest;

/** A logger whose warnings the test can read (unknown configuration keys are warnings). */
function warnings() {
  const lines: Obj[] = [];
  const sink = new Writable({
    write(chunk, _e, cb) {
      for (const l of String(chunk).split('\n')) if (l.trim()) lines.push(JSON.parse(l));
      cb();
    },
  });
  return { logger: pino({ level: 'warn' }, sink), lines };
}

describe('ClusterRole', () => {
  it('the Helm chart carries deploy/rbac/clusterrole.yaml unchanged', () => {
    expect(read('deploy/helm/interlink/files/clusterrole.yaml')).toBe(read('deploy/rbac/clusterrole.yaml'));
  });

  it('kustomize takes it from deploy/rbac (no copy to drift)', () => {
    const k = parseYaml(read('deploy/kustomize/kustomization.yaml')) as Obj;
    expect(k.resources).toContain('../rbac');
    expect((parseYaml(read('deploy/rbac/kustomization.yaml')) as Obj).resources).toEqual([
      'clusterrole.yaml',
    ]);
  });

  it('the ClusterRoleBinding binds the ServiceAccount the Deployment runs as', () => {
    const role = parseYaml(read('deploy/rbac/clusterrole.yaml')) as Obj;
    const binding = parseYaml(read('deploy/kustomize/clusterrolebinding.yaml')) as Obj;
    const sa = parseYaml(read('deploy/kustomize/serviceaccount.yaml')) as Obj;
    const dep = parseYaml(read('deploy/kustomize/deployment.yaml')) as Obj;
    expect(binding.roleRef).toEqual({
      apiGroup: 'rbac.authorization.k8s.io',
      kind: 'ClusterRole',
      name: role.metadata.name,
    });
    expect(binding.subjects).toEqual([{ kind: 'ServiceAccount', name: sa.metadata.name, namespace: 'vk' }]);
    expect(dep.spec.template.spec.serviceAccountName).toBe(sa.metadata.name);
  });
});

describe('kustomize VK configuration', () => {
  it('config/vk.yaml loads with the VK schema, every key known', () => {
    const { logger, lines } = warnings();
    const cfg = loadVkConfig({ file: join(ROOT, 'deploy/kustomize/config/vk.yaml'), env: {}, logger });
    expect(lines.filter((l) => /unknown/.test(String(l.msg)))).toEqual([]);
    expect(cfg.interlinkUrl).toBe('https://interlink.example.org');
    expect(cfg.interlinkPort).toBe(443);
    expect(cfg.vkTokenFile).toBe('/etc/interlink/token/token');
    expect(cfg.resources).toMatchObject({ cpu: '100', memory: '128Gi', pods: '100' });
    expect(cfg.kubeletHttp.csr).toBe(true);
    expect(cfg.metricsPort).toBe(8080);
  });

  it('the Deployment mounts the token where vk.yaml reads it, probes the metrics port, passes NODENAME and POD_IP', () => {
    const dep = parseYaml(read('deploy/kustomize/deployment.yaml')) as Obj;
    const c = dep.spec.template.spec.containers[0];
    const cfg = parseYaml(read('deploy/kustomize/config/vk.yaml')) as Obj;
    const tokenMount = c.volumeMounts.find((m: Obj) => m.name === 'token');
    expect(`${tokenMount.mountPath}/token`).toBe(cfg.VKTokenFile);
    expect(c.ports.find((p: Obj) => p.name === 'metrics').containerPort).toBe(cfg.MetricsPort);
    expect(c.ports.find((p: Obj) => p.name === 'kubelet-api').containerPort).toBe(10250);
    const env = Object.fromEntries(c.env.map((e: Obj) => [e.name, e]));
    expect(env.NODENAME.valueFrom.configMapKeyRef).toEqual({ name: 'interlink-vk-config', key: 'NODENAME' });
    expect(env.POD_IP.valueFrom.fieldRef.fieldPath).toBe('status.podIP');
    expect(c.args).toEqual(['vk', '--config', '/etc/interlink/vk.yaml']);
    expect(dep.spec.strategy.type).toBe('Recreate');
    expect(dep.spec.replicas).toBe(1);
  });
});

// ---- systemd (login node) ----------------------------------------------------------------------

describe('deploy/systemd', () => {
  it('api.yaml and slurm.yaml load with the code schemas, every key known', async () => {
    const { logger, lines } = warnings();
    const api = loadApiConfig({ file: join(ROOT, 'deploy/systemd/api.yaml'), env: {}, logger });
    expect(api.sidecarUrl).toBe('unix:///run/interlink/plugin.sock');
    expect(api.tls).toMatchObject({ enabled: true, certFile: '/etc/interlink/tls/tls.crt' });
    expect(api.auth.tokenFile).toBe('/etc/interlink/tokens');
    const slurm = await loadPluginConfig('slurm', {
      configFile: join(ROOT, 'deploy/systemd/slurm.yaml'),
      env: {},
      logger,
    });
    expect(slurm.endpoint).toEqual({ kind: 'unix', path: '/run/interlink/plugin.sock' });
    expect(slurm.config).toMatchObject({
      dataRoot: '/scratch/interlink/jobs',
      containerRuntime: 'apptainer',
      defaultFlavor: 'default',
    });
    expect(lines.filter((l) => /unknown/.test(String(l.msg)))).toEqual([]);
  });

  it('the units start the launchers `make all` writes, with the files shipped beside them', () => {
    const api = read('deploy/systemd/interlink-api.service');
    const plugin = read('deploy/systemd/interlink-plugin@.service');
    expect(api).toMatch(
      /^ExecStart=\/opt\/interlink\/bin\/interlink-api --config \/etc\/interlink\/api\.yaml$/m,
    );
    expect(plugin).toMatch(
      /^ExecStart=\/opt\/interlink\/bin\/interlink-plugin-%i --config \/etc\/interlink\/%i\.yaml$/m,
    );
    const roles = /^ROLES := (.*)$/m.exec(read('Makefile'))![1]!.split(/\s+/);
    expect(roles).toEqual(expect.arrayContaining(['api', 'plugin-slurm', 'plugin-docker', 'plugin-mock']));
    // Both share /run/interlink (the plugin socket) and keep it when either restarts.
    for (const unit of [api, plugin]) {
      expect(unit).toMatch(/^RuntimeDirectory=interlink$/m);
      expect(unit).toMatch(/^RuntimeDirectoryPreserve=yes$/m);
      expect(unit).toMatch(/^User=interlink$/m);
    }
    expect(read('deploy/systemd/api.yaml')).toContain('unix:///run/interlink/plugin.sock');
  });
});

// ---- examples -------------------------------------------------------------------------------

const exampleFiles = readdirSync(join(ROOT, 'examples')).filter((f) => f.endsWith('.yaml'));

/** Pod specs of a manifest (Pods, and the templates of Jobs and Deployments). */
function podSpecs(doc: Obj): Obj[] {
  if (doc.kind === 'Pod') return [doc.spec];
  if (doc.kind === 'Job' || doc.kind === 'Deployment') return [doc.spec.template.spec];
  return [];
}

describe('examples', () => {
  it('cover the six cases of the issue', () => {
    expect(exampleFiles.sort()).toEqual(
      [
        'busy-echo.yaml',
        'configmap-secret-volumes.yaml',
        'deployment.yaml',
        'gpu.yaml',
        'job.yaml',
        'slurm-flags.yaml',
      ].sort(),
    );
  });

  it.each(exampleFiles)('%s starts with what it shows, its plugin and its end state', (file) => {
    const head = read(`examples/${file}`)
      .split('\n')
      .filter((l) => l.startsWith('#'))
      .join('\n');
    expect(read(`examples/${file}`).startsWith('# Shows:')).toBe(true);
    expect(head).toMatch(/^# Plugin: +(mock|docker|slurm)\b/m);
    expect(head).toMatch(
      /^# End state: +(Pod (Succeeded|Running|Pending)|Job Complete|Deployment Available|on a virtual node)/m,
    );
  });

  it.each(exampleFiles)('%s tolerates the virtual-node taint and selects the virtual node', (file) => {
    const docs = parseManifests(read(`examples/${file}`));
    const specs = docs.flatMap(podSpecs);
    expect(specs.length).toBeGreaterThan(0);
    for (const spec of specs) {
      expect(spec.nodeSelector).toEqual({ type: 'virtual-kubelet' });
      expect(spec.tolerations).toContainEqual({
        key: 'virtual-node.interlink/no-schedule',
        operator: 'Exists',
        effect: 'NoSchedule',
      });
      // Long jobs: an unreachable/not-ready toleration shorter than an hour would defeat its purpose.
      for (const t of spec.tolerations as Obj[]) {
        if (t.key === 'node.kubernetes.io/unreachable' || t.key === 'node.kubernetes.io/not-ready') {
          expect(t.tolerationSeconds).toBeGreaterThanOrEqual(3600);
        }
      }
    }
  });

  it('batch examples (Job, Slurm, GPU) tolerate node.kubernetes.io/unreachable and not-ready and say why', () => {
    for (const file of ['job.yaml', 'slurm-flags.yaml', 'gpu.yaml']) {
      const text = read(`examples/${file}`);
      const spec = parseManifests(text).flatMap(podSpecs)[0]!;
      for (const key of ['node.kubernetes.io/unreachable', 'node.kubernetes.io/not-ready']) {
        const t = (spec.tolerations as Obj[]).find((x) => x.key === key);
        expect(t, `${file}: ${key}`).toMatchObject({ operator: 'Exists', effect: 'NoExecute' });
        expect(t!.tolerationSeconds).toBeGreaterThanOrEqual(86400);
      }
    }
    expect(read('examples/job.yaml')).toMatch(/evicts the pod/);
    expect(read('examples/slurm-flags.yaml')).toMatch(/evicted/);
  });

  it('the Slurm example sets the flags annotation the slurm plugin reads', () => {
    const pod = parseYaml(read('examples/slurm-flags.yaml')) as Obj;
    expect(pod.metadata.annotations['slurm-job.vk.io/flags']).toMatch(/--time=00:10:00/);
  });
});

// ---- annotations reference --------------------------------------------------------------------

function sourceFiles(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts'))
    .map((e) => join(e.parentPath, e.name));
}

describe('docs/annotations.md', () => {
  it('names every *.vk.io/ annotation the code reads and every interlink.io/ one it writes', () => {
    const doc = read('docs/annotations.md');
    const found = new Set<string>();
    for (const f of [...sourceFiles('src/plugins'), ...sourceFiles('src/vk')]) {
      const text = readFileSync(f, 'utf8');
      for (const m of text.matchAll(/[a-z0-9-]+(?:\.[a-z0-9-]+)*\.vk\.io\/[a-z0-9][a-z0-9._-]*/g))
        found.add(m[0]);
      // What the VK writes on pods and nodes: 'interlink.io/<name>' constants.
      for (const m of text.matchAll(/['`](interlink\.io\/[a-z0-9][a-z0-9.-]*)['`]/g)) found.add(m[1]!);
    }
    expect(found.size).toBeGreaterThan(0);
    const missing = [...found].filter((a) => !doc.includes(`\`${a}\``));
    expect(missing).toEqual([]);
  });

  it('names every mock.interlink.io/ key of the mock plugin', async () => {
    const doc = read('docs/annotations.md');
    const behaviour = read('src/plugins/mock/behaviour.ts');
    const keys = [...behaviour.matchAll(/^ \* {3}([a-z-]+)\*? {2,}/gm)].map((m) => m[1]!);
    expect(keys.length).toBeGreaterThan(5);
    expect(keys.filter((k) => !doc.includes(`mock.interlink.io/${k}`))).toEqual([]);
  });
});
