/**
 * Property tests over the docker argv builder and the pod plan (issue #12): random hostile
 * strings in every pod-controlled field. Invariants: no value ever becomes an option of
 * `docker create` (every word before `--` is one of our flags, a value-taking flag carries
 * its value in the same `--flag=value` word; after `--` come exactly the image and its
 * arguments), no env value is an argv word, and every path the plan writes or bind-mounts
 * stays strictly under the pod's directory. Bounded here; FUZZ_RUNS=… runs longer.
 */
import { posix } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isUnder } from '../../../src/core/pod/paths.ts';
import { podSpecOf } from '../../../src/core/pod/spec.ts';
import { codeOf } from '../../../src/errors/index.ts';
import {
  type ContainerPlan,
  containerCreateArgs,
  infraCreateArgs,
} from '../../../src/plugins/docker/argv.ts';
import { type PlanOptions, planPod } from '../../../src/plugins/docker/pod-plan.ts';
import type { Pod } from '../../../src/wire/k8s.ts';

const RUNS = Number(process.env.FUZZ_RUNS ?? 300);

const hostile = fc.oneof(
  fc.string(),
  fc.string({ unit: 'binary', maxLength: 12 }),
  fc.constantFrom(
    '--privileged',
    '--volume=/:/host',
    '-v',
    '--',
    '-',
    '..',
    '../..',
    '/',
    'a/../../b',
    '$(id)',
    '`id`',
    'a\0b',
    'a\nb',
    '--network=host',
    'x,source=/,target=/h',
    'ok',
    'a-b',
    'LD_PRELOAD',
  ),
  fc.string().map((s) => `--${s}`),
  fc.string().map((s) => `-${s}`),
);

const VALUE_FLAGS = new Set([
  'name',
  'label',
  'network',
  'ipc',
  'restart',
  'env-file',
  'env',
  'workdir',
  'user',
  'group-add',
  'cpus',
  'cpu-shares',
  'memory',
  'memory-swap',
  'memory-reservation',
  'gpus',
  'mount',
  'cap-add',
  'cap-drop',
  'security-opt',
  'pull',
  'entrypoint',
  'hostname',
  'shm-size',
]);
const BOOL_FLAGS = new Set(['read-only', 'privileged', 'tty', 'interactive']);

/** The invariant of a `docker create` argv; returns the flag words. */
function checkCreate(args: string[], image: string, tail: string[]): string[] {
  expect(args[0]).toBe('create');
  const sep = args.indexOf('--');
  expect(sep).toBeGreaterThan(0);
  const flags = args.slice(1, sep);
  for (const w of flags) {
    const m = /^--([a-z][a-z0-9-]*)(=[\s\S]*)?$/.exec(w);
    expect(m, `word ${JSON.stringify(w)} is not one of our flags`).not.toBeNull();
    const [, name, value] = m!;
    if (BOOL_FLAGS.has(name!)) expect(value).toBeUndefined();
    else expect(VALUE_FLAGS.has(name!) && value !== undefined, `flag --${name}`).toBe(true);
  }
  expect(args.slice(sep + 1)).toEqual([image, ...tail]);
  return flags;
}

const plan = (p: Partial<ContainerPlan>): ContainerPlan => ({
  name: 'n',
  labels: {},
  image: 'i',
  pull: 'missing',
  infra: 'inf',
  restart: 'no',
  envNames: [],
  groupAdd: [],
  mounts: [],
  readOnlyRootFilesystem: false,
  privileged: false,
  capAdd: [],
  capDrop: [],
  noNewPrivileges: false,
  tty: false,
  stdin: false,
  extraFlags: [],
  args: [],
  ...p,
});

describe('argv builder, hostile values', () => {
  it('no value becomes an option of docker create', () => {
    fc.assert(
      fc.property(
        fc.record({
          name: hostile,
          image: hostile,
          label: hostile,
          env: hostile,
          workdir: hostile,
          user: hostile,
          entrypoint: hostile,
          src: hostile,
          target: hostile,
          args: fc.array(hostile, { maxLength: 4 }),
        }),
        (r) => {
          const args = containerCreateArgs(
            plan({
              name: r.name,
              image: r.image,
              labels: { [r.label]: r.label },
              envNames: [r.env],
              workingDir: r.workdir,
              user: r.user,
              entrypoint: r.entrypoint,
              mounts: [{ type: 'bind', source: r.src, target: r.target, readOnly: false }],
              args: r.args,
            }),
          );
          const flags = checkCreate(args, r.image, r.args);
          expect(flags).not.toContain('--privileged');
          const infra = infraCreateArgs({
            name: r.name,
            labels: { l: r.label },
            image: r.image,
            pull: 'missing',
            command: r.args,
            hostname: r.user,
          });
          checkCreate(infra, r.image, r.args);
        },
      ),
      { numRuns: RUNS * 3 },
    );
  });
});

