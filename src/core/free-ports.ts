/**
 * Free TCP ports for processes we start ourselves (`interlink up`'s control plane and chain,
 * and the tests' servers), chosen so that nothing else takes them before the process binds.
 *
 * Asking the OS for port 0 and closing the socket again is racy in a way that matters: the
 * port comes from the ephemeral range, the same range the kernel draws from for every
 * outgoing connection, so on a busy machine a client socket can take it in the gap (CI saw
 * `EADDRINUSE` on a port the test had just been given). Ports below the ephemeral range are
 * never handed out implicitly, so only another process choosing the same one by hand can
 * collide, and picking at random over thousands of them makes that unlikely.
 */
import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';

/** The lowest port we pick; below it sit well-known and registered services. */
const FLOOR = 10_000;
/** Fewer candidates than this below the ephemeral range: fall back to asking the OS. */
const MIN_WINDOW = 1_000;
const ATTEMPTS = 200;

/** [low, high] of the kernel's ephemeral ports; the IANA range where /proc does not say. */
export async function ephemeralRange(): Promise<[number, number]> {
  const text = await readFile('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').catch(() => '');
  const [low, high] = text.trim().split(/\s+/).map(Number);
  return low && high && low <= high ? [low, high] : [49_152, 65_535];
}

/** Listen on `port` (0: the OS picks); undefined when it is taken. */
function hold(port: number, host: string): Promise<Server | undefined> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', (err: NodeJS.ErrnoException) =>
      err.code === 'EADDRINUSE' || err.code === 'EACCES' ? resolve(undefined) : reject(err),
    );
    s.listen({ port, host, exclusive: true }, () => resolve(s));
  });
}

const portOf = (s: Server): number => {
  const addr = s.address();
  if (addr === null || typeof addr === 'string') throw new Error('freePorts: no TCP address');
  return addr.port;
};

/**
 * `n` distinct ports free on `host` now, below the ephemeral range when it leaves room. All
 * are held at once (so they differ) and released before returning: a caller binds them next.
 * `random` is injectable so a test can force collisions.
 */
export async function freePorts(n: number, host = '127.0.0.1', random = Math.random): Promise<number[]> {
  const [low] = await ephemeralRange();
  const window = low - FLOOR;
  const held: Server[] = [];
  try {
    for (let attempt = 0; held.length < n; attempt++) {
      if (attempt >= ATTEMPTS) throw new Error(`freePorts: no free port after ${ATTEMPTS} attempts`);
      const port = window >= MIN_WINDOW ? FLOOR + Math.floor(random() * window) : 0;
      const s = await hold(port, host);
      if (s) held.push(s);
    }
    return held.map(portOf);
  } finally {
    await Promise.all(held.map((s) => new Promise<void>((r) => s.close(() => r()))));
  }
}

/** One free port; see freePorts. */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  const [port] = await freePorts(1, host);
  return port as number;
}
