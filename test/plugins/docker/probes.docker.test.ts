/**
 * Probes and lifecycle hooks on the real dockerd: readiness gates `ready` until the probe
 * passes (the test makes it pass by writing the file it checks), a liveness failure
 * restarts the container (restartCount, lastState, Killing/Unhealthy events) or, under
 * restartPolicy Never, leaves it terminated with a message saying why; postStart runs
 * before the container counts as ready and preStop runs before SIGTERM, proven by the lines
 * they append to a file on a hostPath volume.
 */
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DockerConfig } from '../../../src/plugins/docker/config.ts';
import { LABEL } from '../../../src/plugins/docker/names.ts';
import { DeleteResponse, type PodStatus } from '../../../src/wire/interlink.ts';
import type { Pod } from '../../../src/wire/k8s.ts';
import {
  cleanup,
  create,
  docker,
  image,
  makePod,
  running,
  type Served,
  serve,
  terminated,
  testConfig,
  waitFor,
} from './harness.ts';

let cfg: DockerConfig;
let srv: Served;
const created: Pod[] = [];

beforeAll(async () => {
  cfg = await testConfig();
  cfg = { ...cfg, hostPathRoots: [join(cfg.dataRoot, 'host')] };
  srv = await serve(cfg);
});

afterAll(async () => {
  for (const p of created)
    await srv.client.call({ method: 'POST', path: '/delete', body: p }).catch(() => {});
  await srv?.close();
  if (cfg) await cleanup(cfg);
});

const main = (s: PodStatus) => s.containers?.find((c) => c.name === 'main');
const idOf = (s: PodStatus) => main(s)?.containerID?.replace('docker://', '') ?? '';
const events = (s: PodStatus) => (main(s)?.probeEvents ?? []).map((e) => `${e.reason}: ${e.message}`);

async function start(pod: Pod): Promise<Pod> {
  created.push(pod);
  await create(srv.client, pod);
  return pod;
}

describe('docker probes', () => {
  it('readiness: not ready (with an Unhealthy event) until the probe passes, then ready', async () => {
    const pod = await start(
      makePod('ready', {
        terminationGracePeriodSeconds: 1,
        restartPolicy: 'Always',
        containers: [
          {
            name: 'main',
            image: image(),
            command: ['sleep', '100000'],
            readinessProbe: { exec: { command: ['cat', '/tmp/ready'] }, periodSeconds: 1 },
          },
        ],
      }),
    );
    const failing = await waitFor(
      srv.client,
      pod,
      (s) => running(s, 'main') && events(s).some((e) => e.startsWith('Unhealthy: Readiness probe failed:')),
      'a failed readiness probe',
    );
    expect(main(failing)).toMatchObject({ ready: false, started: true });
    await docker(['exec', '--', idOf(failing), 'touch', '/tmp/ready']);
    const ready = await waitFor(srv.client, pod, (s) => main(s)?.ready === true, 'ready');
    expect(main(ready)?.restartCount).toBe(0);
  });

  it('startup probe: not started (nor ready) until it passes', async () => {
    const pod = await start(
      makePod('startup', {
        terminationGracePeriodSeconds: 1,
        containers: [
          {
            name: 'main',
            image: image(),
            command: ['sleep', '100000'],
            startupProbe: {
              exec: { command: ['cat', '/tmp/started'] },
              periodSeconds: 1,
              failureThreshold: 1000,
            },
          },
        ],
      }),
    );
    const s = await waitFor(
      srv.client,
      pod,
      (x) => running(x, 'main') && events(x).some((e) => e.startsWith('Unhealthy: Startup probe failed:')),
      'a failed startup probe',
    );
    expect(main(s)).toMatchObject({ ready: false, started: false });
    await docker(['exec', '--', idOf(s), 'touch', '/tmp/started']);
    await waitFor(srv.client, pod, (x) => main(x)?.started === true && main(x)?.ready === true, 'started');
  });

  it('liveness failure restarts the container (restartPolicy Always)', async () => {
    const pod = await start(
      makePod('live', {
        restartPolicy: 'Always',
        terminationGracePeriodSeconds: 1,
        containers: [
          {
            name: 'main',
            image: image(),
            command: ['sh', '-c', 'touch /tmp/alive; exec sleep 100000'],
            livenessProbe: {
              exec: { command: ['cat', '/tmp/alive'] },
              periodSeconds: 1,
              failureThreshold: 2,
            },
          },
        ],
      }),
    );
    const up = await waitFor(srv.client, pod, (s) => main(s)?.ready === true, 'running and ready');
    await docker(['exec', '--', idOf(up), 'rm', '/tmp/alive']);
    const again = await waitFor(
      srv.client,
      pod,
      (s) => (main(s)?.restartCount ?? 0) >= 1 && running(s, 'main'),
      'a restart',
    );
    expect(main(again)?.lastState?.terminated).toMatchObject({ reason: 'Error' });
    expect(events(again)).toContain('Killing: Container main failed liveness probe, will be restarted');
    expect(events(again).some((e) => e.startsWith('Unhealthy: Liveness probe failed:'))).toBe(true);
  });

  it('liveness failure under restartPolicy Never leaves it terminated with the reason', async () => {
    const pod = await start(
      makePod('live-never', {
        terminationGracePeriodSeconds: 1,
        containers: [
          {
            name: 'main',
            image: image(),
            command: ['sleep', '100000'],
            livenessProbe: { exec: { command: ['cat', '/tmp/nope'] }, periodSeconds: 1, failureThreshold: 1 },
          },
        ],
      }),
    );
    const s = await waitFor(srv.client, pod, (x) => terminated(x, 'main') !== undefined, 'terminated');
    expect(terminated(s, 'main')?.message).toBe('The container was killed: it failed liveness probe');
    expect(main(s)?.restartCount).toBe(0);
  });

  it('tcpSocket and httpGet probes reach the pod (inside its network namespace when it has no address)', async () => {
    const pod = await start(
      makePod('net', {
        terminationGracePeriodSeconds: 1,
        containers: [
          {
            name: 'main',
            image: image(),
            command: ['sleep', '100000'],
            ports: [{ name: 'web', containerPort: 18080 }],
            readinessProbe: { httpGet: { port: 'web', path: '/ok' }, periodSeconds: 1 },
            livenessProbe: { tcpSocket: { port: 18080 }, periodSeconds: 1, failureThreshold: 1000 },
          },
        ],
      }),
    );
    const down = await waitFor(
      srv.client,
      pod,
      (x) => events(x).some((e) => e.startsWith('Unhealthy: Readiness probe failed:')),
      'a failed http probe',
    );
    expect(main(down)?.ready).toBe(false);
    await docker(['exec', '--', idOf(down), 'sh', '-c', 'mkdir -p /www && echo ok > /www/ok']);
    await docker(['exec', '-d', '--', idOf(down), 'httpd', '-f', '-p', '127.0.0.1:18080', '-h', '/www']);
    await waitFor(srv.client, pod, (x) => main(x)?.ready === true, 'ready over http');
  });
});

