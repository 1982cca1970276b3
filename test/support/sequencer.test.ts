import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { TestSpecification } from 'vitest/node';
import known from './file-durations.json' with { type: 'json' };
import LongestFirstSequencer, { expectedSeconds } from './sequencer.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const spec = (file: string, project: string) =>
  ({ moduleId: join(ROOT, file), project: { name: project } }) as unknown as TestSpecification;

describe('the longest-first test sequencer', () => {
  it('names only test files that exist (a renamed long file would silently lose its place)', () => {
    const missing = Object.keys(known).filter((f) => !existsSync(join(ROOT, f)));
    expect(missing).toEqual([]);
  });

  it('orders across projects by expected duration, unknown files by their project', async () => {
    const files = [
      spec('test/wire/roundtrip.test.ts', 'unit'),
      spec('test/vk/pods.k8s.test.ts', 'k8s'),
      spec('test/e2e/first-run.test.ts', 'e2e'),
      spec('test/e2e/not-in-the-table.test.ts', 'e2e'),
      spec('test/plugins/slurm/plugin.slurm.test.ts', 'slurm'),
    ];
    const sorted = await new LongestFirstSequencer({} as never).sort(files);
    expect(sorted.map((s) => s.moduleId.slice(ROOT.length + 1))).toEqual([
      'test/e2e/first-run.test.ts',
      'test/plugins/slurm/plugin.slurm.test.ts',
      'test/vk/pods.k8s.test.ts',
      'test/e2e/not-in-the-table.test.ts',
      'test/wire/roundtrip.test.ts',
    ]);
    expect(expectedSeconds('test/e2e/not-in-the-table.test.ts', 'e2e')).toBe(4);
  });
});
