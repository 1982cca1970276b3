/**
 * The ping half of the node controller: asks the interLink API (`/pinglink`) and keeps the
 * last outcome (ok / API down / plugin down) and the last structured answer (resources and
 * taints, which survive an outage). A change of readiness or of the answer calls
 * `onChange`, which wakes the node loop at once. Never writes to the apiserver.
 *
 * A node that was Ready stays Ready through failed pings until none has succeeded for
 * `notReadyAfterMs`, as the kubelet waits 30 s for its container runtime before it
 * reports NotReady: one slow answer of a loaded API or backend is not an outage, and a
 * NotReady node gets the not-ready taint, which stops scheduling onto it.
 */
import type { Clock } from '../../core/clock.ts';
import type { Logger } from '../../core/logger.ts';
import type { PingResponse } from '../../wire/interlink.ts';
import type { InterlinkClient } from '../interlink-client.ts';
import { classifyPingError, type PingOutcome } from './conditions.ts';
import type { NodeMetrics } from './metrics.ts';

export class Pinger {
  outcome: PingOutcome = { kind: 'unknown', message: 'the interLink API has not been pinged yet' };
  /** The last structured ping answer. */
  lastResponse: PingResponse | undefined;

  readonly #interlink: Pick<InterlinkClient, 'ping'>;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #metrics: NodeMetrics;
  readonly #onChange: () => void;
  readonly #notReadyAfterMs: number;
  /** When a ping last succeeded (clock ms); undefined before the first. */
  #lastOkAt: number | undefined;

  constructor(
    interlink: Pick<InterlinkClient, 'ping'>,
    clock: Clock,
    log: Logger,
    metrics: NodeMetrics,
    onChange: () => void,
    notReadyAfterMs = 0,
  ) {
    this.#interlink = interlink;
    this.#clock = clock;
    this.#log = log;
    this.#metrics = metrics;
    this.#onChange = onChange;
    this.#notReadyAfterMs = notReadyAfterMs;
  }

  /** One ping bounded by `timeoutMs`; does nothing when `signal` aborts meanwhile. */
  async once(signal: AbortSignal, timeoutMs: number): Promise<void> {
    const started = this.#clock.now();
    const bounded = AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)]);
    let next: PingOutcome;
    try {
      const answer = await this.#interlink.ping(bounded);
      next = { kind: 'ok', response: typeof answer === 'string' ? undefined : answer };
    } catch (err) {
      if (signal.aborted) return;
      next = classifyPingError(err);
    }
    this.#metrics.pingSeconds.observe((this.#clock.now() - started) / 1000);
    this.#metrics.apiUp.set(next.kind === 'api-down' ? 0 : 1);
    this.#metrics.pluginUp.set(next.kind === 'ok' ? 1 : 0);
    this.#metrics.pingTotal.inc({
      result: next.kind === 'ok' ? 'ok' : next.kind === 'api-down' ? 'api_down' : 'plugin_down',
    });
    this.#record(next);
  }

  #record(next: PingOutcome): void {
    const before = this.outcome;
    const now = this.#clock.now();
    if (next.kind === 'ok') this.#lastOkAt = now;
    else if (before.kind === 'ok' && now - (this.#lastOkAt ?? now) < this.#notReadyAfterMs) {
      this.#log.warn(
        { reason: next.kind, message: next.message, notReadyAfterMs: this.#notReadyAfterMs },
        'interLink ping failed; the node stays Ready unless no ping succeeds within notReadyAfterMs',
      );
      return;
    }
    this.outcome = next;
    let changed = before.kind !== next.kind;
    if (
      next.kind === 'ok' &&
      next.response &&
      JSON.stringify(next.response) !== JSON.stringify(this.lastResponse)
    ) {
      this.lastResponse = next.response;
      changed = true;
    }
    if (next.kind !== 'ok' && before.kind === 'ok')
      this.#log.warn({ reason: next.kind, message: next.message }, 'interLink ping failed');
    if (next.kind === 'ok' && before.kind !== 'ok') this.#log.info('interLink ping succeeded');
    if (changed) this.#onChange();
  }

  /** Ping every `intervalMs` until `signal` aborts (then rejects with its reason). */
  async loop(signal: AbortSignal, intervalMs: number, timeoutMs: number): Promise<void> {
    for (;;) {
      await this.#clock.sleep(intervalMs, signal);
      await this.once(signal, timeoutMs);
    }
  }
}
