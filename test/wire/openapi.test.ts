/**
 * docs/openapi.json is what the servers register: the drift test builds the API and a
 * plugin with every optional method and compares their routes (method, path, schemas) with
 * the committed file. Pure parts of the generator are tested by tables.
 */
import { readFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  OPENAPI_FILE,
  packageVersion,
  REGENERATE,
  renderOpenApi,
  servedOpenApi,
  servedRoutes,
} from '../../scripts/wire/openapi.ts';
import { diffOpenApi, servedRoute } from '../../scripts/wire/openapi-document.ts';
import { silentLogger } from '../../src/core/logger.ts';
import { buildPluginApp } from '../../src/plugins/sdk/server.ts';
import { definePlugin } from '../../src/plugins/sdk/types.ts';
import { TextAnswer } from '../../src/wire/interlink.ts';

type Json = Record<string, unknown>;
type Doc = Json & {
  paths: Record<string, Record<string, Json>>;
  webhooks: Record<string, Record<string, Json>>;
  components: { schemas: Record<string, Json> };
};
let doc: Doc;
beforeAll(async () => {
  doc = (await servedOpenApi()) as Doc;
});

function* walk(node: unknown, path = '#'): Generator<[string, unknown]> {
  if (node === null || typeof node !== 'object') return;
  for (const [k, v] of Object.entries(node)) {
    if (k === '$ref') yield [path, v];
    else yield* walk(v, `${path}/${k}`);
  }
}

