/**
 * The Slurm plugin's `list` over job directories made by hand in a temp dir, with a fake
 * squeue-by-name: what is listed, what is left out, and ONE squeue call for all directories
 * without a job id (none when every directory has one).
 */
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { listSlurmPods } from '../../../src/plugins/slurm/list.ts';

let root: string;
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'il-slurm-list-'));
});
afterEach(() => rm(root, { recursive: true, force: true }));

async function jobDir(
  entry: string,
  pod: Record<string, unknown> | string | undefined,
  files: Record<string, string> = {},
): Promise<void> {
  await mkdir(join(root, entry), { recursive: true });
  if (pod !== undefined)
    await writeFile(join(root, entry, 'pod.json'), typeof pod === 'string' ? pod : JSON.stringify(pod));
  for (const [f, text] of Object.entries(files)) await writeFile(join(root, entry, f), text);
}
const podFile = (namespace: string, name: string, uid: string) => ({
  version: 1,
  namespace,
  name,
  uid,
  jobName: `il-${uid}`,
  runtime: 'none',
  containers: [],
  createdAt: '2026-01-01T00:00:00Z',
});

function fakeSqueue(jobs: Record<string, string[]> = {}) {
  const calls: string[][] = [];
  return {
    calls,
    jobsNamed: async (names: readonly string[]) => {
      calls.push([...names]);
      return new Map(names.filter((n) => jobs[n]).map((n) => [n, jobs[n]!]));
    },
  };
}

const sorted = <T extends { UID: string }>(xs: T[]) => [...xs].sort((a, b) => a.UID.localeCompare(b.UID));

describe('slurm list', () => {
  it('lists every job directory with its job id, without asking Slurm when all ids are on disk', async () => {
    await jobDir('default-u1', podFile('default', 'a', 'u1'), { 'job.id': '101\n' });
    await jobDir('team-u2', podFile('team', 'b', 'u2'), { 'job.id': '102\n', 'job.exit': '0\n' });
    const sq = fakeSqueue();
    const got = await listSlurmPods({ dataRoot: root, keepJobDirs: false, jobsNamed: sq.jobsNamed });
    expect(sorted(got)).toEqual([
      { UID: 'u1', namespace: 'default', name: 'a', JID: '101' },
      { UID: 'u2', namespace: 'team', name: 'b', JID: '102' },
    ]);
    expect(sq.calls).toEqual([]);
  });

  it('finds the job ids of directories without job.id in ONE squeue call', async () => {
    await jobDir('default-u1', podFile('default', 'a', 'u1'));
    await jobDir('default-u2', podFile('default', 'b', 'u2'));
    await jobDir('default-u3', podFile('default', 'c', 'u3'), { 'job.id': '103' });
    const sq = fakeSqueue({ 'il-u1': ['90', '91'] });
    const got = await listSlurmPods({ dataRoot: root, keepJobDirs: false, jobsNamed: sq.jobsNamed });
    expect(sorted(got)).toEqual([
      { UID: 'u1', namespace: 'default', name: 'a', JID: '91' },
      { UID: 'u2', namespace: 'default', name: 'b' },
      { UID: 'u3', namespace: 'default', name: 'c', JID: '103' },
    ]);
    expect(sq.calls).toHaveLength(1);
    expect(sq.calls[0]!.sort()).toEqual(['il-u1', 'il-u2']);
  });

  it('leaves out what is not a pod directory of ours', async () => {
    await jobDir('default-ok', podFile('default', 'ok', 'ok'), { 'job.id': '1' });
    await jobDir('no-pod-json', undefined, { 'job.id': '2' });
    await jobDir('default-garbled', '{not json', { 'job.id': '3' });
    await jobDir('default-x', podFile('default', 'x', 'x'), { 'job.id': '4', deleted: 'now' }); // kept, deleted
    await jobDir('elsewhere', podFile('default', 'moved', 'moved'), { 'job.id': '5' }); // not where delete looks
    await jobDir('default-..', podFile('default', 'evil', '..'), { 'job.id': '6' });
    await jobDir('BAD-u9', podFile('BAD', 'p', 'u9'), { 'job.id': '7' });
    await writeFile(join(root, 'plugin.sock'), '');
    await mkdir(join(root, 'target'));
    await symlink(join(root, 'default-ok'), join(root, 'default-link'));
    const got = await listSlurmPods({ dataRoot: root, keepJobDirs: true, jobsNamed: fakeSqueue().jobsNamed });
    expect(got).toEqual([{ UID: 'ok', namespace: 'default', name: 'ok', JID: '1' }]);
  });

  it('without keepJobDirs a `deleted` marker means nothing (the directory would be gone)', async () => {
    await jobDir('default-x', podFile('default', 'x', 'x'), { 'job.id': '4', deleted: 'now' });
    const got = await listSlurmPods({
      dataRoot: root,
      keepJobDirs: false,
      jobsNamed: fakeSqueue().jobsNamed,
    });
    expect(got.map((p) => p.UID)).toEqual(['x']);
  });

  it('an absent data root is an empty list', async () => {
    const got = await listSlurmPods({
      dataRoot: join(root, 'nope'),
      keepJobDirs: false,
      jobsNamed: fakeSqueue().jobsNamed,
    });
    expect(got).toEqual([]);
  });
});
