// Found by trinity: sigaltstack with ss_size 2^64-1 made the Sentry crash (a RangeError
// writing the signal frame: the size, kept as a number, had rounded up to 2^64).
import { describe, expect, it } from 'vitest';
import * as path from 'path';
import { compileGuest, LINKAGES } from '../helpers/build';
import { expectSameAsNative, hasStackTrace } from '../helpers/run';

describe.each(LINKAGES)('sigaltstack edge values (%s)', (linkage) => {
  it('a 2^64-1 byte alternate stack: the handler runs, as on Linux', async () => {
    const bin = compileGuest('altstack_huge', linkage, { srcDir: path.join(__dirname, 'guests') });
    const { sandbox } = await expectSameAsNative([bin]);
    expect(sandbox.stdout).toContain('handled\n');
    expect(hasStackTrace(sandbox.stderr)).toBe(false);
  });
  it('sp and size near 2^64, set and read back, also through rt_sigreturn: exact, as on Linux', async () => {
    const bin = compileGuest('altstack_raw', linkage, { srcDir: path.join(__dirname, 'guests') });
    const { sandbox } = await expectSameAsNative([bin]);
    expect(sandbox.stdout).toContain('after sigreturn: 0 sp=0xfffffffffffff000');
    expect(hasStackTrace(sandbox.stderr)).toBe(false);
  });
});
