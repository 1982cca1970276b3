import { describe, expect, it } from 'vitest';
import type { KPod } from '../../../src/vk/pods/kpod.ts';
import { DownwardError, resourceFieldValue } from '../../../src/vk/resolve/downward.ts';
import {
  describeMissing,
  expandCommand,
  resolveEnv,
  type SourceObjects,
} from '../../../src/vk/resolve/env.ts';
import type { Container } from '../../../src/wire/k8s.ts';
import { HOSTILE, PEM } from './fixtures.ts';

const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');

function pod(container: Partial<Container>, extra: Partial<KPod['spec']> = {}): KPod {
  return {
    metadata: {
      name: 'web-1',
      namespace: 'team-a',
      uid: '0b5c-uid',
      labels: { app: 'web', tier: 'a"b' },
      annotations: { note: 'line1\nline2', 'x.io/q': `say "hi"` },
    },
    spec: {
      nodeName: 'vk-node',
      serviceAccountName: 'runner',
      containers: [{ name: 'main', image: 'busybox', ...container }],
      ...extra,
    },
    status: { phase: 'Pending' },
  };
}

const sources: SourceObjects = {
  configMaps: new Map<string, { data: Record<string, string> }>([
    [
      'cfg',
      { data: { plain: 'hello', pem: PEM, hostile: HOSTILE, empty: '', 'has=eq': 'x', 'dotted.key': 'd' } },
    ],
    ['other', { data: { A: 'from-other' } }],
  ]),
  secrets: new Map([['sec', { data: { password: b64(HOSTILE), cert: b64(PEM), user: b64('admin') } }]]),
};
const ctx = {
  nodeName: 'vk-node',
  hostIP: '10.1.2.3',
  podIP: '10.1.2.3',
  nodeAllocatable: { cpu: '100', memory: '128Gi' },
};
const envOf = (p: KPod, c = p.spec.containers[0]!) =>
  Object.fromEntries(resolveEnv(p, c, sources, ctx).env.map((e) => [e.name, e.value]));

