/**
 * Memory and CPU of processes by pid, from Linux /proc: VmRSS/VmHWM of
 * /proc/<pid>/status and utime+stime of /proc/<pid>/stat. The parsers are pure; the
 * sampler reads /proc and keeps peaks, so a process that exits keeps its last figures.
 */
import { readFileSync } from 'node:fs';

/** Clock ticks per second of /proc/<pid>/stat times (USER_HZ; 100 on every Linux ABI we run on). */
export const CLOCK_TICKS = 100;

export interface ProcReading {
  /** Resident set size now, bytes. */
  rssBytes: number;
  /** Peak resident set size over the process's life (VmHWM), bytes. */
  hwmBytes: number;
  /** User + system CPU time since start, seconds. */
  cpuSeconds: number;
}

/** `VmRSS` and `VmHWM` of a /proc/<pid>/status text, in bytes (0 when absent: a zombie). */
export function parseStatus(text: string): { rssBytes: number; hwmBytes: number } {
  const kb = (key: string) => {
    const m = new RegExp(`^${key}:\\s+(\\d+)\\s+kB`, 'm').exec(text);
    return m ? Number(m[1]) * 1024 : 0;
  };
  return { rssBytes: kb('VmRSS'), hwmBytes: kb('VmHWM') };
}

/**
 * utime + stime of a /proc/<pid>/stat line, in seconds. The command name (field 2) is in
 * parentheses and may hold spaces or ')', so fields are counted after the LAST ')'.
 */
export function parseStatCpu(text: string, ticks = CLOCK_TICKS): number {
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // rest[0] is field 3 (state); utime and stime are fields 14 and 15.
  const utime = Number(rest[11]);
  const stime = Number(rest[12]);
  if (!Number.isFinite(utime) || !Number.isFinite(stime))
    throw new Error(`unexpected /proc stat line: ${text}`);
  return (utime + stime) / ticks;
}

/**
 * Busy and total CPU time of the whole host from the first line of /proc/stat, in ticks
 * (busy = everything but idle and iowait). Tells a quiet machine from a shared, busy one.
 */
export function parseHostCpu(text: string): { busyTicks: number; totalTicks: number } {
  const line = text.split('\n').find((l) => l.startsWith('cpu '));
  if (!line) throw new Error('no "cpu" line in /proc/stat');
  // user nice system idle iowait irq softirq steal (guest time is already in user/nice)
  const f = line.trim().split(/\s+/).slice(1, 9).map(Number);
  const total = f.reduce((a, b) => a + b, 0);
  return { busyTicks: total - (f[3] ?? 0) - (f[4] ?? 0), totalTicks: total };
}

export function readHostCpu(): { busySeconds: number; totalSeconds: number } {
  const { busyTicks, totalTicks } = parseHostCpu(readFileSync('/proc/stat', 'utf8'));
  return { busySeconds: busyTicks / CLOCK_TICKS, totalSeconds: totalTicks / CLOCK_TICKS };
}

/** One reading of a live process; undefined when it is gone. Never throws. */
export function readProc(pid: number): ProcReading | undefined {
  try {
    const status = parseStatus(readFileSync(`/proc/${pid}/status`, 'utf8'));
    const cpuSeconds = parseStatCpu(readFileSync(`/proc/${pid}/stat`, 'utf8'));
    return { ...status, cpuSeconds };
  } catch {
    return undefined;
  }
}

export interface ProcFigures {
  pid: number;
  /** Highest of the sampled VmRSS and the kernel's VmHWM, MiB. */
  peakRssMiB: number;
  /** RSS at the last sample, MiB. */
  lastRssMiB: number;
  /** CPU seconds used between the baseline and the last sample. */
  cpuSeconds: number;
  /** CPU seconds since the process started. */
  cpuSecondsTotal: number;
}

interface Tracked {
  pid: number;
  baseCpu: number | undefined;
  last: ProcReading | undefined;
  peakRss: number;
}

const mib = (b: number) => Math.round((b / 1048576) * 10) / 10;

/**
 * Samples a set of named processes. `baseline()` marks the start of the measured window
 * (CPU seconds are counted from there); `sample()` is cheap (two small reads per pid).
 */
export class ProcSampler {
  readonly #procs = new Map<string, Tracked>();

  track(name: string, pid: number): void {
    this.#procs.set(name, { pid, baseCpu: undefined, last: undefined, peakRss: 0 });
    this.sample();
  }

  names(): string[] {
    return [...this.#procs.keys()];
  }

  baseline(): void {
    this.sample();
    for (const t of this.#procs.values()) t.baseCpu = t.last?.cpuSeconds ?? 0;
  }

  sample(): void {
    for (const t of this.#procs.values()) {
      const r = readProc(t.pid);
      if (!r) continue;
      t.last = r;
      t.peakRss = Math.max(t.peakRss, r.rssBytes, r.hwmBytes);
    }
  }

  /** Current RSS in MiB (from the last sample), for progress lines. */
  rssMiB(name: string): number | undefined {
    const t = this.#procs.get(name);
    return t?.last ? mib(t.last.rssBytes) : undefined;
  }

  figures(name: string): ProcFigures | null {
    const t = this.#procs.get(name);
    if (!t?.last) return null;
    const cpu = t.last.cpuSeconds;
    return {
      pid: t.pid,
      peakRssMiB: mib(t.peakRss),
      lastRssMiB: mib(t.last.rssBytes),
      cpuSeconds: Math.round((cpu - (t.baseCpu ?? 0)) * 100) / 100,
      cpuSecondsTotal: Math.round(cpu * 100) / 100,
    };
  }
}
