import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../../src/core/logger.ts';
import { planVolumes } from '../../../src/core/pod/volumes.ts';
import { loadPluginConfig } from '../../../src/plugins/serve.ts';
import { slurmConfig } from '../../../src/plugins/slurm/config.ts';
import { buildJob } from '../../../src/plugins/slurm/job.ts';
import type { RetrievedPodData } from '../../../src/wire/interlink.ts';
import { fullData } from './fixtures.ts';

const pod = (spec: object, annotations?: Record<string, string>, meta: object = {}) =>
  ({
    pod: {
      metadata: { name: 'p', namespace: 'ns', uid: 'u1', ...(annotations ? { annotations } : {}), ...meta },
      spec,
    },
  }) as unknown as RetrievedPodData;
const one = (c: object = {}) => ({ containers: [{ name: 'c', image: 'busybox', command: ['true'], ...c }] });
const cfg = slurmConfig({ dataRoot: '/data' });

const invalid = (fn: () => unknown, message: RegExp) => {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  expect(err).toMatchObject({ code: 'INVALID_INPUT' });
  expect((err as Error).message).toMatch(message);
};

describe('buildJob: refuses what cannot work, naming the field', () => {
  it.each([
    [
      'a reserved sbatch option in the flags annotation',
      pod(one(), { 'slurm-job.vk.io/flags': '--job-name=x' }),
      /--job-name is set by the interlink slurm plugin/,
    ],
    [
      'shell in the flags annotation',
      pod(one(), { 'slurm-job.vk.io/flags': '--time=5; rm -rf /' }),
      /"rm" is not an sbatch option/,
    ],
    [
      'an unterminated quote',
      pod(one(), { 'slurm-job.vk.io/flags': '--comment "x' }),
      /unterminated double quote/,
    ],
    [
      'an image posing as an option',
      pod(one({ image: '--privileged' })),
      /pod\.spec\.containers\.0\.image: must not start with "-"/,
    ],
    [
      'an env name apptainer cannot take',
      pod(one({ env: [{ name: 'a.b', value: 'x' }] })),
      /variable 1 \(after envFrom\) is not a valid variable name for runtime apptainer/,
    ],
    [
      'an envFrom key posing as an option of env(1) (docker runtime too), without echoing it',
      {
        ...pod(one({ envFrom: [{ configMapRef: { name: 'cm' } }] })),
        container: [
          {
            name: 'c',
            configMaps: [{ metadata: { name: 'cm', namespace: 'ns' }, data: { '-Ssh': 'x' } }],
            secrets: [],
            projectedvolumemaps: [],
            emptyDirs: [],
          },
        ],
      } as unknown as RetrievedPodData,
      /^(?!.*-Ssh).*containers\[c\]\.env: variable 1 \(after envFrom\) has an invalid name/,
    ],
    [
      'a mount path with a colon',
      pod({
        ...one({ volumeMounts: [{ name: 'v', mountPath: '/a:b' }] }),
        volumes: [{ name: 'v', emptyDir: {} }],
      }),
      /mountPath "\/a:b" may not contain/,
    ],
    ['an unknown flavor', pod(one(), { 'slurm-job.vk.io/flavor': 'nope' }), /unknown flavor "nope"/],
    [
      'a missing ConfigMap',
      pod({
        ...one({ volumeMounts: [{ name: 'v', mountPath: '/v' }] }),
        volumes: [{ name: 'v', configMap: { name: 'gone' } }],
      }),
      /ConfigMap "gone" was not provided/,
    ],
    ['a relative workingDir', pod(one({ workingDir: 'rel' })), /workingDir: "rel" must be an absolute path/],
    [
      'a Secret volume named to leave the job directory',
      pod({
        ...one({ volumeMounts: [{ name: '../../x', mountPath: '/s' }] }),
        volumes: [{ name: '../../x', secret: { secretName: 's' } }],
      }),
      /\.name: must be a lower-case RFC 1123 label/,
    ],
    [
      'a volumeMount under runtime none (plain processes have no mounts)',
      pod({
        containers: [
          { name: 'first', image: 'x', command: ['true'] },
          { name: 'c', image: 'x', command: ['true'], volumeMounts: [{ name: 'data', mountPath: '/d' }] },
        ],
        volumes: [{ name: 'data', emptyDir: {} }],
      }),
      /^pod\.spec\.containers\[c\]\.volumeMounts\[0\]: volume "data" cannot be mounted: .*runtime none/,
      'none',
    ],
    [
      'a user volume after the service-account token under runtime none',
      pod({
        containers: [
          {
            name: 'c',
            image: 'x',
            command: ['true'],
            volumeMounts: [
              { name: 'kube-api-access-x', mountPath: '/var/run/secrets/kubernetes.io/serviceaccount' },
              { name: 'data', mountPath: '/d' },
            ],
          },
        ],
        volumes: [
          { name: 'kube-api-access-x', projected: { sources: [{ serviceAccountToken: { path: 'token' } }] } },
          { name: 'data', emptyDir: {} },
        ],
      }),
      /^pod\.spec\.containers\[c\]\.volumeMounts\[1\]: volume "data" cannot be mounted: .*runtime none/,
      'none',
    ],
  ])('%s', (_name, data, message, runtime?: string) => {
    const site = runtime ? slurmConfig({ dataRoot: '/data', containerRuntime: runtime as 'none' }) : cfg;
    invalid(() => buildJob(data, site), message);
    if (_name.includes('docker runtime'))
      invalid(() => buildJob(data, slurmConfig({ dataRoot: '/data', containerRuntime: 'docker' })), message);
  });

  it('refuses pre-exec where the site forbids it, hostPath where not allowed, a command-less process', () => {
    invalid(
      () =>
        buildJob(
          pod(one(), { 'slurm-job.vk.io/pre-exec': 'id' }),
          slurmConfig({ dataRoot: '/d', allowPreExec: false }),
        ),
      /does not allow pre-exec/,
    );
    const hp = pod({
      ...one({ volumeMounts: [{ name: 'h', mountPath: '/h' }] }),
      volumes: [{ name: 'h', hostPath: { path: '/etc' } }],
    });
    invalid(
      () => buildJob(hp, slurmConfig({ dataRoot: '/d', allowHostPath: false })),
      /hostPath is disabled/,
    );
    invalid(
      () =>
        buildJob(
          pod({ containers: [{ name: 'c', image: 'x' }] }),
          slurmConfig({ dataRoot: '/d', containerRuntime: 'none' }),
        ),
      /runtime none .* needs a command/,
    );
  });

  it('docker/podman: single-line variables (any valid name) go to a 0600 --env-file, multi-line ones through the CLI environment', () => {
    for (const runtime of ['docker', 'podman'] as const) {
      const job = buildJob(
        pod(
          one({
            env: [
              { name: 'a.b', value: 'x' },
              { name: 'PATH', value: '/evil' },
              { name: 'CERT', value: 'l1\nl2' },
            ],
          }),
        ),
        slurmConfig({ dataRoot: '/d', containerRuntime: runtime }),
      );
      expect(job.containers[0]!.env).toEqual([['CERT', 'l1\nl2']]);
      const file = job.files.find((f) => f.path === job.containers[0]!.envFile)!;
      expect([file.mode.toString(8), file.data.toString()]).toEqual(['600', 'a.b=x\nPATH=/evil\n']);
    }
  });

  it.each([
    ['docker', 'LD_PRELOAD', 'x\ny', /env\[LD_PRELOAD\]: a multi-line value cannot be passed/],
    ['docker', 'ML.dotted', 'x\ny', /a multi-line value needs a shell variable name/],
    ['enroot', 'PATH', '/evil', /env\[PATH\]: a variable cannot be passed .* runtime enroot/],
    ['enroot', 'BASH_ENV', '/x', /runtime enroot/],
    ['enroot', 'a.b', 'x', /a variable needs a shell variable name/],
  ] as const)(
    '%s refuses %s through the CLI environment, without echoing the value',
    (runtime, name, value, msg) => {
      const build = () =>
        buildJob(
          pod(one({ env: [{ name, value }] })),
          slurmConfig({ dataRoot: '/d', containerRuntime: runtime }),
        );
      expect(build).toThrow(msg);
      expect(build).not.toThrow(value);
    },
  );

  it('runAsUser becomes --uid/--gid only where the site allows it', () => {
    const data = pod({ ...one(), securityContext: { runAsUser: 1234, runAsGroup: 99 } });
    expect(buildJob(data, cfg).sbatch.flat()).not.toContain('--uid=1234');
    expect(buildJob(data, slurmConfig({ dataRoot: '/d', allowRunAsUser: true })).sbatch.slice(-2)).toEqual([
      ['--uid=1234'],
      ['--gid=99'],
    ]);
  });

  it('plans volume and env files under the job directory with their modes', () => {
    const job = buildJob(fullData(), cfg);
    const files = new Map(
      job.files.map((f) => [f.path.replace(`${job.jobDir}/`, ''), [f.mode.toString(8), f.data.toString()]]),
    );
    expect(files.get('volumes/config/input.yaml')).toEqual(['640', 'steps: 10\nname: "x"\n']);
    expect(files.get('volumes/creds/token')).toEqual(['400', "s3cr3t'$(x)\n"]);
    expect(files.get('volumes/info/name')).toEqual(['644', 'golden']);
    expect(files.get('env/main.env')).toEqual([
      '600',
      `MODE=fast\nQUOTED='a '\\''b'\\'' "c" $d \`e\`\nnext'\nPOD=golden\n`,
    ]);
    expect(job.containers.map((c) => [c.name, c.kind])).toEqual([
      ['fetch', 'init'],
      ['check', 'init'],
      ['main', 'app'],
      ['monitor', 'app'],
    ]);
  });

  it('init containers with restartPolicy Always are sidecars', () => {
    const job = buildJob(
      pod({ initContainers: [{ name: 's', image: 'x', restartPolicy: 'Always' }], ...one() }),
      cfg,
    );
    expect(job.containers.map((c) => c.kind)).toEqual(['sidecar', 'app']);
  });
});

