import { describe, expect, it } from 'vitest';
import type { PodSpecView } from '../../../src/core/pod/spec.ts';
import { planVolumes, type VolumeInput } from '../../../src/core/pod/volumes.ts';
import type { RetrievedContainer } from '../../../src/wire/interlink.ts';
import type { Pod } from '../../../src/wire/k8s.ts';

const b64 = (s: string) => Buffer.from(s).toString('base64');
const pod = {
  metadata: { name: 'p', namespace: 'ns', uid: 'u1', labels: { app: 'x' } },
  spec: { containers: [] },
} as unknown as Pod;

function input(
  spec: Partial<PodSpecView>,
  retrieved: RetrievedContainer[] = [],
  over: Partial<VolumeInput> = {},
): VolumeInput {
  return {
    pod,
    spec: { containers: [], ...spec } as PodSpecView,
    ref: { uid: 'u1', namespace: 'ns', name: 'p' },
    retrieved,
    podDir: '/data/u1',
    hostPathRoots: ['/srv/shared'],
    envOf: () => [['SUB', 'dir-a']],
    ...over,
  };
}

const cm = {
  metadata: { name: 'cfg' },
  data: { 'app.conf': 'x=1\n', other: 'o' },
  binaryData: { 'logo.bin': b64('\x00\x01') },
};
const sec = { metadata: { name: 'sec' }, data: { 'tls.key': b64('KEY'), user: b64('root') } };

