import { defineConfig } from 'vitest/config';
import LongestFirstSequencer from './test/support/sequencer.ts';

/**
 * Test projects by the real components they need. A project's globalSetup starts those
 * components once per run (test/support/*.setup.ts) and fails the run if one cannot start:
 * no suite skips itself for want of a component.
 *
 *   unit    test/**\/*.test.ts              nothing external (HTTP over loopback/unix sockets is fine)
 *   k8s     test/**\/*.k8s.test.ts          a real control plane
 *   docker  test/**\/*.docker.test.ts       a real dockerd + the locally built test image
 *   slurm   test/**\/*.slurm.test.ts        a real slurmctld + slurmd (and dockerd, for the docker runtime)
 *   e2e     test/e2e/**\/*.test.ts          control plane + dockerd + Slurm (+ Jaeger for tracing*.test.ts)
 */
const common = { testTimeout: 60_000, hookTimeout: 300_000 };
const special = [
  'test/**/*.k8s.test.ts',
  'test/**/*.docker.test.ts',
  'test/**/*.slurm.test.ts',
  'test/e2e/**',
];

export default defineConfig({
  test: {
    pool: 'forks',
    // Three test files at a time even on 2 cores (vitest's default there is one): most files
    // wait on the control plane, dockerd, Slurm or a chain starting rather than use CPU (a
    // whole run with two averaged a load of ~3 on 2 cores and kept each worker busy only
    // ~63 % of the time). INTERLINK_TEST_WORKERS overrides (1 = one file at a time).
    maxWorkers: Number(process.env.INTERLINK_TEST_WORKERS || 3),
    // Longest files first across the projects (test/support/sequencer.ts).
    sequence: { sequencer: LongestFirstSequencer },
    projects: [
      { test: { ...common, name: 'unit', include: ['test/**/*.test.ts'], exclude: special } },
      {
        test: {
          ...common,
          name: 'k8s',
          include: ['test/**/*.k8s.test.ts'],
          globalSetup: ['test/support/k8s.setup.ts'],
        },
      },
      {
        test: {
          ...common,
          name: 'docker',
          include: ['test/**/*.docker.test.ts'],
          globalSetup: ['test/support/docker.setup.ts'],
        },
      },
      {
        test: {
          ...common,
          name: 'slurm',
          include: ['test/**/*.slurm.test.ts'],
          globalSetup: ['test/support/docker.setup.ts', 'test/support/slurm.setup.ts'],
        },
      },
      {
        test: {
          ...common,
          name: 'e2e',
          include: ['test/e2e/**/*.test.ts'],
          testTimeout: 180_000,
          globalSetup: [
            'test/support/k8s.setup.ts',
            'test/support/docker.setup.ts',
            'test/support/slurm.setup.ts',
            'test/support/jaeger.setup.ts',
          ],
          // e2e files run in the same pool as the rest: every chain has its own
          // namespace, node name, plugin instance and data root, and the clusters of
          // `interlink up --cluster` take free ports, so files never share mutable state. (With
          // fileParallelism off, vitest ran them one by one after everything else: ~9 min
          // of a 16 min suite on one worker.)
        },
      },
    ],
  },
});
