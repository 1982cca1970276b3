/** The printed form of a result (pure): a few aligned tables for a terminal or a doc. */
import type { BenchSummary } from './result.ts';

const pad = (s: string, n: number) => (s.length >= n ? s : s + ' '.repeat(n - s.length));
const lpad = (s: string, n: number) => (s.length >= n ? s : ' '.repeat(n - s.length) + s);
const sec = (v: number | null) => (v === null ? '—' : `${v.toFixed(2)} s`);
const num = (v: number | null | undefined, d = 2) => (v === null || v === undefined ? '—' : v.toFixed(d));

function table(head: string[], rows: string[][]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (i === 0 ? pad(c, widths[i]!) : lpad(c, widths[i]!))).join('  ');
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

export function renderReport(r: BenchSummary): string {
  const o = r.options;
  const out: string[] = [];
  const mode = o.job ? `one Job, ${o.pods} completions` : `${o.pods} pods, concurrency ${o.concurrency}`;
  out.push(
    `interlink bench: ${mode}, ${o.plugin} plugin, run time ${o.runTimeSeconds} s, status interval ${o.statusIntervalSeconds} s`,
    `${r.machine.cpus} CPUs (${r.machine.cpuModel}), ${r.machine.memoryGiB} GiB; node ${r.machine.node}, Kubernetes ${r.machine.kubernetes}, interlink ${r.machine.interlink}`,
    `outcome: ${r.outcome.complete ? 'COMPLETE' : 'INCOMPLETE'}; created ${r.outcome.created}, scheduled ${r.outcome.scheduled}, ` +
      `Running ${r.outcome.running}, Succeeded ${r.outcome.succeeded}, Failed ${r.outcome.failed}, deleted ${r.outcome.deleted}` +
      (r.outcome.createErrors ? `, create errors ${r.outcome.createErrors}` : '') +
      (r.outcome.timedOut ? ', TIMED OUT' : '') +
      (r.outcome.error ? `\nerror: ${r.outcome.error}` : ''),
    '',
  );
  const l = r.latencySeconds;
  const lrow = (name: string, s: typeof l.running) => [
    name,
    num(s.p50),
    num(s.p90),
    num(s.p99),
    num(s.max),
    String(s.count),
  ];
  out.push(
    table(
      ['latency (s)', 'p50', 'p90', 'p99', 'max', 'pods'],
      [
        lrow('create → scheduled', l.scheduled),
        lrow('create → Running', l.running),
        lrow('create → shown past Pending', l.reported),
        lrow('create → Succeeded', l.succeeded),
      ],
    ),
  );
  if (r.runningFromStartedAt > 0)
    out.push(
      `(${r.runningFromStartedAt} pods were never seen Running; their start comes from containers' startedAt)`,
    );
  const m = r.milestones;
  const t = r.throughput;
  out.push(
    '',
    table(
      ['milestone (from first create)', 'time', 'pods/s'],
      [
        ['all created', sec(m.createdAll), num(t.createPerSecond, 1)],
        ['all scheduled', sec(m.scheduledAll), num(t.scheduledPerSecond, 1)],
        ['all Running (started)', sec(m.runningAll), num(t.runningPerSecond, 1)],
        ['all shown past Pending', sec(m.reportedAll), ''],
        ['  sustained (10 % → 90 %)', '', num(t.runningSustainedPerSecond, 1)],
        ['all finished', sec(m.finishedAll), num(t.finishedPerSecond, 1)],
        ['delete issued', sec(m.deleteStarted), ''],
        ['all deleted', sec(m.deletedAll), num(t.deletedPerSecond, 1)],
        ['backend empty (mock)', sec(m.backendEmpty), ''],
        ["the VK's queued Events written", sec(m.eventsWritten ?? null), ''],
      ],
    ),
  );
  const procRows = Object.entries(r.resources)
    .filter(([, f]) => f !== null)
    .map(([name, f]) => [name, num(f!.peakRssMiB, 1), num(f!.cpuSeconds, 1), num(f!.cpuSecondsTotal, 1)]);
  out.push('', table(['process', 'peak RSS MiB', 'CPU s (run)', 'CPU s (total)'], procRows));
  const h = r.host;
  const pct =
    h.capacityCpuSeconds > 0 ? ` (${Math.round((h.busyCpuSeconds / h.capacityCpuSeconds) * 100)} %)` : '';
  const hp = r.heapUsedPeakMiB;
  out.push(
    `host: load average ${h.loadAverage1m} at start; CPU busy ${num(h.busyCpuSeconds, 1)} s of ${num(h.capacityCpuSeconds, 1)} s${pct}, ` +
      `of which the processes above ${num(h.measuredCpuSeconds, 1)} s`,
    `V8 heap in use, peak: VK ${num(hp.vk, 1)} MiB, API ${num(hp.api, 1)} MiB, plugin ${num(hp.plugin, 1)} MiB`,
  );
  const vi = r.vkInternals;
  out.push(
    `VK: work queue depth peak ${vi.queueDepthPeak ?? '—'}; ${vi.reconciles ?? '—'} reconciles, mean ${num(vi.reconcileMeanMs, 1)} ms; ` +
      `${vi.statusRoundTrips ?? '—'} /status round trips, mean ${num(vi.statusRoundTripMeanMs, 1)} ms`,
  );
  if (r.pluginOps)
    out.push(
      `plugin time per operation: ${
        Object.entries(r.pluginOps)
          .map(([op, o]) => `${op} ${o.count} × ${num(o.meanMs, 1)} ms`)
          .join(', ') || 'none'
      }`,
    );
  if (r.backendCommands)
    out.push(
      `backend commands: ${
        Object.entries(r.backendCommands)
          .map(([c, o]) => `${c} ${o.count} × ${num(o.meanMs, 1)} ms`)
          .join(', ') || 'none'
      }`,
    );

  const q = r.requests;
  const routes = (m: Record<string, number>) =>
    Object.entries(m)
      .map(([k, v]) => `${k} ${(v / Math.max(1, r.options.pods)).toFixed(2)}`)
      .join(', ');
  out.push(
    '',
    `VK → API requests per pod: ${q.vkToApi.perPod} (${routes(q.vkToApi.byRoute)})`,
    `API → plugin requests per pod: ${q.apiToPlugin.perPod} (${routes(q.apiToPlugin.byRoute)})`,
    `VK → API /status calls per status interval: ${num(q.statusCallsPerPollInterval)}`,
    `status writes per pod: ${r.statusWrites.apiserverPerPod} (apiserver, all writers), ${num(r.statusWrites.vkPerPod)} (VK's counter)`,
    `VK events: ${
      r.events
        ? Object.entries(r.events.vkByOutcome)
            .map(([k, v]) => `${k} ${v}`)
            .join(', ') || 'none'
        : 'n/a'
    }${
      r.events?.writeDelay
        ? `; recorded → written: mean ${num(r.events.writeDelay.meanSeconds)} s, p99 ≤ ${num(r.events.writeDelay.p99AtMostSeconds)} s`
        : ''
    }`,
    `apiserver requests per pod: ${q.apiserver.perPod} (${q.apiserver.total} in all); top:`,
    table(
      ['verb', 'resource', 'count', 'per pod'],
      q.apiserver.byVerbResource
        .slice(0, 12)
        .map((e) => [
          e.verb,
          e.resource + (e.subresource ? `/${e.subresource}` : ''),
          String(e.count),
          num(e.perPod),
        ]),
    ),
  );
  if (r.profiles) {
    for (const [name, p] of Object.entries(r.profiles)) {
      if (!p) continue;
      out.push(
        '',
        `profile of ${name}: ${num(p.busyMs / 1000, 1)} s busy of ${num(p.totalMs / 1000, 1)} s (GC ${num(p.gcMs / 1000, 1)} s); ${p.file}`,
        table(
          ['module', 'self ms', '%'],
          p.byModule.slice(0, 8).map((h) => [h.name, num(h.selfMs, 0), num(h.percent, 1)]),
        ),
        table(
          ['function', 'self ms', '%'],
          p.topFunctions.slice(0, 10).map((h) => [h.name, num(h.selfMs, 0), num(h.percent, 1)]),
        ),
      );
    }
  }
  if (r.baseline) out.push('', renderBaseline(r));
  out.push('', `summary: ${r.files.json}`);
  if (r.files.raw) out.push(`raw:     ${r.files.raw}`);
  out.push(`chart:   ${r.files.svg}`);
  if (r.files.logs) out.push(`logs:    ${r.files.logs}`);
  return out.join('\n');
}

