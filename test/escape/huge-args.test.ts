// 64-bit syscall arguments (issue 7): registers reach the Sentry as JS numbers, exact only
// below 2^53. A value past that must neither round into a smaller valid one (poll with
// nfds 0x7fff_ffff_ffff_ffff waited instead of EINVAL: 2^63 has no low bits) nor lose
// Linux's int truncation (an fd of 2^60 + 3 is fd 3). The guest passes huge counts,
// lengths, offsets and int arguments to each syscall family; every line must be what
// Linux returns.
import { describe, expect, it } from 'vitest';
import * as path from 'path';
import { compileGuest, LINKAGES } from '../helpers/build';
import { explain, hasStackTrace, runNative, runSandbox, TEST_PLATFORMS } from '../helpers/run';
import { argToNumber, ARG_INEXACT } from '../../src/platform/event-buffer';

const SRC = path.join(__dirname, 'guests');

describe('argToNumber: a register as the number handlers get', () => {
  it('is exact below 2^53 and keeps the sign of negative ints', () => {
    for (const v of [0n, 1n, 4095n, 0x7ffffffff000n, 2n ** 53n - 1n]) expect(argToNumber(v)).toBe(Number(v));
    expect(argToNumber(2n ** 64n - 1n)).toBe(-1);
    expect(argToNumber(2n ** 64n - 100n)).toBe(-100); // AT_FDCWD
    expect(argToNumber(2n ** 64n - 2n ** 53n)).toBe(-(2 ** 53));
    expect(argToNumber(0xffffffff00000006n)).toBe(-(2 ** 32) + 6);
  });

  it('saturates beyond into [2^52, 2^53) with the low bits and sign kept', () => {
    const cases = [2n ** 53n, 2n ** 63n - 1n, 2n ** 63n, 2n ** 63n + 1n, 2n ** 64n - 2n ** 53n - 1n, 2n ** 60n + 3n, 0x7fffffff00000005n];
    for (const v of cases) {
      const n = argToNumber(v);
      const s = BigInt.asIntN(64, v);
      expect(Math.abs(n) >= ARG_INEXACT && Math.abs(n) <= 2 ** 53, `${v}`).toBe(true);
      expect(n < 0, `${v}`).toBe(s < 0n);
      expect(n | 0, `${v}`).toBe(Number(BigInt.asIntN(32, v)));
      expect(n >>> 0, `${v}`).toBe(Number(BigInt.asUintN(32, v)));
    }
  });
});

describe.each(TEST_PLATFORMS)('huge syscall arguments (%s)', (platform) => {
  it.each(LINKAGES)('every family answers as Linux does (%s)', async (linkage) => {
    const bin = compileGuest('huge_args', linkage, { srcDir: SRC });
    const [native, sb] = await Promise.all([runNative([bin]), runSandbox([`--platform=${platform}`, bin])]);
    expect(native.code, explain(native)).toBe(0);
    expect(native.stdout).toContain('poll nfds 0x7fffffffffffffff = -1 EINVAL');
    expect(sb.stdout, explain(sb)).toBe(native.stdout);
    expect(sb.code, explain(sb)).toBe(0);
    expect(hasStackTrace(sb.stderr), explain(sb)).toBe(false);
    expect(sb.stderr, explain(sb)).not.toMatch(/internal error/);
  });
});
