/**
 * The node's heartbeat Lease `kube-node-lease/<node>` (DESIGN.md §3): created with an owner
 * reference to the Node, renewed with a microsecond `renewTime`. A failed renew forgets the
 * cached Lease so the next one starts over (409: stale; 404: garbage-collected with a
 * deleted Node).
 */
import type { V1Lease } from '@kubernetes/client-node';
import type { Clock } from '../../core/clock.ts';
import { httpStatusOf } from '../kube.ts';
import type { KubeClients } from '../types.ts';
import type { NodeMetrics } from './metrics.ts';

export const LEASE_NAMESPACE = 'kube-node-lease';

/** A MicroTime as the apiserver parses it (RFC 3339 with exactly six fractional digits). */
export function microTime(ms: number): string {
  return new Date(ms).toISOString().replace(/Z$/, '000Z');
}

export class LeaseRenewer {
  #lease: V1Lease | undefined;
  readonly #kube: KubeClients;
  readonly #clock: Clock;
  readonly #name: string;
  readonly #durationSeconds: number;
  readonly #writes: NodeMetrics['writes'];

  constructor(
    kube: KubeClients,
    clock: Clock,
    name: string,
    durationSeconds: number,
    writes: NodeMetrics['writes'],
  ) {
    this.#kube = kube;
    this.#clock = clock;
    this.#name = name;
    this.#durationSeconds = durationSeconds;
    this.#writes = writes;
  }

  /** Forget the cached Lease (the Node was recreated: the owner reference must follow). */
  reset(): void {
    this.#lease = undefined;
  }

  #meta(nodeUid: string | undefined): V1Lease['metadata'] {
    const name = this.#name;
    return {
      name,
      namespace: LEASE_NAMESPACE,
      ...(nodeUid ? { ownerReferences: [{ apiVersion: 'v1', kind: 'Node', name, uid: nodeUid }] } : {}),
    };
  }

  /** Renew (creating when absent). Throws on failure; the caller retries. */
  async renew(nodeUid: string | undefined): Promise<void> {
    const spec = {
      holderIdentity: this.#name,
      leaseDurationSeconds: this.#durationSeconds,
      renewTime: microTime(this.#clock.now()) as unknown as Date,
    };
    try {
      if (!this.#lease && !(await this.#readOrCreate(nodeUid, spec))) return;
      const lease = this.#lease as V1Lease;
      const owned = lease.metadata?.ownerReferences?.some((o) => o.kind === 'Node' && o.uid === nodeUid);
      const body: V1Lease = {
        ...lease,
        metadata: {
          ...lease.metadata,
          ...(nodeUid && !owned ? { ownerReferences: this.#meta(nodeUid)?.ownerReferences } : {}),
        },
        spec: { ...lease.spec, ...spec },
      };
      this.#lease = await this.#kube.coordination.replaceNamespacedLease({
        name: this.#name,
        namespace: LEASE_NAMESPACE,
        body,
      });
      this.#writes.inc({ kind: 'lease', result: 'ok' });
    } catch (err) {
      this.#writes.inc({ kind: 'lease', result: 'error' });
      this.#lease = undefined;
      throw err;
    }
  }

  /** Read the Lease into the cache (true: renew it next), or create it fresh (false: done). */
  async #readOrCreate(nodeUid: string | undefined, spec: V1Lease['spec']): Promise<boolean> {
    try {
      this.#lease = await this.#kube.coordination.readNamespacedLease({
        name: this.#name,
        namespace: LEASE_NAMESPACE,
      });
      return true;
    } catch (err) {
      if (httpStatusOf(err) !== 404) throw err;
    }
    this.#lease = await this.#kube.coordination.createNamespacedLease({
      namespace: LEASE_NAMESPACE,
      body: { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: this.#meta(nodeUid), spec },
    });
    this.#writes.inc({ kind: 'lease', result: 'ok' });
    return false;
  }
}
