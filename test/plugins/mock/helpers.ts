/** Shared by the mock plugin's tests: a mock served over a real unix socket or TCP port. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import type { Clock } from '../../../src/core/clock.ts';
import type { Endpoint } from '../../../src/core/endpoint.ts';
import { HttpClient } from '../../../src/core/http-client.ts';
import { listenOn } from '../../../src/core/http-server.ts';
import { silentLogger } from '../../../src/core/logger.ts';
import type { MockDefaults } from '../../../src/plugins/mock/behaviour.ts';
import { type Capacity, createMockPlugin, type MockPlugin } from '../../../src/plugins/mock/plugin.ts';
import { buildPluginApp } from '../../../src/plugins/sdk/server.ts';

export type Transport = 'unix' | 'tcp';

export interface Served {
  mock: MockPlugin;
  client: HttpClient;
  url: string;
  close(): Promise<void>;
}

export async function serveMock(
  transport: Transport,
  opts: { clock?: Clock; defaults?: Partial<MockDefaults>; capacity?: Partial<Capacity> } = {},
): Promise<Served> {
  const mock = createMockPlugin(opts);
  const { app } = buildPluginApp(mock, { logger: silentLogger() });
  let dir: string | undefined;
  let endpoint: Endpoint;
  if (transport === 'unix') {
    dir = await mkdtemp(join(tmpdir(), 'mock-plugin-'));
    endpoint = { kind: 'unix', path: join(dir, 'plugin.sock') };
  } else {
    endpoint = { kind: 'tcp', protocol: 'http', host: '127.0.0.1', port: 0 };
  }
  const url = await listenOn(app, endpoint);
  const addr = app.server.address();
  const client = new HttpClient({
    endpoint:
      endpoint.kind === 'tcp' && typeof addr === 'object' && addr
        ? { ...endpoint, port: addr.port }
        : endpoint,
  });
  return {
    mock,
    client,
    url,
    async close() {
      // End log followers first so no response is left open when the server closes.
      await mock.close?.();
      await app.close();
      await client.close();
      if (dir) await rm(dir, { recursive: true, force: true });
    },
  };
}

export function pod(
  uid: string,
  opts: { annotations?: Record<string, string>; init?: string[]; app?: string[]; name?: string } = {},
) {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: opts.name ?? `pod-${uid}`,
      namespace: 'default',
      uid,
      annotations: opts.annotations ?? {},
    },
    spec: {
      initContainers: (opts.init ?? []).map((name) => ({ name, image: `busybox:${name}` })),
      containers: (opts.app ?? ['main']).map((name) => ({ name, image: `busybox:${name}` })),
    },
  };
}

/** Reads a byte stream chunk by chunk, accumulating text. */
export class StreamReader {
  text = '';
  ended = false;
  readonly #it: AsyncIterator<Buffer>;
  constructor(body: Readable) {
    this.#it = body[Symbol.asyncIterator]();
  }
  /** Read until the text contains `s` (or the stream ends); returns the text. */
  async until(s: string): Promise<string> {
    while (!this.text.includes(s) && !this.ended) await this.next();
    return this.text;
  }
  /** Read everything to the end. */
  async rest(): Promise<string> {
    while (!this.ended) await this.next();
    return this.text;
  }
  async next(): Promise<void> {
    const r = await this.#it.next();
    if (r.done) this.ended = true;
    else this.text += Buffer.from(r.value).toString('utf8');
  }
}
