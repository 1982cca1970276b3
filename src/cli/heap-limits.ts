/**
 * The V8 heap limits each process ships with, measured with `npm run bench` (figures in
 * docs/performance.md, Memory). Node's defaults are made for a desktop: an old generation
 * of up to ~4 GiB on a big host and 16 MiB semi-spaces (a young generation of up to 48
 * MiB), so the garbage of parsing thousands of watch events and `/status` bodies stays
 * resident long after it died. Capped, V8 collects it early.
 *
 * `maxOldSpaceMiB` is above the live set measured at 5,000 pods with room for a burst (a
 * process over it dies with "heap out of memory": too low is worse than too high);
 * `maxSemiSpaceMiB` trades a little CPU (more scavenges) for a young generation of 3× that.
 *
 * The same figures are written in the shipped launchers: scripts/node/interlink, the Helm
 * chart's values (`*.nodeOptions`), deploy/kustomize and deploy/systemd/interlink.env;
 * test/deploy/heap-limits.test.ts checks that they agree with this table. A user's own
 * NODE_OPTIONS wins everywhere (the launcher only sets it when unset).
 */

import { setFlagsFromString } from 'node:v8';

export type Role = 'vk' | 'api' | 'plugin';

export interface HeapLimit {
  maxOldSpaceMiB: number;
  maxSemiSpaceMiB: number;
}

export const HEAP_LIMITS: Readonly<Record<Role, HeapLimit>> = {
  vk: { maxOldSpaceMiB: 256, maxSemiSpaceMiB: 4 },
  api: { maxOldSpaceMiB: 128, maxSemiSpaceMiB: 2 },
  plugin: { maxOldSpaceMiB: 128, maxSemiSpaceMiB: 2 },
};

/** The node flags of a role, e.g. `['--max-old-space-size=256', '--max-semi-space-size=4']`. */
export function heapFlags(role: Role): string[] {
  const l = HEAP_LIMITS[role];
  return [`--max-old-space-size=${l.maxOldSpaceMiB}`, `--max-semi-space-size=${l.maxSemiSpaceMiB}`];
}

/**
 * V8 flags a role sets on itself at start (`v8.setFlagsFromString`: Node refuses them in
 * NODE_OPTIONS), before its own modules load and any function gets hot.
 *
 * `--no-maglev` for the API and the plugins: Maglev, V8's mid-tier compiler, compiles every
 * warm function a second time and keeps that code and its compiler's pages resident. Driven
 * with 5,000 creates and deletes (`npm run bench:api-load`, docs/performance.md, Memory),
 * the API peaked at 105 MiB RSS without it against 134-139 with it. The price is CPU while
 * code warms up (interpreter and TurboFan still run): 7.3 against 5.3 CPU s for those 20
 * seconds of creates, the same 3.5 CPU s per 1,000 pods in the benchmark's bursts. The VK
 * keeps Maglev: without it, it peaked at 147 against 149 MiB in a 1,000-pod burst that was
 * no faster (docs/performance.md, "Events at the kubelet's rate").
 */
export const V8_RUNTIME_FLAGS: Readonly<Record<Role, readonly string[]>> = {
  vk: [],
  api: ['--no-maglev'],
  plugin: ['--no-maglev'],
};

/**
 * The C library's malloc setting every process ships with, in its environment: glibc reads
 * it at exec, so a process cannot set it on itself. Set by the `interlink` launcher, the
 * Makefile's launchers and the image (`ENV`); a value already in the environment wins.
 *
 * `MALLOC_MMAP_THRESHOLD_`: an allocation of 128 KiB or more gets pages of its own, given
 * back when it is freed. Unset, glibc raises that threshold to the largest block freed so
 * far (up to 32 MiB), so after the first big `/status` body the next ones come from the
 * heap and what they leave behind stays resident. Driven with every one of 5,000 pods in
 * every poll (`npm run bench:api-load`, docs/performance.md, Memory), the API peaked at
 * 140-144 MiB with it against 162-166 without, the plugin at 132-138 against 144-147,
 * for the same CPU; with creates and deletes only, no change.
 */
export const MALLOC_ENV: Readonly<Record<string, string>> = { MALLOC_MMAP_THRESHOLD_: '131072' };

/** The environment a child process of ours starts with: `env`, plus MALLOC_ENV where `env` has none. */
export function withMallocEnv(env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const out = { ...env };
  for (const [k, v] of Object.entries(MALLOC_ENV)) out[k] ??= v;
  return out;
}

/** Set a role's V8 flags on this process (once, at start). */
export function applyRuntimeFlags(role: Role): void {
  for (const flag of V8_RUNTIME_FLAGS[role]) setFlagsFromString(flag);
}
