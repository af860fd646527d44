/**
 * Checks the test harness itself, without the sandbox: every guest compiles both
 * ways, runs natively to "done", and is deterministic (two native runs, static and
 * dynamic, print the same). A guest that fails here makes sandbox comparisons
 * meaningless, so this guards the other suites.
 */
import { describe, expect, it } from 'vitest';
import { compileGuest, listGuests } from './helpers/build';
import { explain, runNative, status } from './helpers/run';

/** Lines that legitimately differ between native runs (host pids). */
const volatileLine = (l: string) => l.startsWith('ns: ');

describe('guest programs run natively and deterministically', () => {
  for (const name of listGuests()) {
    it(name, async () => {
      const s = compileGuest(name, 'static');
      const d = compileGuest(name, 'dynamic');
      const [a, b] = await Promise.all([runNative([s]), runNative([d])]);
      expect(status(a), explain(a)).toBe(0);
      expect(status(b), explain(b)).toBe(0);
      expect(a.stdout, explain(a)).toMatch(/done\n$/);
      expect(a.stdout, explain(a)).not.toMatch(/FATAL|unexpected success|\(wanted /);
      const stable = (o: string) => o.split('\n').filter((l) => !volatileLine(l)).join('\n');
      expect(stable(b.stdout)).toBe(stable(a.stdout));
    });
  }
});
