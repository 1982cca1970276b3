/**
 * exec, attach and port-forward into Slurm pods against the real one-node Slurm
 * (test/support/slurm.setup.ts): `none` and docker runtimes, a pending job, an unknown pod,
 * and a client that goes away mid-stream leaving no step and no process behind.
 */
import { execFile } from 'node:child_process';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Writable } from 'node:stream';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { ExecIO } from '../../../src/core/channel-ws.ts';
import { silentLogger } from '../../../src/core/logger.ts';
import { codeOf, ErrorCode } from '../../../src/errors/index.ts';
import type { CallContext } from '../../../src/plugins/sdk/types.ts';
import { type SlurmConfig, slurmConfig } from '../../../src/plugins/slurm/config.ts';
import { createSlurmPlugin, type SlurmPlugin } from '../../../src/plugins/slurm/plugin.ts';
import type { RetrievedPodData } from '../../../src/wire/interlink.ts';
import type { ExecQuery } from '../../../src/wire/streams.ts';

const run = promisify(execFile);
const SLURM_CONF = inject('slurmConf');
const DOCKER_HOST = inject('dockerHost');
const DOCKER_CLI = inject('dockerCli');
const TEST_IMAGE = inject('testImage');
process.env.SLURM_CONF = SLURM_CONF;
const env = { ...process.env, SLURM_CONF };

const root = mkdtempSync(join(tmpdir(), 'il-slurm-exec-'));
const cleanups: Array<() => Promise<unknown>> = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => {});
  rmSync(root, { recursive: true, force: true });
});

const ctx = (signal = new AbortController().signal): CallContext => ({
  session: 'exec-test',
  log: silentLogger(),
  signal,
});

function plugin(name: string, extra: Partial<Parameters<typeof slurmConfig>[0]> = {}) {
  const cfg: SlurmConfig = slurmConfig({
    dataRoot: join(root, name),
    containerRuntime: 'none',
    deleteGraceSeconds: 2,
    logPollMs: 50,
    execKillGraceSeconds: 3,
    ...extra,
  });
  return createSlurmPlugin({ config: cfg, logger: silentLogger(), pollMs: 200 });
}

