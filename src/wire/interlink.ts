/**
 * The interLink 0.6 wire messages (DESIGN.md §2). JSON names are exact and
 * case-sensitive; keep them even where they look odd. Each schema validates on both
 * ends of a hop and generates docs/openapi.json.
 */
import type { Readable } from 'node:stream';
import { z } from 'zod';
import {
  ConfigMap,
  Container,
  ContainerStatus,
  DnsLabel,
  DnsSubdomain,
  Pod,
  ProbeEvent,
  ProjectedVolumeMap,
  Secret,
  Uid,
} from './k8s.ts';

/** VK → API `POST /create`. */
export const PodCreateRequests = z.looseObject({
  pod: Pod,
  configmaps: z.array(ConfigMap).nullish(),
  secrets: z.array(Secret).nullish(),
  /** One ConfigMap per projected volume; data already resolved by the VK. */
  projectedvolumesmaps: z.array(ProjectedVolumeMap).nullish(),
  jobscriptURL: z.string().optional(),
});
export type PodCreateRequests = z.infer<typeof PodCreateRequests>;

export const RetrievedContainer = z.looseObject({
  name: DnsLabel,
  configMaps: z.array(ConfigMap).nullish(),
  projectedvolumemaps: z.array(ProjectedVolumeMap).nullish(),
  secrets: z.array(Secret).nullish(),
  /** interLink 0.6 sends host paths here; informational, no plugin of ours builds a path from it. */
  emptyDirs: z.array(z.string()).nullish(),
});
export type RetrievedContainer = z.infer<typeof RetrievedContainer>;

/** API → plugin `POST /create`. */
export const RetrievedPodData = z.looseObject({
  pod: Pod,
  container: z.array(RetrievedContainer).nullish(),
  jobConfig: z.unknown().optional(),
  jobScript: z.string().optional(),
});
export type RetrievedPodData = z.infer<typeof RetrievedPodData>;

/**
 * Older plugins take a one-element array of RetrievedPodData; ours accept both shapes and
 * unwrap the array. Not a z.union: a union reports a bad field deep inside the pod as
 * "invalid input" at the root, while this keeps the path of the field at fault.
 */
export const RetrievedPodDataBody = z.preprocess((body, ctx) => {
  if (!Array.isArray(body)) return body;
  if (body.length !== 1) {
    ctx.addIssue({
      code: 'custom',
      message: `must be a RetrievedPodData object or a one-element array of it, got an array of ${body.length}`,
      input: body,
    });
    return z.NEVER;
  }
  return body[0];
}, RetrievedPodData);

export const CreateStruct = z.looseObject({
  PodUID: z.string(),
  PodJID: z.string(),
});
export type CreateStruct = z.infer<typeof CreateStruct>;

export const PodStatus = z.looseObject({
  name: z.string(),
  UID: z.string(),
  namespace: z.string(),
  /** Python SDK plugins may send `null` or leave it out. */
  JID: z.string().nullish(),
  containers: z.array(ContainerStatus).nullish(),
  initContainers: z.array(ContainerStatus).nullish(),
});
export type PodStatus = z.infer<typeof PodStatus>;

export const PodStatusList = z.array(PodStatus);
export const PodList = z.array(Pod);

/** A container as `PodStatusQuery` checks it: its name (plugins build paths and statuses by it). */
const NamedContainer = z.looseObject({ name: Container.shape.name });

/**
 * What the interLink API checks of a `/status` body before it forwards the body to its
 * plugin as sent: each pod's identity (metadata: names, namespace, uid) and its containers'
 * names, what a plugin finds a pod and builds paths and container statuses by. The plugin
 * validates each pod whole (the route's PodList). A poll carries every pod in the backend:
 * validating and re-serialising all of it in the API too doubled the memory and CPU of
 * the status path at thousands of pods (docs/performance.md, Memory).
 */
export const PodStatusQuery = z.array(
  z.looseObject({
    metadata: Pod.shape.metadata,
    spec: z
      .looseObject({ containers: z.array(NamedContainer), initContainers: z.array(NamedContainer).nullish() })
      .optional(),
  }),
);

