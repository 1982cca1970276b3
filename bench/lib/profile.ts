/**
 * Summary of a V8 .cpuprofile (as written by `node --cpu-prof`), pure: self time by
 * function and by module (a package under node_modules, a file of ours, node: internals),
 * so the report says where a process spent its CPU without opening DevTools.
 */

export interface CpuProfile {
  nodes: Array<{
    id: number;
    callFrame: { functionName: string; url: string; lineNumber: number; columnNumber?: number };
    hitCount?: number;
  }>;
  startTime: number;
  endTime: number;
  samples?: number[];
  timeDeltas?: number[];
}

export interface HotSpot {
  name: string;
  selfMs: number;
  /** Share of the busy (non-idle) time, %. */
  percent: number;
}

export interface ProfileSummary {
  /** Sampled wall time, ms. */
  totalMs: number;
  /** Time not idle, ms (includes GC and "(program)"). */
  busyMs: number;
  gcMs: number;
  topFunctions: HotSpot[];
  byModule: HotSpot[];
}

/** Which module a script URL belongs to: `pkg` for node_modules/pkg, `src/vk/pods/controller.ts`, `node:internal`. */
export function moduleOf(url: string, repoRoot = ''): string {
  if (url === '') return '(native)';
  if (url.startsWith('node:')) return 'node:internal';
  const path = url.startsWith('file://') ? decodeURIComponent(new URL(url).pathname) : url;
  const nm = path.lastIndexOf('/node_modules/');
  if (nm >= 0) {
    const parts = path.slice(nm + '/node_modules/'.length).split('/');
    return parts[0]!.startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0]!;
  }
  if (repoRoot && path.startsWith(`${repoRoot}/`)) return path.slice(repoRoot.length + 1);
  return path;
}

const round1 = (n: number) => Math.round(n * 10) / 10;

export function summarizeProfile(
  profile: CpuProfile,
  opts: { top?: number; repoRoot?: string } = {},
): ProfileSummary {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<number, number>();
  if (profile.samples && profile.timeDeltas && profile.samples.length === profile.timeDeltas.length) {
    // A sample's time is the delta to the NEXT sample: attribute timeDeltas[i+1] to samples[i].
    for (let i = 0; i < profile.samples.length; i++) {
      const dt = profile.timeDeltas[i + 1] ?? 0;
      const id = profile.samples[i]!;
      selfUs.set(id, (selfUs.get(id) ?? 0) + Math.max(0, dt));
    }
  } else {
    const n = profile.nodes.reduce((s, x) => s + (x.hitCount ?? 0), 0);
    const per = n > 0 ? (profile.endTime - profile.startTime) / n : 0;
    for (const x of profile.nodes) selfUs.set(x.id, (x.hitCount ?? 0) * per);
  }
  let idle = 0;
  let gc = 0;
  let total = 0;
  const fn = new Map<string, number>();
  const mod = new Map<string, number>();
  for (const [id, us] of selfUs) {
    const node = byId.get(id);
    if (!node) continue;
    total += us;
    const { functionName, url, lineNumber } = node.callFrame;
    if (functionName === '(idle)') {
      idle += us;
      continue;
    }
    if (functionName === '(garbage collector)') gc += us;
    const m = functionName.startsWith('(') ? functionName : moduleOf(url, opts.repoRoot);
    const f = functionName.startsWith('(')
      ? functionName
      : `${functionName || '(anonymous)'} ${moduleOf(url, opts.repoRoot)}:${lineNumber + 1}`;
    fn.set(f, (fn.get(f) ?? 0) + us);
    mod.set(m, (mod.get(m) ?? 0) + us);
  }
  const busy = total - idle;
  const top = (m: Map<string, number>) =>
    [...m.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, opts.top ?? 15)
      .map(([name, us]) => ({
        name,
        selfMs: round1(us / 1000),
        percent: busy > 0 ? round1((us / busy) * 100) : 0,
      }));
  return {
    totalMs: round1(total / 1000),
    busyMs: round1(busy / 1000),
    gcMs: round1(gc / 1000),
    topFunctions: top(fn),
    byModule: top(mod),
  };
}
