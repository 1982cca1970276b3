/**
 * Test harness: a real mock plugin on a unix socket (servePlugin) and a real API
 * listening on TCP or a unix socket, configured through loadApiConfig like production,
 * plus a raw HTTP client that reports status codes instead of throwing.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { Agent, type Dispatcher } from 'undici';
import { loadApiConfig, resolveApiConfig } from '../../src/api/config.ts';
import { type PreparedApi, prepareApi } from '../../src/api/server.ts';
import type { Logger } from '../../src/core/logger.ts';
import { isMockPlugin, type MockPlugin } from '../../src/plugins/mock/plugin.ts';
import { type ServedPlugin, servePlugin } from '../../src/plugins/serve.ts';

export const TOKEN = 'test-token-0123456789abcdef';

export interface CapturedLogs {
  logger: Logger;
  lines: () => Array<Record<string, unknown>>;
}

/** A debug-level logger whose JSON lines the test can read. */
export function captureLogger(): CapturedLogs {
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk, _enc, cb) {
      for (const l of String(chunk).split('\n')) if (l.trim()) lines.push(JSON.parse(l));
      cb();
    },
  });
  return { logger: pino({ level: 'debug' }, sink), lines: () => lines };
}

export async function tempDir(
  prefix = 'interlink-test-',
): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

export async function startMock(
  socket: string,
  logger: Logger,
  overrides: Record<string, unknown> = {},
): Promise<ServedPlugin & { mock: MockPlugin }> {
  const served = await servePlugin('mock', { env: {}, logger, overrides: { socket, ...overrides } });
  if (!isMockPlugin(served.plugin)) throw new Error('not the mock plugin');
  return Object.assign(served, { mock: served.plugin });
}

export interface ApiUnderTest {
  api: PreparedApi;
  url: string;
  client: RawClient;
  close: () => Promise<void>;
}

/** Start the API; `listen` is `tcp` (127.0.0.1, free port) or a unix socket path. */
export async function startApi(opts: {
  listen: 'tcp' | { socket: string };
  pluginSocket: string;
  logger: Logger;
  overrides?: Record<string, unknown>;
  env?: NodeJS.ProcessEnv;
}): Promise<ApiUnderTest> {
  const listen =
    opts.listen === 'tcp'
      ? { interlinkUrl: 'http://127.0.0.1', interlinkPort: 0 }
      : { interlinkUrl: `unix://${opts.listen.socket}` };
  const cfg = loadApiConfig({
    env: opts.env ?? {},
    logger: opts.logger,
    overrides: { ...listen, sidecarUrl: `unix://${opts.pluginSocket}`, ...opts.overrides },
  });
  const api = prepareApi(resolveApiConfig(cfg), opts.logger);
  const url = await api.listen();
  const client = new RawClient(url);
  return {
    api,
    url,
    client,
    close: async () => {
      await client.close();
      await api.close();
    },
  };
}

export async function writeTokenFile(
  dir: string,
  content = `${TOKEN} test-vk\n`,
  name = 'tokens',
): Promise<string> {
  const file = join(dir, name);
  await writeFile(file, content, { mode: 0o600 });
  return file;
}

export interface RawAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  // biome-ignore lint/suspicious/noExplicitAny: tests read arbitrary JSON answers field by field
  json: () => any;
}

/** Plain HTTP over TCP or a unix socket; bodies on GET allowed; never throws on a status. */
export class RawClient {
  readonly #agent: Agent;
  readonly #origin: string;
  token: string | undefined = TOKEN;

  constructor(url: string, connect: Record<string, unknown> = {}) {
    const unix = url.startsWith('unix://') ? url.slice('unix://'.length) : undefined;
    this.#agent = new Agent({ connect: { ...(unix ? { socketPath: unix } : {}), ...connect } });
    this.#origin = unix ? 'http://localhost' : url;
  }

  async request(
    method: Dispatcher.HttpMethod,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<RawAnswer> {
    const h: Record<string, string> = { ...headers };
    if (this.token && !('authorization' in h)) h.authorization = `Bearer ${this.token}`;
    let payload: string | undefined;
    if (body !== undefined) {
      payload = typeof body === 'string' ? body : JSON.stringify(body);
      h['content-type'] ??= 'application/json';
    }
    const res = await this.#agent.request({ origin: this.#origin, path, method, headers: h, body: payload });
    const text = await res.body.text();
    return { status: res.statusCode, headers: res.headers, text, json: () => JSON.parse(text) };
  }

  /** A streamed answer (logs), for reading chunk by chunk. */
  stream(method: Dispatcher.HttpMethod, path: string, body: unknown, signal?: AbortSignal) {
    const h: Record<string, string> = { 'content-type': 'application/json' };
    if (this.token) h.authorization = `Bearer ${this.token}`;
    return this.#agent.request({
      origin: this.#origin,
      path,
      method,
      headers: h,
      body: JSON.stringify(body),
      ...(signal ? { signal } : {}),
    });
  }

  close(): Promise<void> {
    return this.#agent.close();
  }
}

/** Poll until `fn` returns a truthy value (or throw after `ms`). For eventual states, not timing. */
export async function eventually<T>(
  fn: () => Promise<T | undefined | false> | T | undefined | false,
  ms = 10_000,
  what = 'condition',
): Promise<T> {
  const until = Date.now() + ms;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > until)
      throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** A pod as the VK sends it, with mock annotations. */
export function pod(
  name: string,
  uid: string,
  annotations: Record<string, string> = {},
  containers = ['main'],
) {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      namespace: 'default',
      uid,
      creationTimestamp: '2026-01-15T10:00:00Z',
      annotations: { 'mock.interlink.io/start-delay': '0', ...annotations },
    },
    spec: {
      containers: containers.map((c) => ({ name: c, image: 'busybox:1.36' })),
      restartPolicy: 'Never',
      nodeName: 'vk',
    },
    status: { phase: 'Pending' },
  };
}
