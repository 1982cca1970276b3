/**
 * The plugin SDK's streaming routes exist only when the plugin has the method; a plugin
 * without them answers 501, which the VK turns into a clear kubectl error.
 */
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dialChannelSocket } from '../../../src/core/channel-ws.ts';
import { listenOn } from '../../../src/core/http-server.ts';
import { silentLogger } from '../../../src/core/logger.ts';
import { codeOf, ErrorCode } from '../../../src/errors/index.ts';
import { buildPluginApp } from '../../../src/plugins/sdk/server.ts';
import type { Plugin } from '../../../src/plugins/sdk/types.ts';
import { PortForwardChannel } from '../../../src/wire/streams.ts';

const bare: Plugin = {
  name: 'bare',
  create: async () => ({ PodUID: 'u', PodJID: 'j' }),
  delete: async () => {},
  status: async () => [],
  logs: async () => Readable.from([]),
};

describe('plugin without exec/attach/portForward', () => {
  let port: number;
  let close: () => Promise<void>;
  beforeAll(async () => {
    const { app } = buildPluginApp(bare, { logger: silentLogger() });
    port = Number(
      new URL(await listenOn(app, { kind: 'tcp', protocol: 'http', host: '127.0.0.1', port: 0 })).port,
    );
    close = () => app.close();
  });
  afterAll(async () => close?.());

  it.each(['/exec', '/attach', '/portforward'])('%s answers the upgrade with 501', async (path) => {
    const err = await dialChannelSocket({
      endpoint: { kind: 'tcp', protocol: 'http', host: '127.0.0.1', port },
      path: `${path}?namespace=a&name=b&uid=c&container=d&command=ls&port=80`,
      protocol: 'v5.channel.k8s.io',
    }).catch((e: unknown) => e);
    expect(codeOf(err)).toBe(ErrorCode.NOT_SUPPORTED);
    expect((err as Error).message).toContain('not supported');
  });
});

describe('port-forward through the SDK', () => {
  const MiB = 1024 * 1024;
  let port: number;
  let close: () => Promise<void>;
  beforeAll(async () => {
    // A plugin that writes 10 MiB into the connection without waiting for it to drain, ends
    // it and returns at once: what the docker relay does when its child exits.
    const plugin: Plugin = {
      ...bare,
      portForward: async (_q, conn) => {
        for (let i = 0; i < 10 * 16; i++) conn.write(Buffer.alloc(MiB / 16, i % 251));
        conn.end();
      },
    };
    const { app } = buildPluginApp(plugin, { logger: silentLogger() });
    port = Number(
      new URL(await listenOn(app, { kind: 'tcp', protocol: 'http', host: '127.0.0.1', port: 0 })).port,
    );
    close = () => app.close();
  });
  afterAll(async () => close?.());

  it('delivers every byte the plugin wrote before it returned (backpressure, then end)', async () => {
    const cs = await dialChannelSocket({
      endpoint: { kind: 'tcp', protocol: 'http', host: '127.0.0.1', port },
      path: '/portforward?namespace=a&name=b&uid=c&port=80',
      protocol: 'v5.channel.k8s.io',
    });
    let n = 0;
    for await (const chunk of cs.readable(PortForwardChannel.DATA)) n += (chunk as Buffer).length;
    await cs.closed;
    expect(n).toBe(10 * MiB);
  });
});
