/**
 * Issue #12, docker cases: each attack performed against the real dockerd, through the
 * plugin's HTTP server (as the interLink API calls it) and by calling the plugin directly
 * (as a caller would if the wire validation had a hole), and each checked for what it must
 * not leave behind: no container with a host mount, no file or mode change outside the
 * data root, no value in an answer, an argv word or a log line.
 */
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { lstat, mkdir, readdir, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HttpClient } from '../../../src/core/http-client.ts';
import { listenOn } from '../../../src/core/http-server.ts';
import { silentLogger } from '../../../src/core/logger.ts';
import { containerCreateArgs } from '../../../src/plugins/docker/argv.ts';
import { DockerCli, type RunOptions, type RunResult } from '../../../src/plugins/docker/cli.ts';
import type { DockerConfig } from '../../../src/plugins/docker/config.ts';
import { DockerPlugin } from '../../../src/plugins/docker/plugin.ts';
import { buildPluginApp } from '../../../src/plugins/sdk/server.ts';
import type { CallContext } from '../../../src/plugins/sdk/types.ts';
import { startApi, writeTokenFile } from '../../api/harness.ts';
import {
  cleanup,
  containersOf,
  create,
  docker,
  image,
  logs,
  makePod,
  status,
  terminated,
  testConfig,
  waitFor,
} from './harness.ts';

/** The docker CLI, recording every argv word and every name (never value) of the extra env. */
class RecordingCli extends DockerCli {
  readonly argv: string[][] = [];
  override run(args: string[], opts: RunOptions = {}): Promise<RunResult> {
    this.argv.push([...args]);
    return super.run(args, opts);
  }
}

let cfg: DockerConfig;
let cli: RecordingCli;
let plugin: DockerPlugin;
let client: HttpClient;
let closeApp: () => Promise<void>;
let socket: string;
const logLines: string[] = [];

beforeAll(async () => {
  // The data root two levels down, so that "../.." from a pod directory is still ours to watch.
  const base = await testConfig();
  cfg = { ...base, dataRoot: join(base.dataRoot, 'root', 'data') };
  await mkdir(cfg.dataRoot, { recursive: true });
  // Everything the plugin and its server log, at the most verbose level.
  const sink = new Writable({
    write(chunk, _enc, cb) {
      logLines.push(String(chunk));
      cb();
    },
  });
  const log = pino({ level: 'trace' }, sink);
  cli = new RecordingCli({ binary: cfg.dockerCli, dockerHost: cfg.dockerHost, timeoutMs: 120_000, log });
  plugin = new DockerPlugin(cfg, log, cli);
  await plugin.start();
  const { app } = buildPluginApp(plugin, { logger: log });
  socket = join(base.dataRoot, 'plugin.sock');
  await listenOn(app, { kind: 'unix', path: socket });
  client = new HttpClient({ endpoint: { kind: 'unix', path: socket }, timeoutMs: 120_000 });
  closeApp = async () => {
    await client.close();
    await app.close();
    await plugin.deletesSettled();
    await plugin.close();
  };
});
afterAll(async () => {
  await closeApp?.();
  if (cfg) await cleanup(cfg);
});

const ctx = (): CallContext => ({
  session: 'test',
  log: silentLogger(),
  signal: new AbortController().signal,
});
const b64 = (s: string) => Buffer.from(s).toString('base64');

/**
 * The error of a call expected to fail: its code (over HTTP, from the status: 400 is
 * INVALID_INPUT) and all of its text.
 */
async function failure(p: Promise<unknown>): Promise<{ code?: string; text: string }> {
  const err = (await p.then(
    () => undefined,
    (e: unknown) => e,
  )) as (Error & { code?: string }) | undefined;
  if (!err) throw new Error('expected the call to fail');
  return { ...(err.code !== undefined ? { code: err.code } : {}), text: `${err.message} ${err.stack ?? ''}` };
}

/** Every file and directory under `dir` with its mode (lstat), for before/after comparisons. */
async function tree(dir: string, skip: string): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const name of await readdir(dir)) {
    const p = join(dir, name);
    if (p === skip) continue;
    const st = await lstat(p);
    out[p] = st.mode;
    if (st.isDirectory()) Object.assign(out, await tree(p, skip));
  }
  return out;
}

