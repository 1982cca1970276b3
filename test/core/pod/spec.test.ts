import { describe, expect, it } from 'vitest';
import { podSpecOf, withoutNulls } from '../../../src/core/pod/spec.ts';
import { Pod } from '../../../src/wire/k8s.ts';

const meta = { name: 'p', namespace: 'ns', uid: 'u1' };
const podOf = (spec: unknown) => ({ metadata: meta, spec }) as Pod;
const app = { name: 'app', image: 'busybox:1' };

/** The field podSpecOf names when it refuses the spec, or undefined when it accepts it. */
function refusedField(spec: unknown): string | undefined {
  try {
    podSpecOf(podOf(spec));
    return undefined;
  } catch (err) {
    expect(err).toMatchObject({ code: 'INVALID_INPUT' });
    return (err as { field?: string }).field;
  }
}

describe('podSpecOf: the plugins view of the wire PodSpec', () => {
  it('reads null fields as absent, at every depth, and keeps unknown fields', () => {
    const spec = podSpecOf(
      podOf({
        containers: [
          {
            ...app,
            workingDir: null,
            env: [{ name: 'A', value: null, valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } }],
            volumeMounts: [{ name: 'v', mountPath: '/v', subPath: null, readOnly: null }],
            securityContext: { runAsUser: null, privileged: false },
            livenessProbe: { exec: { command: ['true'] }, httpGet: null },
          },
        ],
        initContainers: null,
        volumes: [{ name: 'v', configMap: { name: 'cm', items: null, defaultMode: 0o644 }, secret: null }],
        hostNetwork: null,
        dnsPolicy: 'ClusterFirst',
      }),
    );
    const c = spec.containers[0]!;
    expect(c.workingDir).toBeUndefined();
    expect('workingDir' in c).toBe(false);
    expect(c.env).toEqual([{ name: 'A', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } }]);
    expect(c.volumeMounts).toEqual([{ name: 'v', mountPath: '/v' }]);
    expect(c.securityContext).toEqual({ privileged: false });
    expect(c.livenessProbe).toEqual({ exec: { command: ['true'] } });
    expect(spec.initContainers).toBeUndefined();
    expect(spec.volumes).toEqual([{ name: 'v', configMap: { name: 'cm', defaultMode: 0o644 } }]);
    expect(spec.hostNetwork).toBeUndefined();
    expect(spec.dnsPolicy).toBe('ClusterFirst');
  });

  it('keeps the fields the runtime reads', () => {
    const spec = podSpecOf(
      podOf({
        containers: [
          { ...app, imagePullPolicy: 'Never', tty: true, stdin: false, command: ['sh'], args: ['-c'] },
        ],
        restartPolicy: 'OnFailure',
        terminationGracePeriodSeconds: 5,
        securityContext: { runAsUser: 1000, supplementalGroups: [5] },
        volumes: [
          { name: 'e', emptyDir: { medium: 'Memory', sizeLimit: '1Gi' } },
          { name: 'h', hostPath: { path: '/srv' } },
        ],
      }),
    );
    expect(spec.containers[0]).toMatchObject({
      imagePullPolicy: 'Never',
      tty: true,
      stdin: false,
      args: ['-c'],
    });
    expect(spec).toMatchObject({ restartPolicy: 'OnFailure', terminationGracePeriodSeconds: 5 });
    expect(spec.securityContext?.supplementalGroups).toEqual([5]);
    expect(spec.volumes?.[1]?.hostPath?.path).toBe('/srv');
  });

  it('names the first bad field, as pod.spec.<path>', () => {
    expect(refusedField({ containers: [{ name: 'app' }] })).toBe('pod.spec.containers.0.image');
    expect(refusedField({ containers: [app, { name: 'b', image: '-rm' }] })).toBe(
      'pod.spec.containers.1.image',
    );
    expect(refusedField({ containers: [] })).toBe('pod.spec.containers');
    expect(refusedField({ containers: [{ ...app, imagePullPolicy: 'Sometimes' }] })).toBe(
      'pod.spec.containers.0.imagePullPolicy',
    );
    expect(refusedField({ containers: [{ ...app, volumeMounts: [{ name: 'v' }] }] })).toBe(
      'pod.spec.containers.0.volumeMounts.0.mountPath',
    );
    expect(refusedField({ containers: [app], initContainers: [{ ...app, restartPolicy: 'Never' }] })).toBe(
      'pod.spec.initContainers.0.restartPolicy',
    );
    expect(refusedField({ containers: [app], restartPolicy: 'Sometimes' })).toBe('pod.spec.restartPolicy');
    expect(refusedField({ containers: [app], terminationGracePeriodSeconds: -1 })).toBe(
      'pod.spec.terminationGracePeriodSeconds',
    );
  });

  it('refuses the untrusted strings and numbers the wire refuses', () => {
    const vol = (v: object) => ({ containers: [app], volumes: [{ name: 'v', ...v }] });
    expect(refusedField({ containers: [{ ...app, env: [{ name: '-x', value: '1' }] }] })).toBe(
      'pod.spec.containers.0.env.0.name',
    );
    expect(refusedField({ containers: [{ ...app, command: ['a\0b'] }] })).toBe(
      'pod.spec.containers.0.command.0',
    );
    expect(
      refusedField({
        containers: [{ ...app, volumeMounts: [{ name: 'v', mountPath: '/v', subPath: '../x' }] }],
      }),
    ).toBe('pod.spec.containers.0.volumeMounts.0.subPath');
    expect(refusedField(vol({ configMap: { name: 'c', items: [{ key: 'k', path: '../k' }] } }))).toBe(
      'pod.spec.volumes.0.configMap.items.0.path',
    );
    expect(refusedField(vol({ secret: { secretName: 's', defaultMode: 0o1000 } }))).toBe(
      'pod.spec.volumes.0.secret.defaultMode',
    );
    expect(refusedField(vol({ downwardAPI: { items: [{ path: 'a', mode: -1 }] } }))).toBe(
      'pod.spec.volumes.0.downwardAPI.items.0.mode',
    );
    expect(refusedField(vol({ hostPath: { path: '' } }))).toBe('pod.spec.volumes.0.hostPath.path');
    expect(refusedField({ containers: [{ ...app, securityContext: { runAsUser: -1 } }] })).toBe(
      'pod.spec.containers.0.securityContext.runAsUser',
    );
  });

  it('the wire Pod refuses what the view refuses of the wire shapes (one rule, both hops)', () => {
    const bad = {
      containers: [app],
      volumes: [{ name: 'v', configMap: { name: 'c', defaultMode: 0o1000 } }],
    };
    expect(Pod.safeParse(podOf(bad)).success).toBe(false);
    expect(Pod.safeParse(podOf({ containers: [app] })).success).toBe(true);
  });
});

describe('withoutNulls', () => {
  it('drops null object fields, reads other nulls as undefined, keeps every other value', () => {
    expect(withoutNulls({ a: null, b: [null, { c: null, d: 0 }], e: '', f: false })).toStrictEqual({
      b: [undefined, { d: 0 }],
      e: '',
      f: false,
    });
    expect(withoutNulls(null)).toBeUndefined();
  });
});
