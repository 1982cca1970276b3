/** Kubernetes Events for what changed between two pod statuses (status/map.ts). Pure. */
import type { ContainerStatus, KubePodStatus } from '../../wire/k8s.ts';

export interface StatusEvent {
  type: 'Normal' | 'Warning';
  reason: string;
  message: string;
  /** `spec.containers{name}` / `spec.initContainers{name}` */
  fieldPath?: string;
}

/** Events for what changed between two statuses: containers started, ended; the pod finished. */
export function transitionEvents(prev: KubePodStatus | undefined, next: KubePodStatus): StatusEvent[] {
  const out: StatusEvent[] = [];
  const scan = (
    before: ContainerStatus[] | undefined,
    after: ContainerStatus[] | undefined,
    field: string,
  ) => {
    const old = new Map((before ?? []).map((c) => [c.name, c]));
    for (const c of after ?? []) {
      const o = old.get(c.name);
      const fieldPath = `${field}{${c.name}}`;
      const restarted = (o?.restartCount ?? 0) < (c.restartCount ?? 0);
      if (c.state?.running && (!o?.state?.running || restarted)) {
        out.push({ type: 'Normal', reason: 'Started', message: `Started container ${c.name}`, fieldPath });
      }
      const t = c.state?.terminated;
      if (t && (!o?.state?.terminated || restarted)) {
        if (t.exitCode === 0)
          out.push({
            type: 'Normal',
            reason: 'Completed',
            message: `Container ${c.name} completed`,
            fieldPath,
          });
        else
          out.push({
            type: 'Warning',
            reason: 'Failed',
            message: `Container ${c.name} exited with code ${t.exitCode}${t.reason && t.reason !== 'Error' ? ` (${t.reason})` : ''}${t.message ? `: ${t.message}` : ''}`,
            fieldPath,
          });
      }
    }
  };
  scan(prev?.initContainerStatuses, next.initContainerStatuses, 'spec.initContainers');
  scan(prev?.containerStatuses, next.containerStatuses, 'spec.containers');
  return out;
}