async function until<T>(what: string, fn: () => Promise<T | undefined | false>, ms = 90_000): Promise<T> {
  const end = Date.now() + ms;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** A Writable collecting what it gets, with a hook on every chunk. */
function sink(onChunk: (all: string) => void = () => {}) {
  const chunks: Buffer[] = [];
  const w = new Writable({
    write(c: Buffer, _e, cb) {
      chunks.push(c);
      onChunk(Buffer.concat(chunks).toString('utf8'));
      cb();
    },
  });
  return { w, text: () => Buffer.concat(chunks).toString('utf8') };
}

async function submit(p: SlurmPlugin, pod: RetrievedPodData['pod']): Promise<string> {
  const r = await p.create({ pod, container: [] } as unknown as RetrievedPodData, ctx());
  cleanups.push(() => p.delete(pod as never, ctx()));
  return r.PodJID;
}

const started = (p: SlurmPlugin, ns: string, uid: string, c: string) =>
  until(`container ${c} started`, async () => existsSync(join(p.jobDir(ns, uid), 'containers', `${c}.exec`)));

const steps = async (jobId: string) =>
  (await run('squeue', ['--noheader', '--steps', `--jobs=${jobId}`, '--format=%i'], { env })).stdout
    .split('\n')
    .map((s) => s.trim())
    .filter((s) => s !== '' && !s.endsWith('.batch') && !s.endsWith('.extern'));

const processesWith = async (marker: string) =>
  (await run('ps', ['-eo', 'args'], { env })).stdout.split('\n').filter((l) => l.includes(marker));

describe('none runtime', () => {
  const p = plugin('none');
  const uid = randomUUID();
  const ns = 'default';
  const name = 'exec-none';
  const stopFile = join(root, `stop-${uid}`);
  let jobId = '';
  const q = (container: string, command: string[], o: Partial<ExecQuery> = {}): ExecQuery => ({
    namespace: ns,
    name,
    uid,
    container,
    command,
    stdin: false,
    stdout: true,
    stderr: true,
    tty: false,
    ...o,
  });

  beforeAll(async () => {
    jobId = await submit(p, {
      metadata: { name, namespace: ns, uid },
      spec: {
        containers: [
          {
            name: 'server',
            image: 'none',
            command: [
              process.execPath,
              '-e',
              "const s=require('net').createServer(c=>c.pipe(c)).listen(0,'127.0.0.1',()=>console.log('port='+s.address().port))",
            ],
          },
          {
            name: 'talker',
            image: 'none',
            workingDir: root,
            env: [{ name: 'GREETING', value: "hello 'there' $HOME" }],
            command: [
              'sh',
              '-c',
              'i=0; while [ ! -e "$1" ]; do i=$((i+1)); echo "tick $i"; sleep 0.2; done; echo bye; echo gone >&2; exit 4',
              'talker',
              stopFile,
            ],
          },
        ],
      },
    } as never);
    await started(p, ns, uid, 'talker');
    await started(p, ns, uid, 'server');
  });

  it('exec: stdin to EOF, stdout, stderr without srun noise, env, cwd and the exit code', async () => {
    const stdin = new PassThrough();
    const out = sink();
    const err = sink();
    const io: ExecIO = { stdin, stdout: out.w, stderr: err.w, signal: new AbortController().signal };
    const done = p.exec!(
      q('talker', ['sh', '-c', 'cat; printf "%s|%s\\n" "$GREETING" "$PWD"; echo to-stderr >&2; exit 5'], {
        stdin: true,
      }),
      io,
      ctx(),
    );
    stdin.end('from stdin\n');
    expect(await done).toBe(5);
    expect(out.text()).toBe(`from stdin\nhello 'there' $HOME|${root}\n`);
    expect(err.text()).toBe('to-stderr\n');
  });

  it('exec: a hostile argv is passed word for word', async () => {
    const words = ['--uid=0', '$(id)', "'; exit 9; '", 'a b', '-e'];
    const out = sink();
    const code = await p.exec!(
      q('talker', ['printf', '[%s]', ...words]),
      { stdout: out.w, signal: new AbortController().signal },
      ctx(),
    );
    expect(code).toBe(0);
    expect(out.text()).toBe(words.map((w) => `[${w}]`).join(''));
  });

  it('port-forward: two parallel connections carry 10 MiB each, intact', async () => {
    const log = join(p.jobDir(ns, uid), 'containers', 'server.log');
    const port = await until('server port', async () =>
      Number(/port=(\d+)/.exec(readFileSync(log, 'utf8'))?.[1] ?? 0),
    );
    // The plugin's side of the stream: a local TCP listener standing in for the caller.
    const relay = (sock: import('node:net').Socket) =>
      p.portForward!({ namespace: ns, name, uid, port }, sock, ctx());
    const servers: Server[] = [];
    const one = async () => {
      const failures: unknown[] = [];
      const server = createServer((sock) => {
        relay(sock).catch((e: unknown) => failures.push(e));
      });
      servers.push(server);
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
      const data = randomBytes(10 * 1024 * 1024);
      const c = connect((server.address() as { port: number }).port, '127.0.0.1');
      const got: Buffer[] = [];
      c.on('data', (b: Buffer) => got.push(b));
      let n = 0;
      await new Promise<void>((resolve, reject) => {
        c.on('data', (b: Buffer) => {
          n += b.length;
          if (n >= data.length) resolve();
        });
        c.on('error', reject);
        c.write(data);
      });
      c.destroy();
      expect(failures).toEqual([]);
      const back = Buffer.concat(got);
      expect(back.length).toBe(data.length);
      expect(createHash('sha256').update(back).digest('hex')).toBe(
        createHash('sha256').update(data).digest('hex'),
      );
    };
    try {
      await Promise.all([one(), one()]);
    } finally {
      for (const s of servers) s.close();
    }
  });

  it('a client going away mid-stream leaves no step and no process', async () => {
    const marker = `il-mark-${uid.slice(0, 8)}`;
    const sleep = `sleep ${3000 + Math.floor(Math.random() * 6000)}`;
    const ctl = new AbortController();
    const out = sink();
    const done = p.exec!(
      q('talker', ['sh', '-c', `echo up; ${sleep}; :`, marker]),
      { stdout: out.w, signal: ctl.signal },
      ctx(),
    );
    await until(
      'the exec step to run',
      async () => out.text().includes('up') && (await steps(jobId)).length > 0,
    );
    expect((await processesWith(marker)).length).toBeGreaterThan(0);
    ctl.abort();
    await done.catch(() => {});
    await until('no step left', async () => (await steps(jobId)).length === 0);
    await until(
      'no process left',
      async () => (await processesWith(marker)).length + (await processesWith(sleep)).length === 0,
    );
  });

  it('an idle stream is ended (execIdleTimeoutSeconds) and a pod over its stream limit gets UNAVAILABLE', async () => {
    const strict = plugin('none', { execIdleTimeoutSeconds: 1, execMaxStreamsPerPod: 1 });
    const marker = `il-idle-${uid.slice(0, 8)}`;
    const out = sink();
    const first = strict.exec!(
      q('talker', ['sh', '-c', 'echo up; sleep 600; :', marker]),
      { stdout: out.w, signal: new AbortController().signal },
      ctx(),
    );
    await until('the first exec to run', async () => out.text().includes('up'));
    const second = await strict.exec!(
      q('talker', ['true']),
      { stdout: sink().w, signal: new AbortController().signal },
      ctx(),
    ).catch((e: unknown) => e);
    expect(codeOf(second)).toBe(ErrorCode.UNAVAILABLE);
    // Nothing moves after `up`: the idle timeout ends the step, the exec returns.
    await first.catch(() => {});
    await until('no step left', async () => (await steps(jobId)).length === 0);
    await until('no process left', async () => (await processesWith(marker)).length === 0);
  });

  it('attach follows the container output to its end and returns its exit code; stdin is refused', async () => {
    let err: unknown;
    try {
      await p.attach!(
        q('talker', [], { stdin: true }),
        { stdin: new PassThrough(), signal: new AbortController().signal },
        ctx(),
      );
    } catch (e) {
      err = e;
    }
    expect(codeOf(err)).toBe(ErrorCode.INVALID_INPUT);
    const out = sink((all) => {
      if (all.includes('tick')) writeFileSync(stopFile, '');
    });
    const code = await p.attach!(
      q('talker', []),
      { stdout: out.w, signal: new AbortController().signal },
      ctx(),
    );
    expect(code).toBe(4);
    expect(out.text()).toMatch(/tick \d+\n/);
    expect(out.text()).toContain('bye\n');
    expect(out.text()).toContain('gone\n');
  });

  it('an exited container and an unknown pod or container are refused with 4xx codes', async () => {
    const io = { stdout: sink().w, signal: new AbortController().signal };
    const codeOfCall = (qq: ExecQuery) =>
      p.exec!(qq, io, ctx()).then(
        () => 'resolved',
        (e: unknown) => codeOf(e),
      );
    expect(await codeOfCall(q('talker', ['true']))).toBe(ErrorCode.INVALID_INPUT);
    expect(await codeOfCall(q('nope', ['true']))).toBe(ErrorCode.NOT_FOUND);
    expect(await codeOfCall({ ...q('talker', ['true']), uid: randomUUID() })).toBe(ErrorCode.NOT_FOUND);
  });
});

describe('a pending job', () => {
  it('exec and port-forward answer as for a container that is not running', async () => {
    const p = plugin('pending');
    const uid = randomUUID();
    const meta = { name: 'held', namespace: 'default', uid };
    await submit(p, {
      metadata: { ...meta, annotations: { 'slurm-job.vk.io/flags': '--hold' } },
      spec: { containers: [{ name: 'app', image: 'none', command: ['sleep', '60'] }] },
    } as never);
    let err: unknown;
    try {
      await p.exec!(
        {
          ...meta,
          container: 'app',
          command: ['true'],
          stdin: false,
          stdout: true,
          stderr: true,
          tty: false,
        },
        { stdout: sink().w, signal: new AbortController().signal },
        ctx(),
      );
    } catch (e) {
      err = e;
    }
    expect(codeOf(err)).toBe(ErrorCode.INVALID_INPUT);
    expect((err as Error).message).toBe('container app is not running (its Slurm job is pending)');
    const pf = await p.portForward!({ ...meta, port: 80 }, new PassThrough(), ctx()).catch((e: unknown) => e);
    expect(codeOf(pf)).toBe(ErrorCode.INVALID_INPUT);
  });
});

describe('docker runtime', () => {
  it('exec runs in the container through docker exec, with stdin and the exit code', async () => {
    const p = plugin('docker', {
      containerRuntime: 'docker',
      runtimePath: DOCKER_CLI,
      jobEnv: { DOCKER_HOST },
      dockerOptions: ['--network=host'],
    });
    const uid = randomUUID();
    const meta = { name: 'exec-docker', namespace: 'default', uid };
    await submit(p, {
      metadata: meta,
      spec: {
        containers: [
          { name: 'app', image: TEST_IMAGE, command: ['sh', '-c', 'touch /tmp/ready; exec sleep 600'] },
        ],
      },
    } as never);
    const probe = async () => {
      const out = sink();
      const code = await p.exec!(
        {
          ...meta,
          container: 'app',
          command: ['cat', '/tmp/ready'],
          stdin: false,
          stdout: true,
          stderr: true,
          tty: false,
        },
        { stdout: out.w, stderr: sink().w, signal: new AbortController().signal },
        ctx(),
      );
      return code === 0;
    };
    await until('the docker container to run', probe, 180_000);
    const stdin = new PassThrough();
    const out = sink();
    const err = sink();
    const done = p.exec!(
      {
        ...meta,
        container: 'app',
        command: ['sh', '-c', 'cat; echo oops >&2; exit 6'],
        stdin: true,
        stdout: true,
        stderr: true,
        tty: false,
      },
      { stdin, stdout: out.w, stderr: err.w, signal: new AbortController().signal },
      ctx(),
    );
    stdin.end('in docker\n');
    expect(await done).toBe(6);
    expect(out.text()).toBe('in docker\n');
    expect(err.text()).toBe('oops\n');
  });
});
