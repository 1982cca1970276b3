/**
 * What the schemas cannot say about each served route: its summary, description, the error
 * answers it can give and what its 200 means. Keyed by hop and path; scripts/wire/openapi.ts
 * fails when a served route has no entry here or an entry names a route nobody serves.
 * A path served with several methods gets one operation per method, `id` + Method.
 */
export interface OperationDoc {
  id: string;
  summary: string;
  description?: string;
  /** What a 200 answer carries. */
  ok: string;
  /** Other answers the route's schema declares (status → description). */
  other?: Record<string, string>;
  /** Error answers (status codes in ERROR_RESPONSES). */
  errors: string[];
}

export type Hop = 'api' | 'plugin' | 'ops';

const GET_WITH_BODY =
  'interLink 0.6 sends this request as GET with a JSON body; POST with the same body is accepted too.';
const API_ERRORS = ['400', '401', '413', '502', '503', '504'];
const PLUGIN_ERRORS = ['400', '413', '502', '503', '504'];

const API: Record<string, OperationDoc> = {
  '/create': {
    id: 'create',
    summary: 'Create a pod in the backend',
    description: 'Idempotent per pod UID: creating a pod the backend has returns its existing job id.',
    ok: 'The backend job id.',
    errors: API_ERRORS,
  },
  '/delete': {
    id: 'delete',
    summary: 'Delete a pod in the backend',
    description:
      'Idempotent: deleting an unknown pod succeeds. DELETE (interLink 0.6) and POST are accepted.',
    ok: 'Deleted.',
    errors: API_ERRORS,
  },
  '/status': {
    id: 'status',
    summary: 'Status of many pods in one call',
    description: `${GET_WITH_BODY} No body, or JSON \`null\`, is an empty list. Pods the backend does not know are left out of the answer.`,
    ok: 'One PodStatus per known pod.',
    errors: API_ERRORS,
  },
  '/getLogs': {
    id: 'getLogs',
    summary: 'A container log, streamed',
    description: `${GET_WITH_BODY} With \`Opts.Follow\` the answer stays open until the container ends or the client goes away.`,
    ok: 'The log, as text.',
    errors: [...API_ERRORS, '404'],
  },
  '/pinglink': {
    id: 'pinglink',
    summary: "The plugin's ping answer",
    description: 'No body. 503 with a reason when the plugin is down.',
    ok: "The plugin's answer: PingResponse JSON, or text from older plugins.",
    errors: ['401', '502', '503', '504'],
  },
  '/updateCache': {
    id: 'updateCache',
    summary: "Drop a pod's cached status",
    ok: 'Done.',
    errors: ['400', '401', '413'],
  },
  '/stats/summary': {
    id: 'statsSummary',
    summary: "The plugin's kubelet /stats/summary document (interlink addition)",
    description: 'Relayed from the plugin; 404 when the plugin offers no stats.',
    ok: 'A kubelet stats summary.',
    errors: ['401', '404', '502', '503', '504'],
  },
  '/list': {
    id: 'list',
    summary: 'Every pod the backend runs or holds (interlink addition)',
    description:
      "Relayed from the plugin's `GET /list`, never cached. 501 when the plugin cannot list (interLink 0.6 plugins): the virtual kubelet then sweeps no orphans.",
    ok: 'One entry per backend pod.',
    errors: ['401', '501', '502', '503', '504'],
  },
  '/statuspage': {
    id: 'statusPage',
    summary: 'Read-only HTML status page (interlink addition)',
    description:
      "The pods this API knows (from their create and the plugin's last status): namespace/name, UID, phase, backend job id, age, last error, a link to each container's log; and the plugin's health from one ping. Every pod string is HTML-escaped; the Content-Security-Policy allows no script. Not to be confused with the wire's `GET /status`.",
    ok: 'An HTML page (text/html; charset=utf-8).',
    errors: ['401'],
  },
  '/statuspage/logs': {
    id: 'statusPageLogs',
    summary: "The last lines of one container's log, for the status page's links (interlink addition)",
    description:
      "Query `namespace`, `pod`, `container` and optional `tailLines` (1..10000, default 500); the pod must be known to this API. Relayed from the plugin's `/getLogs` as text, never following.",
    ok: 'The log text.',
    errors: ['400', '401', '404', '502', '503', '504'],
  },
};

const PLUGIN: Record<string, OperationDoc> = {
  '/create': {
    id: 'pluginCreate',
    summary: 'Submit a pod to the backend',
    description: 'Idempotent per pod UID. The body is RetrievedPodData or a one-element array of it.',
    ok: 'The backend job id.',
    errors: PLUGIN_ERRORS,
  },
  '/delete': {
    id: 'pluginDelete',
    summary: "Stop and remove a pod's backend job",
    description: 'Answers only once the backend confirms; deleting an unknown pod succeeds.',
    ok: 'Deleted.',
    errors: PLUGIN_ERRORS,
  },
  '/status': {
    id: 'pluginStatus',
    summary: 'Status of many pods in one call',
    description: `${GET_WITH_BODY} Unknown pods are left out. An empty array is a ping (interLink 0.6).`,
    ok: 'One PodStatus per known pod.',
    errors: PLUGIN_ERRORS,
  },
  '/getLogs': {
    id: 'pluginGetLogs',
    summary: 'A container log, streamed',
    description: `${GET_WITH_BODY} With \`Opts.Follow\` the stream stays open until the container ends or the caller goes away.`,
    ok: 'The log, as text.',
    errors: [...PLUGIN_ERRORS, '404'],
  },
  '/ping': {
    id: 'pluginPing',
    summary: 'Health and capacity (interlink addition)',
    description:
      'Only when the plugin implements `ping`; without it (404) the API pings with `GET /status []`.',
    ok: 'Health and capacity.',
    errors: ['502', '503'],
  },
  '/list': {
    id: 'pluginList',
    summary: 'Every pod the backend runs or holds (interlink addition)',
    description:
      'Read from the backend (labels, job directories), so a restarted plugin lists what it ran before. Only when the plugin implements `list` (404 without, as from an interLink 0.6 plugin).',
    ok: 'One entry per backend pod.',
    errors: ['502', '503'],
  },
  '/stats/summary': {
    id: 'pluginStatsSummary',
    summary: 'kubelet /stats/summary-shaped document (interlink addition)',
    description: 'Only when the plugin implements `stats` (404 without).',
    ok: 'A kubelet stats summary.',
    errors: ['502'],
  },
};

const OPS: Record<string, OperationDoc> = {
  '/healthz': { id: 'healthz', summary: 'Liveness: the process serves requests', ok: 'ok', errors: [] },
  '/readyz': {
    id: 'readyz',
    summary: 'Readiness',
    ok: 'ok',
    other: { '503': '`not ready` (the reason goes to the log).' },
    errors: [],
  },
  '/metrics': {
    id: 'metrics',
    summary: 'Prometheus metrics',
    ok: 'Prometheus text exposition format.',
    errors: [],
  },
};

export const OPERATIONS: Record<Hop, Record<string, OperationDoc>> = { api: API, plugin: PLUGIN, ops: OPS };
