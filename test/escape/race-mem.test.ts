// Issue 7: guest memory the Sentry reads, rewritten by another guest thread while it
// reads it (guests/race_mem.c): robust lists walked at thread exit (a cycle that never
// returns to the head, garbage links and offsets, a racer rewriting a shared head while
// 300 threads exit with it), futex words flipped under WAIT/CMP_REQUEUE/WAKE_OP/LOCK_PI,
// the rseq area and a stack_t rewritten under rseq/sigaltstack and signal delivery.
// Compared with a native run: the same lines, every result one Linux gives. (Without
// ROBUST_LIST_LIMIT the cycle hangs the Sentry, deaf to SIGTERM.)
import { describe, expect, it } from 'vitest';
import * as path from 'path';
import { compileGuest, LINKAGES } from '../helpers/build';
import { expectSameAsNative, hasStackTrace } from '../helpers/run';

describe.each(LINKAGES)('racing the memory the Sentry reads (%s)', (linkage) => {
  it('robust lists, futex words, rseq area, stack_t: Linux\'s results, the Sentry unharmed', async () => {
    const bin = compileGuest('race_mem', linkage, { srcDir: path.join(__dirname, 'guests') });
    const { sandbox } = await expectSameAsNative([bin], { timeoutMs: 60_000 });
    expect(sandbox.stdout).toContain('cycle: words 0x40000000 0x40000000 0x40000000\n');
    expect(sandbox.stdout).toContain("racing rseq area and stack_t: Linux's results only\n");
    expect(sandbox.stderr).not.toMatch(/internal error/);
    expect(hasStackTrace(sandbox.stderr)).toBe(false);
  }, 120_000);
});