describe('docker lifecycle hooks', () => {
  it('postStart runs before the container is ready, preStop before SIGTERM', async () => {
    const dir = join(cfg.dataRoot, 'host', 'hooks');
    await mkdir(dir, { recursive: true });
    const pod = await start(
      makePod('hooks', {
        terminationGracePeriodSeconds: 20,
        volumes: [{ name: 'out', hostPath: { path: dir, type: 'Directory' } }],
        containers: [
          {
            name: 'main',
            image: image(),
            command: [
              'sh',
              '-c',
              'trap "echo term >> /out/log; exit 0" TERM; echo main >> /out/log; while true; do sleep 1; done',
            ],
            volumeMounts: [{ name: 'out', mountPath: '/out' }],
            readinessProbe: { exec: { command: ['sh', '-c', 'echo probe >> /out/log'] }, periodSeconds: 1 },
            lifecycle: {
              postStart: { exec: { command: ['sh', '-c', 'echo poststart >> /out/log'] } },
              preStop: { exec: { command: ['sh', '-c', 'echo prestop >> /out/log'] } },
            },
          },
        ],
      }),
    );
    await waitFor(srv.client, pod, (s) => main(s)?.ready === true, 'ready');
    await srv.client.call({ method: 'POST', path: '/delete', body: pod });
    // /delete answers once recorded; the hooks and the stop run in the background.
    await srv.plugin.deletesSettled();
    const lines = (await readFile(join(dir, 'log'), 'utf8')).trim().split('\n');
    // The probe never ran before postStart finished; preStop ran before the TERM trap.
    const firstProbe = lines.indexOf('probe');
    expect(lines.indexOf('poststart')).toBeGreaterThanOrEqual(0);
    expect(lines.indexOf('poststart')).toBeLessThan(firstProbe);
    expect(lines.filter((l) => l !== 'probe').slice(-2)).toEqual(['prestop', 'term']);
  });

  it('a failing preStop hook is in the delete answer (FailedPreStopHook), and the container still stops', async () => {
    const pod = await start(
      makePod('prestop-fail', {
        terminationGracePeriodSeconds: 5,
        containers: [
          {
            name: 'main',
            image: image(),
            command: ['sleep', '100000'],
            lifecycle: { preStop: { exec: { command: ['sh', '-c', 'echo nope >&2; exit 4'] } } },
          },
        ],
      }),
    );
    await waitFor(srv.client, pod, (s) => running(s, 'main'), 'running');
    // The pod is gone once /delete answers, so no status poll can show the failure: the
    // answer carries it, for the VK to record as an Event.
    const answer = await srv.client.call({
      method: 'POST',
      path: '/delete',
      body: pod,
      schema: DeleteResponse,
    });
    expect(answer).toMatchObject({
      containers: [{ name: 'main', probeEvents: [{ reason: 'FailedPreStopHook', type: 'Warning' }] }],
    });
    const [event] = (typeof answer === 'string' ? [] : answer.containers?.[0]?.probeEvents) ?? [];
    expect(event?.message).toContain('PreStopHook failed');
    const left = await docker(['ps', '-aq', '--filter', `label=${LABEL.podUid}=${pod.metadata.uid}`]);
    expect(left).toBe('');
  });

  it('a failing postStart kills the container with a FailedPostStartHook event', async () => {
    const pod = await start(
      makePod('hook-fail', {
        terminationGracePeriodSeconds: 1,
        containers: [
          {
            name: 'main',
            image: image(),
            command: ['sleep', '100000'],
            lifecycle: { postStart: { exec: { command: ['sh', '-c', 'echo no >&2; exit 3'] } } },
          },
        ],
      }),
    );
    const s = await waitFor(srv.client, pod, (x) => terminated(x, 'main') !== undefined, 'terminated');
    expect(events(s)).toContain('FailedPostStartHook: PostStartHook failed: no');
    expect(terminated(s, 'main')?.message).toBe('The container was killed: it failed its postStart hook');
  });
});