describe('configuration', () => {
  it("reads interLink 0.6's SlurmConfig.yaml keys and TSOCKS/TSOCKSPATH", async () => {
    const { writeFileSync, mkdtempSync, rmSync } = await import('node:fs');
    const { join } = await import('node:path');
    const { tmpdir } = await import('node:os');
    const file = join(mkdtempSync(join(tmpdir(), 'il-slurm-cfg-')), 'SlurmConfig.yaml');
    writeFileSync(
      file,
      [
        'SidecarPort: "4001"',
        'SbatchPath: "/usr/bin/sbatch"',
        'ScancelPath: "/usr/bin/scancel"',
        'SqueuePath: "/usr/bin/squeue"',
        'CommandPrefix: "module load x"',
        'SingularityPath: "singularity"',
        'DataRootFolder: "/shared/jobs/"',
        'BashPath: /bin/bash',
        'SingularityDefaultOptions: ["--nv", "--no-eval"]',
        'Flavors:',
        '  gpu: { CPUDefault: 8, MemoryDefault: "32G", SlurmFlags: ["--gres=gpu:2"] }',
        'DefaultFlavor: gpu',
        // Ours, not 0.6's: a plugin on TCP needs a token or this acknowledgement (docs/security.md).
        'insecureTcp: true',
      ].join('\n'),
    );
    const loaded = loadPluginConfig('slurm', {
      configFile: file,
      env: { TSOCKS: 'true', TSOCKSPATH: '/opt/libtsocks.so' },
      logger: silentLogger(),
    });
    const { config } = await loaded.finally(() => rmSync(join(file, '..'), { recursive: true, force: true }));
    expect(config).toMatchObject({
      sidecarPort: 4001,
      sbatchPath: '/usr/bin/sbatch',
      scancelPath: '/usr/bin/scancel',
      squeuePath: '/usr/bin/squeue',
      commandPrefix: 'module load x',
      runtimePath: 'singularity',
      dataRoot: '/shared/jobs/',
      apptainerOptions: ['--nv', '--no-eval'],
      flavors: { gpu: { cpu: 8, memory: '32G', flags: ['--gres=gpu:2'] } },
      defaultFlavor: 'gpu',
      tsocks: true,
      tsocksPath: '/opt/libtsocks.so',
    });
  });
});

