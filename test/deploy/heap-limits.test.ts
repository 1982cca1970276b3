/**
 * The V8 heap limits measured with `npm run bench` (src/cli/heap-limits.ts) are the ones
 * every shipped way of starting a process uses: the `interlink` launcher, the Makefile's
 * bin/ launchers, the Helm chart and the kustomize manifests; and a user's NODE_OPTIONS wins.
 */
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { HEAP_LIMITS, heapFlags, MALLOC_ENV, type Role, withMallocEnv } from '../../src/cli/heap-limits.ts';
import { tempDir } from '../api/harness.ts';
import { type Manifest, parseManifests, ROOT, renderChart, run } from './tools.ts';

const flags = (role: Role) => heapFlags(role).join(' ');
let dir: string;
let cleanup: () => Promise<void>;

beforeAll(async () => {
  ({ dir, cleanup } = await tempDir('interlink-heap-'));
});
afterAll(() => cleanup());

/**
 * `args` run through scripts/node/interlink with a `node` first on PATH that passes
 * with-node.sh's version check and prints `name=<its value>`: what the launcher exported.
 */
function launcherPrinting(name: string) {
  const bin = join(dir, `fake-bin-${name}`);
  mkdirSync(bin, { recursive: true });
  writeFileSync(join(bin, 'node'), `#!/bin/sh\n[ "$1" = -e ] && exit 0\necho "${name}=$${name}"\n`);
  chmodSync(join(bin, 'node'), 0o755);
  return async (args: string[], extra: NodeJS.ProcessEnv = {}) => {
    const r = await run('sh', [join(ROOT, 'scripts', 'node', 'interlink'), ...args], {
      env: { PATH: `${bin}:/usr/bin:/bin`, HOME: dir, ...extra },
    });
    expect(r.code).toBe(0);
    return r.stdout.trim();
  };
}