describe('#12.1 an image is never an option', () => {
  it.each(['--volume=/:/host', '--privileged', '-v'])(
    'refuses image %j over HTTP and directly; no container, no host mount',
    async (bad) => {
      const pod = makePod('img', { containers: [{ name: 'app', image: bad, command: ['ls', '/host'] }] });
      const http = await failure(create(client, pod));
      expect(http.code).toBe('INVALID_INPUT');
      const direct = await failure(plugin.create({ pod, container: [] }, ctx()));
      expect(direct.code).toBe('INVALID_INPUT');
      expect(await containersOf(cfg)).toEqual([]);
    },
  );

  it('through the interLink API: 400 before the plugin is asked, no container', async () => {
    const logger = silentLogger();
    const dir = dirname(dirname(cfg.dataRoot));
    const api = await startApi({
      listen: 'tcp',
      pluginSocket: socket,
      logger,
      overrides: { 'auth.tokenFile': await writeTokenFile(dir, undefined, `tokens-${randomUUID()}`) },
    });
    try {
      for (const bad of ['--volume=/:/host', '--privileged']) {
        const pod = makePod('img', { containers: [{ name: 'app', image: bad }] });
        const r = await api.client.request('POST', '/create', { pod, configmaps: [], secrets: [] });
        expect(r.status).toBe(400);
      }
      expect(await containersOf(cfg)).toEqual([]);
    } finally {
      await api.close();
    }
  });

  it('the argv builder puts even a hostile image after "--": docker reads it as an image name', async () => {
    const name = `ilk-argv-${randomUUID().slice(0, 8)}`;
    const args = containerCreateArgs({
      name,
      labels: { 'interlink.vk.io/instance': cfg.instance },
      image: '--volume=/:/host',
      pull: 'never',
      infra: 'none',
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
    }).filter((a) => !a.startsWith('--network=') && !a.startsWith('--ipc='));
    const r = await cli.run(args);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/invalid reference format/);
    expect(await containersOf(cfg)).toEqual([]);
  });
});

describe('#12.2 volume names never leave the pod directory', () => {
  it.each([
    ['a Secret volume', { secret: { secretName: 's' } }],
    ['an emptyDir', { emptyDir: {} }],
  ])('%s named "../..": refused, nothing written or chmodded outside, nothing left', async (_w, src) => {
    const outside = dirname(dirname(cfg.dataRoot));
    const before = await tree(outside, cfg.dataRoot);
    const pod = makePod('vol', {
      containers: [
        {
          name: 'app',
          image: image(),
          command: ['true'],
          volumeMounts: [{ name: '../..', mountPath: '/v' }],
        },
      ],
      volumes: [{ name: '../..', ...src }],
    });
    const retrieved = [{ name: 'app', secrets: [{ metadata: { name: 's' }, data: { pwned: b64('x') } }] }];
    expect((await failure(create(client, pod, retrieved))).code).toBe('INVALID_INPUT');
    expect((await failure(plugin.create({ pod, container: retrieved }, ctx()))).code).toBe('INVALID_INPUT');
    expect(await tree(outside, cfg.dataRoot)).toEqual(before);
    expect(existsSync(join(cfg.dataRoot, pod.metadata.uid))).toBe(false);
    expect(await containersOf(cfg)).toEqual([]);
  });

  it('a pod uid that is a path is refused before anything is made', async () => {
    const pod = makePod('uid', { containers: [{ name: 'app', image: image() }] }, { uid: '..' });
    expect((await failure(create(client, pod))).code).toBe('INVALID_INPUT');
    expect((await failure(plugin.create({ pod, container: [] }, ctx()))).code).toBe('INVALID_INPUT');
    expect(await containersOf(cfg)).toEqual([]);
  });
});

