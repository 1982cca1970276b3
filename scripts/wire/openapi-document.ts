/**
 * docs/openapi.json from the routes the servers register (pure: scripts/wire/openapi.ts
 * builds the servers and hands their routes here).
 *
 * - `paths`: the interLink API (VK → API, tag "api") and the health/metrics routes every
 *   process serves (tag "ops").
 * - `webhooks`: the plugin wire (API → plugin, tag "plugin"). OpenAPI allows a path once per
 *   document and both hops use `/create`, `/status`, ... with different bodies; 3.1's
 *   `webhooks` describes exactly this: requests the API sends to a server the operator
 *   runs. Each webhook is named by the path the plugin serves.
 *
 * Every route must carry a zod schema with at least its 200 answer; bodies and answers come
 * from those schemas, the prose from openapi-operations.ts.
 */
import type { RouteOptions } from 'fastify';
import { z } from 'zod';
import { HtmlPage, TextAnswer, TextStream } from '../../src/wire/interlink.ts';
import { type Hop, OPERATIONS, type OperationDoc } from './openapi-operations.ts';
import { convertSchemas, ERROR_RESPONSES, errorRef, type Json, json, ref } from './openapi-schemas.ts';
import { streamOps } from './openapi-streams.ts';

/** One route as registered: its methods, path, body schema and answer schemas by status. */
export interface ServedRoute {
  methods: string[];
  url: string;
  body?: z.ZodType;
  response: Record<string, z.ZodType>;
}

/** What the API and a plugin with every optional method serve. */
export interface Served {
  api: ServedRoute[];
  plugin: ServedRoute[];
  /** WebSocket upgrade paths (outside Fastify's router). */
  apiUpgrades: readonly string[];
  pluginUpgrades: readonly string[];
}

const isZod = (v: unknown): v is z.ZodType => v instanceof z.ZodType;
const REGISTER_HINT =
  'register it with `{ schema: { response: { 200: <zod schema> } } }` (body too if it has one)';

/** A registered route in our terms; throws when it has no zod schema for its 200 answer. */
export function servedRoute(route: Pick<RouteOptions, 'method' | 'url' | 'schema'>): ServedRoute {
  const methods = (Array.isArray(route.method) ? route.method : [route.method]).map(String);
  const where = `${methods.join('|')} ${route.url}`;
  const schema = route.schema ?? {};
  const response: Record<string, z.ZodType> = {};
  if (schema.response !== null && typeof schema.response === 'object') {
    for (const [status, s] of Object.entries(schema.response)) {
      if (!isZod(s)) throw new Error(`route ${where}: answer ${status} has no zod schema; ${REGISTER_HINT}`);
      response[status] = s;
    }
  }
  if (!response['200']) throw new Error(`route ${where} is registered without a schema; ${REGISTER_HINT}`);
  if (schema.body !== undefined && !isZod(schema.body))
    throw new Error(`route ${where}: body is not a zod schema`);
  return { methods, url: route.url, ...(schema.body ? { body: schema.body } : {}), response };
}

const isText = (s: z.ZodType) => s === TextAnswer || s === TextStream;
const isHtml = (s: z.ZodType) => s === HtmlPage;
/** The JSON members of an answer schema (a union may mix JSON and text). */
const jsonParts = (s: z.ZodType): z.ZodType[] =>
  (s instanceof z.ZodUnion ? (s.options as z.ZodType[]) : [s]).filter((o) => !isText(o) && !isHtml(o));
const hasText = (s: z.ZodType) =>
  isText(s) || (s instanceof z.ZodUnion && (s.options as z.ZodType[]).some(isText));
const capitalised = (m: string) => m.charAt(0).toUpperCase() + m.slice(1).toLowerCase();

function docOf(hop: Hop, url: string): OperationDoc {
  const doc = OPERATIONS[hop][url];
  if (!doc)
    throw new Error(
      `route ${url} (${hop}) is served but not described in scripts/wire/openapi-operations.ts`,
    );
  return doc;
}

function pathItem(hop: Hop, route: ServedRoute, of: (s: z.ZodType) => Json): Record<string, Json> {
  const doc = docOf(hop, route.url);
  const content = (s: z.ZodType): Json => {
    const parts = jsonParts(s).map(of);
    return {
      ...(parts.length === 1 ? json(parts[0]!) : parts.length > 1 ? json({ anyOf: parts }) : {}),
      ...(hasText(s) ? { 'text/plain': { schema: { type: 'string' } } } : {}),
      ...(isHtml(s) ? { 'text/html': { schema: { type: 'string' } } } : {}),
    };
  };
  const responses: Json = {};
  for (const [status, s] of Object.entries(route.response)) {
    const description = status === '200' ? doc.ok : doc.other?.[status];
    if (!description)
      throw new Error(`route ${route.url}: answer ${status} is not described (OperationDoc.other)`);
    responses[status] = { description, content: content(s) };
  }
  for (const status of doc.errors) {
    const e = ERROR_RESPONSES[status];
    if (!e) throw new Error(`route ${route.url}: no error answer ${status} in ERROR_RESPONSES`);
    responses[status] = errorRef(e.name);
  }
  const methods = route.methods.map((m) => m.toLowerCase()).sort();
  const op = (method: string): Json => ({
    tags: [hop],
    operationId: methods.length > 1 ? `${doc.id}${capitalised(method)}` : doc.id,
    summary: doc.summary,
    ...(doc.description ? { description: doc.description } : {}),
    ...(hop === 'ops' ? {} : { parameters: [{ $ref: '#/components/parameters/Session' }] }),
    ...(route.body
      ? {
          requestBody: {
            // A body schema that accepts no body (`nullish`) makes the body optional.
            required: !route.body.safeParse(undefined).success,
            content: json(of(route.body)),
          },
        }
      : {}),
    responses,
    ...(hop === 'api' ? { security: [{ bearerAuth: [] }] } : {}),
  });
  return Object.fromEntries(methods.map((m) => [m, op(m)]));
}

