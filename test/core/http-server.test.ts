/**
 * The shared server base's pure parts (JSON depth, content-type wording, readiness cache,
 * Node limit options) by tables, and listenOn on a real unix socket.
 */
import { mkdir, readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  createServer,
  describeContentType,
  jsonDeeperThan,
  listenOn,
  nodeServerLimits,
  parseJsonBody,
  Readiness,
} from '../../src/core/http-server.ts';
import { silentLogger } from '../../src/core/logger.ts';
import { captureLogger, RawClient, tempDir } from '../api/harness.ts';

const nest = (n: number, open = '[', close = ']') => `${open.repeat(n)}${close.repeat(n)}`;

describe('jsonDeeperThan', () => {
  it.each([
    ['empty object', '{}', 1, false],
    ['empty object, max 0', '{}', 0, true],
    ['two levels', '[[1],[2]]', 2, false],
    ['two levels, max 1', '[[1],[2]]', 1, true],
    ['mixed', '{"a":{"b":[1]}}', 3, false],
    ['mixed, max 2', '{"a":{"b":[1]}}', 2, true],
    // Brackets inside strings, escaped quotes and backslashes do not count.
    ['brackets in strings', '["[[[[[[", "\\"[[[[", "\\\\"]', 1, false],
    ['braces in keys', '{"k\\"{{{":"}}}["}', 1, false],
    ['6000 arrays', nest(6000), 512, true],
    ['512 arrays', nest(512), 512, false],
    ['513 objects', nest(513, '{"a":', '}').replace('}', '1}'), 512, true],
  ])('%s', (_label, text, max, want) => {
    expect(jsonDeeperThan(text, max)).toBe(want);
  });
});

describe('describeContentType', () => {
  it.each([
    [undefined, 'no content type'],
    ['', 'no content type'],
    ['text/plain', 'content type text/plain'],
    ['Text/Plain; charset=utf-8', 'content type text/plain'],
    ['application/vnd.api+json', 'content type application/vnd.api+json'],
    ['text/plain\r\nx: y', 'an unrecognised content type'],
    ['<script>/x', 'an unrecognised content type'],
    ['x/'.padEnd(200, 'b'), 'an unrecognised content type'],
  ])('%j → %s', (header, want) => {
    expect(describeContentType(header)).toBe(want);
  });
});

describe('parseJsonBody', () => {
  it('parses JSON whatever the content type; empty is undefined', () => {
    expect(parseJsonBody('[1]', 'text/plain', 8)).toEqual([1]);
    expect(parseJsonBody('  \n', 'application/json', 8)).toBeUndefined();
  });
  it.each([
    [
      'hello',
      'text/plain',
      /^malformed JSON body \(sent with content type text\/plain\): expected a JSON document, Content-Type: application\/json$/,
    ],
    ['{"a":', undefined, /sent with no content type/],
    ['[[[[[[[[[[1]]]]]]]]]]', 'application/json', /^request body nests JSON deeper than 8 levels$/],
  ])('%s (%s) → 400', (text, type, message) => {
    let err: unknown;
    try {
      parseJsonBody(text, type, 8);
    } catch (e) {
      err = e;
    }
    expect(err).toMatchObject({ code: 'INVALID_INPUT', message: expect.stringMatching(message) });
    // Never an echo of the body.
    expect((err as Error).message).not.toContain('hello');
  });
});

describe('nodeServerLimits', () => {
  it.each([
    [{ headersTimeoutMs: 30_000, requestTimeoutMs: 120_000, maxConnections: 1 }, [30_000, 120_000, 5_000]],
    [{ headersTimeoutMs: 800, requestTimeoutMs: 2_000, maxConnections: 1 }, [800, 2_000, 200]],
    // Node refuses headersTimeout > requestTimeout: clamped.
    [{ headersTimeoutMs: 9_000, requestTimeoutMs: 1_000, maxConnections: 1 }, [1_000, 1_000, 250]],
    [{ headersTimeoutMs: 100, requestTimeoutMs: 100, maxConnections: 1 }, [100, 100, 100]],
  ])('%o', (limits, [headersTimeout, requestTimeout, connectionsCheckingInterval]) => {
    expect(nodeServerLimits(limits)).toEqual({ headersTimeout, requestTimeout, connectionsCheckingInterval });
  });
});

