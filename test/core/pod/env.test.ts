import { describe, expect, it } from 'vitest';
import {
  commandLine,
  type EnvContext,
  fieldRefValue,
  resolveEnv,
  resourceFieldValue,
} from '../../../src/core/pod/env.ts';
import type { ContainerSpec, PodSpecView } from '../../../src/core/pod/spec.ts';
import type { Pod } from '../../../src/wire/k8s.ts';

const pod = {
  metadata: {
    name: 'web',
    namespace: 'ns1',
    uid: 'uid-1',
    labels: { b: '2', a: 'one"two' },
    annotations: { note: 'hi' },
  },
  spec: { containers: [{ name: 'c', image: 'i' }] },
  status: { podIP: '10.0.0.5' },
} as unknown as Pod;
const spec = {
  containers: [{ name: 'c', image: 'i' }],
  nodeName: 'vnode',
  serviceAccountName: 'sa',
} as unknown as PodSpecView;

describe('fieldRef', () => {
  it.each([
    ['metadata.name', 'web'],
    ['metadata.namespace', 'ns1'],
    ['metadata.uid', 'uid-1'],
    ["metadata.labels['b']", '2'],
    ["metadata.annotations['note']", 'hi'],
    ["metadata.labels['missing']", ''],
    ['metadata.labels', 'a="one\\"two"\nb="2"'],
    ['spec.nodeName', 'vnode'],
    ['spec.serviceAccountName', 'sa'],
    ['status.podIP', '10.0.0.5'],
  ])('%s → %j', (path, want) => {
    expect(fieldRefValue(pod, spec, path, 'f')).toBe(want);
  });

  it('refuses an unknown path', () => {
    expect(() => fieldRefValue(pod, spec, 'spec.bogus', 'pod.spec.containers[c].env[X]')).toThrow(
      /env\[X\].*spec\.bogus/,
    );
  });

  it('quotes label values as Go %q does, like the kubelet (not as JSON)', () => {
    const odd = { ...pod, metadata: { ...pod.metadata, labels: { k: '\u0001\u007f\u00a0' } } } as Pod;
    expect(fieldRefValue(odd, spec, 'metadata.labels', 'f')).toBe('k="\\x01\\x7f\\u00a0"');
  });
});

describe('resourceFieldRef', () => {
  const c = {
    name: 'c',
    image: 'i',
    resources: { limits: { cpu: '1500m', memory: '64Mi' } },
  } as unknown as ContainerSpec;
  it.each([
    ['limits.cpu', undefined, '2'],
    ['limits.cpu', '1m', '1500'],
    ['limits.cpu', '0', '2'],
    ['limits.cpu', 0, '2'],
    ['limits.memory', '1Mi', '64'],
    ['requests.memory', '1Ki', '65536'],
    ['limits.ephemeral-storage', undefined, '0'],
  ])('%s / %j → %s', (resource, divisor, want) => {
    expect(resourceFieldValue(c, resource, divisor, { cpu: 4, memory: 2 ** 30 }, 'f')).toBe(want);
  });

  it('uses the node capacity when the container sets no limit', () => {
    const bare = { name: 'c', image: 'i' } as unknown as ContainerSpec;
    expect(resourceFieldValue(bare, 'limits.cpu', '1m', { cpu: 4, memory: 2 ** 30 }, 'f')).toBe('4000');
    expect(resourceFieldValue(bare, 'limits.memory', '1Mi', { cpu: 4, memory: 2 ** 30 }, 'f')).toBe('1024');
  });

  it.each([
    ['-1', /^f\.divisor: /],
    ['1x', /^f\.divisor: /],
  ])('refuses the divisor %j naming it', (divisor, msg) => {
    expect(() => resourceFieldValue(c, 'limits.cpu', divisor, undefined, 'f')).toThrow(msg);
  });
});

const ctx = (over: Partial<EnvContext> = {}): EnvContext => ({
  pod,
  spec,
  sources: {
    configMaps: new Map([
      [
        'cm',
        {
          metadata: { name: 'cm' },
          data: { K1: 'v1', K2: 'v2' },
          binaryData: { BIN: Buffer.from('bin').toString('base64') },
        },
      ],
    ]),
    secrets: new Map([
      ['sec', { metadata: { name: 'sec' }, data: { PASS: Buffer.from('p@ss"word\n').toString('base64') } }],
    ]),
  },
  expandVariables: true,
  field: 'pod.spec.containers[c]',
  ...over,
});