function streams(tag: 'api' | 'plugin', served: readonly string[]): Record<string, Json> {
  const all = streamOps(tag);
  for (const path of served) {
    if (!all[path])
      throw new Error(`upgrade route ${path} (${tag}) is served but not described in openapi-streams.ts`);
  }
  return Object.fromEntries(Object.entries(all).filter(([path]) => served.includes(path)));
}

/** Same methods, path and schemas: the health routes must be alike on every server. */
function sameRoute(a: ServedRoute, b: ServedRoute): boolean {
  const key = (r: ServedRoute) => [r.methods.join(), r.url, r.body, ...Object.entries(r.response).flat()];
  const ka = key(a);
  const kb = key(b);
  return ka.length === kb.length && ka.every((v, i) => v === kb[i]);
}

export function buildOpenApi(served: Served, version: string): Json {
  const isOps = (r: ServedRoute) => r.url in OPERATIONS.ops;
  const apiOps = served.api.filter(isOps);
  for (const r of served.plugin.filter(isOps)) {
    const twin = apiOps.find((a) => a.url === r.url);
    if (!twin || !sameRoute(twin, r))
      throw new Error(`health route ${r.url} differs between the API and plugins`);
  }
  const all = [...served.api, ...served.plugin];
  const { components, of } = convertSchemas(
    all.flatMap((r) => [...(r.body ? [r.body] : []), ...Object.values(r.response).flatMap(jsonParts)]),
  );
  const items = (hop: Hop, routes: ServedRoute[]) => {
    const out: Record<string, Json> = {};
    for (const r of routes) {
      if (out[r.url]) throw new Error(`route ${r.url} (${hop}) is registered twice: give it one method list`);
      out[r.url] = pathItem(hop, r, of);
    }
    for (const url of Object.keys(OPERATIONS[hop])) {
      if (!out[url])
        throw new Error(`openapi-operations.ts describes ${url} (${hop}), which no server registers`);
    }
    return out;
  };
  const responses: Json = {};
  for (const { name, description } of Object.values(ERROR_RESPONSES)) {
    responses[name] = { description, content: json(ref('ErrorBody')) };
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'interlink',
      version,
      description:
        'The interLink 0.6 wire, both hops. `paths`: the interLink API (virtual kubelet → API). `webhooks`: the plugin wire (API → plugin), named by the path a plugin serves. JSON names are exact and case-sensitive. Generated from the routes the API and the plugin SDK register (with their zod schemas) by `npm run openapi`.',
      license: { name: 'Apache-2.0', identifier: 'Apache-2.0' },
    },
    tags: [
      {
        name: 'api',
        description: 'interLink API: called by the virtual kubelet (port 3000 or a unix socket).',
      },
      {
        name: 'plugin',
        description: 'Plugin wire: called by the interLink API (docker 4000, slurm 4001, or a unix socket).',
      },
      { name: 'ops', description: 'Health and metrics, served by the API and by every plugin.' },
    ],
    paths: {
      ...items(
        'api',
        served.api.filter((r) => !isOps(r)),
      ),
      ...streams('api', served.apiUpgrades),
      ...items('ops', apiOps),
    },
    webhooks: {
      ...items(
        'plugin',
        served.plugin.filter((r) => !isOps(r)),
      ),
      ...streams('plugin', served.pluginUpgrades),
    },
    components: {
      schemas: components,
      responses,
      parameters: {
        Session: {
          name: 'InterLink-Http-Session',
          in: 'header',
          required: false,
          description: 'Correlates one request across VK, API and plugin: `<op>#<id>`. Echoed in the answer.',
          schema: { type: 'string' },
        },
      },
      securitySchemes: {
        bearerAuth: {
          type: 'http',
          scheme: 'bearer',
          description: 'A static token (token file) or an OIDC JWT, as configured on the API.',
        },
      },
    },
  };
}

/**
 * Operations that differ between two documents, one line each (`+` only in `served`, `-`
 * only in `committed`, `~` changed, naming the changed keys), and `components` changes.
 */
export function diffOpenApi(committed: Json, served: Json): string[] {
  const ops = (doc: Json) => {
    const out = new Map<string, string>();
    for (const section of ['paths', 'webhooks'] as const) {
      for (const [path, item] of Object.entries((doc[section] ?? {}) as Record<string, Json>)) {
        for (const [method, op] of Object.entries(item))
          out.set(`${section} ${method.toUpperCase()} ${path}`, JSON.stringify(op));
      }
    }
    return out;
  };
  const a = ops(committed);
  const b = ops(served);
  const lines: string[] = [];
  for (const [k, v] of b) {
    const old = a.get(k);
    if (old === undefined) lines.push(`+ ${k}`);
    else if (old !== v) {
      const o = JSON.parse(old) as Json;
      const n = JSON.parse(v) as Json;
      const keys = [...new Set([...Object.keys(o), ...Object.keys(n)])].filter(
        (key) => JSON.stringify(o[key]) !== JSON.stringify(n[key]),
      );
      lines.push(`~ ${k} (${keys.join(', ')})`);
    }
  }
  for (const k of a.keys()) if (!b.has(k)) lines.push(`- ${k}`);
  for (const key of ['info', 'tags', 'components'] as const) {
    if (JSON.stringify(committed[key]) !== JSON.stringify(served[key])) lines.push(`~ ${key}`);
  }
  return lines;
}
