/**
 * What Docker holds, read in as few calls as the argv limit allows: `docker ps` of one
 * label set and `docker inspect` grouped by pod. Shared by the index load, the status
 * route, the sequencer and the removal, which all look at the same containers.
 */
import { inspectArgs, psArgs } from './argv.ts';
import { classify, type DockerCli } from './cli.ts';
import { groupByPod, type Inspected, type ObservedPod, parseInspect, withRefusals } from './status.ts';

/** Inspect at most this many ids per docker call (far below the argv size limit). */
const INSPECT_CHUNK = 5000;

/** The ids of the containers carrying every label given. */
export async function containerIds(
  cli: DockerCli,
  labels: Record<string, string>,
  what: string,
): Promise<string[]> {
  return nonEmptyLines(await cli.check(psArgs(labels), what));
}

export const nonEmptyLines = (text: string): string[] => text.split('\n').filter((s) => s !== '');

/** `docker inspect` of many ids; ids Docker no longer has are simply absent from the answer. */
export async function inspectIds(cli: DockerCli, ids: string[]): Promise<Inspected[]> {
  const out: Inspected[] = [];
  for (let i = 0; i < ids.length; i += INSPECT_CHUNK) {
    const chunk = ids.slice(i, i + INSPECT_CHUNK);
    const r = await cli.run(inspectArgs(chunk));
    if (r.code !== 0 && !r.stdout.trim().startsWith('[')) {
      if (/no such (container|object)/i.test(r.stderr)) continue;
      throw classify('docker inspect', r);
    }
    out.push(...parseInspect(r.stdout));
  }
  return out;
}

/** Inspect and group by pod, with the containers refused a start marked as such. */
export async function observePods(
  cli: DockerCli,
  ids: string[],
  refused: ReadonlyMap<string, string>,
): Promise<Map<string, ObservedPod>> {
  const pods = groupByPod(await inspectIds(cli, ids));
  if (refused.size > 0) for (const [uid, p] of pods) pods.set(uid, withRefusals(p, refused));
  return pods;
}
