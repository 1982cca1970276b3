import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 180_000,
    pool: 'forks',
    // Suites that share the real cluster, dockerd or Slurm coordinate through globalSetup.
    globalSetup: ['test/global-setup.ts'],
    reporters: ['default'],
  },
});
