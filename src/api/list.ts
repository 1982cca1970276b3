/**
 * `GET /list` (our addition to the interLink 0.6 wire): every pod the plugin's backend runs
 * or holds, relayed from the plugin in one call and never cached (the VK's orphan sweep
 * deletes by it, so a stale answer could delete a pod created since).
 *
 * A plugin without the route (an interLink 0.6 plugin: 404; ours without `list`: 501) makes
 * this answer 501, which the VK reads as "no sweep possible".
 */
import type { FastifyRequest } from 'fastify';
import type { ZodApp } from '../core/http-server.ts';
import { BackendPodList } from '../wire/interlink.ts';
import type { PluginClient } from './plugin-client.ts';

/** How app.ts wraps a plugin call so a failure names the plugin (see `viaPlugin` there). */
export type ViaPlugin = <T>(req: FastifyRequest, what: string, fn: () => Promise<T>) => Promise<T>;

export function listRoute(app: ZodApp, plugin: PluginClient, viaPlugin: ViaPlugin): void {
  app.get('/list', { schema: { response: { 200: BackendPodList } } }, async (req) => {
    const pods = await viaPlugin(req, 'list', () => plugin.list(req.id));
    req.log.debug({ pods: pods.length }, 'list');
    return pods;
  });
}