/** The our/KWOK table of a `--baseline kwok` run (pure). */
export function renderBaseline(r: BenchSummary): string {
  const b = r.baseline!;
  const x = (v: number | null) => (v === null ? '—' : `${v.toFixed(2)}×`);
  const row = (name: string, ours: string, kwok: string, ratio: number | null) => [
    name,
    ours,
    kwok,
    x(ratio),
  ];
  const rq = (s: BenchSummary) => s.requests.apiserver.perPod;
  const lines = [
    `baseline: KWOK v${b.version}, the same burst on the same control plane right after ours` +
      ` (${b.outcome.complete ? 'complete' : `INCOMPLETE${b.outcome.error ? `: ${b.outcome.error}` : ''}`};` +
      ` load average ${b.host.loadAverage1m} at its start, ${r.host.loadAverage1m} at ours)`,
    table(
      ['figure', 'interlink', 'KWOK', 'ratio'],
      [
        row(
          'all Running (started)',
          sec(r.milestones.runningAll),
          sec(b.milestones.runningAll),
          b.ratios.runningAll,
        ),
        row(
          'all shown past Pending',
          sec(r.milestones.reportedAll),
          sec(b.milestones.reportedAll),
          b.ratios.reportedAll,
        ),
        row(
          'p50 create → Running',
          sec(r.latencySeconds.running.p50),
          sec(b.latencySeconds.running.p50),
          b.ratios.runningP50,
        ),
        row(
          'p99 create → Running',
          sec(r.latencySeconds.running.p99),
          sec(b.latencySeconds.running.p99),
          b.ratios.runningP99,
        ),
        row(
          'p99 create → shown past Pending',
          sec(r.latencySeconds.reported.p99),
          sec(b.latencySeconds.reported.p99),
          b.ratios.reportedP99,
        ),
        row(
          'apiserver requests per pod',
          num(rq(r)),
          num(b.requests.apiserver.perPod),
          b.ratios.apiserverRequestsPerPod,
        ),
        row(
          'pods/status writes per pod',
          num(r.statusWrites.apiserverPerPod),
          num(b.statusWritesPerPod),
          null,
        ),
        row(
          'node agent CPU s (VK+API+plugin | kwok)',
          num(b.ours.agentCpuSeconds, 1),
          num(b.resources.kwok?.cpuSeconds, 1),
          b.ratios.agentCpuSeconds,
        ),
        row(
          'node agent peak RSS MiB (summed)',
          num(b.ours.agentPeakRssMiB, 0),
          num(b.resources.kwok?.peakRssMiB, 0),
          b.ratios.agentPeakRssMiB,
        ),
        row(
          'control plane CPU s',
          num(b.ours.controlPlaneCpuSeconds, 1),
          num(b.resources.controlPlaneCpuSeconds, 1),
          b.ratios.controlPlaneCpuSeconds,
        ),
      ],
    ),
    'KWOK apiserver requests per pod, top:',
    table(
      ['verb', 'resource', 'count', 'per pod'],
      b.requests.apiserver.byVerbResource
        .slice(0, 8)
        .map((e) => [
          e.verb,
          e.resource + (e.subresource ? `/${e.subresource}` : ''),
          String(e.count),
          num(e.perPod),
        ]),
    ),
  ];
  return lines.join('\n');
}
