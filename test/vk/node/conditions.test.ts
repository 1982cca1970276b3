import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { V1NodeCondition } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../../src/core/free-ports.ts';
import { createInterlinkClient } from '../../../src/vk/interlink-client.ts';
import {
  classifyPingError,
  computeConditions,
  type PingOutcome,
  readinessChanged,
} from '../../../src/vk/node/conditions.ts';

const t0 = new Date('2026-01-01T00:00:00Z');
const t1 = new Date('2026-01-01T00:01:00Z');

const byType = (cs: V1NodeCondition[]) => Object.fromEntries(cs.map((c) => [c.type, c]));

describe('node conditions from the ping outcome', () => {
  const table: Array<[string, PingOutcome, string, string, string]> = [
    ['ping ok', { kind: 'ok', response: {} }, 'True', 'KubeletReady', 'True'],
    [
      'API down',
      { kind: 'api-down', message: 'connect ECONNREFUSED 127.0.0.1:3000' },
      'False',
      'InterlinkUnreachable',
      'False',
    ],
    [
      'plugin down',
      { kind: 'plugin-down', message: 'POST /pinglink: plugin unreachable' },
      'False',
      'PluginUnreachable',
      'False',
    ],
    ['not pinged yet', { kind: 'unknown', message: 'starting' }, 'False', 'KubeletNotReady', 'False'],
  ];
  it.each(table)('%s → Ready=%s (%s)', (_n, outcome, ready, reason, connectivity) => {
    const cs = byType(computeConditions(outcome, undefined, t0));
    expect(Object.keys(cs).sort()).toEqual([
      'DiskPressure',
      'InterlinkConnectivity',
      'MemoryPressure',
      'NetworkUnavailable',
      'PIDPressure',
      'Ready',
    ]);
    expect(cs.Ready).toMatchObject({ status: ready, reason });
    expect(cs.InterlinkConnectivity?.status).toBe(connectivity);
    for (const t of ['MemoryPressure', 'DiskPressure', 'PIDPressure', 'NetworkUnavailable'])
      expect(cs[t]?.status).toBe('False');
    if (outcome.kind === 'api-down' || outcome.kind === 'plugin-down') {
      // The message quotes the error, so `kubectl describe node` says what is wrong.
      expect(cs.Ready?.message).toContain(outcome.message);
      expect(cs.InterlinkConnectivity?.reason).toBe(reason);
    }
  });

  it('keeps lastTransitionTime while a status holds and moves it on a change', () => {
    const first = computeConditions({ kind: 'ok', response: undefined }, undefined, t0);
    const same = byType(computeConditions({ kind: 'ok', response: undefined }, first, t1));
    expect(same.Ready).toMatchObject({ lastTransitionTime: t0, lastHeartbeatTime: t1 });
    const down = byType(computeConditions({ kind: 'api-down', message: 'x' }, first, t1));
    expect(down.Ready).toMatchObject({ lastTransitionTime: t1, status: 'False' });
    expect(down.MemoryPressure?.lastTransitionTime).toEqual(t0);
  });

  it('readinessChanged sees status and reason changes only', () => {
    const ok = computeConditions({ kind: 'ok', response: undefined }, undefined, t0);
    const api = computeConditions({ kind: 'api-down', message: 'a' }, undefined, t0);
    const api2 = computeConditions({ kind: 'api-down', message: 'b' }, undefined, t1);
    const plugin = computeConditions({ kind: 'plugin-down', message: 'a' }, undefined, t0);
    expect(readinessChanged(undefined, ok)).toBe(true);
    expect(readinessChanged(ok, computeConditions({ kind: 'ok', response: undefined }, ok, t1))).toBe(false);
    expect(readinessChanged(ok, api)).toBe(true);
    expect(readinessChanged(api, api2)).toBe(false);
    expect(readinessChanged(api, plugin)).toBe(true);
  });
});

describe('classifying real ping failures of the interLink client', () => {
  let server: Server;
  let port: number;
  beforeAll(async () => {
    // An API whose plugin is down answers 503, as ours and interLink 0.6 do.
    server = createServer((_req, res) => {
      res.writeHead(503, { 'content-type': 'text/plain' });
      res.end('plugin unreachable: connect ENOENT /run/plugin.sock');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it('503 from the API → plugin down', async () => {
    const client = createInterlinkClient({
      endpoint: { kind: 'tcp', protocol: 'http', host: '127.0.0.1', port },
    });
    const err = await client.ping().then(
      () => undefined,
      (e: unknown) => e,
    );
    await client.close();
    const outcome = classifyPingError(err);
    expect(outcome.kind).toBe('plugin-down');
    expect((outcome as { message: string }).message).toContain('plugin unreachable');
  });

  it('nothing listening → API down', async () => {
    const closedPort = await freePort();
    const client = createInterlinkClient({
      endpoint: { kind: 'tcp', protocol: 'http', host: '127.0.0.1', port: closedPort },
    });
    const err = await client.ping().then(
      () => undefined,
      (e: unknown) => e,
    );
    await client.close();
    const outcome = classifyPingError(err);
    expect(outcome.kind).toBe('api-down');
    expect((outcome as { message: string }).message).toContain('ECONNREFUSED');
  });
});