describe('heap limits', () => {
  it('leave the old generation above what the benchmark measured in use (docs/performance.md)', () => {
    // Peak V8 heap in use, 2026-12-04 (bench/results/mem/): VK 77 MiB at 1,000 pods and 131
    // at 5,000; API 37 and 39; plugin 33 and 32. A cap under the live set kills the process.
    expect(HEAP_LIMITS.vk.maxOldSpaceMiB).toBeGreaterThanOrEqual(256);
    expect(HEAP_LIMITS.api.maxOldSpaceMiB).toBeGreaterThanOrEqual(128);
    expect(HEAP_LIMITS.plugin.maxOldSpaceMiB).toBeGreaterThanOrEqual(128);
    expect(heapFlags('vk')).toEqual(['--max-old-space-size=256', '--max-semi-space-size=4']);
  });

  it('scripts/node/interlink sets them by role, and keeps a NODE_OPTIONS that is set', async () => {
    const launch = launcherPrinting('NODE_OPTIONS');
    expect(await launch(['vk', '--nodename', 'n'])).toBe(`NODE_OPTIONS=${flags('vk')}`);
    expect(await launch(['-c', '/etc/api.yaml', '--log-level', 'debug', 'api'])).toBe(
      `NODE_OPTIONS=${flags('api')}`,
    );
    expect(await launch(['--config=/p.yaml', 'plugin', 'slurm'])).toBe(`NODE_OPTIONS=${flags('plugin')}`);
    expect(await launch(['up', '--cluster'])).toBe('NODE_OPTIONS=');
    expect(await launch(['vk'], { NODE_OPTIONS: '--max-old-space-size=1024' })).toBe(
      'NODE_OPTIONS=--max-old-space-size=1024',
    );
  });

  it("scripts/node/interlink sets glibc's mmap threshold for every role, and keeps one that is set", async () => {
    const launch = launcherPrinting('MALLOC_MMAP_THRESHOLD_');
    const shipped = `MALLOC_MMAP_THRESHOLD_=${MALLOC_ENV.MALLOC_MMAP_THRESHOLD_}`;
    expect(await launch(['vk'])).toBe(shipped);
    expect(await launch(['api'])).toBe(shipped);
    expect(await launch(['up'])).toBe(shipped);
    expect(await launch(['plugin', 'mock'], { MALLOC_MMAP_THRESHOLD_: '65536' })).toBe(
      'MALLOC_MMAP_THRESHOLD_=65536',
    );
  });

  it('withMallocEnv adds the malloc setting to a child environment, keeping one that is set', () => {
    expect(withMallocEnv({ PATH: '/bin' })).toEqual({ PATH: '/bin', ...MALLOC_ENV });
    expect(withMallocEnv({ MALLOC_MMAP_THRESHOLD_: '1' }).MALLOC_MMAP_THRESHOLD_).toBe('1');
  });

  it('the image sets the malloc setting in its runtime stage', () => {
    const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
    const runtime = dockerfile.slice(dockerfile.indexOf(' AS runtime'));
    const env = runtime.split('\n').find((l) => l.startsWith('ENV '));
    for (const [k, v] of Object.entries(MALLOC_ENV)) expect(env).toContain(`${k}=${v}`);
  });

  it('the Makefile writes them into bin/interlink-<role>', async () => {
    const binDir = join(dir, 'make-bin');
    const r = await run('make', [
      '--no-print-directory',
      `BIN=${binDir}`,
      `DIST=${join(dir, 'dist')}`,
      'launchers',
    ]);
    expect(r.code, r.stderr).toBe(0);
    const launcher = (role: string) => readFileSync(join(binDir, `interlink-${role}`), 'utf8');
    expect(launcher('vk')).toContain(`export NODE_OPTIONS='${flags('vk')}'`);
    expect(launcher('api')).toContain(`export NODE_OPTIONS='${flags('api')}'`);
    expect(launcher('plugin-slurm')).toContain(`export NODE_OPTIONS='${flags('plugin')}'`);
    for (const role of ['vk', 'api', 'plugin-slurm'])
      expect(launcher(role)).toContain(`export MALLOC_MMAP_THRESHOLD_=${MALLOC_ENV.MALLOC_MMAP_THRESHOLD_}`);
  });

  it('the kustomize Deployment sets them for the VK', () => {
    const [dep] = parseManifests(readFileSync(join(ROOT, 'deploy', 'kustomize', 'deployment.yaml'), 'utf8'));
    const vk = dep!.spec.template.spec.containers.find((c: Manifest) => c.name === 'vk');
    expect(vk.env).toContainEqual({ name: 'NODE_OPTIONS', value: flags('vk') });
  });

  it('the Helm chart sets them per container, and `nodeOptions: ""` leaves them out', async () => {
    const values = parseYaml(readFileSync(join(ROOT, 'deploy', 'helm', 'interlink', 'values.yaml'), 'utf8'));
    expect(values.vk.nodeOptions).toBe(flags('vk'));
    expect(values.api.nodeOptions).toBe(flags('api'));
    expect(values.plugin.nodeOptions).toBe(flags('plugin'));

    const containers = async (v: Manifest) => {
      const docs = parseManifests(await renderChart(v));
      const dep = docs.find((d) => d.kind === 'Deployment')!;
      return Object.fromEntries(
        (dep.spec.template.spec.containers as Manifest[]).map((c) => [c.name, c.env ?? []]),
      ) as Record<string, Manifest[]>;
    };
    const inCluster = await containers({ mode: 'in-cluster' });
    expect(inCluster.vk).toContainEqual({ name: 'NODE_OPTIONS', value: flags('vk') });
    expect(inCluster.api).toContainEqual({ name: 'NODE_OPTIONS', value: flags('api') });
    expect(inCluster.plugin).toContainEqual({ name: 'NODE_OPTIONS', value: flags('plugin') });

    const off = await containers({
      mode: 'in-cluster',
      vk: { nodeOptions: '' },
      api: { nodeOptions: '' },
      plugin: { nodeOptions: '' },
    });
    for (const env of Object.values(off)) expect(env.map((e) => e.name)).not.toContain('NODE_OPTIONS');
  });
});
