/**
 * File-syscall semantics against the real kernel: test/fs/guests/*.c run natively and
 * in the sandbox; their output (results and errno names, no pids/inodes/times) must match.
 */
import { describe, it } from 'vitest';
import * as path from 'path';
import { compileGuest, LINKAGES } from '../helpers/build';
import { expectSameAsNative } from '../helpers/run';

const SRC = path.join(__dirname, 'guests');

describe('fs semantics match Linux', () => {
  for (const name of ['fs_semantics', 'fs_blocking', 'fs_pty']) {
    for (const l of LINKAGES) {
      it(`${name} (${l})`, async () => {
        const bin = compileGuest(name, l, { srcDir: SRC });
        await expectSameAsNative([bin], { timeoutMs: 25_000 });
      });
    }
  }
});
