/**
 * A route exists only when its method does (STYLE habit 1): GET /ping, /list and
 * /stats/summary are served only for a plugin that has `ping`, `list`, `stats`; without the
 * method the route answers the 404 an interLink 0.6 plugin gives.
 */
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../../src/core/logger.ts';
import { buildPluginApp } from '../../../src/plugins/sdk/server.ts';
import { definePlugin, type Plugin } from '../../../src/plugins/sdk/types.ts';

const base: Plugin = definePlugin({
  name: 'optional',
  create: async (d) => ({ PodUID: d.pod.metadata.uid, PodJID: 'j' }),
  delete: async () => {},
  status: async () => [],
  logs: async () => Readable.from([]),
});

const methods: Array<[string, Partial<Plugin>, unknown]> = [
  ['/ping', { ping: async () => ({ status: 'fine' }) }, { status: 'fine' }],
  ['/list', { list: async () => [] }, []],
  ['/stats/summary', { stats: async () => ({ node: {}, pods: [] }) }, { node: {}, pods: [] }],
];

describe('plugin SDK optional routes', () => {
  it.each(methods)('GET %s is 404 without the method, served with it', async (url, method, body) => {
    for (const [plugin, status] of [
      [base, 404],
      [{ ...base, ...method }, 200],
    ] as const) {
      const { app } = buildPluginApp(plugin, { logger: silentLogger() });
      try {
        const res = await app.inject({ method: 'GET', url });
        expect([url, res.statusCode]).toEqual([url, status]);
        expect(res.json()).toEqual(status === 200 ? body : expect.objectContaining({ code: 'NOT_FOUND' }));
      } finally {
        await app.close();
      }
    }
  });
});
