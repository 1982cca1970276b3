import { createServer, type Server } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ephemeralRange, freePort, freePorts } from '../../src/core/free-ports.ts';

const open: Server[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((s) => new Promise<void>((r) => s.close(() => r()))));
});

const listenOn = (port: number) =>
  new Promise<Server>((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(port, '127.0.0.1', () => {
      open.push(s);
      resolve(s);
    });
  });

describe('freePorts', () => {
  it('gives distinct ports below the ephemeral range, each bindable', async () => {
    const [low] = await ephemeralRange();
    const ports = await freePorts(8);
    expect(new Set(ports).size).toBe(8);
    for (const p of ports) {
      expect(p).toBeGreaterThanOrEqual(10_000);
      expect(p).toBeLessThan(low);
      await listenOn(p);
    }
  });

  it('passes over a port something already holds', async () => {
    const taken = await freePort();
    await listenOn(taken);
    // `random` points the first two picks at the held port, the third elsewhere.
    const [low] = await ephemeralRange();
    const window = low - 10_000;
    const onTaken = (taken - 10_000 + 0.5) / window;
    const elsewhere = ((taken - 10_000 + window / 2) % window) / window;
    const picks = [onTaken, onTaken, elsewhere];
    const [got] = await freePorts(1, '127.0.0.1', () => picks.shift() ?? Math.random());
    expect(picks).toEqual([]);
    expect(got).not.toBe(taken);
    await listenOn(got as number);
  });

  it('reads the ephemeral range from the kernel on Linux', async () => {
    const [low, high] = await ephemeralRange();
    expect(low).toBeGreaterThan(1024);
    expect(high).toBeGreaterThanOrEqual(low);
  });
});
