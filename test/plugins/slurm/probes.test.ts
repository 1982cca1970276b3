/**
 * Probes in the Slurm job script: golden scripts (UPDATE_GOLDEN=1 rewrites them) with
 * hostile probe commands, the status overlay by table, and the probe loops really run by
 * bash (runtime none, no Slurm): readiness results reach the files, a liveness failure stops
 * the container and says so.
 */
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { probesOf } from '../../../src/core/pod/probes.ts';
import { type RuntimeName, slurmConfig } from '../../../src/plugins/slurm/config.ts';
import { buildJob } from '../../../src/plugins/slurm/job.ts';
import { overlayProbes, parseProbeFile } from '../../../src/plugins/slurm/probes.ts';
import { renderScript } from '../../../src/plugins/slurm/script.ts';
import type { ContainerStatus } from '../../../src/wire/k8s.ts';
import { HOSTILE } from './fixtures.ts';

const run = promisify(execFile);
const GOLDEN = join(import.meta.dirname, 'golden');

function probedPod(uid: string, command: string[], extra: Record<string, unknown> = {}) {
  return {
    metadata: { name: 'probed', namespace: 'default', uid },
    spec: {
      terminationGracePeriodSeconds: 2,
      containers: [
        {
          name: 'main',
          image: 'img',
          command,
          ports: [{ name: 'web', containerPort: 8080 }],
          ...extra,
        },
      ],
    },
  };
}

describe('golden job scripts with probes', () => {
  it.each(['none', 'docker', 'apptainer'] as RuntimeName[])('%s', async (runtime) => {
    const pod = probedPod('7d1c0e2a-0000-4000-8000-0000000000aa', ['sleep', '100'], {
      startupProbe: { exec: { command: ['cat', ...HOSTILE.filter((h) => h !== '')] }, failureThreshold: 30 },
      livenessProbe: { tcpSocket: { port: 'web' }, periodSeconds: 5 },
      readinessProbe: {
        httpGet: {
          port: 8080,
          path: "/h?q=$(x)'`y`",
          httpHeaders: [{ name: 'X-T', value: '$HOME; rm -rf /' }],
        },
      },
      lifecycle: {
        postStart: { exec: { command: ['sh', '-c', 'echo "$(id)" > /tmp/x; `reboot`'] } },
        preStop: { exec: { command: ['sh', '-c', '$(reboot); kill -TERM 1', ...HOSTILE.slice(0, 3)] } },
      },
    });
    const script = renderScript(
      buildJob({ pod } as never, slurmConfig({ dataRoot: '/data/il', containerRuntime: runtime })),
    );
    const file = join(GOLDEN, `probes-${runtime}.sh`);
    if (process.env.UPDATE_GOLDEN) writeFileSync(file, script);
    expect(script).toBe(readFileSync(file, 'utf8'));
    const r = await run('bash', ['-n', file]).catch((e: { stderr: string }) => ({ stderr: e.stderr }));
    expect(r.stderr).toBe('');
  });

  it('a pod without probes gets no probe library', () => {
    const pod = probedPod('u-none', ['true']);
    const script = renderScript(
      buildJob({ pod } as never, slurmConfig({ dataRoot: '/d', containerRuntime: 'none' })),
    );
    expect(script).not.toContain('_il_probe');
    expect(script).not.toContain('_il_prestops() {');
  });

  it('a pod with only a preStop hook gets the probe library and the hooks that end with SIGTERM', () => {
    const pod = probedPod('u-pre', ['true'], { lifecycle: { preStop: { sleep: { seconds: 1 } } } });
    const script = renderScript(
      buildJob({ pod } as never, slurmConfig({ dataRoot: '/d', containerRuntime: 'none' })),
    );
    expect(script).toContain('_il_probe_write()');
    expect(script).toContain('  _il_prestop main sleep 1 &');
    expect(script).toContain('kill -TERM $$');
  });
});

describe('overlayProbes', () => {
  const runningSt: ContainerStatus = {
    name: 'main',
    ready: true,
    started: true,
    state: { running: { startedAt: 'x' } },
  };
  const probes = probesOf({
    startupProbe: { exec: { command: ['a'] } },
    readinessProbe: { exec: { command: ['b'] } },
  });
  const rd = (result: string, failures = 0) => ({ result, failures });
  it.each([
    ['nothing written yet', {}, { started: false, ready: false }],
    ['started, readiness not yet', { startup: rd('success') }, { started: true, ready: false }],
    [
      'started and ready',
      { startup: rd('success'), readiness: rd('success') },
      { started: true, ready: true },
    ],
    [
      'ready, then failing',
      { startup: rd('success'), readiness: rd('failure', 4) },
      { started: true, ready: false },
    ],
  ])('%s', (_n, results, want) => {
    expect(overlayProbes(runningSt, probes, { results })).toMatchObject(want);
  });

  it('a postStart not yet done keeps the container unstarted; its failure is an Event', () => {
    expect(overlayProbes(runningSt, [], { results: {} }, true)).toMatchObject({
      started: false,
      ready: false,
    });
    expect(overlayProbes(runningSt, [], { results: {}, postStart: rd('success') }, true)).toMatchObject({
      started: true,
      ready: true,
    });
    const s = overlayProbes(
      { name: 'main', state: { terminated: { exitCode: 143, reason: 'Error' } } },
      [],
      { results: {}, postStart: rd('failure', 1), killed: 'poststart' },
      true,
    );
    expect(s.state?.terminated?.message).toBe('The container was killed: it failed its postStart hook');
    expect(s.probeEvents?.map((e) => e.reason)).toEqual(['FailedPostStartHook', 'Killing']);
  });

  it('a failed preStop hook is a FailedPreStopHook Event; a passed one is nothing', () => {
    const failed = overlayProbes(runningSt, [], { results: {}, preStop: rd('failure', 1) });
    expect(failed).toMatchObject({ started: true, ready: true });
    expect(failed.probeEvents).toEqual([
      { reason: 'FailedPreStopHook', message: 'PreStopHook failed', type: 'Warning', count: 1 },
    ]);
    expect(overlayProbes(runningSt, [], { results: {}, preStop: rd('success') }).probeEvents).toBeUndefined();
  });

  it('a liveness kill shows in the terminated state and the Events', () => {
    const live = probesOf({ livenessProbe: { exec: { command: ['a'] } } });
    const s = overlayProbes(
      { name: 'main', state: { terminated: { exitCode: 143, reason: 'Error' } } },
      live,
      { results: { liveness: rd('failure', 3) }, killed: 'liveness' },
    );
    expect(s.state?.terminated).toEqual({
      exitCode: 143,
      reason: 'Error',
      message: 'The container was killed: it failed liveness probe',
    });
    expect(s.probeEvents).toEqual([
      {
        reason: 'Unhealthy',
        message: 'Liveness probe failed: the check did not succeed',
        type: 'Warning',
        count: 3,
      },
      { reason: 'Killing', message: 'Container main failed liveness probe', type: 'Normal', count: 1 },
    ]);
  });

  it.each([
    ['success 0\n', { result: 'success', failures: 0 }],
    ['failure 12', { result: 'failure', failures: 12 }],
    ['bogus 1', undefined],
    [undefined, undefined],
  ])('parseProbeFile(%j)', (text, want) => {
    expect(parseProbeFile(text)).toEqual(want);
  });
});

