/**
 * drainNode (src/cli/drain.ts): what stopping `interlink up --cluster` does with the pods on
 * its virtual node, driven by a scripted kubectl and a clock whose sleep only moves time.
 */
import { describe, expect, it } from 'vitest';
import { type DrainOptions, drainNode, podsOf } from '../../src/cli/drain.ts';

const podList = (...keys: string[]) =>
  JSON.stringify({
    items: keys.map((k) => {
      const [namespace, name] = k.split('/');
      return { metadata: { namespace, name, uid: `uid-${name}` } };
    }),
  });

interface Script {
  /** Successive answers of `kubectl get pods` (the last one repeats). */
  lists: string[][];
  /** Pods whose direct delete through the API fails. */
  apiFails?: string[];
  deleteExit?: number;
  timeoutMs?: number;
}

async function drive(s: Script) {
  const calls: string[][] = [];
  const said: string[] = [];
  const direct: string[] = [];
  let now = 0;
  let listed = 0;
  const opts: DrainOptions = {
    nodeName: 'n1',
    kubectl: async (args) => {
      calls.push(args);
      if (args[0] === 'get') {
        const keys = s.lists[Math.min(listed, s.lists.length - 1)] ?? [];
        listed += 1;
        return { code: 0, stdout: podList(...keys), stderr: '' };
      }
      if (args[0] === 'delete') return { code: s.deleteExit ?? 0, stdout: '', stderr: 'boom' };
      return { code: 0, stdout: '', stderr: '' };
    },
    deleteInBackend: async (pod) => {
      const m = (pod as { metadata: { namespace: string; name: string } }).metadata;
      const key = `${m.namespace}/${m.name}`;
      if (s.apiFails?.includes(key)) throw new Error('HTTP 503');
      direct.push(key);
    },
    say: (l) => said.push(l),
    clock: {
      now: () => now,
      sleep: async (ms) => {
        now += ms;
      },
    },
    timeoutMs: s.timeoutMs ?? 10_000,
    pollMs: 500,
  };
  const result = await drainNode(opts);
  return { result, calls, said, direct, elapsed: now };
}

describe('drainNode', () => {
  it.each([
    {
      name: 'no pods: cordon, nothing deleted',
      script: { lists: [[]] },
      expected: { deleted: 0, deletedDirectly: 0, failed: [] },
      deletes: 0,
    },
    {
      name: 'the VK deletes every pod in time',
      script: { lists: [['a/p1', 'b/p2'], ['a/p1', 'b/p2'], ['b/p2'], []] },
      expected: { deleted: 2, deletedDirectly: 0, failed: [] },
      deletes: 1,
    },
    {
      name: 'a pod the VK cannot delete in time is deleted through the API',
      script: { lists: [['a/p1', 'b/p2'], ['b/p2']] },
      expected: { deleted: 1, deletedDirectly: 1, failed: [] },
      deletes: 1,
    },
    {
      name: 'a failing direct delete is reported by name',
      script: { lists: [['a/p1', 'b/p2']], apiFails: ['b/p2'] },
      expected: { deleted: 0, deletedDirectly: 1, failed: ['b/p2'] },
      deletes: 1,
    },
  ])('$name', async ({ script, expected, deletes }) => {
    const r = await drive(script);
    expect(r.result).toEqual(expected);
    expect(r.calls[0]).toEqual(['cordon', 'n1']);
    const del = r.calls.filter((c) => c[0] === 'delete');
    expect(del).toHaveLength(deletes);
    if (deletes)
      expect(del[0]).toEqual([
        'delete',
        'pods',
        '--all-namespaces',
        '--field-selector',
        'spec.nodeName=n1',
        '--grace-period=2',
        '--wait=false',
      ]);
    // Every outcome is said, and the last line tells what happened.
    expect(r.said.at(-1)).toMatch(/^stopping: /);
  });

  it('waits no longer than the timeout, and says it is waiting', async () => {
    const r = await drive({ lists: [['a/p1']], timeoutMs: 12_000 });
    expect(r.elapsed).toBeGreaterThanOrEqual(12_000);
    expect(r.elapsed).toBeLessThan(12_000 + 500 + 1);
    expect(r.said.filter((l) => l.includes('waiting for the backend to confirm 1 delete'))).toHaveLength(2);
    expect(r.direct).toEqual(['a/p1']);
    expect(r.said.at(-1)).toBe('stopping: 1 pod deleted in the backend');
  });

  it('a failed kubectl delete is said and the wait still bounds the stop', async () => {
    const r = await drive({ lists: [['a/p1']], deleteExit: 1, timeoutMs: 1_000 });
    expect(r.said.some((l) => l.includes('kubectl delete pods failed: boom'))).toBe(true);
    expect(r.result.deletedDirectly).toBe(1);
  });

  it('podsOf keys pods by namespace/name', () => {
    expect(podsOf(podList('x/a', 'y/b')).map((p) => p.key)).toEqual(['x/a', 'y/b']);
    expect(podsOf('{"items":[]}')).toEqual([]);
    expect(podsOf('{}')).toEqual([]);
  });
});
