/**
 * `list` of the docker plugin: every pod of this plugin instance that Docker holds, read from
 * the container labels in ONE `docker ps` (not from the in-memory index: a pod created by a
 * previous process, or half-created, is listed too). The job id is the infra container's name
 * (names.ts), as `create` answers it before the container exists.
 */
import { BackendPod } from '../../wire/interlink.ts';
import type { DockerCli } from './cli.ts';
import { infraName, LABEL } from './names.ts';

const FIELDS = [LABEL.podUid, LABEL.podNamespace, LABEL.podName, LABEL.role] as const;

/** `docker ps` of every container of `instance`: id, then the pod labels, tab-separated. Pure. */
export function listArgs(instance: string): string[] {
  const format = ['{{.ID}}', ...FIELDS.map((l) => `{{.Label "${l}"}}`)].join('\t');
  return ['ps', '--all', '--no-trunc', '--filter', `label=${LABEL.instance}=${instance}`, '--format', format];
}

/**
 * One BackendPod per pod UID, from `listArgs` output. Lines whose labels do not make a valid
 * pod identity (not ours, edited by hand) are left out rather than failing the whole list. Pure.
 */
export function parseList(stdout: string): BackendPod[] {
  const pods = new Map<string, BackendPod>();
  for (const line of stdout.split('\n')) {
    if (line.trim() === '') continue;
    const [id, uid, namespace, name, role] = line.split('\t').map((s) => s.trim());
    const parsed = BackendPod.safeParse({ UID: uid, namespace, name });
    if (!parsed.success) continue;
    const p = pods.get(parsed.data.UID) ?? parsed.data;
    if (role === 'infra' && id) p.JID = infraName({ uid: p.UID, namespace: p.namespace, name: p.name });
    pods.set(p.UID, p);
  }
  return [...pods.values()];
}

export async function listDockerPods(cli: DockerCli, instance: string): Promise<BackendPod[]> {
  return parseList(await cli.check(listArgs(instance), 'listing the pods of this plugin'));
}
