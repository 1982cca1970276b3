/**
 * Exec, attach and port-forward for the mock plugin: a few built-in commands instead of
 * processes, so the layers above (SDK, API relay, VK kubelet streams) are tested end to end
 * without a container runtime.
 *
 *   echo ARGS..    ARGS joined by spaces, newline, on stdout
 *   cat            stdin to stdout until stdin ends
 *   stderr ARGS..  ARGS on stderr
 *   exit N         exit code N
 *   tty            "rows cols" of every resize, on stdout, until stdin ends
 *   anything else  "mock: COMMAND: not found" on stderr, exit 127
 *
 * attach behaves as `cat`; port-forward echoes the connection's bytes back.
 */
import type { Duplex, Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ExecIO } from '../../core/channel-ws.ts';
import { notFound } from '../../errors/index.ts';
import type { ExecQuery, PortForwardQuery } from '../../wire/streams.ts';

export interface MockPodLookup {
  has(uid: string, container?: string): boolean;
}

const write = (w: Writable | undefined, text: string) =>
  new Promise<void>((resolve) => (w ? w.write(text, () => resolve()) : resolve()));

async function drain(r: Readable | undefined, into?: Writable): Promise<void> {
  if (!r) return;
  if (into) await pipeline(r, into, { end: false }).catch(() => {});
  else for await (const _ of r);
}

export async function mockExec(pods: MockPodLookup, req: ExecQuery, io: ExecIO): Promise<number> {
  if (!pods.has(req.uid, req.container))
    throw notFound(
      `container "${req.container}" of pod ${req.namespace}/${req.name} is not known to the mock plugin`,
    );
  const [cmd, ...args] = req.command.length > 0 ? req.command : ['cat'];
  switch (cmd) {
    case 'echo':
      await write(io.stdout, `${args.join(' ')}\n`);
      return 0;
    case 'cat':
      await drain(io.stdin, io.stdout);
      return 0;
    case 'stderr':
      await write(io.stderr, `${args.join(' ')}\n`);
      return 0;
    case 'exit': {
      const n = Number(args[0] ?? '0');
      return Number.isInteger(n) && n >= 0 && n < 256 ? n : 2;
    }
    case 'tty': {
      const sizes = (async () => {
        for await (const s of io.resizes ?? []) await write(io.stdout, `${s.Height} ${s.Width}\n`);
      })();
      await drain(io.stdin);
      await Promise.race([sizes, Promise.resolve()]);
      return 0;
    }
    default:
      await write(io.stderr, `mock: ${cmd}: not found\n`);
      return 127;
  }
}

export async function mockPortForward(
  pods: MockPodLookup,
  req: PortForwardQuery,
  conn: Duplex,
): Promise<void> {
  if (!pods.has(req.uid)) throw notFound(`pod ${req.namespace}/${req.name} is not known to the mock plugin`);
  await pipeline(conn, conn);
}