describe('volume paths are built under the job directory only (core/pod/paths.ts)', () => {
  it('refuses a volume name that leaves it even past the wire rules (defence in depth)', () => {
    for (const vol of [
      { name: '../../x', secret: { secretName: 's' } },
      { name: '../../x', emptyDir: {} },
    ]) {
      const spec = {
        containers: [{ name: 'c', image: 'x', volumeMounts: [{ name: '../../x', mountPath: '/s' }] }],
        volumes: [vol],
      };
      invalid(
        () =>
          planVolumes({
            pod: { metadata: { name: 'p', namespace: 'ns', uid: 'u' }, spec } as never,
            spec: spec as never,
            ref: { name: 'p', namespace: 'ns', uid: 'u' },
            retrieved: [
              {
                name: 'c',
                secrets: [{ metadata: { name: 's' }, data: { k: 'eA==' } }],
              } as never,
            ],
            podDir: '/data/ns-u',
            hostPathRoots: [],
            envOf: () => [],
          }),
        /volumes\[\.\.\/\.\.\/x\]\.name: must be a relative path/,
      );
    }
  });
});

describe('runtime none and the service-account token', () => {
  it('accepts the token volume that admission adds to every pod (its files stay in the job directory)', () => {
    const site = slurmConfig({ dataRoot: '/data', containerRuntime: 'none' });
    const data = pod({
      containers: [
        {
          name: 'c',
          image: 'x',
          command: ['true'],
          volumeMounts: [
            { name: 'kube-api-access-x', mountPath: '/var/run/secrets/kubernetes.io/serviceaccount' },
          ],
        },
      ],
      volumes: [
        { name: 'kube-api-access-x', projected: { sources: [{ serviceAccountToken: { path: 'token' } }] } },
      ],
    });
    expect(() => buildJob(data, site)).not.toThrow();
  });
});
