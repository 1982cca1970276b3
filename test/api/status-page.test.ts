/**
 * The API's status page (src/api/status-page.ts): its pure parts by tables, then the real
 * API over TCP with the real mock plugin behind it — pods created through /create and
 * polled through /status, the page and its log links read over HTTP, hostile pod strings
 * rendered as text. The headless-Chromium run against a whole chain is
 * test/e2e/status-page.test.ts.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StatusCache } from '../../src/api/status-cache.ts';
import {
  describePing,
  escapeHtml,
  formatAge,
  lastErrorOf,
  phaseOf,
  podRows,
  renderStatusPage,
  STATUS_PAGE_CSP,
} from '../../src/api/status-page.ts';
import type { PodStatus } from '../../src/wire/interlink.ts';
import type { ContainerStatus } from '../../src/wire/k8s.ts';
import {
  type ApiUnderTest,
  captureLogger,
  pod,
  startApi,
  startMock,
  tempDir,
  writeTokenFile,
} from './harness.ts';

const running: ContainerStatus = { name: 'main', state: { running: { startedAt: '2026-01-15T10:00:01Z' } } };
const waiting = (reason: string, message?: string): ContainerStatus => ({
  name: 'main',
  state: { waiting: { reason, ...(message ? { message } : {}) } },
});
const ended = (
  exitCode: number,
  name = 'main',
  reason = exitCode ? 'Error' : 'Completed',
): ContainerStatus => ({
  name,
  state: { terminated: { exitCode, reason } },
});
const status = (containers: ContainerStatus[], initContainers: ContainerStatus[] = []): PodStatus => ({
  name: 'p',
  UID: 'u',
  namespace: 'default',
  JID: 'j',
  containers,
  initContainers,
});

describe('status page: pure parts', () => {
  it.each([
    ['no status yet', undefined, undefined, 'Pending'],
    ['create failed, no status', undefined, 'boom', 'Failed'],
    ['no containers reported', status([]), undefined, 'Pending'],
    ['waiting', status([waiting('ContainerCreating')]), undefined, 'Pending'],
    ['running', status([running]), undefined, 'Running'],
    ['running beside one done', status([running, ended(0, 'side')]), undefined, 'Running'],
    ['all exited 0', status([ended(0), ended(0, 'b')]), undefined, 'Succeeded'],
    ['one exited non-zero', status([ended(0), ended(3, 'b')]), undefined, 'Failed'],
    ['init failed', status([waiting('PodInitializing')], [ended(1, 'init')]), undefined, 'Failed'],
    ['no state at all', status([{ name: 'main' }]), undefined, 'Unknown'],
  ] as const)('phaseOf: %s → %s', (_l, s, err, want) => {
    expect(phaseOf(s, err)).toBe(want);
  });

  it.each([
    ['nothing wrong', status([running]), undefined, ''],
    ['routine wait', status([waiting('ContainerCreating')]), undefined, ''],
    ['create error wins', status([ended(2)]), 'quota exceeded', 'create failed: quota exceeded'],
    [
      'non-zero exit',
      status([ended(0, 'a'), ended(137, 'b', 'OOMKilled')]),
      undefined,
      'b: exit code 137 (OOMKilled)',
    ],
    [
      'exit with message',
      status([
        { name: 'main', state: { terminated: { exitCode: 1, reason: 'Error', message: 'no such file' } } },
      ]),
      undefined,
      'main: exit code 1 (Error: no such file)',
    ],
    [
      'stuck waiting',
      status([waiting('ImagePullBackOff', 'pull denied')]),
      undefined,
      'main: ImagePullBackOff: pull denied',
    ],
    ['init first', status([ended(1, 'app')], [ended(2, 'init')]), undefined, 'init: exit code 2 (Error)'],
  ] as const)('lastErrorOf: %s', (_l, s, err, want) => {
    expect(lastErrorOf(s, err)).toBe(want);
  });

  it.each([
    [0, '0s'],
    [59_999, '59s'],
    [119_000, '119s'],
    [120_000, '2m'],
    [3 * 3600_000, '3h'],
    [47 * 3600_000, '47h'],
    [5 * 86400_000, '5d'],
    [-5_000, '0s'],
  ])('formatAge(%i) = %s', (ms, want) => {
    expect(formatAge(ms)).toBe(want);
  });

  it('escapes every HTML metacharacter', () => {
    expect(escapeHtml(`<a href="x" onclick='y'>&</a>`)).toBe(
      '&lt;a href=&quot;x&quot; onclick=&#39;y&#39;&gt;&amp;&lt;/a&gt;',
    );
  });

  it('rows: known from create or from a status only, sorted, ages from creation or first sight', () => {
    let now = Date.parse('2026-01-15T10:05:00Z');
    const cache = new StatusCache(() => now);
    cache.noteCreate(pod('web', 'uid-web', {}, ['setup', 'main']) as never, { jid: 'job-1' });
    cache.update([{ ...status([running]), name: 'adopted', UID: 'uid-a', namespace: 'apps', JID: 'j-9' }]);
    now += 30_000;
    const rows = podRows(cache.pods(), now);
    expect(rows.map((r) => `${r.namespace}/${r.name}`)).toEqual(['apps/adopted', 'default/web']);
    expect(rows[0]).toMatchObject({ phase: 'Running', jid: 'j-9', age: '>30s', containers: ['main'] });
    expect(rows[1]).toMatchObject({
      phase: 'Pending',
      jid: 'job-1',
      age: '5m',
      containers: ['setup', 'main'],
    });
  });

  it.each([
    [
      { json: { status: 'ok', resources: { cpu: '64', memory: '256Gi', pods: '1000' } } },
      'ok, cpu 64, memory 256Gi, pods 1000',
    ],
    [{ json: [] }, 'answering (interLink 0.6 plugin)'],
    [{ text: 'pong\n' }, 'pong'],
  ])('describePing(%j)', (answer, want) => {
    expect(describePing(answer)).toBe(want);
  });

  it('renders hostile strings as text: no tag, no attribute breaks out', () => {
    const html = renderStatusPage({
      rows: [
        {
          namespace: 'default',
          name: 'x"><script>alert(1)</script>',
          uid: "u'><img src=x onerror=alert(2)>",
          phase: 'Failed',
          jid: '<b>jid</b>',
          age: '1s',
          lastError: 'create failed: <script>alert(3)</script>',
          containers: ['c"><script>alert(4)</script>'],
        },
      ],
      plugin: { ok: false, text: '<script>alert(5)</script>' },
      at: new Date('2026-01-15T10:00:00Z'),
    });
    expect(html).not.toMatch(/<script|<img|<b>/i);
    expect(html).toContain('create failed: &lt;script&gt;alert(3)&lt;/script&gt;');
    expect(html).toContain('&lt;b&gt;jid&lt;/b&gt;');
    // The log link's query is URL-encoded, then attribute-escaped.
    expect(html).toContain('href="statuspage/logs?namespace=default&amp;pod=x%22%3E%3Cscript%3E');
  });
});

describe('status page on the API over TCP → mock plugin', () => {
  let api: ApiUnderTest;
  let mock: Awaited<ReturnType<typeof startMock>>;
  let cleanup: () => Promise<void>;

  beforeAll(async () => {
    const t = await tempDir();
    cleanup = t.cleanup;
    const logs = captureLogger();
    const pluginSocket = join(t.dir, 'plugin.sock');
    mock = await startMock(pluginSocket, logs.logger);
    api = await startApi({
      listen: 'tcp',
      pluginSocket,
      logger: logs.logger,
      overrides: { 'auth.tokenFile': await writeTokenFile(t.dir) },
    });
    const ok = await api.client.request('POST', '/create', {
      pod: pod('web-1', 'uid-web-1', { 'mock.interlink.io/log-interval': '1ms' }),
    });
    expect(ok.status, ok.text).toBe(200);
    const bad = await api.client.request('POST', '/create', {
      pod: pod('evil', 'uid-evil', { 'mock.interlink.io/create-error': '<script>alert(1)</script> refused' }),
    });
    expect(bad.status).toBe(502);
    const polled = await api.client.request('GET', '/status', [pod('web-1', 'uid-web-1')]);
    expect(polled.status).toBe(200);
  });
  afterAll(async () => {
    await api?.close();
    await mock?.close();
    await cleanup?.();
  });

  it('GET /statuspage: HTML with the pods, job id, plugin health, strict CSP, no caching', async () => {
    const res = await api.client.request('GET', '/statuspage');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(res.headers['content-security-policy']).toBe(STATUS_PAGE_CSP);
    expect(STATUS_PAGE_CSP).toContain("default-src 'none'; style-src 'unsafe-inline'");
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.text).toContain('default/web-1');
    expect(res.text).toContain('uid-web-1');
    expect(res.text).toMatch(/<td class="phase-Running">Running<\/td><td class="jid">[^<]+<\/td>/);
    expect(res.text).toContain('<span id="plugin" class="ok">ok');
  });

  it("a create error with <script> in it is shown as text (the pod author's string is untrusted)", async () => {
    const res = await api.client.request('GET', '/statuspage');
    expect(res.text).toContain('default/evil');
    expect(res.text).toMatch(/create failed: [^<]*&lt;script&gt;alert\(1\)&lt;\/script&gt; refused/);
    // Nothing in the backend, so no log link.
    expect(res.text).not.toContain('pod=evil');
    expect(res.text).not.toContain('<script');
  });

  it('each container links to its log, which the same auth serves as text', async () => {
    const page = await api.client.request('GET', '/statuspage');
    const href = /href="(statuspage\/logs\?[^"]+)"/.exec(page.text)?.[1]?.replaceAll('&amp;', '&');
    expect(href).toBe('statuspage/logs?namespace=default&pod=web-1&container=main');
    const res = await api.client.request('GET', `/${href}&tailLines=3`);
    expect(res.status, res.text).toBe(200);
    expect(res.headers['content-type']).toBe('text/plain; charset=utf-8');
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.text.trim().split('\n').length).toBeLessThanOrEqual(3);
  });

  it.each([
    ['an unknown pod', '/statuspage/logs?namespace=default&pod=nope&container=main', 404],
    ['an unknown container', '/statuspage/logs?namespace=default&pod=web-1&container=other', 404],
    ['a bad namespace', '/statuspage/logs?namespace=Bad_NS&pod=web-1&container=main', 400],
    ['no container', '/statuspage/logs?namespace=default&pod=web-1', 400],
    ['a tail too long', '/statuspage/logs?namespace=default&pod=web-1&container=main&tailLines=99999', 400],
  ])('logs of %s → %i', async (_l, path, code) => {
    expect((await api.client.request('GET', path)).status).toBe(code);
  });

  it.each(['/statuspage', '/statuspage/logs?namespace=default&pod=web-1&container=main'])(
    'unauthenticated %s → 401',
    async (path) => {
      const res = await api.client.request('GET', path, undefined, { authorization: '' });
      expect(res.status).toBe(401);
      expect(res.text).not.toContain('web-1');
    },
  );

  it('is read-only: only GET is served', async () => {
    expect((await api.client.request('POST', '/statuspage', {})).status).toBe(404);
  });

  it('a deleted pod leaves the page; a plugin that stops answering shows as such', async () => {
    expect((await api.client.request('POST', '/delete', pod('evil', 'uid-evil'))).status).toBe(200);
    expect((await api.client.request('GET', '/statuspage')).text).not.toContain('default/evil');
    await mock.close();
    const res = await api.client.request('GET', '/statuspage');
    expect(res.status).toBe(200);
    expect(res.text).toContain('<span id="plugin" class="bad">not answering (UNAVAILABLE)');
    expect(res.text).toContain('default/web-1');
  });
});