function resolve(ref: string): unknown {
  return ref
    .replace(/^#\//, '')
    .split('/')
    .reduce<unknown>((n, part) => (n as Json | undefined)?.[part], doc);
}

describe('OpenAPI document', () => {
  it('docs/openapi.json is what the servers register', () => {
    const onDisk = readFileSync(OPENAPI_FILE, 'utf8');
    const diff = diffOpenApi(JSON.parse(onDisk) as Json, doc);
    const hint = `docs/openapi.json differs from the served routes: run \`${REGENERATE}\` and commit the result`;
    expect(diff, hint).toEqual([]);
    expect(onDisk === renderOpenApi(doc), hint).toBe(true);
    expect(JSON.parse(onDisk).info.version).toBe(packageVersion());
  });

  it('documents exactly the routes and upgrade paths the servers serve', async () => {
    const served = await servedRoutes();
    const documented = (items: Record<string, Record<string, Json>>) =>
      Object.entries(items).flatMap(([path, ops]) =>
        Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`),
      );
    const registered = (routes: typeof served.api, upgrades: readonly string[]) => [
      ...routes.flatMap((r) => r.methods.map((m) => `${m} ${r.url}`)),
      ...upgrades.map((p) => `GET ${p}`),
    ];
    expect(documented(doc.paths).sort()).toEqual(registered(served.api, served.apiUpgrades).sort());
    const health = ['GET /healthz', 'GET /readyz', 'GET /metrics'];
    expect([...documented(doc.webhooks), ...health].sort()).toEqual(
      registered(served.plugin, served.pluginUpgrades).sort(),
    );
  });

  it('a route registered without a schema fails the generator, naming the route', async () => {
    const plugin = definePlugin({
      name: 'bare',
      create: async () => ({ PodUID: 'u', PodJID: 'j' }),
      delete: async () => {},
      status: async () => [],
      logs: async () => Readable.from([]),
      routes: (app) => app.get('/bare', async () => 'no schema'),
    });
    const { app, routes } = buildPluginApp(plugin, { logger: silentLogger() });
    try {
      await app.ready();
      const bare = routes.find((r) => r.url === '/bare')!;
      expect(() => servedRoute(bare)).toThrow(/route GET \/bare is registered without a schema/);
      expect(() => servedRoute({ ...bare, schema: { response: { 200: { type: 'string' } } } })).toThrow(
        /answer 200 has no zod schema/,
      );
      expect(servedRoute({ ...bare, schema: { response: { 200: TextAnswer } } })).toEqual({
        methods: ['GET'],
        url: '/bare',
        response: { 200: TextAnswer },
      });
    } finally {
      await app.close();
    }
  });

  it.each([
    ['no change', {}, []],
    ['an operation only served', { add: true }, ['+ paths GET /new']],
    ['an operation only committed', { drop: true }, ['- paths POST /create']],
    ['a changed operation', { change: true }, ['~ paths POST /create (summary)']],
  ])('diffOpenApi: %s', (_, how, want) => {
    const base: Json = { paths: { '/create': { post: { summary: 'a', responses: {} } } }, webhooks: {} };
    const served = structuredClone(base) as { paths: Record<string, Record<string, Json>> };
    if ('add' in how) served.paths['/new'] = { get: { summary: 'n' } };
    if ('drop' in how) delete served.paths['/create'];
    if ('change' in how) served.paths['/create']!.post!.summary = 'b';
    expect(diffOpenApi(base, served)).toEqual(want);
  });

  it('covers both hops with their methods, GET-with-body included', () => {
    const methods = (ops: Record<string, Json> | undefined) => Object.keys(ops ?? {}).sort();
    expect(methods(doc.paths['/create'])).toEqual(['post']);
    expect(methods(doc.paths['/delete'])).toEqual(['delete', 'post']);
    expect(methods(doc.paths['/status'])).toEqual(['get', 'post']);
    expect(methods(doc.paths['/getLogs'])).toEqual(['get', 'post']);
    expect(methods(doc.paths['/pinglink'])).toEqual(['get', 'post']);
    expect(methods(doc.paths['/updateCache'])).toEqual(['post']);
    for (const p of ['/healthz', '/readyz', '/metrics']) expect(methods(doc.paths[p])).toEqual(['get']);
    expect(methods(doc.webhooks['/create'])).toEqual(['post']);
    expect(methods(doc.webhooks['/delete'])).toEqual(['delete', 'post']);
    expect(methods(doc.webhooks['/status'])).toEqual(['get', 'post']);
    expect(methods(doc.webhooks['/getLogs'])).toEqual(['get', 'post']);
    expect(methods(doc.webhooks['/ping'])).toEqual(['get']);
    expect(methods(doc.webhooks['/stats/summary'])).toEqual(['get']);
    expect(doc.paths['/status']!.get!.requestBody).toBeDefined();
    for (const ops of Object.values(doc.webhooks))
      for (const op of Object.values(ops)) expect(op.tags).toEqual(['plugin']);
    expect((doc.paths['/create']!.post!.requestBody as Json).content).toEqual({
      'application/json': { schema: { $ref: '#/components/schemas/PodCreateRequests' } },
    });
    expect((doc.webhooks['/create']!.post!.requestBody as Json).content).toEqual({
      'application/json': { schema: { $ref: '#/components/schemas/RetrievedPodDataBody' } },
    });
  });

  it('has unique operation ids and no dangling $ref', () => {
    const ids = [...Object.values(doc.paths), ...Object.values(doc.webhooks)].flatMap((ops) =>
      Object.values(ops).map((op) => op.operationId),
    );
    expect(new Set(ids).size).toBe(ids.length);
    const refs = [...walk(doc)];
    expect(refs.length).toBeGreaterThan(50);
    for (const [at, ref] of refs) expect([at, resolve(String(ref))]).not.toEqual([at, undefined]);
  });

  it('keeps the upstream JSON names and open Kubernetes objects', () => {
    const s = doc.components.schemas;
    const props = (id: string) => Object.keys((s[id]!.properties as Json) ?? {});
    expect(props('CreateStruct')).toEqual(['PodUID', 'PodJID']);
    expect(props('PodStatus')).toEqual(['name', 'UID', 'namespace', 'JID', 'containers', 'initContainers']);
    expect(props('PodCreateRequests')).toEqual([
      'pod',
      'configmaps',
      'secrets',
      'projectedvolumesmaps',
      'jobscriptURL',
    ]);
    expect(props('RetrievedContainer')).toEqual([
      'name',
      'configMaps',
      'projectedvolumemaps',
      'secrets',
      'emptyDirs',
    ]);
    expect(props('LogStruct')).toEqual(['Namespace', 'PodUID', 'PodName', 'ContainerName', 'Opts']);
    expect(props('LogOpts')).toEqual([
      'Tail',
      'Bytes',
      'LimitBytes',
      'Timestamps',
      'Follow',
      'Previous',
      'SinceSeconds',
      'SinceTime',
    ]);
    for (const id of ['Pod', 'PodSpec', 'Container', 'ConfigMap', 'Secret', 'ContainerStatus']) {
      expect([id, s[id]!.additionalProperties]).toEqual([id, {}]);
    }
    expect(s.ErrorBody!.required).toEqual(['code', 'message']);
  });
});
