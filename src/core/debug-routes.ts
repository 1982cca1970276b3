/**
 * On-demand profiles (issue #17 item 4), off unless a process's `debugEndpoints` key is
 * true, registered by the interLink API, the plugin server and the VK's kubelet API on the
 * app whose own auth already guards every route (they never add auth of their own, so they
 * must only be registered behind one):
 *
 *   GET /debug/pprof/profile?seconds=N   a CPU profile of N seconds (1..60, default 10):
 *                                        `.cpuprofile` JSON (Chrome DevTools → Performance)
 *   GET /debug/pprof/heap                a heap snapshot, streamed: `.heapsnapshot` JSON
 *                                        (Chrome DevTools → Memory → Load)
 *
 * Both go through node:inspector's in-process session, so no `--inspect` port is opened.
 * One profile at a time per process — the inspector is process-wide and `interlink up` runs
 * the API and a plugin in one process — hence the module-level owner below; a second caller
 * gets 409. A CPU profile ends early when its caller hangs up or the server closes.
 */
import { PassThrough } from 'node:stream';
import type { FastifyReply } from 'fastify';
import { z } from 'zod';
import { ErrorCode, InterlinkError } from '../errors/index.ts';
import type { ZodApp } from './http-server.ts';

export const PROFILE_SECONDS = { min: 1, max: 60, default: 10 } as const;

export const ProfileQuery = z.object({
  seconds: z.coerce
    .number()
    .int()
    .min(PROFILE_SECONDS.min)
    .max(PROFILE_SECONDS.max)
    .default(PROFILE_SECONDS.default),
});

/** What runs now in this process ('CPU' or 'heap'), or undefined. Owned by `acquire`. */
let running: string | undefined;

/** The profile being taken in this process ('CPU', 'heap'), if any. */
export function runningProfile(): string | undefined {
  return running;
}

/**
 * Take this process's profiling slot, synchronously (so a refused caller gets its 409
 * before anything is sent); the returned function gives it back. Throws CONFLICT when taken.
 */
function acquire(what: string): () => void {
  if (running !== undefined) {
    throw new InterlinkError(
      ErrorCode.CONFLICT,
      `a ${running} profile is already being taken in this process; try again when it ends`,
    );
  }
  running = what;
  return () => {
    running = undefined;
  };
}

/** Resolves after `ms`, or early when `signal` aborts. */
function waitOrAbort(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
  });
}

/** A connected inspector session; `node:inspector` is loaded on the first profile, not at start (memory). */
async function inspectorSession() {
  const { Session } = await import('node:inspector/promises');
  const session = new Session();
  session.connect();
  return session;
}

/** A CPU profile of this process for `seconds` (or until `signal` aborts), as DevTools loads it. */
export function cpuProfile(seconds: number, signal: AbortSignal): Promise<object> {
  const release = acquire('CPU');
  return (async () => {
    const session = await inspectorSession();
    try {
      await session.post('Profiler.enable');
      await session.post('Profiler.start');
      await waitOrAbort(seconds * 1000, signal);
      const { profile } = await session.post('Profiler.stop');
      return profile;
    } finally {
      session.disconnect();
    }
  })().finally(release);
}

/**
 * A heap snapshot of this process written to `out` as V8 produces it (chunks of one JSON
 * document starting `{"snapshot":`); `out` is ended afterwards. V8 emits the chunks
 * synchronously while it walks the heap, so `out` buffers what its reader has not taken yet.
 */
export function heapSnapshot(out: PassThrough): Promise<void> {
  const release = acquire('heap');
  return (async () => {
    const session = await inspectorSession();
    const onChunk = (m: { params: { chunk: string } }) => out.write(m.params.chunk);
    session.on('HeapProfiler.addHeapSnapshotChunk', onChunk);
    try {
      await session.post('HeapProfiler.takeHeapSnapshot', { reportProgress: false });
      out.end();
    } catch (err) {
      out.destroy(err as Error);
      throw err;
    } finally {
      session.off('HeapProfiler.addHeapSnapshotChunk', onChunk);
      session.disconnect();
    }
  })().finally(release);
}

export interface DebugRoutesOptions {
  /** Names the downloaded files: `interlink-<name>-<time>.cpuprofile`. */
  name: string;
}

const fileName = (name: string, ext: string) =>
  `interlink-${name.replace(/[^A-Za-z0-9_.-]/g, '_')}-${new Date().toISOString().replace(/[:.]/g, '-')}.${ext}`;

function attachment(reply: FastifyReply, file: string): void {
  reply.header('content-disposition', `attachment; filename="${file}"`);
  reply.header('cache-control', 'no-store');
  reply.header('x-content-type-options', 'nosniff');
}

/**
 * Register the profile routes on `app`. The caller decides that they may exist (the
 * `debugEndpoints` key) and guarantees that `app` authenticates every non-public route.
 */
export function registerDebugRoutes(app: ZodApp, opts: DebugRoutesOptions): void {
  const closing = new AbortController();
  app.addHook('preClose', async () => closing.abort());

  app.get('/debug/pprof/profile', { schema: { querystring: ProfileQuery } }, async (req, reply) => {
    const hangUp = new AbortController();
    reply.raw.once('close', () => hangUp.abort());
    const signal = AbortSignal.any([hangUp.signal, closing.signal]);
    req.log.info({ seconds: req.query.seconds }, 'CPU profile requested');
    const profile = await cpuProfile(req.query.seconds, signal);
    attachment(reply, fileName(opts.name, 'cpuprofile'));
    return reply.type('application/json').send(JSON.stringify(profile));
  });

  app.get('/debug/pprof/heap', async (req, reply) => {
    req.log.info('heap snapshot requested');
    const out = new PassThrough();
    // Throws CONFLICT (409) before anything is sent; otherwise the snapshot streams out.
    heapSnapshot(out).catch((err: unknown) => req.log.error({ err }, 'heap snapshot failed'));
    attachment(reply, fileName(opts.name, 'heapsnapshot'));
    return reply.type('application/json').send(out);
  });
}