describe('#12.5/#12.6 env values stay out of argv, answers and logs, byte for byte', () => {
  const PEM =
    '-----BEGIN PRIVATE KEY-----\nMIIBVQIBADANBgkqhkiG9w0BAQEFAASCAT8wggE7AgEAAkEAq7BFUpkGp3+XQsvxyz\n-----END PRIVATE KEY-----\n';
  const TRICKY = 'q "double" \'single\' $HOME $(id) `uname` \\ back\r\nslash\n\ttab end ';
  const PLAIN = 'plain-secret-value-7f3a';

  it('passes a PEM and a value with quotes, $, backticks and newlines byte for byte; no value in argv', async () => {
    const pod = makePod('env', {
      containers: [
        {
          name: 'app',
          image: image(),
          command: [
            'sh',
            '-c',
            'printf %s "$PEM" > /out/pem; printf %s "$TRICKY" > /out/tricky; printf %s "$PLAIN" > /out/plain',
          ],
          env: [
            { name: 'PEM', valueFrom: { secretKeyRef: { name: 'tls', key: 'key.pem' } } },
            { name: 'TRICKY', value: TRICKY },
            { name: 'PLAIN', valueFrom: { secretKeyRef: { name: 'tls', key: 'plain' } } },
          ],
          volumeMounts: [{ name: 'out', mountPath: '/out' }],
        },
      ],
      volumes: [{ name: 'out', emptyDir: {} }],
    });
    const from = cli.argv.length;
    await create(client, pod, [
      {
        name: 'app',
        secrets: [{ metadata: { name: 'tls' }, data: { 'key.pem': b64(PEM), plain: b64(PLAIN) } }],
      },
    ]);
    const s = await waitFor(client, pod, (x) => terminated(x, 'app') !== undefined, 'app to finish');
    expect(terminated(s, 'app')?.exitCode).toBe(0);
    const out = join(cfg.dataRoot, pod.metadata.uid, 'empty', 'out');
    expect(await readFile(join(out, 'pem'), 'utf8')).toBe(PEM);
    expect(await readFile(join(out, 'tricky'), 'utf8')).toBe(TRICKY);
    expect(await readFile(join(out, 'plain'), 'utf8')).toBe(PLAIN);
    const words = cli.argv.slice(from).flat().join('\n');
    for (const v of [PEM, TRICKY, PLAIN, 'MIIBVQIBADANBgkq', '$(id)']) expect(words).not.toContain(v);
    expect(words).toContain('--env=PEM');
    // The env file is gone once the container exists.
    expect(await readdir(join(cfg.dataRoot, pod.metadata.uid, 'env'))).toEqual([]);
    await client.call({ method: 'POST', path: '/delete', body: pod });
  });

  it('a failing create carrying secrets: no value in the answer nor in any log line', async () => {
    const pod = makePod('fail', {
      containers: [
        {
          name: 'app',
          image: 'interlink-test/does-not-exist:1',
          imagePullPolicy: 'Never',
          env: [
            { name: 'PEM', valueFrom: { secretKeyRef: { name: 'tls', key: 'key.pem' } } },
            { name: 'PLAIN', valueFrom: { secretKeyRef: { name: 'tls', key: 'plain' } } },
          ],
        },
      ],
    });
    const logFrom = logLines.length;
    // Answered once recorded: the request, secrets included, waits in a private marker file.
    await create(client, pod, [
      {
        name: 'app',
        secrets: [{ metadata: { name: 'tls' }, data: { 'key.pem': b64(PEM), plain: b64(PLAIN) } }],
      },
    ]);
    const s = await waitFor(
      client,
      pod,
      (x) => x.containers?.[0]?.state?.waiting?.reason === 'ErrImagePull',
      'the failed create to show',
    );
    expect((await lstat(join(cfg.dataRoot, pod.metadata.uid, '.creating'))).mode & 0o777).toBe(0o600);
    const shown = JSON.stringify(s);
    expect(shown).toMatch(/no such image/i);
    const logged = logLines.slice(logFrom).join('');
    for (const v of [PLAIN, 'MIIBVQIBADANBgkq', 'BEGIN PRIVATE KEY']) {
      expect(shown).not.toContain(v);
      expect(logged).not.toContain(v);
    }
    await client.call({ method: 'POST', path: '/delete', body: pod });
    await plugin.deletesSettled();
    expect(await containersOf(cfg, pod.metadata.uid)).toEqual([]);
    expect(existsSync(join(cfg.dataRoot, pod.metadata.uid))).toBe(false);
  });

  it('a NUL in a secret env value is refused with 400, naming the variable only', async () => {
    const SECRET = 'nul-secret-9c1e';
    const pod = makePod('nul', {
      containers: [
        {
          name: 'app',
          image: image(),
          env: [{ name: 'TOKEN', valueFrom: { secretKeyRef: { name: 'n', key: 'k' } } }],
        },
      ],
    });
    const logFrom = logLines.length;
    const res = await failure(
      create(client, pod, [
        { name: 'app', secrets: [{ metadata: { name: 'n' }, data: { k: b64(`${SECRET}\0x`) } }] },
      ]),
    );
    expect(res.code).toBe('INVALID_INPUT');
    expect(res.text).toMatch(/TOKEN/);
    expect(res.text).not.toContain(SECRET);
    expect(logLines.slice(logFrom).join('')).not.toContain(SECRET);
    expect(await containersOf(cfg, pod.metadata.uid)).toEqual([]);
  });
});

