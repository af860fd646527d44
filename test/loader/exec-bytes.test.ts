// Issue 15: argv and envp are bytes end to end. A guest that execs itself with strings
// holding every byte 0x01-0xff (invalid UTF-8 included) gets them back byte for byte,
// in its argv/envp and in /proc/self/cmdline and environ, as on Linux; strings from the
// command line (UTF-8) and a #! script's path reach the guest unchanged too.
import { describe, expect, it } from 'vitest';
import * as fs from 'fs';
import * as path from 'path';
import { compileGuest, LINKAGES } from '../helpers/build';
import { SCRATCH_DIR } from '../helpers/paths';
import { expectSameAsNative } from '../helpers/run';

const SRC = path.join(__dirname, 'guests');

describe.each(LINKAGES)('argv/envp bytes (%s)', (linkage) => {
  it('an exec with bytes 0x01-0xff in argv and envp: the new image gets them byte for byte', async () => {
    const bin = compileGuest('exec_bytes', linkage, { srcDir: SRC });
    const { sandbox } = await expectSameAsNative([bin]);
    // Not only equal to native: the high bytes are there, not U+FFFD (ef bf bd).
    expect(sandbox.stdout).toContain('\n  808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f\n');
    expect(sandbox.stdout).not.toContain('efbfbd');
  });

  it('UTF-8 arguments from the command line arrive as the same bytes', async () => {
    const bin = compileGuest('exec_bytes', linkage, { srcDir: SRC });
    const { sandbox } = await expectSameAsNative([bin, 'image', 'héllo ✓', '日本'], { env: { TSS_U: 'ünï' } });
    expect(sandbox.stdout).toContain('68c3a96c6c6f20e29c93'); // "héllo ✓"
  });
});

describe('#! scripts with non-ASCII names', () => {
  it('the script path reaches the interpreter unchanged', async () => {
    fs.mkdirSync(SCRATCH_DIR, { recursive: true });
    const script = path.join(SCRATCH_DIR, 'hashbang-é✓.sh');
    fs.writeFileSync(script, '#!/bin/sh\nprintf "%s\\n" "$0" "$@" | od -An -tx1\n', { mode: 0o755 });
    await expectSameAsNative([script, 'ä']);
  });
});
