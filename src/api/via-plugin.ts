/**
 * How every API route calls the plugin: a failure keeps its code (UNAVAILABLE stays 503,
 * NOT_FOUND 404...) but not the transport detail; where the plugin listens and why it is
 * unreachable go to the log only. A caller's mistake stays a 4xx, never a 503.
 */
import type { FastifyRequest } from 'fastify';
import { codeOf, ErrorCode, InterlinkError } from '../errors/index.ts';
import type { ViaPlugin } from './list.ts';
import type { PluginClient } from './plugin-client.ts';

export function viaPluginOf(plugin: PluginClient): ViaPlugin {
  return async <T>(req: FastifyRequest, what: string, fn: () => Promise<T>): Promise<T> => {
    try {
      return await fn();
    } catch (err) {
      const code = codeOf(err);
      const msg = (err as Error).message;
      if (code === ErrorCode.UNAVAILABLE || code === ErrorCode.TIMEOUT) {
        req.log.warn({ err: msg, plugin: plugin.describe() }, `${what}: plugin unreachable`);
        throw new InterlinkError(
          code,
          code === ErrorCode.TIMEOUT
            ? `${what}: the plugin did not answer in time`
            : `${what}: the plugin is unreachable`,
          { cause: err },
        );
      }
      if (code === ErrorCode.UNAUTHENTICATED || code === ErrorCode.FORBIDDEN) {
        // The plugin refused *our* credentials (pluginTokenFile): not the caller's fault.
        req.log.error({ err: msg, plugin: plugin.describe() }, `${what}: the plugin refused the API's token`);
        throw new InterlinkError(ErrorCode.UNAVAILABLE, `${what}: the plugin is unreachable`, { cause: err });
      }
      if (code === ErrorCode.INTERNAL) {
        req.log.error({ err }, `${what}: failed before reaching the plugin`);
        throw new InterlinkError(ErrorCode.INTERNAL, `${what}: internal error`, { cause: err });
      }
      // The plugin's own answer (NOT_FOUND, BACKEND...) is relayed, minus our view of its address.
      const where = plugin.describe();
      if (err instanceof InterlinkError && msg.includes(where)) {
        throw new InterlinkError(code, msg.replaceAll(where, 'the plugin'), {
          cause: err,
          ...(err.field === undefined ? {} : { field: err.field }),
        });
      }
      throw err;
    }
  };
}
