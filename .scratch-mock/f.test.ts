import { it, expect } from 'vitest';
import { FakeClock } from '../src/core/clock.ts';
import { pod, StreamReader, serveMock } from '../test/plugins/mock/helpers.ts';
it('dbg', async () => {
  const clock = new FakeClock(Date.parse('2026-01-01T00:00:00Z'));
  const s = await serveMock('tcp', { clock, defaults: { startDelayMs: 1000, logLines: 3, logIntervalMs: 1000 } });
  await s.client.call({ method: 'POST', path: '/create', body: { pod: pod('l1', { annotations: { 'mock.interlink.io/run-time': '10s' } }) } });
  await clock.advance(1000);
  const res = await s.client.stream({ method: 'GET', path: '/getLogs', body: { Namespace: 'default', PodUID: 'l1', PodName: 'pod-l1', ContainerName: 'main', Opts: { Follow: true, Timestamps: true } } });
  const r = new StreamReader(res.body);
  console.log('A', JSON.stringify(await r.until('line 1\n')), clock.pending(), clock.nextAt());
  await clock.advance(1000);
  console.log('B pending', clock.pending(), clock.nextAt());
  console.log('B', JSON.stringify(await r.until('line 2\n')));
  await s.close();
}, 5000);
