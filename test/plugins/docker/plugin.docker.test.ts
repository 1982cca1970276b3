/**
 * The docker plugin against the real dockerd, over HTTP (buildPluginApp on a unix socket,
 * called with HttpClient), as the interLink API calls it.
 */
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DockerConfig } from '../../../src/plugins/docker/config.ts';
import { PingResponse } from '../../../src/wire/interlink.ts';
import {
  cleanup,
  containersOf,
  create,
  docker,
  image,
  logs,
  makePod,
  running,
  type Served,
  serve,
  state,
  status,
  terminated,
  testConfig,
  volumesOf,
  waitFor,
} from './harness.ts';

let cfg: DockerConfig;
let srv: Served;

beforeAll(async () => {
  cfg = await testConfig({ allowedFlags: ['--shm-size'] });
  // These tests feed the plugin directly, as an interLink 0.6 VK would: the plugin expands $(VAR).
  cfg = { ...cfg, hostPathRoots: [join(cfg.dataRoot, 'host')], expandVariables: true };
  await mkdir(join(cfg.dataRoot, 'host'));
  await symlink('/etc', join(cfg.dataRoot, 'host', 'escape'));
  srv = await serve(cfg);
});
afterAll(async () => {
  await srv?.close();
  if (cfg) await cleanup(cfg);
});

const b64 = (s: string) => Buffer.from(s).toString('base64');

