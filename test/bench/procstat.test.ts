import { describe, expect, it } from 'vitest';
import {
  ProcSampler,
  parseHostCpu,
  parseStatCpu,
  parseStatus,
  readHostCpu,
  readProc,
} from '../../bench/lib/procstat.ts';

describe('parseStatus', () => {
  it('reads VmRSS and VmHWM in bytes', () => {
    const text =
      'Name:\tnode\nVmPeak:\t 1200000 kB\nVmHWM:\t  250000 kB\nVmRSS:\t  200000 kB\nThreads:\t11\n';
    expect(parseStatus(text)).toEqual({ rssBytes: 200000 * 1024, hwmBytes: 250000 * 1024 });
  });
  it('is zero for a zombie (no Vm lines)', () => {
    expect(parseStatus('Name:\tnode\nState:\tZ (zombie)\n')).toEqual({ rssBytes: 0, hwmBytes: 0 });
  });
});

describe('parseStatCpu', () => {
  // Fields: pid (comm) state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime ...
  const line = (comm: string) =>
    `4242 (${comm}) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 75 0 0 20 0 11 0 1000 0 0`;
  it.each(['node', 'MainThread', 'a b) (c', ') S 1 2 3'])(
    'counts utime+stime after the last ")" for comm %j',
    (comm) => {
      expect(parseStatCpu(line(comm))).toBe(3.25);
    },
  );
  it('throws on a line it cannot read', () => {
    expect(() => parseStatCpu('garbage')).toThrow(/unexpected/);
  });
});

describe('parseHostCpu', () => {
  it('counts everything but idle and iowait as busy', () => {
    const text = 'cpu  100 5 50 800 20 3 2 0 0 0\ncpu0 50 2 25 400 10 1 1 0 0 0\nintr 1 2 3\n';
    expect(parseHostCpu(text)).toEqual({ busyTicks: 160, totalTicks: 980 });
  });
  it('throws without the cpu line', () => {
    expect(() => parseHostCpu('intr 1\n')).toThrow(/cpu/);
  });
  it('reads this host', () => {
    const h = readHostCpu();
    expect(h.totalSeconds).toBeGreaterThan(h.busySeconds);
    expect(h.busySeconds).toBeGreaterThan(0);
  });
});

describe('readProc and ProcSampler on this process', () => {
  it('reads live figures and nothing for a dead pid', () => {
    const r = readProc(process.pid)!;
    expect(r.rssBytes).toBeGreaterThan(10 * 1048576);
    expect(r.hwmBytes).toBeGreaterThanOrEqual(r.rssBytes);
    expect(r.cpuSeconds).toBeGreaterThan(0);
    expect(readProc(2 ** 22 + 17)).toBeUndefined();
  });
  it('keeps peaks and counts CPU from the baseline', () => {
    const s = new ProcSampler();
    s.track('me', process.pid);
    s.baseline();
    // Burn 0.3 s of CPU time (not wall time: a busy machine may lend us little of it).
    const start = process.cpuUsage();
    const used = () => {
      const d = process.cpuUsage(start);
      return (d.user + d.system) / 1e6;
    };
    let x = 0;
    while (used() < 0.3) for (let i = 0; i < 10_000; i++) x += Math.sqrt(x + 1);
    s.sample();
    const f = s.figures('me')!;
    expect(x).toBeGreaterThan(0);
    expect(f.pid).toBe(process.pid);
    expect(f.cpuSeconds).toBeGreaterThan(0.1);
    expect(f.cpuSecondsTotal).toBeGreaterThanOrEqual(f.cpuSeconds);
    expect(f.peakRssMiB).toBeGreaterThanOrEqual(f.lastRssMiB);
    expect(s.figures('unknown')).toBeNull();
  });
});
