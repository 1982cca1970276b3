import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { buildOpenApi } from '../../src/wire/openapi.ts';
import { OPENAPI_FILE, packageVersion, renderOpenApi } from '../../src/wire/openapi-write.ts';

type Json = Record<string, unknown>;
const doc = buildOpenApi('test') as Json & {
  paths: Record<string, Record<string, Json>>;
  webhooks: Record<string, Record<string, Json>>;
  components: { schemas: Record<string, Json> };
};

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
  it('docs/openapi.json is up to date with src/wire', () => {
    const onDisk = readFileSync(OPENAPI_FILE, 'utf8');
    expect(
      onDisk === renderOpenApi(),
      'docs/openapi.json is out of date: run `npm run openapi` and commit the result',
    ).toBe(true);
    expect(JSON.parse(onDisk).info.version).toBe(packageVersion());
  });

  it('covers both hops with their methods, GET-with-body included', () => {
    const methods = (ops: Record<string, Json> | undefined) => Object.keys(ops ?? {}).sort();
    expect(methods(doc.paths['/create'])).toEqual(['post']);
    expect(methods(doc.paths['/delete'])).toEqual(['delete', 'post']);
    expect(methods(doc.paths['/status'])).toEqual(['get', 'post']);
    expect(methods(doc.paths['/getLogs'])).toEqual(['get', 'post']);
    expect(methods(doc.paths['/pinglink'])).toEqual(['post']);
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
