/**
 * The status page (issue #17 item 5): a small read-only HTML page on the interLink API,
 * behind the same auth as every other route, built from the status cache (the pods this API
 * knows: from their create and the last status the plugin reported) and one ping of the
 * plugin. Our addition; nothing of the interLink 0.6 wire changes.
 *
 *   GET /statuspage        the page: one row per pod (namespace/name, UID, phase, job id,
 *                          age, last error, a link to each container's log) and the
 *                          plugin's health
 *   GET /statuspage/logs   ?namespace=&pod=&container=[&tailLines=] the last lines of one
 *                          container's log as text, for those links (the wire's /getLogs
 *                          takes a JSON body, which a link cannot send)
 *
 * Everything a pod author or a plugin wrote (names, messages, job ids) is HTML-escaped;
 * the Content-Security-Policy allows no script, no external fetch and no framing. The page
 * needs no JS; it refreshes itself with a meta refresh.
 *
 * The rendering is pure (rows → HTML), tested by tables; the route gathers the inputs.
 */
import { z } from 'zod';
import type { ZodApp } from '../core/http-server.ts';
import { codeOf, notFound } from '../errors/index.ts';
import { HtmlPage, type PodStatus, TextStream } from '../wire/interlink.ts';
import type { ContainerStatus } from '../wire/k8s.ts';
import { DnsLabel, DnsSubdomain } from '../wire/k8s.ts';
import type { ViaPlugin } from './list.ts';
import type { PingAnswer, PluginClient } from './plugin-client.ts';
import type { CachedStatus, KnownPod, StatusCache } from './status-cache.ts';

/** What the page allows: inline styles, nothing else (no script, image, fetch or frame). */
export const STATUS_PAGE_CSP =
  "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

export const STATUS_PAGE_PATH = '/statuspage';
export const STATUS_LOGS_PATH = '/statuspage/logs';
/** Lines of a container's log the page links to (`tailLines` picks another count, up to the max). */
export const LOG_TAIL = { default: 500, max: 10_000 } as const;

export interface PodRow {
  namespace: string;
  name: string;
  uid: string;
  phase: 'Pending' | 'Running' | 'Succeeded' | 'Failed' | 'Unknown';
  jid: string;
  /** `42s`, `5m`, `3h`, `2d`; `>` in front when only the API's first sight of the pod is known. */
  age: string;
  lastError: string;
  /** Containers whose log the page links to (none while the backend has no such pod). */
  containers: string[];
}

export interface PluginHealth {
  ok: boolean;
  /** One line: the plugin's status and resources, or why it does not answer. */
  text: string;
}

const esc = (s: string) =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

export { esc as escapeHtml };

