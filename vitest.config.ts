import { defineConfig } from 'vitest/config';

// Each test spawns Node for the CLI and runs guests under ptrace; hence the generous
// timeout. One test file at a time: several tests are timing sensitive (timers,
// parking), and each sandbox pins itself and its stubs to one of the 2 cores.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/helpers/global-setup.ts'],
    exclude: ['**/node_modules/**', 'test/.build/**'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    poolOptions: {
      forks: { minForks: 1, maxForks: 1 },
    },
  },
});
