/**
 * The OpenAPI 3.1 document of both hops, generated from the zod schemas the code validates
 * with (so it cannot drift from them; test/wire/openapi.test.ts checks the checked-in copy).
 *
 * - `paths`: the interLink API (VK → API, tag "api") and the health/metrics routes every
 *   process serves (tag "ops").
 * - `webhooks`: the plugin wire (API → plugin, tag "plugin"). OpenAPI allows a path once per
 *   document and both hops use `/create`, `/status`, ... with different bodies; 3.1's
 *   `webhooks` describes exactly this: requests the API sends to a server the operator
 *   runs. Each webhook is named by the path the plugin serves.
 *
 * Request schemas are the accepted input (`io: "input"`); Kubernetes objects are open
 * (`additionalProperties`): unknown fields pass through unmodified.
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
} from './interlink.ts';
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
} from './k8s.ts';

type Json = Record<string, unknown>;

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

const ref = (id: string) => ({ $ref: `#/components/schemas/${id}` });
const json = (schema: Json) => ({ 'application/json': { schema } });
const text = (description: string) => ({
  description,
  content: { 'text/plain': { schema: { type: 'string' } } },
});
const errorRef = (name: string) => ({ $ref: `#/components/responses/${name}` });

function componentSchemas(): Record<string, Json> {
  const registry = z.registry<{ id: string; description: string }>();
  for (const [schema, id, description] of COMPONENTS) registry.add(schema, { id, description });
  const out = z.toJSONSchema(registry, {
    io: 'input',
    unrepresentable: 'any',
    metadata: registry,
    uri: (id) => `#/components/schemas/${id}`,
  }) as { schemas: Record<string, Json> };
  const schemas: Record<string, Json> = {};
  for (const [id] of COMPONENTS.map(([, id]) => [id] as const)) {
    const { $schema: _s, $id: _i, ...rest } = out.schemas[id]!;
    schemas[id] = rest;
  }
  // A preprocess step is opaque to JSON Schema: state the two accepted shapes by hand.
  schemas.RetrievedPodDataBody = {
    description: schemas.RetrievedPodDataBody!.description,
    anyOf: [
      ref('RetrievedPodData'),
      { type: 'array', items: ref('RetrievedPodData'), minItems: 1, maxItems: 1 },
    ],
  };
  return schemas;
}

interface Op {
  tag: 'api' | 'plugin';
  id: string;
  summary: string;
  description?: string;
  body?: Json;
  bodyDescription?: string;
  ok: Json;
  errors: string[];
}

function operation(op: Op): Json {
  const responses: Json = { '200': op.ok };
  for (const e of op.errors) responses[e] = errorRef(ERROR_RESPONSES[e]!.name);
  return {
    tags: [op.tag],
    operationId: op.id,
    summary: op.summary,
    ...(op.description ? { description: op.description } : {}),
    parameters: [{ $ref: '#/components/parameters/Session' }],
    ...(op.body
      ? {
          requestBody: {
            required: true,
            ...(op.bodyDescription ? { description: op.bodyDescription } : {}),
            content: json(op.body),
          },
        }
      : {}),
    responses,
    ...(op.tag === 'api' ? { security: [{ bearerAuth: [] }] } : {}),
  };
}

const ERROR_RESPONSES: Record<string, { name: string; description: string }> = {
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

const GET_WITH_BODY =
  'interLink 0.6 sends this request as GET with a JSON body; POST with the same body is accepted too.';

function apiPaths(): Json {
  const common = ['400', '401', '413', '502', '503', '504'];
  const podList = { type: 'array', items: ref('Pod') };
  const status = (method: string) =>
    operation({
      tag: 'api',
      id: `status${method}`,
      summary: 'Status of many pods in one call',
      description: `${GET_WITH_BODY} Pods the backend does not know are left out of the answer.`,
      body: podList,
      ok: {
        description: 'One PodStatus per known pod.',
        content: json({ type: 'array', items: ref('PodStatus') }),
      },
      errors: common,
    });
  const logs = (method: string) =>
    operation({
      tag: 'api',
      id: `getLogs${method}`,
      summary: 'A container log, streamed',
      description: `${GET_WITH_BODY} With \`Opts.Follow\` the answer stays open until the container ends or the client goes away.`,
      body: ref('LogStruct'),
      ok: text('The log, as text.'),
      errors: [...common, '404'],
    });
  const del = (method: string) =>
    operation({
      tag: 'api',
      id: `delete${method}`,
      summary: 'Delete a pod in the backend',
      description:
        'Idempotent: deleting an unknown pod succeeds. DELETE (interLink 0.6) and POST are accepted.',
      body: ref('Pod'),
      ok: text('Deleted.'),
      errors: common,
    });
  return {
    '/create': {
      post: operation({
        tag: 'api',
        id: 'create',
        summary: 'Create a pod in the backend',
        description: 'Idempotent per pod UID: creating a pod the backend has returns its existing job id.',
        body: ref('PodCreateRequests'),
        ok: { description: 'The backend job id.', content: json(ref('CreateStruct')) },
        errors: common,
      }),
    },
    '/delete': { delete: del('Delete'), post: del('Post') },
    '/status': { get: status('Get'), post: status('Post') },
    '/getLogs': { get: logs('Get'), post: logs('Post') },
    '/pinglink': {
      post: operation({
        tag: 'api',
        id: 'pinglink',
        summary: "The plugin's ping answer",
        description: 'No body. 503 with a reason when the plugin is down.',
        ok: {
          description: "The plugin's answer: PingResponse JSON, or text from older plugins.",
          content: { ...json(ref('PingResponse')), 'text/plain': { schema: { type: 'string' } } },
        },
        errors: ['401', '502', '503', '504'],
      }),
    },
    '/list': {
      get: operation({
        tag: 'api',
        id: 'list',
        summary: 'Every pod the backend runs or holds (interlink addition)',
        description:
          "Relayed from the plugin's `GET /list`, never cached. 501 when the plugin cannot list (interLink 0.6 plugins): the virtual kubelet then sweeps no orphans.",
        ok: {
          description: 'One entry per backend pod.',
          content: json({ type: 'array', items: ref('BackendPod') }),
        },
        errors: ['401', '501', '502', '503', '504'],
      }),
    },
    '/updateCache': {
      post: operation({
        tag: 'api',
        id: 'updateCache',
        summary: "Drop a pod's cached status",
        body: ref('Pod'),
        ok: text('Done.'),
        errors: ['400', '401', '413'],
      }),
    },
  };
}

function opsPaths(): Json {
  const get = (id: string, summary: string, ok: Json, extra: Json = {}) => ({
    get: { tags: ['ops'], operationId: id, summary, responses: { '200': ok, ...extra } },
  });
  return {
    '/healthz': get('healthz', 'Liveness: the process serves requests', text('ok')),
    '/readyz': get('readyz', 'Readiness', text('ok'), { '503': text('`not ready: <reason>`') }),
    '/metrics': get('metrics', 'Prometheus metrics', text('Prometheus text exposition format.')),
  };
}

function pluginWebhooks(): Json {
  const common = ['400', '413', '502', '503', '504'];
  const podList = { type: 'array', items: ref('Pod') };
  const both = (methods: string[], build: (method: string) => Op) =>
    Object.fromEntries(methods.map((m) => [m.toLowerCase(), operation(build(m))]));
  return {
    '/create': {
      post: operation({
        tag: 'plugin',
        id: 'pluginCreate',
        summary: 'Submit a pod to the backend',
        description: 'Idempotent per pod UID. The body is RetrievedPodData or a one-element array of it.',
        body: ref('RetrievedPodDataBody'),
        ok: { description: 'The backend job id.', content: json(ref('CreateStruct')) },
        errors: common,
      }),
    },
    '/delete': both(['Post', 'Delete'], (m) => ({
      tag: 'plugin',
      id: `pluginDelete${m}`,
      summary: "Stop and remove a pod's backend job",
      description: 'Answers only once the backend confirms; deleting an unknown pod succeeds.',
      body: ref('Pod'),
      ok: text('Deleted.'),
      errors: common,
    })),
    '/status': both(['Get', 'Post'], (m) => ({
      tag: 'plugin',
      id: `pluginStatus${m}`,
      summary: 'Status of many pods in one call',
      description: `${GET_WITH_BODY} Unknown pods are left out. An empty array is a ping (interLink 0.6).`,
      body: podList,
      ok: {
        description: 'One PodStatus per known pod.',
        content: json({ type: 'array', items: ref('PodStatus') }),
      },
      errors: common,
    })),
    '/getLogs': both(['Get', 'Post'], (m) => ({
      tag: 'plugin',
      id: `pluginGetLogs${m}`,
      summary: 'A container log, streamed',
      description: `${GET_WITH_BODY} With \`Opts.Follow\` the stream stays open until the container ends or the caller goes away.`,
      body: ref('LogStruct'),
      ok: text('The log, as text.'),
      errors: [...common, '404'],
    })),
    '/ping': {
      get: operation({
        tag: 'plugin',
        id: 'pluginPing',
        summary: 'Health and capacity (interlink addition)',
        ok: { description: 'Health and capacity.', content: json(ref('PingResponse')) },
        errors: ['502', '503'],
      }),
    },
    '/list': {
      get: operation({
        tag: 'plugin',
        id: 'pluginList',
        summary: 'Every pod the backend runs or holds (interlink addition)',
        description:
          'Read from the backend (labels, job directories), so a restarted plugin lists what it ran before. A plugin without it answers 501 (or 404, interLink 0.6).',
        ok: {
          description: 'One entry per backend pod.',
          content: json({ type: 'array', items: ref('BackendPod') }),
        },
        errors: ['501', '502', '503'],
      }),
    },
    '/stats/summary': {
      get: operation({
        tag: 'plugin',
        id: 'pluginStatsSummary',
        summary: 'kubelet /stats/summary-shaped document (interlink addition)',
        ok: { description: 'A kubelet stats summary.', content: json({ type: 'object' }) },
        errors: ['404', '502'],
      }),
    },
  };
}

/**
 * The streaming routes (wire/streams.ts, interlink additions): WebSocket upgrades, described
 * as GETs answered 101. `tag` api (VK → API, bearer auth) or plugin (API → plugin).
 */