describe('#12.12 a subPath swapped for a link is refused at start', () => {
  it('an init container replaces the subPath directory with a link to "/": the app never starts', async () => {
    const pod = makePod('subpath', {
      restartPolicy: 'Never',
      initContainers: [
        {
          name: 'swap',
          image: image(),
          command: ['sh', '-c', 'rm -rf /vol/sub && ln -s / /vol/sub'],
          volumeMounts: [{ name: 'shared', mountPath: '/vol' }],
        },
      ],
      containers: [
        {
          name: 'app',
          image: image(),
          command: ['sh', '-c', 'ls /mnt; cat /mnt/etc/hostname'],
          volumeMounts: [{ name: 'shared', mountPath: '/mnt', subPath: 'sub' }],
        },
      ],
      volumes: [{ name: 'shared', emptyDir: {} }],
    });
    await create(client, pod);
    const s = await waitFor(client, pod, (x) => terminated(x, 'app') !== undefined, 'the app to fail');
    expect(terminated(s, 'swap')?.exitCode).toBe(0);
    expect(terminated(s, 'app')).toMatchObject({ reason: 'StartError' });
    expect(terminated(s, 'app')?.message).toMatch(/symbolic link/);
    const [app] = await containersOf(cfg, pod.metadata.uid)
      .then((ids) =>
        Promise.all(ids.map((id) => docker(['inspect', '--format', '{{.Name}} {{.State.StartedAt}}', id]))),
      )
      .then((xs) => xs.filter((x) => x.startsWith('/ilk_app_')));
    expect(app).toMatch(/ 0001-01-01T00:00:00Z$/);
    expect(await logs(client, pod, 'app')).toBe('');
    // The link is still where the init container left it; the host saw nothing.
    expect(
      (await lstat(join(cfg.dataRoot, pod.metadata.uid, 'empty', 'shared', 'sub'))).isSymbolicLink(),
    ).toBe(true);
    expect((await status(client, [pod]))[0]).toBeDefined();
    await client.call({ method: 'POST', path: '/delete', body: pod });
  });
});

describe('#12.7 an anonymous /readyz storm costs one backend check and learns one word', () => {
  it('50 /readyz at once on the docker plugin: one docker version call (two if the cache aged), body "ok"', async () => {
    const versions = () => cli.argv.filter((a) => a[0] === 'version').length;
    const before = versions();
    const answers = await Promise.all(
      Array.from({ length: 50 }, () => client.call({ method: 'GET', path: '/readyz' })),
    );
    expect(answers).toEqual(answers.map(() => 'ok'));
    expect(versions() - before).toBeGreaterThanOrEqual(1);
    expect(versions() - before).toBeLessThanOrEqual(2);
    // Anything but the word: no address, engine or error for a caller without a token.
    for (const a of answers) expect(String(a)).not.toMatch(/docker|sock|unix|tcp|:\/\//i);
  });
});
