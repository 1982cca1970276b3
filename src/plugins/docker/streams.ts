/**
 * exec, attach and port-forward of the docker plugin: which container a stream goes to
 * (from the index), and the Docker CLI runs of exec.ts that carry it.
 */
import type { Duplex } from 'node:stream';
import type { ExecIO } from '../../core/channel-ws.ts';
import { notFound } from '../../errors/index.ts';
import type { ExecQuery, PortForwardQuery } from '../../wire/streams.ts';
import type { DockerCli } from './cli.ts';
import { isLocalEngine } from './engine.ts';
import { type DockerSpawn, dockerAttach, dockerExec, dockerPortForward } from './exec.ts';
import type { IndexEntry } from './pod-index.ts';

export interface StreamDeps {
  cli: DockerCli;
  dockerHost: string | undefined;
  /** The index entry of a pod, once the index is loaded. */
  entry: (uid: string) => Promise<IndexEntry | undefined>;
}

type Target = { uid: string; namespace: string; name: string };

/** The pod's entry and the id of `container` (the first container when none is named). */
async function streamContainer(d: StreamDeps, q: Target, container?: string) {
  const entry = await d.entry(q.uid);
  if (!entry) throw notFound(`pod ${q.namespace}/${q.name} (${q.uid}) is not known to the docker plugin`);
  const id = container === undefined ? entry.byName.values().next().value : entry.byName.get(container);
  if (!id) throw notFound(`pod ${q.namespace}/${q.name} has no container "${container ?? ''}"`);
  return { entry, id };
}

function spawnEnv(d: StreamDeps): DockerSpawn {
  return {
    binary: d.cli.binary,
    env: { ...process.env, ...(d.dockerHost ? { DOCKER_HOST: d.dockerHost } : {}) },
  };
}

export async function execInPod(d: StreamDeps, req: ExecQuery, io: ExecIO): Promise<number> {
  const { id } = await streamContainer(d, req, req.container);
  return dockerExec(spawnEnv(d), id, req.command, io, req.tty);
}

export async function attachToPod(d: StreamDeps, req: ExecQuery, io: ExecIO): Promise<number> {
  const { id } = await streamContainer(d, req, req.container);
  return dockerAttach(spawnEnv(d), id, io);
}

export async function portForwardToPod(
  d: StreamDeps,
  req: PortForwardQuery,
  conn: Duplex,
  signal: AbortSignal,
): Promise<void> {
  const { entry, id } = await streamContainer(d, req);
  const mode = entry.infraId
    ? await d.cli.check(
        ['inspect', '--type', 'container', '--format', '{{.HostConfig.NetworkMode}}', '--', entry.infraId],
        'docker inspect',
      )
    : '';
  // Only a local engine shares the plugin's host network.
  const hostNetwork = mode === 'host' && isLocalEngine(d.dockerHost);
  await dockerPortForward(spawnEnv(d), { hostNetwork, relayContainer: id }, req, conn, signal);
}
