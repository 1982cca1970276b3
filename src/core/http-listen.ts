/**
 * Binding a built server (http-server.ts) to TCP or to a private unix socket.
 */
import { rmSync, statSync } from 'node:fs';
import { chmod, mkdtemp, rename, rm, rmdir, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { ErrorCode, InterlinkError } from '../errors/index.ts';
import type { Endpoint } from './endpoint.ts';
import type { ZodApp } from './http-server.ts';

/**
 * Bind a built app. A unix socket ends up with mode 0600 (only the owner may call); a stale
 * socket file from a killed process is replaced, anything else at the path is an error.
 *
 * The socket is bound inside a fresh 0700 directory beside the target, chmod'ed, then
 * renamed into place: it is never reachable by others with the umask's mode, and the
 * process-wide umask is left alone (the API, a plugin and the VK may share one process).
 * The directory must be on the same filesystem as the target, hence beside it, not in /tmp.
 */
export async function listenOn(app: FastifyInstance | ZodApp, ep: Endpoint): Promise<string> {
  if (ep.kind === 'unix') {
    const st = await stat(ep.path).catch(() => undefined);
    if (st && !st.isSocket())
      throw new InterlinkError(
        ErrorCode.INVALID_INPUT,
        `${ep.path} exists and is not a socket; refusing to replace it`,
      );
    // Short names: a socket path has ~107 bytes at most, and the staging one is 12 longer.
    const priv = await mkdtemp(join(dirname(ep.path), '.il-'));
    const staging = join(priv, 's');
    try {
      await app.listen({ path: staging });
      await chmod(staging, 0o600);
      // rename(2) replaces a stale socket atomically.
      await rename(staging, ep.path);
    } catch (err) {
      await app.close().catch(() => {});
      throw err;
    } finally {
      await rm(staging, { force: true }).catch(() => {});
      await rmdir(priv).catch(() => {});
    }
    // The server unlinks the path it bound (gone), not the one it was renamed to.
    // Synchronous, so the file is gone before close()'s own callbacks run.
    const bound = await stat(ep.path);
    app.server.once('close', () => {
      try {
        const now = statSync(ep.path);
        if (now.ino === bound.ino && now.dev === bound.dev) rmSync(ep.path, { force: true });
      } catch {
        // already gone
      }
    });
    return `unix://${ep.path}`;
  }
  await app.listen({ host: ep.host, port: ep.port });
  const addr = app.server.address();
  const port = typeof addr === 'object' && addr ? addr.port : ep.port;
  return `${ep.protocol}://${ep.host.includes(':') ? `[${ep.host}]` : ep.host}:${port}`;
}
