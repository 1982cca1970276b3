/**
 * The Docker engine as the node sees it: ping's capacity (`docker info`), readiness
 * (`docker version`), and the node capacity the planner reads (kept from the last info).
 */
import type { NodeCapacity } from '../../core/pod/env.ts';
import { ErrorCode, InterlinkError } from '../../errors/index.ts';
import type { PingResponse } from '../../wire/interlink.ts';
import { infoArgs } from './argv.ts';
import type { DockerCli } from './cli.ts';
import type { DockerConfig } from './config.ts';

/** Whether the engine is local (a unix socket or the default): it shares this host's network. */
export const isLocalEngine = (dockerHost: string | undefined): boolean =>
  !dockerHost || dockerHost.startsWith('unix://');

export class DockerEngine {
  readonly #cli: DockerCli;
  readonly #cfg: Pick<DockerConfig, 'maxPods' | 'gpuCount'>;
  #node: NodeCapacity | undefined;

  constructor(cli: DockerCli, cfg: Pick<DockerConfig, 'maxPods' | 'gpuCount'>) {
    this.#cli = cli;
    this.#cfg = cfg;
  }

  /** The engine's CPUs and memory from the last successful `info()`; undefined before. */
  get node(): NodeCapacity | undefined {
    return this.#node;
  }

  async ping(): Promise<PingResponse> {
    const info = await this.info();
    const resources: NonNullable<PingResponse['resources']> = {
      cpu: String(info.NCPU),
      memory: `${Math.floor(info.MemTotal / 1024)}Ki`,
    };
    if (this.#cfg.maxPods) resources.pods = this.#cfg.maxPods;
    if (this.#cfg.gpuCount > 0)
      resources.accelerators = [{ resourceType: 'nvidia.com/gpu', available: this.#cfg.gpuCount }];
    return { status: 'ok', resources };
  }

  async notReadyReason(): Promise<string | undefined> {
    try {
      await this.#cli.check(['version', '--format', '{{.Server.Version}}'], 'docker version', {
        timeoutMs: 10_000,
      });
      return undefined;
    } catch (err) {
      return `docker engine not reachable: ${(err as Error).message}`;
    }
  }

  async info(): Promise<{ NCPU: number; MemTotal: number }> {
    const text = await this.#cli.check(infoArgs(), 'docker info', { timeoutMs: 30_000 });
    let info: { NCPU?: unknown; MemTotal?: unknown };
    try {
      info = JSON.parse(text) as typeof info;
    } catch {
      throw new InterlinkError(ErrorCode.BACKEND, `docker info: unexpected output: ${text.slice(0, 200)}`);
    }
    const NCPU = Number(info.NCPU);
    const MemTotal = Number(info.MemTotal);
    if (!Number.isFinite(NCPU) || !Number.isFinite(MemTotal))
      throw new InterlinkError(ErrorCode.BACKEND, 'docker info: no NCPU/MemTotal');
    this.#node = { cpu: NCPU, memory: MemTotal };
    return { NCPU, MemTotal };
  }
}
