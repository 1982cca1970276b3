/**
 * The JSON Schema side of docs/openapi.json: the named wire schemas (`components.schemas`),
 * the error answers, and the conversion of a route's zod schema (body or answer) into JSON
 * Schema that refers to those components. Request schemas are the accepted input
 * (`io: "input"`); Kubernetes objects are open (`additionalProperties`).
 */
import { z } from 'zod';
import {
  BackendPod,
  CreateStruct,
  ErrorBody,
  LogOpts,
  LogStruct,
  PingResponse,
  PodCreateRequests,
  PodStatus,
  RetrievedContainer,
  RetrievedPodData,
  RetrievedPodDataBody,
} from '../../src/wire/interlink.ts';
import {
  ConfigMap,
  Container,
  ContainerState,
  ContainerStatus,
  ObjectMeta,
  Pod,
  PodMeta,
  PodSpec,
  Secret,
} from '../../src/wire/k8s.ts';

export type Json = Record<string, unknown>;

const COMPONENTS: Array<[z.ZodType, string, string]> = [
  [ObjectMeta, 'ObjectMeta', 'Kubernetes ObjectMeta; only the fields interlink reads are checked.'],
  [PodMeta, 'PodMeta', 'ObjectMeta of a Pod: namespace and uid are required.'],
  [Container, 'Container', 'A v1.Container.'],
  [PodSpec, 'PodSpec', 'A v1.PodSpec.'],
  [Pod, 'Pod', 'A v1.Pod. `spec` may be absent on delete and status calls.'],
  [ConfigMap, 'ConfigMap', 'A v1.ConfigMap.'],
  [Secret, 'Secret', 'A v1.Secret (`data` base64-encoded, as the apiserver serves it).'],
  [
    ContainerState,
    'ContainerState',
    'A v1.ContainerState. `null` members are accepted (interLink 0.6 Python SDK plugins send them).',
  ],
  [
    ContainerStatus,
    'ContainerStatus',
    'A v1.ContainerStatus. `ready` and `restartCount` may be absent (Python SDK plugins send only name and state).',
  ],
  [
    PodCreateRequests,
    'PodCreateRequests',
    'VK → API create: the pod and every object it references, resolved by the VK.',
  ],
  [RetrievedContainer, 'RetrievedContainer', 'Per-container volume data the API hands to the plugin.'],
  [RetrievedPodData, 'RetrievedPodData', 'API → plugin create.'],
  [
    RetrievedPodDataBody,
    'RetrievedPodDataBody',
    'RetrievedPodData, or a one-element array of it (older plugins).',
  ],
  [CreateStruct, 'CreateStruct', 'The backend job id (`PodJID`) of a pod (`PodUID`).'],
  [PodStatus, 'PodStatus', 'Container statuses of one pod, as the backend sees them.'],
  [
    BackendPod,
    'BackendPod',
    'A pod the backend runs or holds (interlink addition, `GET /list`); names as in PodStatus.',
  ],
  [
    LogOpts,
    'LogOpts',
    'ContainerLogOpts. Zero values mean unset. `Bytes` is the byte limit (`LimitBytes` is accepted too); `SinceSeconds` keeps lines newer than now − SinceSeconds; a zero `SinceTime` (`0001-01-01T00:00:00Z`) means unset.',
  ],
  [LogStruct, 'LogStruct', 'A request for one container log.'],
  [PingResponse, 'PingResponse', 'Plugin health and the capacity the virtual node advertises.'],
  [
    ErrorBody,
    'ErrorBody',
    'Error answer of interlink processes (additive: interLink 0.6 answered plain text).',
  ],
];

export const ref = (id: string) => ({ $ref: `#/components/schemas/${id}` });
export const json = (schema: Json) => ({ 'application/json': { schema } });
export const text = (description: string) => ({
  description,
  content: { 'text/plain': { schema: { type: 'string' } } },
});
export const errorRef = (name: string) => ({ $ref: `#/components/responses/${name}` });

export const ERROR_RESPONSES: Record<string, { name: string; description: string }> = {
  '400': {
    name: 'InvalidInput',
    description: 'Malformed or invalid input; `field` names the offending field.',
  },
  '401': { name: 'Unauthenticated', description: 'No bearer token, or one that is not valid.' },
  '404': { name: 'NotFound', description: 'Unknown pod or container.' },
  '413': { name: 'TooLarge', description: 'The body is larger than the configured limit.' },
  '501': {
    name: 'NotSupported',
    description: 'The plugin does not offer this call (an interLink 0.6 plugin has no `/list`).',
  },
  '502': { name: 'Backend', description: 'The backend (or the plugin, seen from the API) failed.' },
  '503': { name: 'Unavailable', description: 'The plugin (or backend) cannot be reached.' },
  '504': { name: 'Timeout', description: 'The plugin (or backend) did not answer in time.' },
};

/**
 * JSON Schema for the components and for each of `schemas` (the routes' bodies and answers):
 * a component is a `$ref`, anything else is inlined with `$ref`s to the components it uses.
 */
export function convertSchemas(schemas: readonly z.ZodType[]): {
  components: Record<string, Json>;
  of: (schema: z.ZodType) => Json;
} {
  const registry = z.registry<{ id: string; description?: string }>();
  for (const [schema, id, description] of COMPONENTS) registry.add(schema, { id, description });
  const inline = new Map<z.ZodType, string>();
  for (const schema of schemas) {
    if (registry.has(schema) || inline.has(schema)) continue;
    const id = `Route${inline.size}`;
    inline.set(schema, id);
    registry.add(schema, { id });
  }
  const out = z.toJSONSchema(registry, {
    io: 'input',
    unrepresentable: 'any',
    metadata: registry,
    uri: (id) => `#/components/schemas/${id}`,
  }).schemas;
  const clean = (id: string): Json => {
    const { $schema: _s, $id: _i, ...rest } = out[id] ?? {};
    return rest;
  };
  const components: Record<string, Json> = {};
  for (const [, id] of COMPONENTS) components[id] = clean(id);
  // A preprocess step is opaque to JSON Schema: state the two accepted shapes by hand.
  components.RetrievedPodDataBody = {
    description: components.RetrievedPodDataBody?.description,
    anyOf: [
      ref('RetrievedPodData'),
      { type: 'array', items: ref('RetrievedPodData'), minItems: 1, maxItems: 1 },
    ],
  };
  if (JSON.stringify(components).includes('#/components/schemas/Route')) {
    throw new Error('a component refers to a route schema: name that schema in COMPONENTS');
  }
  return {
    components,
    of: (schema) => {
      const id = registry.get(schema)?.id;
      if (id === undefined) throw new Error('schema was not given to convertSchemas');
      return inline.has(schema) ? clean(id) : ref(id);
    },
  };
}
