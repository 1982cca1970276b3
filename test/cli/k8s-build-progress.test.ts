/**
 * scripts/k8s/build.sh reports progress during the long first build: a line at least every
 * INTERLINK_PROGRESS_SECONDS with the step, what it is doing, packages compiled and an
 * estimate of the time left. Driven by a fake `go` first on PATH (no download, no compile):
 * the fake kube-apiserver build compiles 3 of 10 packages, then waits for a release file the
 * test writes once it has seen a progress line, so the test never depends on timing.
 */
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { tempDir } from '../api/harness.ts';

const root = join(import.meta.dirname, '..', '..');
let dir: string;
let cleanup: () => Promise<void>;

const fakeGo = (release: string, moddir: string) => `#!/bin/bash
case "$1" in
  version) echo "go version go1.26.8 linux/amd64" ;;
  mod)
    if [[ $2 == download ]]; then printf '{\\n\\t"Dir": "%s",\\n}\\n' "${moddir}"; fi ;;
  get) ;;
  list) for i in $(seq 1 10); do echo "example.com/pkg$i"; done ;;
  build)
    out=""; prev=""; for a in "$@"; do [[ $prev == -o ]] && out=$a; prev=$a; done
    if [[ $out == */kube-apiserver.tmp ]]; then
      for i in 1 2 3; do echo "example.com/pkg$i" >&2; done
      while [[ ! -e "${release}" ]]; do sleep 0.05; done
      for i in 4 5 6 7 8 9 10; do echo "example.com/pkg$i" >&2; done
    fi
    printf '#!/bin/sh\\n' > "$out"; chmod +x "$out" ;;
esac
`;

beforeAll(async () => {
  ({ dir, cleanup } = await tempDir());
  const bin = join(dir, 'bin');
  const moddir = join(dir, 'mod');
  mkdirSync(bin);
  mkdirSync(moddir);
  writeFileSync(
    join(moddir, 'go.mod'),
    'module k8s.io/kubernetes\n\ngo 1.26.0\n\nreplace (\n\tk8s.io/api => ./staging/src/k8s.io/api\n)\n',
  );
  writeFileSync(join(bin, 'go'), fakeGo(join(dir, 'release'), moddir));
  chmodSync(join(bin, 'go'), 0o755);
});
afterAll(async () => cleanup());

it('a cold build prints steps and a progress line with packages and an estimate, then the cache dir', async () => {
  const cache = join(dir, 'cache');
  const child = spawn('bash', [join(root, 'scripts/k8s/build.sh')], {
    env: {
      PATH: `${join(dir, 'bin')}:${process.env.PATH}`,
      HOME: dir,
      INTERLINK_CACHE: cache,
      K8S_VERSION: '1.37.2',
      INTERLINK_PROGRESS_SECONDS: '1',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  let stdout = '';
  child.stdout.on('data', (d) => {
    stdout += d;
  });
  const progress =
    /building kube-apiserver: \d+s so far, 3\/10 packages compiled; this step about \d+s more, the whole build about (\d+)m\d\ds more/;
  const seen = new Promise<RegExpExecArray>((resolve) =>
    child.stderr.on('data', (d) => {
      stderr += d;
      const m = progress.exec(stderr);
      if (m) {
        if (!existsSync(join(dir, 'release'))) writeFileSync(join(dir, 'release'), '');
        resolve(m);
      }
    }),
  );
  const code = new Promise<number | null>((r) => child.on('close', r));
  const m = await Promise.race([
    seen,
    code.then((c) => Promise.reject(new Error(`exited ${c}:\n${stderr}`))),
  ]);
  // The later steps (controller-manager, scheduler, kubectl, etcd) are still ahead: minutes.
  expect(Number(m[1])).toBeGreaterThanOrEqual(1);
  expect(await code, stderr).toBe(0);
  const lines = stderr.split('\n').filter((l) => l.startsWith('[k8s-build'));
  const steps = lines.map((l) => /\] (step \d\/7: .*)$/.exec(l)?.[1]).filter(Boolean);
  expect(steps).toEqual([
    'step 1/7: downloading k8s.io/kubernetes@v1.37.2',
    'step 2/7: resolving and downloading the module graph (go mod tidy)',
    'step 3/7: building kube-apiserver',
    'step 4/7: building kube-controller-manager',
    'step 5/7: building kube-scheduler',
    'step 6/7: building kubectl',
    'step 7/7: building etcd',
  ]);
  expect(stdout.trim().split('\n').at(-1)).toBe(join(cache, 'k8s-v1.37.2'));
  for (const b of ['etcd', 'kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'kubectl'])
    expect(existsSync(join(cache, 'k8s-v1.37.2', 'bin', b)), b).toBe(true);
});

it('a second build waits for the running one and keeps printing progress lines meanwhile', async () => {
  const cache = join(dir, 'cache-wait');
  mkdirSync(cache);
  const lockFile = join(cache, 'k8s-v1.37.2.lock');
  // The "running build": holds the lock until its stdin closes.
  const holder = spawn('flock', [lockFile, 'cat'], { stdio: ['pipe', 'ignore', 'ignore'] });
  while (!existsSync(lockFile)) await new Promise((r) => setImmediate(r));
  const child = spawn('bash', [join(root, 'scripts/k8s/build.sh')], {
    env: {
      PATH: `${join(dir, 'bin')}:${process.env.PATH}`,
      HOME: dir,
      INTERLINK_CACHE: cache,
      INTERLINK_PROGRESS_SECONDS: '1',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  const seen = new Promise<void>((resolve) =>
    child.stderr.on('data', (d) => {
      stderr += d;
      if (/waiting for another build of v1\.37\.2: \d+s so far/.test(stderr)) resolve();
    }),
  );
  const code = new Promise<number | null>((r) => child.on('close', r));
  try {
    await Promise.race([seen, code.then((c) => Promise.reject(new Error(`exited ${c}:\n${stderr}`)))]);
  } finally {
    holder.stdin.end();
  }
  expect(stderr).toContain('another build of v1.37.2 is running; waiting for it (its progress follows)');
  // The lock holder built nothing, so this one builds (with the fake go).
  expect(await code, stderr).toBe(0);
  expect(stderr).toContain('step 7/7: building etcd');
});
