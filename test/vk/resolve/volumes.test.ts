import { describe, expect, it } from 'vitest';
import type { KPod } from '../../../src/vk/pods/kpod.ts';
import type { SourceObjects } from '../../../src/vk/resolve/env.ts';
import {
  collectRefs,
  downwardAsProjected,
  resolveVolumes,
  tokenKey,
  tokenSources,
} from '../../../src/vk/resolve/volumes.ts';
import { HOSTILE, PEM } from './fixtures.ts';

const b64 = (s: string | Buffer) => Buffer.from(s).toString('base64');
const BINARY = Buffer.from([0xff, 0x00, 0xfe, 0x80]);

const p: KPod = {
  metadata: {
    name: 'web-1',
    namespace: 'team-a',
    uid: 'u-1',
    labels: { app: 'web', z: 'q"' },
    annotations: { a: '1' },
  },
  spec: {
    nodeName: 'vk-node',
    serviceAccountName: 'runner',
    containers: [
      {
        name: 'main',
        resources: { limits: { memory: '64Mi' } },
        envFrom: [{ secretRef: { name: 'env-sec' } }],
        env: [{ name: 'X', valueFrom: { configMapKeyRef: { name: 'env-cm', key: 'k', optional: true } } }],
      },
    ],
    volumes: [
      { name: 'cm-vol', configMap: { name: 'cfg' } },
      { name: 'opt-vol', configMap: { name: 'maybe', optional: true } },
      { name: 'sec-vol', secret: { secretName: 'sec' } },
      {
        name: 'kube-api-access',
        projected: {
          sources: [
            { serviceAccountToken: { path: 'token', expirationSeconds: 3607 } },
            { configMap: { name: 'kube-root-ca.crt', items: [{ key: 'ca.crt', path: 'ca.crt' }] } },
            {
              downwardAPI: { items: [{ path: 'namespace', fieldRef: { fieldPath: 'metadata.namespace' } }] },
            },
          ],
        },
      },
      {
        name: 'mixed',
        projected: {
          sources: [
            {
              secret: {
                name: 'sec',
                items: [
                  { key: 'tls.crt', path: 'certs/tls.crt' },
                  { key: 'blob', path: 'bin/blob' },
                ],
              },
            },
            { configMap: { name: 'cfg' } },
            { serviceAccountToken: { path: 'vault-token', audience: 'vault' } },
          ],
        },
      },
      {
        name: 'podinfo',
        downwardAPI: {
          items: [
            { path: 'labels', fieldRef: { fieldPath: 'metadata.labels' } },
            { path: 'name', fieldRef: { fieldPath: 'metadata.name' } },
            {
              path: 'mem',
              resourceFieldRef: { containerName: 'main', resource: 'limits.memory', divisor: '1Mi' },
            },
          ],
        },
      },
      { name: 'scratch', emptyDir: {} },
    ],
  },
};

const sources: SourceObjects = {
  configMaps: new Map<string, { data: Record<string, string>; binaryData?: Record<string, string> }>([
    ['cfg', { data: { 'app.conf': HOSTILE, 'ca.pem': PEM }, binaryData: { 'logo.bin': b64(BINARY) } }],
    ['kube-root-ca.crt', { data: { 'ca.crt': PEM } }],
  ]),
  secrets: new Map([['sec', { data: { 'tls.crt': b64(PEM), blob: b64(BINARY) } }]]),
};
const ctx = {
  nodeName: 'vk-node',
  hostIP: '10.0.0.1',
  podIP: '10.0.0.1',
  nodeAllocatable: { cpu: '8', memory: '16Gi' },
};
const tokens = new Map([
  [tokenKey('kube-api-access', 'token'), { token: 'tok-1', expiresAt: 1 }],
  [tokenKey('mixed', 'vault-token'), { token: 'tok-vault', expiresAt: 2 }],
]);

describe('collectRefs / tokenSources', () => {
  it('finds every ConfigMap and Secret with whether one reference requires it', () => {
    const r = collectRefs(p);
    expect(Object.fromEntries(r.configMaps)).toEqual({
      cfg: true,
      maybe: false,
      'kube-root-ca.crt': true,
      'env-cm': false,
    });
    expect(Object.fromEntries(r.secrets)).toEqual({ sec: true, 'env-sec': true });
  });
  it('lists serviceAccountToken sources with audience and lifetime', () => {
    expect(tokenSources(p)).toEqual([
      { key: 'kube-api-access/token', expirationSeconds: 3607 },
      { key: 'mixed/vault-token', audience: 'vault' },
    ]);
  });
});

describe('resolveVolumes', () => {
  const r = resolveVolumes(p, sources, tokens, ctx);
  const byName = Object.fromEntries(r.projected.map((m) => [m.metadata.name, m]));

  it('one ConfigMap per projected or downwardAPI volume, named after the volume', () => {
    expect(r.projected.map((m) => m.metadata)).toEqual([
      { name: 'kube-api-access', namespace: 'team-a' },
      { name: 'mixed', namespace: 'team-a' },
      { name: 'podinfo', namespace: 'team-a' },
    ]);
    expect(r.missing).toEqual([]);
  });

  it('kube-api-access: token, CA bundle and namespace', () => {
    expect(byName['kube-api-access']?.data).toEqual({ token: 'tok-1', 'ca.crt': PEM, namespace: 'team-a' });
  });

  it('secret items by path, whole ConfigMaps, byte-for-byte; binary content in binaryData', () => {
    const m = byName.mixed!;
    expect(m.data).toEqual({
      'certs/tls.crt': PEM,
      'app.conf': HOSTILE,
      'ca.pem': PEM,
      'vault-token': 'tok-vault',
    });
    expect(m.binaryData).toEqual({ 'bin/blob': b64(BINARY), 'logo.bin': b64(BINARY) });
  });

  it('downwardAPI volume: label map formatted like the kubelet, resources divided', () => {
    expect(byName.podinfo?.data).toEqual({ labels: 'app="web"\nz="q\\""', name: 'web-1', mem: '64' });
  });

  it('reports missing required objects and keys, not optional ones', () => {
    const thin: SourceObjects = { configMaps: new Map([['cfg', { data: {} }]]), secrets: new Map() };
    const res = resolveVolumes(p, thin, tokens, ctx);
    expect(res.missing).toEqual([
      { kind: 'Secret', name: 'sec' },
      { kind: 'ConfigMap', name: 'kube-root-ca.crt' },
      { kind: 'Secret', name: 'sec' },
    ]);
  });

  it('a projected ConfigMap item whose key is absent is missing', () => {
    const noKey: SourceObjects = {
      ...sources,
      configMaps: new Map([...sources.configMaps, ['kube-root-ca.crt', { data: {} }]]),
    };
    expect(resolveVolumes(p, noKey, tokens, ctx).missing).toEqual([
      { kind: 'ConfigMap', name: 'kube-root-ca.crt', key: 'ca.crt' },
    ]);
  });

  it('downwardAPI volumes are declared as projected ones in the pod sent on', () => {
    const vols = downwardAsProjected(p.spec.volumes)!;
    expect(vols.find((v) => v.name === 'podinfo')).toEqual({
      name: 'podinfo',
      projected: {
        sources: [
          { downwardAPI: { items: p.spec.volumes!.find((v) => v.name === 'podinfo')!.downwardAPI!.items } },
        ],
      },
    });
    expect(vols.find((v) => v.name === 'scratch')).toEqual({ name: 'scratch', emptyDir: {} });
    // The original is untouched.
    expect(p.spec.volumes!.find((v) => v.name === 'podinfo')!.downwardAPI).toBeDefined();
  });
});
