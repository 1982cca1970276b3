import { describe, expect, it } from 'vitest';
import {
  gresGpus,
  parseSacct,
  parseSbatch,
  parseSinfo,
  parseSqueue,
  slurmTime,
  usableNode,
} from '../../../src/plugins/slurm/parse.ts';

// Output captured from slurm-wlm 22.05 (`squeue --noheader --states=all --Format=JobID:|,State:|,...`).
const SQUEUE = [
  '2|PENDING|JobHeldUser|0|N/A|N/A|',
  '1|FAILED|NonZeroExitCode|768|2026-11-28T17:54:48|2026-11-28T17:54:51|',
  '3|CANCELLED|None|15|2026-11-28T17:54:48|2026-11-28T17:54:56|',
  '4|TIMEOUT|TimeLimit|1792|2026-11-28T17:55:07|2026-11-28T17:56:12|',
  '5|RUNNING|None|0|2026-11-28T17:55:07|NONE|',
  '',
].join('\n');

describe('parseSqueue', () => {
  it('reads states, reasons and wait-status exit codes', () => {
    const jobs = parseSqueue(SQUEUE);
    expect(jobs.get('2')).toEqual({
      id: '2',
      state: 'PENDING',
      reason: 'JobHeldUser',
      exitCode: 0,
      source: 'squeue',
    });
    expect(jobs.get('1')).toMatchObject({ state: 'FAILED', reason: 'NonZeroExitCode', exitCode: 3 });
    expect(jobs.get('1')!.signal).toBeUndefined();
    expect(jobs.get('3')).toMatchObject({ state: 'CANCELLED', exitCode: 0, signal: 15 });
    expect(jobs.get('3')!.reason).toBeUndefined();
    expect(jobs.get('4')).toMatchObject({ state: 'TIMEOUT', exitCode: 7 });
    expect(jobs.get('5')!.start).toBe(new Date('2026-11-28T17:55:07').toISOString());
    expect(jobs.get('5')!.end).toBeUndefined();
  });
});

describe('parseSacct', () => {
  it('reads allocation lines, skips steps, takes the base state', () => {
    const out = [
      '10|CANCELLED by 0|0:15|2026-01-01T00:00:00|2026-01-01T00:01:00',
      '10.batch|CANCELLED|0:15|x|y',
      '11|COMPLETED|0:0|Unknown|Unknown',
      '12|OUT_OF_MEMORY|0:125|None|None',
    ].join('\n');
    const jobs = parseSacct(out);
    expect([...jobs.keys()]).toEqual(['10', '11', '12']);
    expect(jobs.get('10')).toMatchObject({ state: 'CANCELLED', exitCode: 0, signal: 15, source: 'sacct' });
    expect(jobs.get('11')).toMatchObject({ state: 'COMPLETED', exitCode: 0 });
    expect(jobs.get('12')).toMatchObject({ state: 'OUT_OF_MEMORY', signal: 125 });
  });
});

describe('parseSbatch', () => {
  it.each([
    ['42\n', '42'],
    ['42;cluster\n', '42'],
    ['sbatch: warning: something\n43\n', '43'],
    ['', undefined],
    ['Submitted batch job 44', undefined],
  ])('%j → %s', (out, id) => {
    expect(parseSbatch(out)).toBe(id);
  });
});

describe('sinfo', () => {
  it('counts each node once and its GPUs', () => {
    const nodes = parseSinfo(
      [
        'vm|2|8000|(null)|idle',
        'vm|2|8000|(null)|idle',
        'g1|64|512000|gpu:a100:4(S:0-1),gpu:v100:2|mixed',
        'd1|8|1000|gpu:1|down*',
      ].join('\n'),
    );
    expect(nodes.map((n) => [n.name, n.cpus, n.memory, n.gpus])).toEqual([
      ['vm', 2, 8000, 0],
      ['g1', 64, 512000, 6],
      ['d1', 8, 1000, 1],
    ]);
    expect(nodes.filter(usableNode).map((n) => n.name)).toEqual(['vm', 'g1']);
  });
  it.each([
    ['(null)', 0],
    ['gpu:2', 2],
    ['gpu:tesla:2(S:0),mps:100', 2],
  ])('gresGpus(%j) = %d', (g, n) => {
    expect(gresGpus(g)).toBe(n);
  });
  it('slurmTime ignores N/A, NONE, Unknown', () => {
    for (const s of ['N/A', 'NONE', 'Unknown', '', undefined]) expect(slurmTime(s)).toBeUndefined();
  });
});
