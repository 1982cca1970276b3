/**
 * Issue #15 item 4, acceptance: no orphans. The docker chain (real apiserver, VK, API,
 * docker plugin, real dockerd): a pod force-deleted while the VK is down leaves its
 * containers running; the restarted VK's orphan sweep deletes them, while a pod that still
 * exists is adopted, not created again.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type Chain, eventually, must, type Obj, reportOnFailure, startChain, suffix } from './harness.ts';

const execFileP = promisify(execFile);
const id = suffix();
const instance = `e2e-orphans-${id}`;
const image = inject('testImage');
const SWEEP_MS = 5_000;
let chain: Chain;
let dataRoot: string;

async function docker(args: string[]): Promise<string> {
  const { stdout } = await execFileP(inject('dockerCli'), args, {
    env: { ...process.env, DOCKER_HOST: inject('dockerHost') },
  });
  return stdout.trim();
}

/** Ids of every container (any state) the plugin holds for this pod UID. */
async function containersOf(uid: string): Promise<string[]> {
  const out = await docker([
    'ps',
    '-aq',
    '--no-trunc',
    '--filter',
    `label=interlink.vk.io/instance=${instance}`,
    '--filter',
    `label=interlink.vk.io/pod-uid=${uid}`,
  ]);
  return out === '' ? [] : out.split('\n').sort();
}

/** `pod created` lines of the API's log for this UID: one per create that reached the plugin. */
const createsOf = (uid: string) =>
  chain.api.output.filter((l) => l.includes('"pod created"') && l.includes(uid)).length;

beforeAll(async () => {
  dataRoot = await mkdtemp(join(tmpdir(), 'interlink-e2e-orphans-data-'));
  chain = await startChain({
    plugin: 'docker',
    nodeName: `e2e-orphans-${id}`,
    namespace: `e2e-orphans-${id}`,
    pluginConfig: {
      dockerCli: inject('dockerCli'),
      dockerHost: inject('dockerHost'),
      dataRoot,
      instance,
      infraImage: image,
      infraCommand: ['sleep', '2147483647'],
    },
    vkConfig: { orphanSweepIntervalMs: SWEEP_MS, orphanGraceMs: 1_000 },
  });
}, 300_000);

afterAll(async () => {
  await chain?.stop();
  const left = await docker(['ps', '-aq', '--filter', `label=interlink.vk.io/instance=${instance}`]).catch(
    () => '',
  );
  if (left) await docker(['rm', '-f', '-v', ...left.split('\n')]).catch(() => undefined);
  if (dataRoot) await rm(dataRoot, { recursive: true, force: true });
}, 300_000);

reportOnFailure(() => chain);

describe('orphan sweep on the docker chain', () => {
  it('deletes the backend of a pod force-deleted while the VK was down; adopts the pod that still exists', async () => {
    const forever = { containers: [{ name: 'main', image, command: ['sleep', '3600'] }] };
    await chain.apply(chain.pod('orphan-keep', forever));
    await chain.apply(chain.pod('orphan-gone', forever));
    const keep = await chain.waitPhase('orphan-keep', 'Running');
    const gone = await chain.waitPhase('orphan-gone', 'Running');
    const keepUid = keep.metadata.uid as string;
    const goneUid = gone.metadata.uid as string;
    const keepContainers = await containersOf(keepUid);
    expect(keepContainers.length).toBeGreaterThan(0);
    expect(await containersOf(goneUid)).not.toEqual([]);
    expect(createsOf(keepUid)).toBe(1);

    await chain.stopVk(true);
    await must([
      'delete',
      'pod',
      'orphan-gone',
      '-n',
      chain.namespace,
      '--grace-period=0',
      '--force',
      '--wait=false',
    ]);
    await chain.waitGone('orphan-gone');
    // Nobody told the backend: its containers still run.
    expect(await containersOf(goneUid)).not.toEqual([]);

    await chain.startVk();
    await eventually(
      'the orphan swept from Docker',
      async () => (await containersOf(goneUid)).length === 0,
      // The first sweep after the pod list marks it; one period later it is deleted. The
      // bound only ends a failing run; the pace is the product's.
      120_000,
    );
    // The VK logs once the API confirmed, which is after Docker removed the containers.
    const swept = await eventually('the VK logged the sweep', async () => {
      const lines = chain.vk.output.filter(
        (l) => l.includes('orphaned backend pod deleted') && l.includes(goneUid),
      );
      return lines.length > 0 ? lines : undefined;
    });
    expect(swept).toHaveLength(1);
    // Events are written asynchronously: wait for it, then check there is exactly one.
    const events = await eventually('the OrphanDeleted node Event', async () => {
      const evs = (await getEvents()).filter(
        (e) => e.reason === 'OrphanDeleted' && String(e.message).includes(goneUid),
      );
      return evs.length > 0 ? evs : undefined;
    });
    expect(events).toHaveLength(1);

    // The pod that exists was adopted: still Running, same containers, created once.
    const after = await chain.getPod('orphan-keep');
    expect(after?.status?.phase).toBe('Running');
    expect(await containersOf(keepUid)).toEqual(keepContainers);
    expect(createsOf(keepUid)).toBe(1);
    expect(
      chain.vk.output.some((l) => l.includes('orphaned backend pod deleted') && l.includes(keepUid)),
    ).toBe(false);
  }, 400_000);
});

async function getEvents(): Promise<Obj[]> {
  const all = JSON.parse(
    await must([
      'get',
      'events',
      '-A',
      '--field-selector',
      `involvedObject.kind=Node,involvedObject.name=${chain.nodeName}`,
      '-o',
      'json',
    ]),
  ) as Obj;
  return all.items as Obj[];
}
