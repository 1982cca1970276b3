import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { toRetrievedPodData } from '../../src/api/retrieve.ts';
import { codeOf } from '../../src/errors/index.ts';
import { PodCreateRequests } from '../../src/wire/interlink.ts';

const fixture = () =>
  PodCreateRequests.parse(
    JSON.parse(readFileSync(new URL('./fixtures/create-request.json', import.meta.url), 'utf8')),
  );

type Req = ReturnType<typeof fixture>;
const names = (xs: Array<{ metadata: { name: string } }> | null | undefined) =>
  (xs ?? []).map((x) => x.metadata.name);

function podWith(volumes: unknown[], mounts: unknown[], extra: Partial<Req> = {}): Req {
  return {
    pod: {
      metadata: { name: 'p', namespace: 'ns', uid: 'u-1' },
      spec: { volumes, containers: [{ name: 'c', volumeMounts: mounts }] } as Req['pod']['spec'],
    },
    configmaps: [{ metadata: { name: 'cm' }, data: { k: 'v' } }],
    secrets: [{ metadata: { name: 's' }, data: { k: 'dg==' } }],
    projectedvolumesmaps: [{ metadata: { name: 'proj' }, data: { token: 't' } }],
    ...extra,
  };
}

describe('toRetrievedPodData (PodCreateRequests → RetrievedPodData)', () => {
  it('maps the upstream-shaped fixture per container, init containers first', () => {
    const req = fixture();
    const { data, warnings } = toRetrievedPodData(req);
    expect(data.pod).toBe(req.pod);
    expect(data.container?.map((c) => c.name)).toEqual(['prepare', 'main', 'sidecar']);
    const [prepare, main, sidecar] = data.container!;
    expect(prepare).toMatchObject({
      configMaps: [],
      secrets: [],
      projectedvolumemaps: [],
      emptyDirs: ['scratch'],
    });
    expect(names(main!.configMaps)).toEqual(['demo-config']);
    expect(names(main!.secrets)).toEqual(['demo-secret']);
    expect(names(main!.projectedvolumemaps)).toEqual(['kube-api-access-x7k2p']);
    // mounted twice (two subPaths), sent once
    expect(main!.emptyDirs).toEqual(['scratch']);
    // data passes byte-for-byte
    expect(main!.configMaps![0]!.data!['app.conf']).toBe('greeting="hello $USER"\nmulti=`line`\n');
    expect(sidecar).toEqual({
      name: 'sidecar',
      configMaps: [],
      secrets: [],
      projectedvolumemaps: [],
      emptyDirs: [],
    });
    expect(warnings).toEqual(['optional ConfigMap "not-there" (volume opt-cfg) is absent']);
  });

  const table: Array<{
    what: string;
    volumes: unknown[];
    mounts: unknown[];
    expect: Record<string, string[]>;
  }> = [
    {
      what: 'no mounts',
      volumes: [],
      mounts: [],
      expect: { configMaps: [], secrets: [], projectedvolumemaps: [], emptyDirs: [] },
    },
    {
      what: 'configMap volume',
      volumes: [{ name: 'v', configMap: { name: 'cm' } }],
      mounts: [{ name: 'v', mountPath: '/x' }],
      expect: { configMaps: ['cm'], secrets: [] },
    },
    {
      what: 'secret volume',
      volumes: [{ name: 'v', secret: { secretName: 's' } }],
      mounts: [{ name: 'v', mountPath: '/x' }],
      expect: { secrets: ['s'], configMaps: [] },
    },
    {
      what: 'projected volume, matched by volume name',
      volumes: [{ name: 'proj', projected: { sources: [] } }],
      mounts: [{ name: 'proj', mountPath: '/x' }],
      expect: { projectedvolumemaps: ['proj'] },
    },
    {
      what: 'emptyDir',
      volumes: [{ name: 'e', emptyDir: { medium: 'Memory' } }],
      mounts: [{ name: 'e', mountPath: '/e' }],
      expect: { emptyDirs: ['e'] },
    },
    {
      what: 'hostPath and downwardAPI travel only in the pod spec',
      volumes: [
        { name: 'h', hostPath: { path: '/tmp' } },
        { name: 'd', downwardAPI: { items: [] } },
      ],
      mounts: [
        { name: 'h', mountPath: '/h' },
        { name: 'd', mountPath: '/d' },
      ],
      expect: { configMaps: [], secrets: [], projectedvolumemaps: [], emptyDirs: [] },
    },
  ];
  for (const row of table) {
    it(row.what, () => {
      const { data } = toRetrievedPodData(podWith(row.volumes, row.mounts));
      const c = data.container![0]! as Record<string, unknown>;
      for (const [key, want] of Object.entries(row.expect)) {
        const got = (c[key] as Array<string | { metadata: { name: string } }>).map((x) =>
          typeof x === 'string' ? x : x.metadata.name,
        );
        expect(got, key).toEqual(want);
      }
    });
  }

  const failures: Array<{
    what: string;
    volumes: unknown[];
    mounts: unknown[];
    field: string;
    message: RegExp;
  }> = [
    {
      what: 'a required ConfigMap the request does not carry',
      volumes: [{ name: 'v', configMap: { name: 'missing' } }],
      mounts: [{ name: 'v' }],
      field: 'configmaps',
      message: /ConfigMap "missing"/,
    },
    {
      what: 'a required Secret the request does not carry',
      volumes: [{ name: 'v', secret: { secretName: 'gone' } }],
      mounts: [{ name: 'v' }],
      field: 'secrets',
      message: /Secret "gone"/,
    },
    {
      what: 'a mount of an undeclared volume',
      volumes: [],
      mounts: [{ name: 'nope' }],
      field: 'pod.spec.containers.volumeMounts',
      message: /"nope"/,
    },
  ];
  for (const row of failures) {
    it(`refuses ${row.what} with INVALID_INPUT naming the field`, () => {
      let err: unknown;
      try {
        toRetrievedPodData(podWith(row.volumes, row.mounts));
      } catch (e) {
        err = e;
      }
      expect(codeOf(err)).toBe('INVALID_INPUT');
      expect((err as { field: string }).field).toBe(row.field);
      expect((err as Error).message).toMatch(row.message);
    });
  }

  it('refuses a pod without spec', () => {
    const req = podWith([], []);
    delete (req.pod as { spec?: unknown }).spec;
    expect(() => toRetrievedPodData(req)).toThrow(/pod\.spec/);
  });

  it('an optional Secret that is absent is a warning, not an error', () => {
    const { data, warnings } = toRetrievedPodData(
      podWith([{ name: 'v', secret: { secretName: 'x', optional: true } }], [{ name: 'v' }]),
    );
    expect(data.container![0]!.secrets).toEqual([]);
    expect(warnings[0]).toMatch(/optional Secret "x"/);
  });
});