describe('resolveEnv', () => {
  it('orders envFrom before env, later definitions winning, and resolves valueFrom', () => {
    const c = {
      name: 'c',
      image: 'i',
      envFrom: [{ configMapRef: { name: 'cm' } }, { prefix: 'S_', secretRef: { name: 'sec' } }],
      env: [
        { name: 'K1', value: 'override' },
        { name: 'REF', value: '$(K2)/$(S_PASS_MISSING)' },
        { name: 'FROMCM', valueFrom: { configMapKeyRef: { name: 'cm', key: 'K2' } } },
        { name: 'FROMSEC', valueFrom: { secretKeyRef: { name: 'sec', key: 'PASS' } } },
        { name: 'POD', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
        { name: 'MEM', valueFrom: { resourceFieldRef: { resource: 'limits.memory', divisor: '1Mi' } } },
        { name: 'OPT', valueFrom: { configMapKeyRef: { name: 'absent', key: 'x', optional: true } } },
      ],
      resources: { limits: { memory: '64Mi' } },
    } as unknown as ContainerSpec;
    expect(resolveEnv(c, ctx())).toEqual([
      ['BIN', 'bin'],
      ['K2', 'v2'],
      ['S_PASS', 'p@ss"word\n'],
      ['K1', 'override'],
      ['REF', 'v2/$(S_PASS_MISSING)'],
      ['FROMCM', 'v2'],
      ['FROMSEC', 'p@ss"word\n'],
      ['POD', 'web'],
      ['MEM', '64'],
    ]);
  });

  it('keeps values literal when expansion is off', () => {
    const c = {
      name: 'c',
      image: 'i',
      env: [
        { name: 'A', value: 'a' },
        { name: 'B', value: '$(A) $$' },
      ],
    } as unknown as ContainerSpec;
    expect(resolveEnv(c, ctx({ expandVariables: false }))).toEqual([
      ['A', 'a'],
      ['B', '$(A) $$'],
    ]);
  });

  it.each([
    [{ valueFrom: { configMapKeyRef: { name: 'absent', key: 'x' } } }, /ConfigMap "absent"/],
    [{ valueFrom: { secretKeyRef: { name: 'sec', key: 'nope' } } }, /key "nope" of Secret "sec"/],
    [
      { valueFrom: { resourceFieldRef: { containerName: 'ghost', resource: 'limits.cpu' } } },
      /unknown container "ghost"/,
    ],
  ])('refuses a missing required source %#', (e, msg) => {
    const c = { name: 'c', image: 'i', env: [{ name: 'X', ...e }] } as unknown as ContainerSpec;
    expect(() => resolveEnv(c, ctx())).toThrow(msg);
  });

  it('refuses a missing non-optional envFrom source, skips an optional one', () => {
    const bad = {
      name: 'c',
      image: 'i',
      envFrom: [{ configMapRef: { name: 'nope' } }],
    } as unknown as ContainerSpec;
    expect(() => resolveEnv(bad, ctx())).toThrow(/envFrom\[0\].*"nope"/);
    const ok = {
      name: 'c',
      image: 'i',
      envFrom: [{ secretRef: { name: 'nope', optional: true } }],
    } as unknown as ContainerSpec;
    expect(resolveEnv(ok, ctx())).toEqual([]);
  });
});

describe('command and args against the image ENTRYPOINT/CMD', () => {
  const env: Array<[string, string]> = [['WHO', 'world']];
  it.each([
    [{}, { entrypoint: undefined, args: [] }],
    [{ args: ['-x', 'y'] }, { entrypoint: undefined, args: ['-x', 'y'] }],
    [{ command: ['sh'] }, { entrypoint: 'sh', args: [] }],
    [
      { command: ['sh', '-c'], args: ['echo $(WHO) $$(WHO) $HOME'] },
      { entrypoint: 'sh', args: ['-c', 'echo world $(WHO) $HOME'] },
    ],
    [
      { command: [], args: ['a'] },
      { entrypoint: undefined, args: ['a'] },
    ],
  ])('%j → %j', (c, want) => {
    expect(commandLine(c, env, true)).toEqual(want);
  });
});
