/**
 * Hostile and broken input: every case is a 4xx whose message names the field, and the
 * server keeps serving afterwards.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type ApiUnderTest,
  captureLogger,
  pod,
  startApi,
  startMock,
  tempDir,
  writeTokenFile,
} from './harness.ts';

const LIMIT = 64 * 1024;
const logReq = { Namespace: 'default', PodUID: 'u-ok', PodName: 'ok', ContainerName: 'main', Opts: {} };

describe('bad input', () => {
  let api: ApiUnderTest;
  let mock: Awaited<ReturnType<typeof startMock>>;
  let cleanup: () => Promise<void>;
  const { logger } = captureLogger();

  beforeAll(async () => {
    const t = await tempDir();
    cleanup = t.cleanup;
    const pluginSocket = join(t.dir, 'plugin.sock');
    mock = await startMock(pluginSocket, logger);
    api = await startApi({
      listen: 'tcp',
      pluginSocket,
      logger,
      overrides: { 'auth.tokenFile': await writeTokenFile(t.dir), bodyLimit: LIMIT },
    });
    expect((await api.client.request('POST', '/create', { pod: pod('ok', 'u-ok') })).status).toBe(200);
  });
  afterAll(async () => {
    await api?.close();
    await mock?.close();
    await cleanup?.();
  });

  const cases: Array<{
    what: string;
    method: 'GET' | 'POST' | 'DELETE';
    path: string;
    body: unknown;
    status: number;
    message: RegExp;
  }> = [
    {
      what: 'malformed JSON on /create',
      method: 'POST',
      path: '/create',
      body: '{"pod": {',
      status: 400,
      message: /malformed JSON/,
    },
    {
      what: 'malformed JSON on /status',
      method: 'GET',
      path: '/status',
      body: '[{]',
      status: 400,
      message: /malformed JSON/,
    },
    {
      what: '/status body not an array',
      method: 'GET',
      path: '/status',
      body: { pods: [] },
      status: 400,
      message: /expected array/,
    },
    {
      what: 'create without pod',
      method: 'POST',
      path: '/create',
      body: { configmaps: [] },
      status: 400,
      message: /pod/,
    },
    {
      what: 'a number where a name belongs',
      method: 'POST',
      path: '/create',
      body: { pod: { ...pod('x', 'u-x'), metadata: { name: 123, namespace: 'default', uid: 'u-x' } } },
      status: 400,
      message: /pod\.metadata\.name/,
    },
    {
      what: 'configmaps not an array',
      method: 'POST',
      path: '/create',
      body: { pod: pod('x', 'u-x'), configmaps: 'nope' },
      status: 400,
      message: /configmaps/,
    },
    {
      what: 'a pod without spec on create',
      method: 'POST',
      path: '/create',
      body: { pod: { metadata: { name: 'x', namespace: 'default', uid: 'u-x' } } },
      status: 400,
      message: /pod\.spec/,
    },
    {
      what: 'a referenced ConfigMap missing from the request',
      method: 'POST',
      path: '/create',
      body: {
        pod: {
          ...pod('x', 'u-x'),
          spec: {
            volumes: [{ name: 'v', configMap: { name: 'cfg' } }],
            containers: [{ name: 'main', volumeMounts: [{ name: 'v', mountPath: '/v' }] }],
          },
        },
      },
      status: 400,
      message: /configmaps: .*ConfigMap "cfg"/,
    },
    {
      what: 'Tail as a string',
      method: 'GET',
      path: '/getLogs',
      body: { ...logReq, Opts: { Tail: '10' } },
      status: 400,
      message: /Opts\.Tail/,
    },
    {
      what: 'negative Bytes',
      method: 'GET',
      path: '/getLogs',
      body: { ...logReq, Opts: { Bytes: -1 } },
      status: 400,
      message: /Opts\.Bytes/,
    },
    {
      what: 'SinceSeconds and SinceTime together',
      method: 'GET',
      path: '/getLogs',
      body: { ...logReq, Opts: { SinceSeconds: 10, SinceTime: '2026-01-01T00:00:00Z' } },
      status: 400,
      message: /Opts\.SinceTime/,
    },
    {
      what: 'an unknown pod UID on /getLogs',
      method: 'GET',
      path: '/getLogs',
      body: { ...logReq, PodUID: 'no-such-uid' },
      status: 404,
      message: /no-such-uid/,
    },
    {
      what: 'an unknown container on /getLogs',
      method: 'GET',
      path: '/getLogs',
      body: { ...logReq, ContainerName: 'ghost' },
      status: 404,
      message: /ghost/,
    },
    {
      what: 'a delete without metadata.uid',
      method: 'DELETE',
      path: '/delete',
      body: { metadata: { name: 'x', namespace: 'default' } },
      status: 400,
      message: /metadata\.uid/,
    },
    {
      what: 'updateCache with a bare uid string (not a pod)',
      method: 'POST',
      path: '/updateCache',
      body: '"u-ok"',
      status: 400,
      message: /expected object/,
    },
  ];
  for (const hostile of ['../../etc/passwd', 'a"b', "it's", 'x\ny', 'UPPER', 'a b', '$(reboot)']) {
    cases.push(
      {
        what: `pod name ${JSON.stringify(hostile)}`,
        method: 'POST',
        path: '/create',
        body: { pod: { ...pod('x', 'u-h'), metadata: { name: hostile, namespace: 'default', uid: 'u-h' } } },
        status: 400,
        message: /pod\.metadata\.name/,
      },
      {
        what: `namespace ${JSON.stringify(hostile)} on /getLogs`,
        method: 'GET',
        path: '/getLogs',
        body: { ...logReq, Namespace: hostile },
        status: 400,
        message: /Namespace/,
      },
      {
        what: `container ${JSON.stringify(hostile)} on /getLogs`,
        method: 'POST',
        path: '/getLogs',
        body: { ...logReq, ContainerName: hostile },
        status: 400,
        message: /ContainerName/,
      },
    );
    // UIDs may carry upper case (they are opaque tokens), nothing else on this list.
    if (hostile === 'UPPER') continue;
    cases.push(
      {
        what: `PodUID ${JSON.stringify(hostile)} on /getLogs`,
        method: 'GET',
        path: '/getLogs',
        body: { ...logReq, PodUID: hostile },
        status: 400,
        message: /PodUID/,
      },
      {
        what: `uid ${JSON.stringify(hostile)} on /delete`,
        method: 'DELETE',
        path: '/delete',
        body: { metadata: { name: 'x', namespace: 'default', uid: hostile } },
        status: 400,
        message: /metadata\.uid/,
      },
    );
  }

  for (const c of cases) {
    it(`${c.what} → ${c.status} naming the field`, async () => {
      const res = await api.client.request(c.method, c.path, c.body);
      expect(res.status, res.text).toBe(c.status);
      expect(res.json()).toMatchObject({
        code: expect.any(String),
        message: expect.stringMatching(c.message),
      });
    });
  }

  it('a body over the configured limit → 413, and the server keeps serving', async () => {
    const big = {
      pod: {
        ...pod('big', 'u-big'),
        metadata: {
          name: 'big',
          namespace: 'default',
          uid: 'u-big',
          annotations: { pad: 'x'.repeat(LIMIT) },
        },
      },
    };
    const res = await api.client.request('POST', '/create', big);
    expect(res.status).toBe(413);
    expect(res.json()).toMatchObject({
      code: 'TOO_LARGE',
      message: expect.stringMatching(/larger than the limit/),
    });
  });

  it('after all of the above the server still serves', async () => {
    expect((await api.client.request('GET', '/healthz')).status).toBe(200);
    const logs = await api.client.request('GET', '/getLogs', logReq);
    expect(logs.status).toBe(200);
    const status = await api.client.request('GET', '/status', [pod('ok', 'u-ok')]);
    expect(status.json()[0].UID).toBe('u-ok');
    // Nothing hostile reached the plugin.
    expect(Object.keys(mock.mock.calls().create)).toEqual(['u-ok']);
    expect(mock.mock.calls().delete).toEqual({});
  });
});
