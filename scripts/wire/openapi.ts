/**
 * `npm run openapi`: build the interLink API and a plugin app with every optional method
 * (never listening, never calling the plugin), collect the routes they register with their
 * zod schemas, and write docs/openapi.json. test/wire/openapi.test.ts fails while the
 * committed file differs from what the servers serve.
 *
 *   node scripts/wire/openapi.ts            write docs/openapi.json
 *   node scripts/wire/openapi.ts --check    exit 1 with the differences when it is stale
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { buildApiApp } from '../../src/api/app.ts';
import { silentLogger } from '../../src/core/logger.ts';
import { upgradePaths } from '../../src/core/stream-upgrade.ts';
import { buildPluginApp } from '../../src/plugins/sdk/server.ts';
import { definePlugin } from '../../src/plugins/sdk/types.ts';
import { buildOpenApi, diffOpenApi, type Served, servedRoute } from './openapi-document.ts';
import type { Json } from './openapi-schemas.ts';

export const ROOT = join(import.meta.dirname, '..', '..');
export const OPENAPI_FILE = join(ROOT, 'docs', 'openapi.json');
export const REGENERATE = 'npm run openapi';

export function packageVersion(): string {
  return (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
}

const never = async (): Promise<never> => {
  throw new Error('the OpenAPI generator never calls the plugin');
};

/** A plugin with every optional method, so every optional route is registered. */
const fullPlugin = definePlugin({
  name: 'openapi',
  create: never,
  delete: never,
  status: never,
  logs: async () => Readable.from([]),
  ping: never,
  list: never,
  stats: never,
  exec: never,
  attach: never,
  portForward: never,
});

/** The routes both servers register, read from the built (not listening) apps. */
export async function servedRoutes(): Promise<Served> {
  const logger = silentLogger();
  const api = buildApiApp({
    logger,
    plugin: { endpoint: { kind: 'tcp', protocol: 'http', host: '127.0.0.1', port: 9 } },
    auth: { authenticate: async () => ({ method: 'none', name: 'openapi' }), describe: () => 'none' },
  });
  const plugin = buildPluginApp(fullPlugin, { logger });
  try {
    await Promise.all([api.app.ready(), plugin.app.ready()]);
    return {
      api: api.routes.map(servedRoute),
      plugin: plugin.routes.map(servedRoute),
      apiUpgrades: upgradePaths(api.app),
      pluginUpgrades: upgradePaths(plugin.app),
    };
  } finally {
    await Promise.all([api.app.close(), plugin.app.close()]);
  }
}

/** The document of what the servers serve. */
export async function servedOpenApi(): Promise<Json> {
  return buildOpenApi(await servedRoutes(), packageVersion());
}

/** The file's exact content: 2-space JSON with a final newline. */
export function renderOpenApi(doc: Json): string {
  return `${JSON.stringify(doc, null, 2)}\n`;
}

// import.meta.main is Node >= 24.2; compare argv for older ones.
if (import.meta.main ?? process.argv[1] === fileURLToPath(import.meta.url)) {
  const doc = await servedOpenApi();
  if (process.argv.includes('--check')) {
    const diff = diffOpenApi(JSON.parse(readFileSync(OPENAPI_FILE, 'utf8')) as Json, doc);
    if (diff.length > 0 || readFileSync(OPENAPI_FILE, 'utf8') !== renderOpenApi(doc)) {
      console.error(
        `${OPENAPI_FILE} differs from the served routes:\n${diff.join('\n')}\nrun \`${REGENERATE}\``,
      );
      process.exit(1);
    }
  } else {
    writeFileSync(OPENAPI_FILE, renderOpenApi(doc));
    console.log(`wrote ${OPENAPI_FILE}`);
  }
}
