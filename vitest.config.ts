import { defineConfig } from 'vitest/config';

// Each test spawns Node for the CLI and runs guests under ptrace; hence the generous
// timeout. One test file at a time: each sandbox pins itself and its stubs to one of
// the 2 cores (the tests themselves must pass on a loaded machine: no time compared).
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/helpers/global-setup.ts'],
    exclude: ['**/node_modules/**', 'test/.build/**'],
    // Twice what the slowest default-timeout tests take on a loaded machine (two CPU hogs
    // beside the suite): a timeout only ends a hang, it measures nothing.
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    poolOptions: {
      forks: { minForks: 1, maxForks: 1 },
    },
  },
});