const options: PlanOptions = {
  instance: 'i',
  infraImage: 'pause:3',
  infraCommand: [],
  network: '',
  gpus: false,
  flagsAnnotation: 'docker-options.vk.io/flags',
  allowedFlags: ['--shm-size'],
  hostPathRoots: [],
  allowPrivileged: false,
  expandVariables: false,
};
const PODDIR = '/data/pod-uid';
const MARK = 'S3CR3T-VALUE-MARK';

/** A valid value most of the time, so that each hostile field is also tried alone. */
const mostly = (valid: string) =>
  fc.oneof({ weight: 4, arbitrary: fc.constant(valid) }, { weight: 1, arbitrary: hostile });

describe('pod plan, hostile pods', () => {
  it('refuses with INVALID_INPUT or plans argv and paths that hold the invariants', () => {
    let planned = 0;
    fc.assert(
      fc.property(
        fc.record({
          cname: mostly('app'),
          image: mostly('busybox:1'),
          cmd: fc.array(hostile, { maxLength: 3 }),
          envName: mostly('NAME'),
          // Values carry a marker no other field can: it must never reach an argv word.
          envValue: hostile.map((v) => `${v}${MARK}`),
          secretValue: hostile.map((v) => `${MARK}${v}`),
          vname: mostly('sec'),
          key: mostly('key'),
          itemPath: mostly('dir/file'),
          subPath: mostly('dir'),
          mountPath: mostly('/m'),
          workingDir: mostly('/w'),
          annotation: mostly('--shm-size=1g'),
        }),
        (r) => {
          const pod = {
            apiVersion: 'v1',
            kind: 'Pod',
            metadata: {
              name: 'p',
              namespace: 'ns',
              uid: 'pod-uid',
              annotations: { 'docker-options.vk.io/flags': r.annotation },
            },
            spec: {
              containers: [
                {
                  name: r.cname,
                  image: r.image,
                  command: r.cmd,
                  workingDir: r.workingDir,
                  env: [
                    { name: r.envName, value: r.envValue },
                    { name: 'S', valueFrom: { secretKeyRef: { name: 's', key: 'k' } } },
                  ],
                  volumeMounts: [
                    { name: r.vname, mountPath: r.mountPath, subPath: r.subPath },
                    { name: 'e', mountPath: '/e', subPath: r.subPath },
                  ],
                },
              ],
              volumes: [
                { name: r.vname, secret: { secretName: 's', items: [{ key: r.key, path: r.itemPath }] } },
                { name: 'e', emptyDir: {} },
              ],
            },
          } as unknown as Pod;
          const retrieved = [
            {
              name: r.cname,
              secrets: [
                {
                  metadata: { name: 's' },
                  data: {
                    k: Buffer.from(r.secretValue).toString('base64'),
                    [r.key]: Buffer.from(r.secretValue).toString('base64'),
                  },
                },
              ],
            },
          ] as never;
          let p: ReturnType<typeof planPod>;
          try {
            p = planPod({ pod, spec: podSpecOf(pod), retrieved, podDir: PODDIR, options });
          } catch (err) {
            expect(codeOf(err)).toBe('INVALID_INPUT');
            return;
          }
          for (const c of p.containers) {
            const args = containerCreateArgs({ ...c.plan, envFile: `${PODDIR}/env/x.env` });
            const flags = checkCreate(args, c.plan.image, c.plan.args);
            expect(flags).not.toContain('--privileged');
            for (const w of flags.filter((f) => f.startsWith('--env=')))
              expect(c.plan.envNames).toContain(w.slice('--env='.length));
            expect(args.join('\n')).not.toContain(MARK);
            for (const m of c.plan.mounts) {
              if (m.type !== 'bind') continue;
              expect(isUnder(m.source, PODDIR) && m.source !== PODDIR).toBe(true);
              expect(m.source.split('/')).not.toContain('..');
            }
          }
          for (const x of [...p.volumes.dirs, ...p.volumes.files]) {
            expect(isUnder(x.path, PODDIR) && x.path !== PODDIR, x.path).toBe(true);
            expect(posix.normalize(x.path)).toBe(x.path);
          }
          planned++;
        },
      ),
      { numRuns: RUNS },
    );
    // Not vacuous: a good share of the pods were planned, not refused.
    expect(planned).toBeGreaterThan(RUNS / 20);
  });
});
