/** Pods and retrieved data shared by the slurm plugin's tests. */
import type { RetrievedPodData } from '../../../src/wire/interlink.ts';

/** Strings that would do harm if a shell ever interpreted them. */
export const HOSTILE = [
  "it's",
  '"double" \\back\\slash',
  '$(touch /tmp/il-pwned)',
  '`touch /tmp/il-pwned`',
  // biome-ignore lint/suspicious/noTemplateCurlyInString: a shell expansion that must stay literal
  '${HOME} $HOME $$ $? $!',
  'line1\nline2\r\nline3',
  '; rm -rf / #',
  '--flag=--privileged',
  '-e',
  'ünïcödé ✓ 日本語 🚀',
  '*',
  '~root',
  '',
  '  leading and trailing  ',
  "'; exit 1; '",
  '\t tab',
  '!event',
  'a=b',
];

export function fullPod(uid = '7d1c0e2a-0000-4000-8000-000000000001') {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: 'golden',
      namespace: 'hpc',
      uid,
      annotations: {
        'slurm-job.vk.io/flags': '--partition=debug --time 30 --comment "a b" --mem-per-cpu=1G',
        'slurm-job.vk.io/pre-exec': 'module load apptainer 2>/dev/null || true',
        'slurm-job.vk.io/singularity-options': '--writable-tmpfs --cleanenv',
        'slurm-job.vk.io/singularity-mounts': '/scratch:/scratch --bind /opt/data:/data:ro',
        'slurm-job.vk.io/mpi-flags': '--bind-to core',
      },
    },
    spec: {
      initContainers: [
        {
          name: 'fetch',
          image: 'busybox:1.36',
          command: ['sh', '-c', 'echo fetching > /work/state'],
          volumeMounts: [{ name: 'work', mountPath: '/work' }],
        },
        { name: 'check', image: '/images/check.sif', args: ['--verbose'] },
      ],
      containers: [
        {
          name: 'main',
          image: 'registry.example.org/sci/solver:2.1',
          command: ['/bin/solver'],
          args: ['--input', '/config/input.yaml', '$(MODE)', "it's $(HOME)"],
          workingDir: '/work',
          env: [
            { name: 'MODE', value: 'fast' },
            { name: 'QUOTED', value: 'a \'b\' "c" $d `e`\nnext' },
            { name: 'POD', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
          ],
          resources: { limits: { cpu: '2', memory: '4Gi', 'nvidia.com/gpu': '1' } },
          volumeMounts: [
            { name: 'config', mountPath: '/config', readOnly: true },
            { name: 'creds', mountPath: '/etc/creds/token', subPath: 'token' },
            { name: 'work', mountPath: '/work' },
            { name: 'info', mountPath: '/etc/podinfo' },
            { name: 'scratch', mountPath: '/scratch' },
          ],
        },
        {
          name: 'monitor',
          image: 'oras://registry.example.org/tools/monitor:1',
          resources: { requests: { cpu: '500m', memory: '256Mi' } },
          volumeMounts: [{ name: 'work', mountPath: '/work', readOnly: true }],
        },
      ],
      volumes: [
        {
          name: 'config',
          configMap: {
            name: 'solver-config',
            items: [{ key: 'input.yaml', path: 'input.yaml', mode: 0o640 }],
          },
        },
        { name: 'creds', secret: { secretName: 'solver-creds', defaultMode: 0o400 } },
        { name: 'work', emptyDir: {} },
        {
          name: 'info',
          downwardAPI: {
            items: [
              { path: 'labels', fieldRef: { fieldPath: 'metadata.labels' } },
              { path: 'name', fieldRef: { fieldPath: 'metadata.name' } },
            ],
          },
        },
        { name: 'scratch', hostPath: { path: '/scratch/hpc', type: 'DirectoryOrCreate' } },
      ],
    },
  };
}

export function fullData(uid?: string): RetrievedPodData {
  return {
    pod: fullPod(uid),
    container: [
      {
        name: 'main',
        configMaps: [
          {
            metadata: { name: 'solver-config', namespace: 'hpc' },
            data: { 'input.yaml': 'steps: 10\nname: "x"\n', unused: 'u' },
          },
        ],
        secrets: [
          {
            metadata: { name: 'solver-creds', namespace: 'hpc' },
            data: { token: Buffer.from("s3cr3t'$(x)\n").toString('base64') },
          },
        ],
        projectedvolumemaps: [],
        emptyDirs: [],
      },
    ],
  } as unknown as RetrievedPodData;
}

/** A pod of plain processes (runtime none) with two init and two app containers. */
export function processPod(
  uid: string,
  opts: { name?: string; annotations?: Record<string, string>; image?: string } = {},
) {
  const image = opts.image ?? 'busybox';
  return {
    metadata: {
      name: opts.name ?? 'procs',
      namespace: 'default',
      uid,
      ...(opts.annotations ? { annotations: opts.annotations } : {}),
    },
    spec: {
      initContainers: [
        { name: 'init-1', image, command: ['sh', '-c', 'echo init-1 ran; sleep 1'] },
        { name: 'init-2', image, command: ['sh', '-c', 'echo init-2 ran; echo oops >&2'] },
      ],
      containers: [
        { name: 'app-1', image, command: ['sh', '-c', 'echo app-1 says hi; sleep 2; exit 3'] },
        { name: 'app-2', image, command: ['sh', '-c', 'for i in 1 2 3; do echo "app-2 line $i"; done'] },
      ],
    },
  };
}
