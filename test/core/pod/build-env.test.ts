import { describe, expect, it } from 'vitest';
import { DownwardFailed, type DownwardRules, resourceFieldValue } from '../../../src/core/pod/downward.ts';
import { buildEnv, type EnvList, type EnvProblem, type EnvRules } from '../../../src/core/pod/env.ts';

// The one implementation of the kubelet's env rules, driven with each parameter the VK and
// the plugins set differently (their own adapters are tested in test/vk/resolve/env.test.ts
// and test/core/pod/env.test.ts).

const pod = {
  metadata: { name: 'p', namespace: 'ns', uid: 'u', labels: { a: '1' } },
  spec: { containers: [{ name: 'c' }] },
};
const sources: Record<string, Record<string, string>> = { 'ConfigMap/cm': { X: 'cm-x', Y: '$(X)' } };

const downward = (over: Partial<DownwardRules> = {}): DownwardRules => ({
  wholeMaps: false,
  quantity: (q) => Number(q),
  unset: () => undefined,
  ...over,
});

function rules(over: Partial<EnvRules> = {}): EnvRules & { problems: EnvProblem[] } {
  const problems: EnvProblem[] = [];
  return {
    problems,
    redefinedMovesLast: false,
    expandVariables: true,
    entries: (kind, name) => {
      const d = sources[`${kind}/${name}`];
      return d && Object.entries(d);
    },
    value: (kind, name, key) => {
      const d = sources[`${kind}/${name}`];
      return d ? d[key] : null;
    },
    usableKey: (key) => !key.includes('='),
    downward: () => downward(),
    report: (p) => {
      problems.push(p);
    },
    field: 'c',
    ...over,
  };
}

const env = [
  { name: 'X', value: 'lit' },
  { name: 'Z', value: '$(X)-$(Y)' },
];

describe('buildEnv', () => {
  it('a redefined name keeps its first position (kubelet) or moves last (docker -e)', () => {
    const c = { name: 'c', envFrom: [{ configMapRef: { name: 'cm' } }], env };
    const initial: EnvList = [['K', 'k']];
    expect(buildEnv(c, pod, rules({ initial }))).toEqual([
      ['K', 'k'],
      ['X', 'lit'],
      ['Y', '$(X)'],
      ['Z', 'lit-$(X)'],
    ]);
    expect(buildEnv(c, pod, rules({ initial, redefinedMovesLast: true })).map(([k]) => k)).toEqual([
      'K',
      'Y',
      'X',
      'Z',
    ]);
    expect(buildEnv(c, pod, rules({ expandVariables: false })).at(-1)).toEqual(['Z', '$(X)-$(Y)']);
  });

  it('reports each problem typed, with its field, and skips the entry', () => {
    const r = rules();
    const c = {
      name: 'c',
      envFrom: [{ configMapRef: { name: 'gone' } }, { secretRef: { name: 'gone', optional: true } }],
      env: [
        { name: 'A', valueFrom: { configMapKeyRef: { name: 'cm', key: 'nokey' } } },
        { name: 'B', valueFrom: { secretKeyRef: { name: 'gone', key: 'k' } } },
        { name: 'C', valueFrom: { fieldRef: { fieldPath: 'metadata.labels' } } },
        { name: 'D', valueFrom: { somethingNew: {} } },
        { name: 'E=F', value: 'v' },
        { name: 'G', valueFrom: { configMapKeyRef: { name: 'cm', key: 'nokey', optional: true } } },
      ],
    };
    expect(buildEnv(c, pod, r)).toEqual([]);
    expect(r.problems).toEqual([
      { type: 'missing', kind: 'ConfigMap', name: 'gone', objectExists: false, field: 'c.envFrom[0]' },
      { type: 'missing', kind: 'ConfigMap', name: 'cm', key: 'nokey', objectExists: true, field: 'c.env[A]' },
      { type: 'missing', kind: 'Secret', name: 'gone', key: 'k', objectExists: false, field: 'c.env[B]' },
      {
        type: 'downward',
        name: 'C',
        failure: { code: 'fieldPath', fieldPath: 'metadata.labels' },
        field: 'c.env[C]',
      },
      { type: 'noSource', name: 'D', keys: ['somethingNew'], field: 'c.env[D]' },
      { type: 'badName', name: 'E=F', field: 'c.env[E=F]' },
    ]);
  });

  it('a throwing report refuses the pod at the first problem', () => {
    const c = { name: 'c', env: [{ name: 'A', valueFrom: { configMapKeyRef: { name: 'gone', key: 'k' } } }] };
    const refuse = (p: EnvProblem) => {
      throw new Error(`refused ${p.field}`);
    };
    expect(() => buildEnv(c, pod, rules({ report: refuse }))).toThrow('refused c.env[A]');
  });
});

describe('downward resourceFieldValue', () => {
  const c = { name: 'c', resources: { limits: { cpu: 2 } } };
  it('an unset value comes from the rules; none at all is "0" (the divisor is then not read)', () => {
    const bad = () => {
      throw new DownwardFailed({ code: 'quantity', message: 'bad' });
    };
    expect(resourceFieldValue(undefined, { resource: 'limits.memory', divisor: 'x' }, c, downward())).toBe(
      '0',
    );
    const unset = () => 3;
    expect(resourceFieldValue(undefined, { resource: 'requests.cpu' }, c, downward({ unset }))).toBe('3');
    expect(() =>
      resourceFieldValue(undefined, { resource: 'limits.cpu', divisor: 'x' }, c, downward({ quantity: bad })),
    ).toThrow(DownwardFailed);
  });
});
