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
 * seconds of creates, the same 3.5 CPU s per 1,000 pods in the benchmark's bursts; neither
 * process bounds a burst. The VK keeps Maglev: its CPU per pod is what bounds a burst.
 */
export const V8_RUNTIME_FLAGS: Readonly<Record<Role, readonly string[]>> = {
  vk: [],
  api: ['--no-maglev'],
  plugin: ['--no-maglev'],
};

/** Set a role's V8 flags on this process (once, at start). */
export function applyRuntimeFlags(role: Role): void {
  for (const flag of V8_RUNTIME_FLAGS[role]) setFlagsFromString(flag);
}
