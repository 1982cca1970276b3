/**
 * The streaming routes of docs/openapi.json (exec, attach, port-forward: WebSocket upgrades
 * outside Fastify's router, described as GETs answered 101). Their paths are checked against
 * the upgrade routes a server really serves (`upgradePaths`); the query parameters mirror
 * `ExecQuery` and `PortForwardQuery` in src/wire/streams.ts.
 */
import { STREAM_PATHS } from '../../src/wire/streams.ts';
import { errorRef, type Json } from './openapi-schemas.ts';

/**
 * The streaming routes (wire/streams.ts, interlink additions): WebSocket upgrades, described
 * as GETs answered 101. `tag` api (VK → API, bearer auth) or plugin (API → plugin).
 */
export function streamOps(tag: 'api' | 'plugin'): Record<string, Json> {
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
      `\`1\` to open the ${f} channel${f === 'tty' ? " (a terminal: stderr merges into stdout; the first size on channel 4 sizes it and later ones resize it — docker `docker exec -t`, slurm `srun --pty`, both on a pty of the plugin's own)" : ''}.`,
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
    [STREAM_PATHS.exec]: execLike('exec', 'Run a command in a container, streamed', true),
    [STREAM_PATHS.attach]: execLike('attach', "Attach to a container's main process, streamed", false),
    [STREAM_PATHS.portForward]: {
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