function streamOps(tag: 'api' | 'plugin'): Json {
  const q = (name: string, description: string, required = true, schema: Json = { type: 'string' }) => ({
    name,
    in: 'query',
    required,
    description,
    schema,
  });
  const who = [
    q('namespace', 'Pod namespace (RFC 1123 label).'),
    q('name', 'Pod name (RFC 1123 subdomain).'),
    q('uid', 'Pod UID.'),
  ];
  const flags = ['stdin', 'stdout', 'stderr', 'tty'].map((f) =>
    q(
      f,
      `\`1\` to open the ${f} channel${f === 'tty' ? ' (a terminal; stderr merges into stdout)' : ''}.`,
      false,
      {
        enum: ['0', '1', 'true', 'false'],
      },
    ),
  );
  const execLike = (id: string, summary: string, command: boolean) => ({
    get: {
      tags: [tag],
      operationId: `${tag === 'plugin' ? 'plugin' : ''}${id}`,
      summary: `${summary} (interlink addition)`,
      description:
        'Upgraded to a WebSocket with subprotocol `v5.channel.k8s.io`: each message is a channel byte then data — 0 stdin, 1 stdout, 2 stderr, 3 error (one metav1.Status JSON; a non-zero exit is `reason: NonZeroExitCode` with a `details.causes` entry `{reason: ExitCode, message: "<n>"}`), 4 resize (`{"Width":..,"Height":..}`); `[255, ch]` closes channel `ch`. A server without this route answers 501 (interLink 0.6 has none).',
      parameters: [
        { $ref: '#/components/parameters/Session' },
        ...who,
        q('container', 'Container name.'),
        ...(command
          ? [
              q('command', 'argv of the command, one parameter per element (repeat it).', true, {
                type: 'array',
                items: { type: 'string' },
              }),
            ]
          : []),
        ...flags,
      ],
      responses: {
        '101': { description: 'Switching Protocols (WebSocket, `v5.channel.k8s.io`).' },
        '400': errorRef('InvalidInput'),
        ...(tag === 'api' ? { '401': errorRef('Unauthenticated') } : {}),
        '404': errorRef('NotFound'),
        '501': { description: 'The plugin does not implement this route.' },
        '503': errorRef('Unavailable'),
      },
      ...(tag === 'api' ? { security: [{ bearerAuth: [] }] } : {}),
    },
  });
  return {
    '/exec': execLike('exec', 'Run a command in a container, streamed', true),
    '/attach': execLike('attach', "Attach to a container's main process, streamed", false),
    '/portforward': {
      get: {
        tags: [tag],
        operationId: `${tag === 'plugin' ? 'plugin' : ''}portForward`,
        summary: 'One TCP connection to a port of the pod (interlink addition)',
        description:
          'Upgraded to a WebSocket with subprotocol `v5.channel.k8s.io`: channel 0 carries the connection both ways, channel 1 a failure message (text); `[255, 0]` half-closes. One upgrade per connection.',
        parameters: [
          { $ref: '#/components/parameters/Session' },
          ...who,
          q('port', 'Port in the pod network namespace.', true, {
            type: 'integer',
            minimum: 1,
            maximum: 65535,
          }),
        ],
        responses: {
          '101': { description: 'Switching Protocols (WebSocket, `v5.channel.k8s.io`).' },
          '400': errorRef('InvalidInput'),
          ...(tag === 'api' ? { '401': errorRef('Unauthenticated') } : {}),
          '404': errorRef('NotFound'),
          '501': { description: 'The plugin does not implement this route.' },
        },
        ...(tag === 'api' ? { security: [{ bearerAuth: [] }] } : {}),
      },
    },
  };
}

export function buildOpenApi(version: string): Json {
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
        'The interLink 0.6 wire, both hops. `paths`: the interLink API (virtual kubelet → API). `webhooks`: the plugin wire (API → plugin), named by the path a plugin serves. JSON names are exact and case-sensitive. Generated from src/wire by `npm run openapi`.',
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
    paths: { ...apiPaths(), ...streamOps('api'), ...opsPaths() },
    webhooks: { ...pluginWebhooks(), ...streamOps('plugin') },
    components: {
      schemas: componentSchemas(),
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