describe('volume planning', () => {
  it.each([
    ['no defaultMode: private', undefined, 0o600, 0o700],
    ['a private defaultMode', 0o400, 0o400, 0o700],
    ['a defaultMode readable by others', 0o644, 0o644, 0o755],
  ])('Secret volume with %s', (_what, defaultMode, fileMode, dirMode) => {
    const plan = planVolumes(
      input(
        {
          containers: [{ name: 'c', image: 'i', volumeMounts: [{ name: 'sec', mountPath: '/s' }] }],
          volumes: [
            {
              name: 'sec',
              secret: {
                secretName: 'sec',
                ...(defaultMode !== undefined ? { defaultMode } : {}),
                items: [{ key: 'tls.key', path: 'sub/tls.key' }],
              },
            },
          ],
        } as never,
        [{ name: 'c', secrets: [sec] }],
      ),
    );
    expect(plan.files.map((f) => [f.path, f.mode])).toEqual([['/data/u1/volumes/sec/sub/tls.key', fileMode]]);
    expect(plan.dirs).toEqual([
      { path: '/data/u1/volumes/sec', mode: dirMode },
      { path: '/data/u1/volumes/sec/sub', mode: dirMode },
    ]);
  });

  it('writes ConfigMap and Secret files with defaultMode and item modes, mounted read-only', () => {
    const plan = planVolumes(
      input(
        {
          containers: [
            {
              name: 'c',
              image: 'i',
              volumeMounts: [
                { name: 'cfg', mountPath: '/etc/app', readOnly: false },
                { name: 'sec', mountPath: '/etc/tls/' },
              ],
            },
          ],
          volumes: [
            { name: 'cfg', configMap: { name: 'cfg', defaultMode: 0o640 } },
            {
              name: 'sec',
              secret: {
                secretName: 'sec',
                items: [{ key: 'tls.key', path: 'private/tls.key', mode: 0o400 }],
              },
            },
          ],
        } as never,
        [{ name: 'c', configMaps: [cm], secrets: [sec] }],
      ),
    );
    const files = Object.fromEntries(
      plan.files.map((f) => [f.path, [f.data.toString('latin1'), f.mode.toString(8)]]),
    );
    expect(files).toEqual({
      '/data/u1/volumes/cfg/app.conf': ['x=1\n', '640'],
      '/data/u1/volumes/cfg/logo.bin': ['\x00\x01', '640'],
      '/data/u1/volumes/cfg/other': ['o', '640'],
      '/data/u1/volumes/sec/private/tls.key': ['KEY', '400'],
    });
    expect(plan.dirs.map((d) => d.path)).toEqual([
      '/data/u1/volumes/cfg',
      '/data/u1/volumes/sec',
      '/data/u1/volumes/sec/private',
    ]);
    expect(plan.mounts.get('c')).toEqual([
      { type: 'bind', source: '/data/u1/volumes/cfg', target: '/etc/app', readOnly: true },
      { type: 'bind', source: '/data/u1/volumes/sec', target: '/etc/tls', readOnly: true },
    ]);
  });

  it('shares one emptyDir directory (0777) between containers, subPath and subPathExpr under it; Memory → a tmpfs volume', () => {
    const plan = planVolumes(
      input({
        containers: [
          {
            name: 'a',
            image: 'i',
            volumeMounts: [
              { name: 'shared', mountPath: '/s' },
              { name: 'mem', mountPath: '/m' },
            ],
          },
          {
            name: 'b',
            image: 'i',
            volumeMounts: [
              { name: 'shared', mountPath: '/s', subPath: 'sub/dir' },
              { name: 'shared', mountPath: '/e', subPathExpr: '$(SUB)' },
            ],
          },
        ],
        volumes: [
          { name: 'shared', emptyDir: {} },
          { name: 'mem', emptyDir: { medium: 'Memory', sizeLimit: '64Mi' } },
        ],
      } as never),
    );
    expect(plan.dirs).toEqual([
      { path: '/data/u1/empty/shared', mode: 0o777 },
      { path: '/data/u1/empty/shared/dir-a', mode: 0o777 },
      { path: '/data/u1/empty/shared/sub/dir', mode: 0o777 },
    ]);
    expect(plan.dockerVolumes).toEqual([{ name: 'ilk_u1_mem', sizeBytes: 64 * 2 ** 20 }]);
    expect(plan.mounts.get('a')).toEqual([
      { type: 'bind', source: '/data/u1/empty/shared', target: '/s', readOnly: false },
      { type: 'volume', source: 'ilk_u1_mem', target: '/m', readOnly: false },
    ]);
    expect(plan.mounts.get('b')?.map((m) => m.source)).toEqual([
      '/data/u1/empty/shared/sub/dir',
      '/data/u1/empty/shared/dir-a',
    ]);
  });

  it('takes projected volumes from the map the VK resolved, with modes from the spec', () => {
    const plan = planVolumes(
      input(
        {
          containers: [
            {
              name: 'c',
              image: 'i',
              volumeMounts: [
                { name: 'kube-api-access', mountPath: '/var/run/secrets/kubernetes.io/serviceaccount' },
              ],
            },
          ],
          volumes: [
            {
              name: 'kube-api-access',
              projected: {
                defaultMode: 0o644,
                sources: [
                  { serviceAccountToken: { path: 'token' } },
                  {
                    configMap: {
                      name: 'kube-root-ca.crt',
                      items: [{ key: 'ca.crt', path: 'ca.crt', mode: 0o444 }],
                    },
                  },
                  {
                    downwardAPI: {
                      items: [{ path: 'namespace', fieldRef: { fieldPath: 'metadata.namespace' } }],
                    },
                  },
                ],
              },
            },
          ],
        } as never,
        [
          {
            name: 'c',
            projectedvolumemaps: [
              {
                metadata: { name: 'kube-api-access' },
                data: { token: 'jwt', 'ca.crt': 'PEM\n', namespace: 'ns' },
              },
            ],
          },
        ],
      ),
    );
    const files = Object.fromEntries(
      plan.files.map((f) => [
        f.path.replace('/data/u1/volumes/kube-api-access/', ''),
        [f.data.toString(), f.mode],
      ]),
    );
    expect(files).toEqual({ token: ['jwt', 0o644], 'ca.crt': ['PEM\n', 0o444], namespace: ['ns', 0o644] });
  });

  it('resolves downwardAPI volumes itself', () => {
    const plan = planVolumes(
      input({
        containers: [
          {
            name: 'c',
            image: 'i',
            resources: { limits: { cpu: '1500m' } },
            volumeMounts: [{ name: 'info', mountPath: '/info' }],
          },
        ],
        volumes: [
          {
            name: 'info',
            downwardAPI: {
              items: [
                { path: 'name', fieldRef: { fieldPath: 'metadata.name' } },
                { path: 'labels', fieldRef: { fieldPath: 'metadata.labels' }, mode: 0o600 },
                {
                  path: 'cpu',
                  resourceFieldRef: { containerName: 'c', resource: 'limits.cpu', divisor: '1m' },
                },
              ],
            },
          },
        ],
      } as never),
    );
    expect(plan.files.map((f) => [f.path, f.data.toString(), f.mode])).toEqual([
      ['/data/u1/volumes/info/name', 'p', 0o644],
      ['/data/u1/volumes/info/labels', 'app="x"', 0o600],
      ['/data/u1/volumes/info/cpu', '1500', 0o644],
    ]);
  });

  it('allows hostPath only under the configured roots', () => {
    const ok = planVolumes(
      input({
        containers: [
          { name: 'c', image: 'i', volumeMounts: [{ name: 'h', mountPath: '/h', readOnly: true }] },
        ],
        volumes: [{ name: 'h', hostPath: { path: '/srv/shared/x/../y', type: 'DirectoryOrCreate' } }],
      } as never),
    );
    expect(ok.hostPathChecks).toEqual([
      { path: '/srv/shared/y', type: 'DirectoryOrCreate', field: 'pod.spec.volumes[h].hostPath.path' },
    ]);
    expect(ok.mounts.get('c')).toEqual([
      { type: 'bind', source: '/srv/shared/y', target: '/h', readOnly: true, host: true },
    ]);
    for (const path of ['/srv/sharedother', '/srv/shared/../etc', '/etc', 'relative']) {
      expect(() =>
        planVolumes(
          input({
            containers: [{ name: 'c', image: 'i', volumeMounts: [{ name: 'h', mountPath: '/h' }] }],
            volumes: [{ name: 'h', hostPath: { path } }],
          } as never),
        ),
      ).toThrow(/hostPath\.path/);
    }
  });

  it.each([
    [{ volumeMounts: [{ name: 'nope', mountPath: '/x' }] }, [], /volume "nope" is not declared/],
    [{ volumeMounts: [{ name: 'e', mountPath: 'rel' }] }, [{ name: 'e', emptyDir: {} }], /absolute path/],
    [
      { volumeMounts: [{ name: 'e', mountPath: '/x', subPath: '../../etc' }] },
      [{ name: 'e', emptyDir: {} }],
      /relative path without "\.\."/,
    ],
    [
      { volumeMounts: [{ name: 'e', mountPath: '/x', subPath: '/abs' }] },
      [{ name: 'e', emptyDir: {} }],
      /relative path/,
    ],
    [
      {
        volumeMounts: [
          { name: 'e', mountPath: '/x' },
          { name: 'e', mountPath: '/x/' },
        ],
      },
      [{ name: 'e', emptyDir: {} }],
      /mounted twice/,
    ],
    [
      { volumeMounts: [{ name: 'm', mountPath: '/x', subPath: 'a' }] },
      [{ name: 'm', emptyDir: { medium: 'Memory' } }],
      /memory-backed/,
    ],
    [
      { volumeMounts: [{ name: 'c', mountPath: '/x' }] },
      [{ name: 'c', configMap: { name: 'absent' } }],
      /ConfigMap "absent" was not provided/,
    ],
    [
      { volumeMounts: [{ name: 'c', mountPath: '/x' }] },
      [{ name: 'c', configMap: { name: 'cfg', items: [{ key: 'zz', path: 'zz' }] } }],
      /has no key "zz"/,
    ],
    [
      { volumeMounts: [{ name: 'c', mountPath: '/x' }] },
      [{ name: 'c', configMap: { name: 'cfg', items: [{ key: 'other', path: '../o' }] } }],
      /\.\./,
    ],
    [
      { volumeMounts: [{ name: 'p', mountPath: '/x' }] },
      [{ name: 'p', persistentVolumeClaim: { claimName: 'c' } }],
      /"persistentVolumeClaim" is not supported/,
    ],
  ])('refuses %j', (container, volumes, msg) => {
    expect(() =>
      planVolumes(
        input({ containers: [{ name: 'c', image: 'i', ...container }], volumes } as never, [
          { name: 'c', configMaps: [cm] },
        ]),
      ),
    ).toThrow(msg);
  });

  it('mounts an optional absent ConfigMap as an empty directory, with a warning', () => {
    const plan = planVolumes(
      input({
        containers: [{ name: 'c', image: 'i', volumeMounts: [{ name: 'c', mountPath: '/x' }] }],
        volumes: [{ name: 'c', configMap: { name: 'absent', optional: true } }],
      } as never),
    );
    expect(plan.files).toEqual([]);
    expect(plan.dirs).toEqual([{ path: '/data/u1/volumes/c', mode: 0o755 }]);
    expect(plan.warnings[0]).toMatch(/optional ConfigMap "absent"/);
  });

  it('ignores volumes no container mounts', () => {
    const plan = planVolumes(
      input({
        containers: [{ name: 'c', image: 'i' }],
        volumes: [{ name: 'x', configMap: { name: 'absent' } }],
      } as never),
    );
    expect(plan.dirs).toEqual([]);
  });
});
