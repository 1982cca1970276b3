/**
 * The plugin contract. A plugin is a backend (in memory, Docker, Slurm) behind five
 * calls; the SDK (server.ts) brings HTTP, validation, logs, metrics and error mapping.
 * Optional capabilities (`ping`, `list`, `stats`) are detected at run time: a route exists only
 * when its method does.
 *
 * Errors: throw InterlinkErrors (src/errors) with a code; anything else is INTERNAL.
 */
import type { Duplex, Readable } from 'node:stream';
import type { ExecIO } from '../../core/channel-ws.ts';
import type { ZodApp } from '../../core/http-server.ts';
import type { Logger } from '../../core/logger.ts';
import type {
  BackendPod,
  CreateStruct,
  DeleteAnswer,
  LogStruct,
  PingResponse,
  PodStatus,
  RetrievedPodData,
  StatsSummary,
} from '../../wire/interlink.ts';
import type { Pod } from '../../wire/k8s.ts';
import type { ExecQuery, PortForwardQuery } from '../../wire/streams.ts';

/** What a plugin's delete may tell beyond "done" (the `/delete` answer's DeleteAnswer fields). */
export type DeleteResult = Pick<DeleteAnswer, 'containers'>;

export interface CallContext {
  /** The `InterLink-Http-Session` id of the request, for correlation. */
  session: string;
  log: Logger;
  /** Aborted when the caller goes away (a log follower disconnects). */
  signal: AbortSignal;
}

export interface Plugin {
  readonly name: string;
  /**
   * Submit a pod. Idempotent per pod UID: a second create of a UID the backend already has
   * returns the existing job id and starts nothing. May block while the backend accepts.
   */
  create(data: RetrievedPodData, ctx: CallContext): Promise<CreateStruct>;
  /**
   * Stop and remove a pod's backend job. Resolves only once the backend confirms; deleting
   * a pod the backend does not know resolves too (idempotent). Throws to be retried. May
   * resolve with what happened to the containers meanwhile (e.g. a failed preStop hook), which
   * the answer carries to the VK as Events (DeleteAnswer).
   */
  // biome-ignore lint/suspicious/noConfusingVoidType: a plugin with nothing to tell writes `Promise<void>`.
  delete(pod: Pod, ctx: CallContext): Promise<DeleteResult | undefined | void>;
  /**
   * Status of many pods in one call. Pods the backend does not know are left out of the
   * answer (the caller decides what a missing pod means). Must not mutate `pods`.
   */
  status(pods: Pod[], ctx: CallContext): Promise<PodStatus[]>;
  /**
   * A container's log as a byte stream. With `Opts.Follow` the stream stays open until the
   * container ends or `ctx.signal` aborts. Throws NOT_FOUND for an unknown pod or container.
   */
  logs(req: LogStruct, ctx: CallContext): Promise<Readable>;
  /**
   * Run `req.command` in a running container of the pod, wired to `io` (stdin ends when the
   * caller closes it). Resolves with the process's exit code once it exited and its output
   * was written; must kill the process when `io.signal` aborts. Optional: without it the
   * SDK answers the /exec upgrade with 501. Throws NOT_FOUND for an unknown pod/container.
   */
  exec?(req: ExecQuery, io: ExecIO, ctx: CallContext): Promise<number>;
  /** As exec, but joins the container's main process (`req.command` is empty). Optional. */
  attach?(req: ExecQuery, io: ExecIO, ctx: CallContext): Promise<number>;
  /**
   * Carry one TCP connection to `req.port` inside the pod's network namespace over `conn`
   * (half-closes are forwarded both ways). Resolves when both directions ended; throws to
   * report a failure to the caller (the message goes to kubectl). Optional.
   */
  portForward?(req: PortForwardQuery, conn: Duplex, ctx: CallContext): Promise<void>;
  /**
   * Health and capacity of the backend. Optional: without it there is no `GET /ping` and the
   * API pings with `GET /status []` (the interLink 0.6 ping).
   */
  ping?(ctx: CallContext): Promise<PingResponse>;
  /**
   * Every pod the backend runs or holds (running, finished, half-created), read from the
   * backend itself (labels, job directories), not from memory that a restart loses. The VK's
   * orphan sweep deletes those no Pod owns any more. Optional: without it there is no
   * `GET /list` (404; the API answers the VK 501) and the VK sweeps nothing. Read-only; may be called concurrently with the
   * other calls (a pod being created may or may not be in the answer).
   */
  list?(ctx: CallContext): Promise<BackendPod[]>;
  /** A kubelet `/stats/summary`-shaped document for the node's pods. Optional. */
  stats?(ctx: CallContext): Promise<StatsSummary>;
  /**
   * Add the plugin's own extra routes (e.g. the mock's /mock/* admin API) to the app, once,
   * after the wire routes. Optional; they must not reuse a wire path.
   */
  routes?(app: ZodApp): void;
  /** Why the plugin is not ready to serve, or undefined when it is (for /readyz). */
  notReadyReason?(): Promise<string | undefined>;
  /** Release resources (timers, child processes). Called once on shutdown. */
  close?(): Promise<void>;
}

/** Identity helper that gives plugin objects their type; kept for symmetry with other SDKs. */
export function definePlugin<P extends Plugin>(plugin: P): P {
  return plugin;
}
