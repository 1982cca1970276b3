import { describe, expect, it } from 'vitest';
import {
  type ContainerPlan,
  containerCreateArgs,
  csvField,
  infraCreateArgs,
  logsArgs,
  mountArg,
  psArgs,
  stopArgs,
  volumeCreateArgs,
} from '../../../src/plugins/docker/argv.ts';
import { normalizeAllowed, parseFlagsAnnotation } from '../../../src/plugins/docker/flags.ts';

const base: ContainerPlan = {
  name: 'ilk_app_p_ns_u1',
  labels: { 'interlink.vk.io/pod-uid': 'u1', 'interlink.vk.io/instance': 'i' },
  image: 'busybox:1',
  pull: 'missing',
  infra: 'ilk_POD_p_ns_u1',
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
};

describe('docker create argv', () => {
  it('joins the infra namespaces and keeps the image last but its args', () => {
    expect(
      containerCreateArgs({ ...base, entrypoint: 'sh', args: ['-c', 'echo "$X" `id`; rm -rf /'] }),
    ).toEqual([
      'create',
      '--name=ilk_app_p_ns_u1',
      '--label=interlink.vk.io/instance=i',
      '--label=interlink.vk.io/pod-uid=u1',
      '--network=container:ilk_POD_p_ns_u1',
      '--ipc=container:ilk_POD_p_ns_u1',
      '--restart=no',
      '--pull=missing',
      '--entrypoint=sh',
      '--',
      'busybox:1',
      '-c',
      'echo "$X" `id`; rm -rf /',
    ]);
  });

  it('maps every option to its flag', () => {
    const a = containerCreateArgs({
      ...base,
      restart: 'on-failure',
      envNames: ['MULTI'],
      envFile: '/d/env/app.env',
      workingDir: '/w',
      user: '1000:1000',
      groupAdd: [5, 6],
      cpus: '0.5',
      cpuShares: 512,
      memoryBytes: 67108864,
      memoryReservationBytes: 1024,
      gpus: 2,
      mounts: [{ type: 'bind', source: '/d/v', target: '/v', readOnly: true }],
      readOnlyRootFilesystem: true,
      capDrop: ['ALL'],
      noNewPrivileges: true,
      tty: true,
      stdin: true,
      extraFlags: ['--shm-size=1g'],
      args: ['x'],
    });
    expect(a.join(' ')).toBe(
      [
        'create --name=ilk_app_p_ns_u1 --label=interlink.vk.io/instance=i --label=interlink.vk.io/pod-uid=u1',
        '--network=container:ilk_POD_p_ns_u1 --ipc=container:ilk_POD_p_ns_u1 --restart=on-failure',
        '--env-file=/d/env/app.env --env=MULTI --workdir=/w --user=1000:1000 --group-add=5 --group-add=6',
        '--cpus=0.5 --cpu-shares=512 --memory=67108864 --memory-swap=67108864 --memory-reservation=1024 --gpus=2',
        '--mount=type=bind,source=/d/v,target=/v,readonly --read-only --cap-drop=ALL --security-opt=no-new-privileges',
        '--tty --interactive --pull=missing --shm-size=1g -- busybox:1 x',
      ].join(' '),
    );
  });

  it('creates the infra container shareable, restarting, with the pod hostname', () => {
    expect(
      infraCreateArgs({
        name: 'ilk_POD_p_ns_u1',
        labels: { a: 'b' },
        image: 'pause',
        pull: 'missing',
        command: ['sleep', '9'],
        hostname: 'p',
        network: 'none',
      }),
    ).toEqual([
      'create',
      '--name=ilk_POD_p_ns_u1',
      '--label=a=b',
      '--ipc=shareable',
      '--restart=unless-stopped',
      '--network=none',
      '--hostname=p',
      '--pull=missing',
      '--',
      'pause',
      'sleep',
      '9',
    ]);
  });

  it.each([
    ['plain', 'plain'],
    ['a,b', '"a,b"'],
    ['say "hi"', '"say ""hi"""'],
    [' lead', '" lead"'],
  ])('csv field %j → %j', (s, want) => {
    expect(csvField(s)).toBe(want);
  });

  it('quotes mount fields that docker would otherwise split', () => {
    expect(mountArg({ type: 'bind', source: '/d/a,b', target: '/t', readOnly: false })).toBe(
      'type=bind,"source=/d/a,b",target=/t',
    );
  });

  it('builds the other calls', () => {
    expect(stopArgs(['a', 'b'], 30.7)).toEqual(['stop', '--time=30', '--', 'a', 'b']);
    expect(psArgs({ y: '2', x: '1' })).toEqual([
      'ps',
      '--all',
      '--quiet',
      '--no-trunc',
      '--filter=label=x=1',
      '--filter=label=y=2',
    ]);
    expect(volumeCreateArgs('v', { l: '1' }, 1024)).toEqual([
      'volume',
      'create',
      '--driver',
      'local',
      '--opt',
      'type=tmpfs',
      '--opt',
      'device=tmpfs',
      '--opt=o=mode=1777,size=1024',
      '--label=l=1',
      '--',
      'v',
    ]);
  });
});

describe('docker logs argv', () => {
  it.each([
    [{}, ['logs', '--', 'id']],
    [{ Tail: 0 }, ['logs', '--', 'id']],
    [
      { Tail: 10, Timestamps: true, Follow: true },
      ['logs', '--tail=10', '--timestamps', '--follow', '--', 'id'],
    ],
    [{ SinceSeconds: 60 }, ['logs', '--since=60s', '--', 'id']],
    [
      { SinceSeconds: 60, SinceTime: '2026-01-02T03:04:05Z' },
      ['logs', '--since=2026-01-02T03:04:05Z', '--', 'id'],
    ],
    [{ SinceTime: '0001-01-01T00:00:00Z' }, ['logs', '--', 'id']],
    [{ Bytes: 5, Previous: true }, ['logs', '--', 'id']],
  ])('%j → %j', (opts, want) => {
    expect(logsArgs('id', opts)).toEqual(want);
  });
});

describe('flags annotation', () => {
  const allowed = normalizeAllowed(['--shm-size', 'ulimit', ' ']);
  it.each([
    [undefined, []],
    ['', []],
    ['  --shm-size=1g   --ulimit=nofile=1024:2048 ', ['--shm-size=1g', '--ulimit=nofile=1024:2048']],
  ])('%j → %j', (value, want) => {
    expect(parseFlagsAnnotation(value, allowed, 'ann')).toEqual(want);
  });
  it.each([
    ['--privileged', /--privileged is not allowed.*--shm-size, --ulimit/],
    ['--shm-size 1g', /word 2 is not a flag/],
    ['-v=/:/host', /not a flag/],
    ['--network=host', /not allowed/],
  ])('refuses %j', (value, msg) => {
    expect(() => parseFlagsAnnotation(value, allowed, 'ann')).toThrow(msg);
  });
  it('passes a value with shell characters as one word (no shell ever sees it)', () => {
    expect(parseFlagsAnnotation('--shm-size=1g;rm', allowed, 'ann')).toEqual(['--shm-size=1g;rm']);
  });
  it('refuses everything when nothing is allowed', () => {
    expect(() => parseFlagsAnnotation('--shm-size=1g', new Set(), 'ann')).toThrow(/allowed: none/);
  });
});
