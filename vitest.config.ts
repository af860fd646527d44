import { defineConfig } from 'vitest/config';

// Guests run under ptrace, where each syscall costs ~13 µs, and each test spawns
// Node for the CLI; hence the generous timeout. The machine has 2 cores.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    exclude: ['**/node_modules/**', 'test/.build/**'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    poolOptions: {
      forks: { minForks: 1, maxForks: 2 },
    },
  },
});