/**
 * One pod the backend runs or holds (our additive `GET /list`, both hops). Names as in
 * PodStatus. The VK deletes the ones no Pod on its node owns (the orphan sweep), so the
 * identity fields are checked like a Pod's metadata: they become a delete call.
 */
export const BackendPod = z.looseObject({
  UID: Uid,
  namespace: DnsLabel,
  name: DnsSubdomain,
  /** The backend's job id, when it has one. */
  JID: z.string().nullish(),
});
export type BackendPod = z.infer<typeof BackendPod>;
export const BackendPodList = z.array(BackendPod);

/** A count in the log options (lines, bytes, seconds), absent = no limit. */
const Count = z.number().int().min(0).optional();
const Flag = z.boolean().optional();

/** ContainerLogOpts. `Bytes` is the byte limit; `LimitBytes` (the Python SDK's name) is accepted too. */
export const LogOpts = z.looseObject({
  Tail: Count,
  Bytes: Count,
  LimitBytes: Count,
  Timestamps: Flag,
  Follow: Flag,
  Previous: Flag,
  SinceSeconds: Count,
  SinceTime: z
    .union([z.iso.datetime({ offset: true }), z.literal(''), z.literal('0001-01-01T00:00:00Z')])
    .optional(),
});
export type LogOpts = z.infer<typeof LogOpts>;

export const LogStruct = z.looseObject({
  Namespace: DnsLabel,
  PodUID: Uid,
  PodName: DnsSubdomain,
  ContainerName: DnsLabel,
  Opts: LogOpts.default({}),
});
export type LogStruct = z.infer<typeof LogStruct>;

export const PingResponse = z.looseObject({
  status: z.string().optional(),
  resources: z
    .looseObject({
      cpu: z.string().optional(),
      memory: z.string().optional(),
      pods: z.string().optional(),
      accelerators: z
        .array(z.looseObject({ resourceType: z.string(), available: z.union([z.string(), z.number()]) }))
        .optional(),
    })
    .optional(),
  taints: z
    .array(z.looseObject({ key: z.string(), value: z.string().optional(), effect: z.string() }))
    .optional(),
});
export type PingResponse = z.infer<typeof PingResponse>;

/** A kubelet `/stats/summary` document (interlink addition; described in stats.ts). */
export { StatsSummary } from './stats.ts';

/** A text answer (`text/plain`): deletes, health, metrics. */
export const TextAnswer = z.string();
/**
 * The `/delete` answer (plugin → API → VK) when a delete has more to tell than "done": a
 * JSON object instead of the text (additive: interLink 0.6 callers only log the body).
 * `containers` carries what the delete saw happen to them as in a status's `probeEvents`,
 * e.g. a failed preStop hook (`FailedPreStopHook`), which no status poll reports any more
 * since the pod is gone; the VK records them as Events.
 */
export const DeleteAnswer = z.looseObject({
  message: z.string(),
  containers: z
    .array(z.looseObject({ name: z.string(), probeEvents: z.array(ProbeEvent).max(32) }))
    .max(256)
    .optional(),
});
export type DeleteAnswer = z.infer<typeof DeleteAnswer>;
/** What `/delete` answers: text, or a DeleteAnswer. */
export const DeleteResponse = z.union([TextAnswer, DeleteAnswer]);

/** An HTML page (`text/html`: the API's status page); never serialised as JSON. */
export const HtmlPage = z.string();
/** A text answer sent as a stream (`text/plain`, logs); never serialised, so never checked. */
export const TextStream = z.custom<Readable | string>();

/** Our error body (additive extension: interLink 0.6 answered plain text). */
export const ErrorBody = z.object({
  code: z.string(),
  message: z.string(),
  field: z.string().optional(),
});
export type ErrorBody = z.infer<typeof ErrorBody>;

/** The byte limit, whichever of the two upstream names carried it. */
export function byteLimit(opts: LogOpts): number | undefined {
  return opts.Bytes ?? opts.LimitBytes;
}
