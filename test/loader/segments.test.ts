// Issue 14: the ELF loader maps a file's segments in one hand-over of its fd
// (mapFileSegments: one recvmsg and close in the stub for all of them). The layout
// (permissions, offsets, relative addresses in /proc/self/maps, the program's and its
// interpreter's) and the bytes (data, .bss from mid-page on) stay Linux's. A
// single-threaded guest's own page, lent to the hand-over's msghdr, is put back.
import { describe, expect, it } from 'vitest';
import * as path from 'path';
import { compileGuest, LINKAGES } from '../helpers/build';
import { expectSameAsNative } from '../helpers/run';

const SRC = path.join(__dirname, 'guests');

describe.each(LINKAGES)('ELF segments (%s)', (linkage) => {
  it('the layout and bytes are Linux\'s', async () => {
    const bin = compileGuest('segments', linkage, { srcDir: SRC });
    const { sandbox } = await expectSameAsNative([bin]);
    expect(sandbox.stdout).toContain('data sum 13, bss zero 1');
    expect(sandbox.stdout).toMatch(/^exe r-xp /m);
  }, 60_000);

  it('host-file mmaps leave every byte of the page lent to the fd hand-over as it was', async () => {
    const bin = compileGuest('lent_page', linkage, { srcDir: SRC });
    const { sandbox } = await expectSameAsNative([bin]);
    expect(sandbox.stdout).toBe('mapped 50, stack page kept 1, anonymous page kept 1\n');
  }, 60_000);
});