describe('resolveEnv', () => {
  it('literal, ConfigMap key, Secret key: byte-for-byte (PEM, quotes, $, backticks, newlines)', () => {
    const p = pod({
      env: [
        { name: 'LITERAL', value: HOSTILE },
        { name: 'CM_PEM', valueFrom: { configMapKeyRef: { name: 'cfg', key: 'pem' } } },
        { name: 'CM_HOSTILE', valueFrom: { configMapKeyRef: { name: 'cfg', key: 'hostile' } } },
        { name: 'SEC_PASSWORD', valueFrom: { secretKeyRef: { name: 'sec', key: 'password' } } },
        { name: 'SEC_CERT', valueFrom: { secretKeyRef: { name: 'sec', key: 'cert' } } },
        { name: 'EMPTY', valueFrom: { configMapKeyRef: { name: 'cfg', key: 'empty' } } },
      ],
    });
    const env = envOf(p);
    // A literal goes through $(VAR) expansion only: `$(not-a-var)` is undefined, so it stays.
    expect(env.LITERAL).toBe(HOSTILE);
    expect(env.CM_PEM).toBe(PEM);
    expect(env.CM_HOSTILE).toBe(HOSTILE);
    expect(env.SEC_PASSWORD).toBe(HOSTILE);
    expect(env.SEC_CERT).toBe(PEM);
    expect(env.EMPTY).toBe('');
  });

  it('fieldRef: name, namespace, uid, labels, annotations, node, service account, IPs', () => {
    const paths = [
      'metadata.name',
      'metadata.namespace',
      'metadata.uid',
      "metadata.labels['tier']",
      "metadata.annotations['note']",
      "metadata.labels['absent']",
      'spec.nodeName',
      'spec.serviceAccountName',
      'status.hostIP',
      'status.podIP',
      'status.podIPs',
    ];
    const p = pod({
      env: paths.map((fieldPath, i) => ({ name: `F${i}`, valueFrom: { fieldRef: { fieldPath } } })),
    });
    expect(Object.values(envOf(p))).toEqual([
      'web-1',
      'team-a',
      '0b5c-uid',
      'a"b',
      'line1\nline2',
      '',
      'vk-node',
      'runner',
      '10.1.2.3',
      '10.1.2.3',
      '10.1.2.3',
    ]);
  });

  it('envFrom with prefix, then env overriding; invalid names skipped with a warning', () => {
    const p = pod({
      envFrom: [
        { configMapRef: { name: 'cfg' }, prefix: 'CFG_' },
        { secretRef: { name: 'sec' } },
        { configMapRef: { name: 'other' } },
      ],
      env: [{ name: 'A', value: 'literal-wins' }],
    });
    const r = resolveEnv(p, p.spec.containers[0]!, sources, ctx);
    const env = Object.fromEntries(r.env.map((e) => [e.name, e.value]));
    expect(env.CFG_plain).toBe('hello');
    expect(env.CFG_pem).toBe(PEM);
    expect(env['CFG_dotted.key']).toBe('d');
    expect(env.password).toBe(HOSTILE);
    expect(env.A).toBe('literal-wins');
    expect(env['CFG_has=eq']).toBeUndefined();
    expect(r.warnings.join()).toMatch(/has=eq/);
    expect(r.missing).toEqual([]);
  });

  it('missing objects and keys are reported unless optional', () => {
    const p = pod({
      envFrom: [{ configMapRef: { name: 'nope' } }, { secretRef: { name: 'nope-opt', optional: true } }],
      env: [
        { name: 'A', valueFrom: { configMapKeyRef: { name: 'cfg', key: 'absent' } } },
        { name: 'B', valueFrom: { configMapKeyRef: { name: 'cfg', key: 'absent', optional: true } } },
        { name: 'C', valueFrom: { secretKeyRef: { name: 'gone', key: 'k' } } },
        { name: 'D', value: 'ok' },
      ],
    });
    const r = resolveEnv(p, p.spec.containers[0]!, sources, ctx);
    expect(r.missing).toEqual([
      { kind: 'ConfigMap', name: 'nope' },
      { kind: 'ConfigMap', name: 'cfg', key: 'absent' },
      { kind: 'Secret', name: 'gone' },
    ]);
    expect(r.missing.map((m) => describeMissing(m, 'team-a'))).toEqual([
      'ConfigMap "team-a/nope" not found',
      'key "absent" not found in ConfigMap "team-a/cfg"',
      'Secret "team-a/gone" not found',
    ]);
    expect(r.env).toEqual([{ name: 'D', value: 'ok' }]);
  });

  it('expands $(VAR) in literals against earlier variables only; never in referenced values', () => {
    const p = pod({
      env: [
        { name: 'BASE', value: '/opt' },
        { name: 'PATHX', value: '$(BASE)/bin:$(LATER):$$(BASE):$$' },
        { name: 'REF', valueFrom: { configMapKeyRef: { name: 'cfg', key: 'hostile' } } },
        { name: 'LATER', value: 'x' },
      ],
    });
    const env = envOf(p);
    expect(env.PATHX).toBe('/opt/bin:$(LATER):$(BASE):$');
    expect(env.REF).toBe(HOSTILE);
    expect(
      expandCommand(
        ['sh', '-c', 'echo $(BASE) $(REF) $HOME'],
        resolveEnv(p, p.spec.containers[0]!, sources, ctx).env,
      ),
    ).toEqual(['sh', '-c', `echo /opt ${HOSTILE} $HOME`]);
  });

  it('KUBERNETES_SERVICE_* only when configured, and user env overrides them', () => {
    const p = pod({ env: [{ name: 'KUBERNETES_SERVICE_PORT', value: '8443' }] });
    expect(envOf(p).KUBERNETES_SERVICE_HOST).toBeUndefined();
    const env = Object.fromEntries(
      resolveEnv(p, p.spec.containers[0]!, sources, {
        ...ctx,
        kubernetesService: { host: '192.0.2.1', port: 6443 },
      }).env.map((e) => [e.name, e.value]),
    );
    expect(env.KUBERNETES_SERVICE_HOST).toBe('192.0.2.1');
    expect(env.KUBERNETES_SERVICE_PORT).toBe('8443');
    expect(env.KUBERNETES_PORT).toBe('tcp://192.0.2.1:6443');
  });

  it('resourceFieldRef: limits/requests with divisors; unset limits are the node allocatable', () => {
    const p = pod({
      resources: { limits: { cpu: '1500m', memory: '1Gi' }, requests: { cpu: '250m' } },
      env: [
        { name: 'CPU_LIMIT', valueFrom: { resourceFieldRef: { resource: 'limits.cpu' } } },
        { name: 'CPU_LIMIT_M', valueFrom: { resourceFieldRef: { resource: 'limits.cpu', divisor: '1m' } } },
        { name: 'MEM_MI', valueFrom: { resourceFieldRef: { resource: 'limits.memory', divisor: '1Mi' } } },
        { name: 'CPU_REQ', valueFrom: { resourceFieldRef: { resource: 'requests.cpu' } } },
        { name: 'MEM_REQ', valueFrom: { resourceFieldRef: { resource: 'requests.memory' } } },
      ],
    });
    expect(envOf(p)).toMatchObject({
      CPU_LIMIT: '2',
      CPU_LIMIT_M: '1500',
      MEM_MI: '1024',
      CPU_REQ: '1',
      MEM_REQ: '0',
    });
    const bare = pod({});
    expect(resourceFieldValue(bare, { resource: 'limits.cpu' }, bare.spec.containers[0], ctx)).toBe('100');
    expect(
      resourceFieldValue(bare, { resource: 'limits.memory', divisor: '1Gi' }, bare.spec.containers[0], ctx),
    ).toBe('128');
  });

  it('resourceFieldRef: a zero divisor is the unset one; a bad quantity is a DownwardError (a warning)', () => {
    const p = pod({ resources: { limits: { cpu: '1500m', memory: 'lots' } } });
    const c = p.spec.containers[0];
    for (const divisor of ['0', '0m', 0, ''])
      expect(resourceFieldValue(p, { resource: 'limits.cpu', divisor }, c, ctx)).toBe('2');
    expect(() => resourceFieldValue(p, { resource: 'limits.cpu', divisor: '-1' }, c, ctx)).toThrow(
      /divisor "-1" must be positive/,
    );
    expect(() => resourceFieldValue(p, { resource: 'limits.cpu', divisor: '1x' }, c, ctx)).toThrow(
      DownwardError,
    );
    expect(() => resourceFieldValue(p, { resource: 'limits.memory' }, c, ctx)).toThrow(
      /^"lots" is not a quantity/,
    );
    const q = pod({
      resources: { limits: { memory: 'lots' } },
      env: [{ name: 'M', valueFrom: { resourceFieldRef: { resource: 'limits.memory' } } }],
    });
    const r = resolveEnv(q, q.spec.containers[0]!, sources, ctx);
    expect(r.warnings).toEqual([expect.stringMatching(/^env M: "lots" is not a quantity/)]);
  });
});