describe('docker plugin over HTTP', () => {
  it('runs a multi-container pod whose containers share an emptyDir and localhost', async () => {
    const pod = makePod('shared', {
      containers: [
        {
          name: 'server',
          image: image(),
          command: [
            'sh',
            '-c',
            'echo from-server > /shared/index.html && exec httpd -f -p 127.0.0.1:8080 -h /shared',
          ],
          volumeMounts: [{ name: 'shared', mountPath: '/shared' }],
        },
        {
          name: 'client',
          image: image(),
          command: [
            'sh',
            '-c',
            'until wget -q -O - http://127.0.0.1:8080/index.html; do sleep 0.2; done; cat /shared/index.html',
          ],
          volumeMounts: [{ name: 'shared', mountPath: '/shared' }],
        },
      ],
      volumes: [{ name: 'shared', emptyDir: {} }],
    });
    const created = (await create(srv.client, pod)) as { PodUID: string; PodJID: string };
    expect(created.PodUID).toBe(pod.metadata.uid);
    const s = await waitFor(
      srv.client,
      pod,
      (x) => terminated(x, 'client') !== undefined,
      'client to finish',
    );
    expect(terminated(s, 'client')).toMatchObject({ exitCode: 0, reason: 'Completed' });
    expect(running(s, 'server')).toBe(true);
    expect(s.JID).toBe(created.PodJID);
    // Once over 127.0.0.1 from the server, once straight from the shared directory.
    expect(await logs(srv.client, pod, 'client')).toBe('from-server\nfrom-server\n');
    // A second create of the same UID starts nothing and answers the same job id.
    expect(await create(srv.client, pod)).toEqual(created);
    expect(await containersOf(cfg, pod.metadata.uid)).toHaveLength(3);
  });

  it('runs init containers one after another, in order, before the app containers', async () => {
    const step = (n: number) => ({
      name: `init-${n}`,
      image: image(),
      command: [
        'sh',
        '-c',
        `echo "init-${n} sees: $(cat /w/order 2>/dev/null | tr '\\n' ' ')" >> /w/order; sleep 0.3`,
      ],
      volumeMounts: [{ name: 'w', mountPath: '/w' }],
    });
    const pod = makePod('inits', {
      initContainers: [step(1), step(2), step(3)],
      containers: [
        {
          name: 'app',
          image: image(),
          command: ['cat', '/w/order'],
          volumeMounts: [{ name: 'w', mountPath: '/w' }],
        },
      ],
      volumes: [{ name: 'w', emptyDir: {} }],
    });
    await create(srv.client, pod);
    const early = (await status(srv.client, [pod]))[0]!;
    // While init containers run, the app container waits.
    if (!terminated(early, 'init-3')) expect(state(early, 'app')?.waiting?.reason).toBe('PodInitializing');
    const s = await waitFor(srv.client, pod, (x) => terminated(x, 'app') !== undefined, 'app to finish');
    expect(s.initContainers?.map((c) => [c.name, c.state?.terminated?.reason])).toEqual([
      ['init-1', 'Completed'],
      ['init-2', 'Completed'],
      ['init-3', 'Completed'],
    ]);
    expect(await logs(srv.client, pod, 'app')).toBe(
      [
        'init-1 sees: ',
        'init-2 sees: init-1 sees:  ',
        'init-3 sees: init-1 sees:  init-2 sees: init-1 sees:   ',
        '',
      ].join('\n'),
    );
    const t = (n: number) => terminated(s, `init-${n}`)!;
    expect(t(1).finishedAt! <= t(2).startedAt!).toBe(true);
    expect(t(2).finishedAt! <= t(3).startedAt!).toBe(true);
  });

  it('fails the pod with the init container exit code under restartPolicy Never, without starting the app', async () => {
    const pod = makePod('init-fails', {
      initContainers: [{ name: 'bad', image: image(), command: ['sh', '-c', 'exit 7'] }],
      containers: [{ name: 'app', image: image(), command: ['touch', '/never'] }],
    });
    await create(srv.client, pod);
    await waitFor(srv.client, pod, (x) => terminated(x, 'bad') !== undefined, 'init to fail');
    // One more round trip after the failure was observed: the app must still be waiting.
    const s = (await status(srv.client, [pod]))[0]!;
    expect(terminated(s, 'bad')).toMatchObject({ exitCode: 7, reason: 'Error' });
    expect(state(s, 'app')?.waiting?.reason).toBe('PodInitializing');
    const id = s.containers![0]!.containerID!.replace('docker://', '');
    expect(await docker(['inspect', '--format', '{{.State.Status}}', id])).toBe('created');
  });

  it('passes env values with quotes, $, backticks and newlines byte for byte', async () => {
    const values: Record<string, string> = {
      QUOTES: `double " single ' both "'"`,
      // biome-ignore lint/suspicious/noTemplateCurlyInString: a literal ${...} is the hostile value under test
      DOLLAR: '$HOME ${PATH} $1 a$b $',
      BACKTICKS: '`id` $(whoami)',
      NEWLINES: 'line 1\nline 2\n\nline 4',
      SPACES: '  leading and trailing  ',
      TABS: 'a\tb',
      UNICODE: 'héllo wörld ✓',
      EMPTY: '',
      'WEIRD.NAME-1': 'dotted',
    };
    const pem = '-----BEGIN KEY-----\nAAAA\nBBBB\n-----END KEY-----\n';
    // $(VAR) is Kubernetes' own expansion: $$ escapes it, an unknown name stays as written.
    const expanded = { REF: '$(EMPTY)x$(UNDEFINED_VAR)', ESCAPED: '$$(QUOTES)' };
    const names = [...Object.keys(values), 'PEM', 'REF', 'ESCAPED'];
    const pod = makePod('env', {
      containers: [
        {
          name: 'app',
          image: image(),
          // The environment of PID 1 (this shell) as docker set it, NUL-separated, exact bytes.
          // (A pipeline keeps the shell as PID 1; a lone command would be exec'd in its place.)
          command: ['sh', '-c', "cat /proc/1/environ | tr '\\0' '\\036'"],
          env: [
            ...Object.entries(values).map(([name, value]) => ({ name, value })),
            { name: 'PEM', valueFrom: { secretKeyRef: { name: 'keys', key: 'pem' } } },
            ...Object.entries(expanded).map(([name, value]) => ({ name, value })),
          ],
        },
      ],
    });
    await create(srv.client, pod, [
      { name: 'app', secrets: [{ metadata: { name: 'keys' }, data: { pem: b64(pem) } }] },
    ]);
    await waitFor(srv.client, pod, (x) => terminated(x, 'app') !== undefined, 'app to finish');
    const want = { ...values, PEM: pem, REF: 'x$(UNDEFINED_VAR)', ESCAPED: '$(QUOTES)' };
    const seen = new Map(
      (await logs(srv.client, pod, 'app'))
        .split('\x1e')
        .filter((e) => e !== '')
        .map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)] as const),
    );
    for (const n of names) expect([n, seen.get(n)]).toEqual([n, want[n as keyof typeof want]]);
  });

  it('writes ConfigMap and Secret files with their modes, read-only', async () => {
    const pod = makePod('files', {
      containers: [
        {
          name: 'app',
          image: image(),
          command: [
            'sh',
            '-c',
            'cd /etc/cfg && stat -c "%a %n" * sub/*; cd /etc/sec && stat -c "%a %n" *; cat /etc/cfg/app.conf /etc/sec/password /etc/one/only; touch /etc/cfg/x 2>/dev/null || echo read-only',
          ],
          volumeMounts: [
            { name: 'cfg', mountPath: '/etc/cfg' },
            { name: 'sec', mountPath: '/etc/sec' },
            { name: 'cfg', mountPath: '/etc/one/only', subPath: 'app.conf' },
          ],
        },
      ],
      volumes: [
        {
          name: 'cfg',
          configMap: {
            name: 'app-config',
            defaultMode: 0o640,
            items: [
              { key: 'app.conf', path: 'app.conf' },
              { key: 'extra', path: 'sub/extra', mode: 0o604 },
            ],
          },
        },
        { name: 'sec', secret: { secretName: 'app-secret', defaultMode: 0o400 } },
      ],
    });
    await create(srv.client, pod, [
      {
        name: 'app',
        configMaps: [
          { metadata: { name: 'app-config' }, data: { 'app.conf': 'key = "value"\n', extra: 'e' } },
        ],
        secrets: [{ metadata: { name: 'app-secret' }, data: { password: b64('s3cr3t\n'), token: b64('t') } }],
      },
    ]);
    await waitFor(srv.client, pod, (x) => terminated(x, 'app') !== undefined, 'app to finish');
    expect(await logs(srv.client, pod, 'app')).toBe(
      [
        '640 app.conf',
        '755 sub',
        '604 sub/extra',
        '400 password',
        '400 token',
        'key = "value"',
        's3cr3t',
        'key = "value"',
        'read-only',
        '',
      ].join('\n'),
    );
  });

  it('reports a failing container with its exit code, and a command that cannot run', async () => {
    const pod = makePod('fails', {
      containers: [
        { name: 'exits', image: image(), command: ['sh', '-c', 'echo bye; exit 42'] },
        { name: 'missing', image: image(), command: ['/no/such/binary'] },
      ],
    });
    await create(srv.client, pod);
    const s = await waitFor(
      srv.client,
      pod,
      (x) => terminated(x, 'exits') !== undefined && terminated(x, 'missing') !== undefined,
      'both to end',
    );
    expect(terminated(s, 'exits')).toMatchObject({ exitCode: 42, reason: 'Error' });
    expect(terminated(s, 'missing')).toMatchObject({ reason: 'StartError' });
    expect(terminated(s, 'missing')!.exitCode).toBeGreaterThan(0);
  });

  it('reports OOMKilled when a container exceeds its memory limit', async () => {
    const pod = makePod('oom', {
      containers: [
        {
          name: 'hog',
          image: image(),
          command: ['sh', '-c', 'x=aaaaaaaaaaaaaaaa; while true; do x="$x$x"; done'],
          resources: { limits: { memory: '16Mi' } },
        },
      ],
    });
    await create(srv.client, pod);
    const s = await waitFor(
      srv.client,
      pod,
      (x) => terminated(x, 'hog') !== undefined,
      'the hog to be killed',
    );
    expect(terminated(s, 'hog')).toMatchObject({ exitCode: 137, reason: 'OOMKilled' });
  });

  it('restarts containers as the pod restartPolicy says', async () => {
    const pod = makePod('restarts', {
      restartPolicy: 'OnFailure',
      containers: [
        {
          name: 'flaky',
          image: image(),
          // Fails twice, then succeeds: the attempts are counted in the emptyDir.
          command: ['sh', '-c', 'echo x >> /w/n; [ "$(wc -l < /w/n)" -ge 3 ]'],
          volumeMounts: [{ name: 'w', mountPath: '/w' }],
        },
      ],
      volumes: [{ name: 'w', emptyDir: {} }],
    });
    await create(srv.client, pod);
    const s = await waitFor(
      srv.client,
      pod,
      (x) => terminated(x, 'flaky')?.exitCode === 0,
      'flaky to succeed',
    );
    expect(s.containers![0]!.restartCount).toBe(2);
  });

  it('streams logs with tail, byte limit, timestamps and follow', async () => {
    const pod = makePod('logs', {
      containers: [
        {
          name: 'talker',
          image: image(),
          command: [
            'sh',
            '-c',
            'for i in 1 2 3 4 5; do echo line-$i; done; until [ -e /tmp/go ]; do sleep 0.1; done; echo late; exec sleep 3600',
          ],
        },
      ],
      terminationGracePeriodSeconds: 0,
    });
    await create(srv.client, pod);
    await waitFor(srv.client, pod, (x) => running(x, 'talker'), 'talker to run');
    // The first lines are written right after start; wait for them through the API itself.
    const deadline = Date.now() + 30_000;
    while (!(await logs(srv.client, pod, 'talker')).includes('line-5') && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 100));
    expect(await logs(srv.client, pod, 'talker')).toBe('line-1\nline-2\nline-3\nline-4\nline-5\n');
    expect(await logs(srv.client, pod, 'talker', { Tail: 2 })).toBe('line-4\nline-5\n');
    expect(await logs(srv.client, pod, 'talker', { Bytes: 9 })).toBe('line-1\nli');
    expect(await logs(srv.client, pod, 'talker', { LimitBytes: 3 })).toBe('lin');
    const stamped = (await logs(srv.client, pod, 'talker', { Tail: 1, Timestamps: true })).trim();
    expect(stamped).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z line-5$/);

    const ctl = new AbortController();
    const follow = await srv.client.stream({
      method: 'GET',
      path: '/getLogs',
      body: {
        Namespace: 'default',
        PodUID: pod.metadata.uid,
        PodName: pod.metadata.name,
        ContainerName: 'talker',
        Opts: { Follow: true, Tail: 1 },
      },
      signal: ctl.signal,
    });
    let seen = '';
    let poked = false;
    try {
      for await (const chunk of follow.body) {
        seen += Buffer.from(chunk as Uint8Array).toString('utf8');
        if (!poked && seen.includes('line-5')) {
          poked = true;
          const id = (await status(srv.client, [pod]))[0]!.containers![0]!.containerID!.replace(
            'docker://',
            '',
          );
          await docker(['exec', id, 'touch', '/tmp/go']);
        }
        if (seen.includes('late')) break;
      }
    } finally {
      ctl.abort();
    }
    expect(seen).toBe('line-5\nlate\n');
  });

  it('answers NOT_FOUND for logs of an unknown pod or container', async () => {
    const body = (uid: string, c: string) => ({
      Namespace: 'default',
      PodUID: uid,
      PodName: 'x',
      ContainerName: c,
      Opts: {},
    });
    await expect(
      srv.client.call({ method: 'GET', path: '/getLogs', body: body('no-such-uid', 'c') }),
    ).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });

  it('deletes a running pod: no container, volume or data directory left, reported terminated, idempotent', async () => {
    const pod = makePod(
      'doomed',
      {
        terminationGracePeriodSeconds: 1,
        containers: [
          {
            name: 'a',
            image: image(),
            command: ['sleep', '3600'],
            volumeMounts: [
              { name: 'mem', mountPath: '/m' },
              { name: 'cfg', mountPath: '/c' },
            ],
          },
          {
            name: 'b',
            image: image(),
            command: ['sh', '-c', 'trap "exit 0" TERM; while true; do sleep 0.1; done'],
          },
        ],
        volumes: [
          { name: 'mem', emptyDir: { medium: 'Memory', sizeLimit: '8Mi' } },
          { name: 'cfg', configMap: { name: 'c' } },
        ],
      },
      {},
    );
    await create(srv.client, pod, [
      { name: 'a', configMaps: [{ metadata: { name: 'c' }, data: { k: 'v' } }] },
    ]);
    await waitFor(srv.client, pod, (x) => running(x, 'a') && running(x, 'b'), 'both to run');
    const uid = pod.metadata.uid;
    expect(existsSync(join(cfg.dataRoot, uid, 'volumes', 'cfg', 'k'))).toBe(true);
    expect(await docker(['volume', 'ls', '-q', '--filter', `label=interlink.vk.io/pod-uid=${uid}`])).not.toBe(
      '',
    );

    await srv.client.call({ method: 'POST', path: '/delete', body: pod });
    // Answered once recorded; the removal finishes in the background.
    await srv.plugin.deletesSettled();
    expect(await containersOf(cfg, uid)).toEqual([]);
    expect(await docker(['volume', 'ls', '-q', '--filter', `label=interlink.vk.io/pod-uid=${uid}`])).toBe('');
    expect(existsSync(join(cfg.dataRoot, uid))).toBe(false);
    const [s] = await status(srv.client, [pod]);
    expect(terminated(s!, 'a')).toMatchObject({ exitCode: 137 });
    // b handled SIGTERM within the grace period.
    expect(terminated(s!, 'b')).toMatchObject({ exitCode: 0, reason: 'Completed' });
    // Again, and with DELETE: nothing to do, still fine.
    await srv.client.call({ method: 'DELETE', path: '/delete', body: pod });
    await srv.plugin.deletesSettled();
    expect(existsSync(join(cfg.dataRoot, uid))).toBe(false);
  });

  it('refuses what the node does not allow before creating anything', async () => {
    const bad = [
      makePod(
        'flags',
        { containers: [{ name: 'a', image: image() }] },
        { annotations: { 'docker-options.vk.io/flags': '--privileged' } },
      ),
      makePod('host', {
        containers: [{ name: 'a', image: image(), volumeMounts: [{ name: 'h', mountPath: '/h' }] }],
        volumes: [{ name: 'h', hostPath: { path: '/etc' } }],
      }),
      makePod('priv', { containers: [{ name: 'a', image: image(), securityContext: { privileged: true } }] }),
      makePod('cm', {
        containers: [{ name: 'a', image: image(), volumeMounts: [{ name: 'c', mountPath: '/c' }] }],
        volumes: [{ name: 'c', configMap: { name: 'absent' } }],
      }),
    ];
    for (const pod of bad) {
      await expect(create(srv.client, pod)).rejects.toMatchObject({ code: 'INVALID_INPUT' });
      expect(await containersOf(cfg, pod.metadata.uid)).toEqual([]);
      expect(existsSync(join(cfg.dataRoot, pod.metadata.uid))).toBe(false);
    }
    // An allow-listed flag goes through.
    const ok = makePod(
      'shm',
      { containers: [{ name: 'a', image: image(), command: ['sh', '-c', 'df -k /dev/shm | tail -1'] }] },
      { annotations: { 'docker-options.vk.io/flags': '--shm-size=3m' } },
    );
    await create(srv.client, ok);
    await waitFor(srv.client, ok, (x) => terminated(x, 'a') !== undefined, 'a to finish');
    expect(await logs(srv.client, ok, 'a')).toMatch(/\s3072\s/);
  });

  it('shows a create that docker refuses as ErrImagePull, and deletes what it made', async () => {
    const pod = makePod('noimage', {
      containers: [
        { name: 'ok', image: image(), command: ['true'] },
        { name: 'bad', image: 'interlink-test/does-not-exist:1', imagePullPolicy: 'Never' },
      ],
    });
    // Answered once recorded; the refusal comes from dockerd, in the background.
    await create(srv.client, pod);
    const s = await waitFor(
      srv.client,
      pod,
      (x) => state(x, 'bad')?.waiting?.reason === 'ErrImagePull',
      'the failed create to show',
    );
    for (const name of ['ok', 'bad']) {
      expect(state(s, name)?.waiting).toMatchObject({
        reason: 'ErrImagePull',
        message: expect.stringMatching(/no such image/i),
      });
    }
    await srv.client.call({ method: 'POST', path: '/delete', body: pod });
    await srv.plugin.deletesSettled();
    expect(await containersOf(cfg, pod.metadata.uid)).toEqual([]);
    expect(existsSync(join(cfg.dataRoot, pod.metadata.uid))).toBe(false);
  });

  it('mounts hostPath volumes under the allowed roots only, and memory emptyDirs as tmpfs', async () => {
    const pod = makePod('host', {
      containers: [
        {
          name: 'a',
          image: image(),
          command: [
            'sh',
            '-c',
            'echo from-container > /h/out; grep " /m " /proc/mounts | cut -d" " -f3; echo shared > /m/x',
          ],
          volumeMounts: [
            { name: 'h', mountPath: '/h' },
            { name: 'm', mountPath: '/m' },
          ],
        },
        {
          name: 'b',
          image: image(),
          command: ['sh', '-c', 'until [ -e /m/x ]; do sleep 0.1; done; cat /m/x'],
          volumeMounts: [{ name: 'm', mountPath: '/m' }],
        },
      ],
      volumes: [
        { name: 'h', hostPath: { path: join(cfg.dataRoot, 'host', 'made'), type: 'DirectoryOrCreate' } },
        { name: 'm', emptyDir: { medium: 'Memory' } },
      ],
    });
    await create(srv.client, pod);
    await waitFor(
      srv.client,
      pod,
      (x) => terminated(x, 'a') !== undefined && terminated(x, 'b') !== undefined,
      'both to finish',
    );
    expect(readFileSync(join(cfg.dataRoot, 'host', 'made', 'out'), 'utf8')).toBe('from-container\n');
    expect(await logs(srv.client, pod, 'a')).toBe('tmpfs\n');
    expect(await logs(srv.client, pod, 'b')).toBe('shared\n');
    await srv.client.call({ method: 'POST', path: '/delete', body: pod });
    await srv.plugin.deletesSettled();
    // The host directory is the node's, not the pod's: it stays.
    expect(existsSync(join(cfg.dataRoot, 'host', 'made', 'out'))).toBe(true);

    // A symlink under an allowed root that points outside it is refused.
    const escaping = makePod('escape', {
      containers: [{ name: 'a', image: image(), volumeMounts: [{ name: 'h', mountPath: '/h' }] }],
      volumes: [{ name: 'h', hostPath: { path: join(cfg.dataRoot, 'host', 'escape'), type: 'Directory' } }],
    });
    await expect(create(srv.client, escaping)).rejects.toMatchObject({
      code: 'INVALID_INPUT',
      message: expect.stringContaining('outside the allowed'),
    });
    expect(await containersOf(cfg, escaping.metadata.uid)).toEqual([]);
  });

  it('answers ping with the engine capacity', async () => {
    const ping = await srv.client.call({ method: 'GET', path: '/ping', schema: PingResponse });
    const [ncpu, mem] = (await docker(['info', '--format', '{{.NCPU}} {{.MemTotal}}'])).split(' ');
    expect(ping).toEqual({
      status: 'ok',
      resources: { cpu: ncpu, memory: `${Math.floor(Number(mem) / 1024)}Ki` },
    });
    const ready = await srv.client.call({ method: 'GET', path: '/readyz' });
    expect(ready).toBe('ok');
  });

  it('leaves no volume behind for deleted pods', async () => {
    // Every pod above that had a memory volume was deleted: the instance has none left.
    const live = (await volumesOf(cfg)).filter((v) => !v.includes('_mem'));
    expect(live).toEqual([]);
  });
});
