/**
 * The Node object's writes: create it if absent (or adopt the one a previous instance
 * made), keep our labels/taints/capacity in its spec, and patch its status with our own
 * conditions only (a strategic-merge patch merged by condition `type`, so what other
 * agents set survives). Node Events (RegisteredNode, NodeReady, NodeNotReady) are relative
 * to the conditions as last written. Called only from the node loop, one write at a time.
 */
import { readFileSync } from 'node:fs';
import type { V1Node, V1NodeCondition } from '@kubernetes/client-node';
import type { Clock } from '../../core/clock.ts';
import type { Logger } from '../../core/logger.ts';
import { type EventRecorder, nodeRef } from '../events.ts';
import { httpStatusOf } from '../kube.ts';
import { MERGE_PATCH, STRATEGIC_MERGE_PATCH } from '../kube-api.ts';
import type { KubeClients } from '../types.ts';
import {
  buildNode,
  capacityPatch,
  type NodeInput,
  nodeAddresses,
  nodeCapacity,
  nodeInfo,
  nodeSpecPatch,
} from './build.ts';
import { computeConditions, OUR_CONDITIONS, readinessChanged } from './conditions.ts';
import type { NodeMetrics } from './metrics.ts';
import type { Pinger } from './pinger.ts';

export function ourVersion(): string {
  try {
    return (
      JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as {
        version: string;
      }
    ).version;
  } catch {
    return '0.0.0';
  }
}

const rfc3339 = (d: Date | string | undefined) =>
  d instanceof Date ? d.toISOString().replace(/\.\d{3}Z$/, 'Z') : d;

export interface RegistrarDeps {
  kube: KubeClients;
  clock: Clock;
  log: Logger;
  events: EventRecorder;
  metrics: NodeMetrics;
  /** Source of readiness and of the plugin's resources and taints. */
  pinger: Pick<Pinger, 'outcome' | 'lastResponse'>;
}

export class NodeRegistrar {
  node: V1Node | undefined;
  /** Conditions as we last wrote them (or found them): transitions and Events are relative to these. */
  #written: V1NodeCondition[] | undefined;
  #appliedResponse: string | undefined;
  lastStatusAt = 0;
  readonly #d: RegistrarDeps;
  readonly #input: NodeInput;

  constructor(deps: RegistrarDeps, input: NodeInput) {
    this.#d = deps;
    this.#input = input;
  }

  get #name(): string {
    return this.#input.nodeName;
  }

  async read(): Promise<V1Node | undefined> {
    try {
      return await this.#d.kube.core.readNode({ name: this.#name });
    } catch (err) {
      if (httpStatusOf(err) === 404) return undefined;
      throw err;
    }
  }

  /** Whether the plugin's answer changed since the last status patch. */
  pluginChanged(): boolean {
    return JSON.stringify(this.#d.pinger.lastResponse) !== this.#appliedResponse;
  }

  /** Whether readiness as computed now differs from what was last written. */
  readinessDue(): boolean {
    const now = computeConditions(this.#d.pinger.outcome, this.#written, new Date(this.#d.clock.now()));
    return readinessChanged(this.#written, now);
  }

  /** Create the node if absent, else adopt it and bring our labels/taints up to date. Then a full status patch. */
  async ensure(existing: V1Node | undefined): Promise<void> {
    if (existing) {
      this.node = existing;
      this.#written = undefined;
    } else {
      await this.#create();
    }
    this.#written ??= this.node?.status?.conditions?.filter((c) =>
      (OUR_CONDITIONS as readonly string[]).includes(c.type),
    );
    await this.patchSpec();
    await this.patchStatus();
  }

  async #create(): Promise<void> {
    const { kube, metrics, log, events, clock, pinger } = this.#d;
    const fresh = buildNode(this.#input, pinger.lastResponse);
    fresh.status = {
      ...fresh.status,
      conditions: computeConditions(pinger.outcome, undefined, new Date(clock.now())),
    };
    try {
      this.node = await kube.core.createNode({ body: fresh });
      metrics.writes.inc({ kind: 'create', result: 'ok' });
      log.info({ uid: this.node.metadata?.uid }, 'node registered');
      events.normal(
        nodeRef(this.#name),
        'RegisteredNode',
        `Node ${this.#name} registered with the apiserver by the interLink virtual kubelet`,
      );
      // Nothing reported yet as far as Events go: the first status patch announces readiness.
      this.#written = [];
    } catch (err) {
      metrics.writes.inc({ kind: 'create', result: 'error' });
      // Someone (a previous instance) created it meanwhile: adopt it.
      if (httpStatusOf(err) !== 409) throw err;
      this.node = await this.read();
      if (!this.node) throw err;
      this.#written = undefined;
    }
  }

  async patchSpec(): Promise<void> {
    if (!this.node) return;
    const patch = nodeSpecPatch(this.node, this.#input, this.#d.pinger.lastResponse);
    if (!patch) return;
    try {
      this.node = await this.#d.kube.core.patchNode({ name: this.#name, body: patch }, MERGE_PATCH);
      this.#d.metrics.writes.inc({ kind: 'spec', result: 'ok' });
    } catch (err) {
      this.#d.metrics.writes.inc({ kind: 'spec', result: 'error' });
      // 409: the node changed under us; the next tick re-reads it and tries again.
      if (httpStatusOf(err) === 409) {
        this.node = (await this.read()) ?? this.node;
        return;
      }
      throw err;
    }
  }

  async patchStatus(): Promise<void> {
    if (!this.node) return;
    const { kube, metrics, clock, pinger } = this.#d;
    const conditions = computeConditions(pinger.outcome, this.#written, new Date(clock.now()));
    const capacity = nodeCapacity(this.#input.resources, pinger.lastResponse);
    const body = {
      status: {
        capacity: capacityPatch(this.node.status?.capacity, capacity),
        allocatable: capacityPatch(this.node.status?.allocatable, capacity),
        conditions: conditions.map((c) => ({
          ...c,
          lastHeartbeatTime: rfc3339(c.lastHeartbeatTime),
          lastTransitionTime: rfc3339(c.lastTransitionTime),
        })),
        addresses: nodeAddresses(this.#input),
        daemonEndpoints: { kubeletEndpoint: { Port: this.#input.kubeletPort } },
        nodeInfo: nodeInfo(this.#input),
      },
    };
    try {
      this.node = await kube.core.patchNodeStatus({ name: this.#name, body }, STRATEGIC_MERGE_PATCH);
      metrics.writes.inc({ kind: 'status', result: 'ok' });
    } catch (err) {
      metrics.writes.inc({ kind: 'status', result: 'error' });
      throw err;
    }
    this.lastStatusAt = clock.now();
    this.#appliedResponse = JSON.stringify(pinger.lastResponse);
    this.#announce(conditions);
    this.#written = conditions;
  }

  /** The ready gauge, and an Event + log line when readiness changed. */
  #announce(conditions: V1NodeCondition[]): void {
    const ready = conditions.find((c) => c.type === 'Ready');
    this.#d.metrics.ready.set(ready?.status === 'True' ? 1 : 0);
    if (!readinessChanged(this.#written, conditions)) return;
    const ref = nodeRef(this.#name);
    if (ready?.status === 'True')
      this.#d.events.normal(ref, 'NodeReady', `Node ${this.#name} status is now: NodeReady`);
    else
      this.#d.events.warning(
        ref,
        'NodeNotReady',
        `Node ${this.#name} status is now: NodeNotReady (${ready?.reason}): ${ready?.message}`,
      );
    this.#d.log.info({ ready: ready?.status, reason: ready?.reason }, 'node readiness changed');
  }
}