describe('Readiness', () => {
  function setup(answers: Array<string | undefined | Error>) {
    let now = 1_000;
    let calls = 0;
    const pending: Array<() => void> = [];
    const { logger, lines } = captureLogger();
    const r = new Readiness(
      () =>
        new Promise<string | undefined>((resolve, reject) => {
          const a = answers[calls++];
          pending.push(() => (a instanceof Error ? reject(a) : resolve(a)));
        }),
      logger,
      { ttlMs: 5_000, now: () => now },
    );
    return {
      r,
      calls: () => calls,
      settle: () => {
        for (const p of pending.splice(0)) p();
      },
      advance: (ms: number) => {
        now += ms;
      },
      lines,
    };
  }

  it('concurrent checks share one probe; the answer is reused for ttl, then asked again', async () => {
    const t = setup(['plugin down', undefined]);
    const many = Array.from({ length: 50 }, () => t.r.check());
    expect(t.calls()).toBe(1);
    t.settle();
    expect(new Set(await Promise.all(many))).toEqual(new Set(['plugin down']));
    t.advance(4_999);
    expect(await t.r.check()).toBe('plugin down');
    expect(t.calls()).toBe(1);
    t.advance(1);
    const next = t.r.check();
    t.settle();
    expect(await next).toBeUndefined();
    expect(t.calls()).toBe(2);
    // State changes are logged once each, with the reason.
    expect(t.lines().map((l) => [l.msg, l.reason])).toEqual([
      ['not ready', 'plugin down'],
      ['ready', undefined],
    ]);
  });

  it('a probe that throws is "not ready"; record() replaces the cached answer', async () => {
    const t = setup([new Error('boom')]);
    const p = t.r.check();
    t.settle();
    expect(await p).toBe('readiness check failed: boom');
    t.r.record(undefined);
    expect(await t.r.check()).toBeUndefined();
    expect(t.calls()).toBe(1);
  });
});

describe('listenOn (unix socket)', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  beforeAll(async () => {
    ({ dir, cleanup } = await tempDir());
  });
  afterAll(() => cleanup());

  it('makes the socket 0600 without touching the process umask, replaces a stale socket, removes it on close', async () => {
    const sockDir = join(dir, 'run');
    await mkdir(sockDir, { mode: 0o755 });
    const path = join(sockDir, 'api.sock');
    const umask = vi.spyOn(process, 'umask');
    try {
      for (let round = 0; round < 2; round++) {
        const { app } = createServer({ logger: silentLogger(), metricsPrefix: 't' });
        // Round 2 finds round 1's socket file left behind (a killed process): replaced.
        expect(await listenOn(app, { kind: 'unix', path })).toBe(`unix://${path}`);
        expect((await stat(path)).mode & 0o777).toBe(0o600);
        // No staging directory is left beside it.
        expect(await readdir(sockDir)).toEqual(['api.sock']);
        const c = new RawClient(`unix://${path}`);
        expect((await c.request('GET', '/healthz')).text).toBe('ok');
        await c.close();
        if (round === 0) {
          // Simulate a crash: the file stays, the server is gone.
          app.server.removeAllListeners('close');
          await app.close();
          expect(await readdir(sockDir)).toEqual(['api.sock']);
        } else {
          await app.close();
          expect(await readdir(sockDir)).toEqual([]);
        }
      }
      // Only reads of the umask (no argument) are allowed: setting it races co-hosted servers.
      for (const call of umask.mock.calls) expect(call).toEqual([]);
    } finally {
      umask.mockRestore();
    }
  });

  it('refuses to replace a file that is not a socket', async () => {
    const path = join(dir, 'not-a-socket');
    await writeFile(path, 'x');
    const { app } = createServer({ logger: silentLogger(), metricsPrefix: 't' });
    await expect(listenOn(app, { kind: 'unix', path })).rejects.toThrow(/is not a socket/);
    await app.close();
  });
});