describe('probe loops under bash (runtime none, no Slurm)', () => {
  const root = mkdtempSync(join(tmpdir(), 'il-slurm-probes-'));
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  async function runJob(pod: unknown) {
    const job = buildJob({ pod } as never, slurmConfig({ dataRoot: root, containerRuntime: 'none' }));
    execFileSync('mkdir', ['-p', job.jobDir]);
    const path = join(job.jobDir, 'job.sh');
    writeFileSync(path, renderScript(job), { mode: 0o700 });
    const code = await run('bash', [path], { cwd: job.jobDir }).then(
      () => 0,
      (e: { code: number }) => e.code,
    );
    const ctr = (ext: string) => readFileSync(join(job.jobDir, 'containers', `main.${ext}`), 'utf8');
    return { code, ctr, has: (ext: string) => existsSync(join(job.jobDir, 'containers', `main.${ext}`)) };
  }

  it('readiness: the loop records failures, then success once the check passes', async () => {
    const flag = join(root, 'ready-flag');
    // The container makes its check pass after a few failed runs (it waits for the probe file).
    const pod = probedPod(
      'probe-ready-1',
      [
        'sh',
        '-c',
        'f="$0"; until [ -e "$1.probe-readiness" ]; do sleep 0.1; done; touch "$f"; until grep -q "^success" "$1.probe-readiness"; do sleep 0.1; done',
        flag,
        join(root, 'default-probe-ready-1', 'containers', 'main'),
      ],
      { readinessProbe: { exec: { command: ['test', '-e', flag] }, periodSeconds: 1 } },
    );
    const { code, ctr } = await runJob(pod);
    expect(code).toBe(0);
    const r = parseProbeFile(ctr('probe-readiness'));
    expect(r?.result).toBe('success');
    expect(r?.failures).toBeGreaterThanOrEqual(1);
  });

  it('liveness failure stops the container and marks it killed', async () => {
    const pod = probedPod('probe-live-1', ['sleep', '1000'], {
      livenessProbe: { exec: { command: ['false'] }, periodSeconds: 1, failureThreshold: 2 },
    });
    const { code, ctr, has } = await runJob(pod);
    expect(code).toBe(143);
    expect(ctr('killed').trim()).toBe('liveness probe');
    expect(parseProbeFile(ctr('probe-liveness'))).toEqual({ result: 'failure', failures: 2 });
    expect(has('exit')).toBe(true);
  });

  it('postStart runs before any probe; a failing postStart stops the container', async () => {
    const log = join(root, 'order.log');
    const pod = probedPod('probe-post-1', ['sh', '-c', 'until grep -q probe "$0"; do sleep 0.1; done', log], {
      readinessProbe: { exec: { command: ['sh', '-c', 'echo probe >> "$0"', log] }, periodSeconds: 1 },
      lifecycle: { postStart: { exec: { command: ['sh', '-c', 'echo poststart >> "$0"', log] } } },
    });
    const { code, ctr } = await runJob(pod);
    expect(code).toBe(0);
    expect(readFileSync(log, 'utf8').split('\n')[0]).toBe('poststart');
    expect(parseProbeFile(ctr('poststart'))).toEqual({ result: 'success', failures: 0 });

    const bad = probedPod('probe-post-2', ['sleep', '1000'], {
      lifecycle: { postStart: { exec: { command: ['false'] } } },
    });
    const r = await runJob(bad);
    expect(r.code).toBe(143);
    expect(r.ctr('killed').trim()).toBe('poststart');
  });

  it('tcpSocket via /dev/tcp: failure while nothing listens', async () => {
    const pod = probedPod('probe-tcp-1', ['sh', '-c', 'sleep 3'], {
      readinessProbe: { tcpSocket: { port: 1 }, periodSeconds: 1 },
    });
    const { code, ctr } = await runJob(pod);
    expect(code).toBe(0);
    expect(parseProbeFile(ctr('probe-readiness'))?.result).toBe('failure');
  });
});
