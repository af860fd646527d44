/**
 * Compatibility classes of issue 15: guest C programs (test/compat/guests) built static and
 * dynamic, run natively and under `tssandbox run`, stdout compared with Linux's.
 */
import * as path from 'node:path';
import { describe, it } from 'vitest';
import { compileGuest, LINKAGES } from '../helpers/build';
import { GUESTS_DIR } from '../helpers/paths';
import { expectSameAsNative } from '../helpers/run';

const SRC = path.join(__dirname, 'guests');
const build = (name: string, l: (typeof LINKAGES)[number]) => compileGuest(name, l, { srcDir: SRC, flags: ['-I', GUESTS_DIR] });

describe('compat guests match Linux', () => {
  for (const name of ['cp_sendfile', 'cp_clone', 'cp_stdin']) {
    for (const l of LINKAGES) {
      it(`${name} (${l})`, async () => {
        await expectSameAsNative([build(name, l)], { timeoutMs: 25_000 });
      }, 40_000);
    }
  }
});