/** kubectl-style age of `ms` milliseconds. */
export function formatAge(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 120) return `${s}s`;
  if (s < 120 * 60) return `${Math.floor(s / 60)}m`;
  if (s < 48 * 3600) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86400)}d`;
}

const all = (s: PodStatus): ContainerStatus[] => [...(s.initContainers ?? []), ...(s.containers ?? [])];

/** The pod's phase as the plugin's container states say it (the VK computes the same for the Pod). */
export function phaseOf(status: PodStatus | undefined, createError: string | undefined): PodRow['phase'] {
  if (!status) return createError ? 'Failed' : 'Pending';
  const init = status.initContainers ?? [];
  const app = status.containers ?? [];
  if (init.some((c) => (c.state?.terminated?.exitCode ?? 0) !== 0)) return 'Failed';
  if (app.length === 0) return 'Pending';
  if (app.every((c) => c.state?.terminated)) {
    return app.some((c) => c.state?.terminated?.exitCode !== 0) ? 'Failed' : 'Succeeded';
  }
  if (app.some((c) => c.state?.running)) return 'Running';
  return app.some((c) => c.state?.waiting || c.state?.terminated) ? 'Pending' : 'Unknown';
}

/** Reasons a container waits for that are no error. */
const ROUTINE_WAITS = new Set(['ContainerCreating', 'PodInitializing']);

/** The first thing that went wrong: the create's error, a failed container, a container stuck waiting. */
export function lastErrorOf(status: PodStatus | undefined, createError: string | undefined): string {
  if (createError) return `create failed: ${createError}`;
  for (const c of status ? all(status) : []) {
    const t = c.state?.terminated;
    if (t && t.exitCode !== 0) {
      const why = [t.reason, t.message].filter(Boolean).join(': ');
      return `${c.name}: exit code ${t.exitCode}${why ? ` (${why})` : ''}`;
    }
    const w = c.state?.waiting;
    if (w?.reason && !ROUTINE_WAITS.has(w.reason)) {
      return `${c.name}: ${w.reason}${w.message ? `: ${w.message}` : ''}`;
    }
  }
  return '';
}

/** One row per known pod, sorted by namespace and name. Pure. */
export function podRows(pods: Array<{ pod: KnownPod; status?: CachedStatus }>, now: number): PodRow[] {
  return pods
    .map(({ pod, status }): PodRow => {
      const s = status?.status;
      const created = pod.createdAt ? Date.parse(pod.createdAt) : Number.NaN;
      const age = Number.isNaN(created) ? `>${formatAge(now - pod.firstSeen)}` : formatAge(now - created);
      // A pod whose create failed has nothing in the backend to read logs from.
      const containers =
        !s && pod.createError
          ? []
          : pod.containers.length > 0
            ? pod.containers
            : s
              ? all(s).map((c) => c.name)
              : [];
      return {
        namespace: pod.namespace,
        name: pod.name,
        uid: pod.uid,
        phase: phaseOf(s, pod.createError),
        jid: s?.JID || pod.jid || '',
        age,
        lastError: lastErrorOf(s, pod.createError),
        containers,
      };
    })
    .sort((a, b) => a.namespace.localeCompare(b.namespace) || a.name.localeCompare(b.name));
}

/** The plugin's ping answer as one line of text. */
export function describePing(answer: PingAnswer): string {
  if ('text' in answer) return answer.text.trim().slice(0, 200) || 'answering';
  const j = answer.json as { status?: unknown; resources?: Record<string, unknown> } | unknown[] | null;
  if (!j || Array.isArray(j)) return 'answering (interLink 0.6 plugin)';
  const parts = [typeof j.status === 'string' ? j.status : 'answering'];
  const r = j.resources;
  if (r && typeof r === 'object') {
    for (const k of ['cpu', 'memory', 'pods'] as const)
      if (typeof r[k] === 'string' || typeof r[k] === 'number') parts.push(`${k} ${String(r[k])}`);
  }
  return parts.join(', ');
}

function logHref(row: PodRow, container: string): string {
  const q = new URLSearchParams({ namespace: row.namespace, pod: row.name, container });
  // Relative, so the page works behind a proxy that mounts the API under a prefix.
  return `${STATUS_LOGS_PATH.slice(1)}?${q.toString()}`;
}

const STYLE = `body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222}
h1{font-size:1.3em;margin:0 0 .3em}p.meta{color:#555;margin:.2em 0 1em}
table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:.35em .6em;border-bottom:1px solid #ddd;vertical-align:top}
th{background:#f3f3f3}td.uid,td.jid{font-family:monospace;font-size:12px}td.err{color:#a40000;max-width:32em;word-break:break-word}
.ok{color:#0a6b0a}.bad{color:#a40000}.phase-Running{color:#0a6b0a}.phase-Failed{color:#a40000}.phase-Succeeded{color:#1f4f9a}`;

/** The whole page. Every argument string is escaped here, once. Pure. */
export function renderStatusPage(view: { rows: PodRow[]; plugin: PluginHealth; at: Date }): string {
  const rows = view.rows.map((r) => {
    const logs = r.containers.map((c) => `<a href="${esc(logHref(r, c))}">${esc(c)}</a>`).join(' ');
    return `<tr><td>${esc(r.namespace)}/${esc(r.name)}</td><td class="uid">${esc(r.uid)}</td><td class="phase-${r.phase}">${r.phase}</td><td class="jid">${esc(r.jid)}</td><td>${esc(r.age)}</td><td class="err">${esc(r.lastError)}</td><td>${logs}</td></tr>`;
  });
  const empty = '<tr><td colspan="7">No pods known to this API yet.</td></tr>';
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta http-equiv="refresh" content="10">
<title>interLink API status</title><style>${STYLE}</style></head><body>
<h1>interLink API status</h1>
<p class="meta">Plugin: <span id="plugin" class="${view.plugin.ok ? 'ok' : 'bad'}">${esc(view.plugin.text)}</span></p>
<p class="meta">${view.rows.length} pod${view.rows.length === 1 ? '' : 's'} known, as of ${esc(view.at.toISOString())}; this page refreshes every 10 s.</p>
<table id="pods"><thead><tr><th>Pod</th><th>UID</th><th>Phase</th><th>Job id</th><th>Age</th><th>Last error</th><th>Logs</th></tr></thead>
<tbody>${rows.join('\n') || empty}</tbody></table>
</body></html>
`;
}

const LogsQuery = z.object({
  namespace: DnsLabel,
  pod: DnsSubdomain,
  container: DnsLabel,
  tailLines: z.coerce.number().int().min(1).max(LOG_TAIL.max).default(LOG_TAIL.default),
});

export interface StatusPageDeps {
  cache: StatusCache;
  plugin: PluginClient;
  viaPlugin: ViaPlugin;
  /** How long the page waits for the plugin's ping, ms. */
  pingTimeoutMs?: number;
  now?: () => number;
}

/** Register GET /statuspage and GET /statuspage/logs on the API app (whose auth hook guards them). */
export function registerStatusPage(app: ZodApp, deps: StatusPageDeps): void {
  const now = deps.now ?? Date.now;
  app.get(STATUS_PAGE_PATH, { schema: { response: { 200: HtmlPage } } }, async (req, reply) => {
    let plugin: PluginHealth;
    try {
      plugin = { ok: true, text: describePing(await deps.plugin.ping(req.id, deps.pingTimeoutMs ?? 2_000)) };
    } catch (err) {
      // Why, by code only: where the plugin listens is for the log, not for the page.
      req.log.info({ err: (err as Error).message }, 'status page: plugin ping failed');
      plugin = { ok: false, text: `not answering (${codeOf(err) ?? 'error'})` };
    }
    const t = now();
    const html = renderStatusPage({ rows: podRows(deps.cache.pods(), t), plugin, at: new Date(t) });
    reply.header('content-security-policy', STATUS_PAGE_CSP);
    reply.header('x-content-type-options', 'nosniff');
    reply.header('referrer-policy', 'no-referrer');
    reply.header('cache-control', 'no-store');
    return reply.type('text/html; charset=utf-8').send(html);
  });

  app.get(
    STATUS_LOGS_PATH,
    { schema: { querystring: LogsQuery, response: { 200: TextStream } } },
    async (req, reply) => {
      const q = req.query;
      const known = deps.cache.pods().find((p) => p.pod.namespace === q.namespace && p.pod.name === q.pod);
      if (!known) throw notFound(`pod ${q.namespace}/${q.pod} is not known to this API`);
      const names = podRows([known], now())[0]!.containers;
      if (!names.includes(q.container)) {
        throw notFound(`container ${q.container} is not known in pod ${q.namespace}/${q.pod}`);
      }
      const ctl = new AbortController();
      reply.raw.once('close', () => ctl.abort(new Error('log reader went away')));
      const logStruct = {
        Namespace: q.namespace,
        PodUID: known.pod.uid,
        PodName: q.pod,
        ContainerName: q.container,
        Opts: { Tail: q.tailLines },
      };
      const answer = await deps.viaPlugin(req, 'getLogs', () =>
        deps.plugin.logs(logStruct, req.id, ctl.signal),
      );
      reply.header('content-security-policy', "default-src 'none'; sandbox");
      reply.header('x-content-type-options', 'nosniff');
      reply.header('cache-control', 'no-store');
      return reply.type('text/plain; charset=utf-8').send(answer.body);
    },
  );
}
