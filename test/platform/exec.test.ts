// execve on every platform: the new image sees a fresh address space (on systrap a lone
// thread's exec empties its own in place: Platform.recycleAddressSpace) whether the old
// image had one thread or two, as on Linux.
import { describe, expect, it } from 'vitest';
import * as path from 'path';
import { compileGuest } from '../helpers/build';
import { explain, runNative, runSandbox, TEST_PLATFORMS } from '../helpers/run';

const SRC = path.join(__dirname, 'guests');

describe.each(TEST_PLATFORMS)('platform %s: execve', (platform) => {
  const expected = [
    'fcw 0x37f fsw 0 ftw 0 mxcsr 0x1f80',
    'nonzero bytes: st 0 xmm 0 ymm upper 0',
    'maps: read, old mappings 0',
    'old address: SIGSEGV',
    'getpid loop: 2000 of 2000',
    '',
  ].join('\n');

  for (const mode of ['lone', 'threaded']) {
    it(`${mode === 'lone' ? 'by a lone thread' : 'by the second of two threads'}: no old mapping, old addresses fault, FP/SSE state fresh, syscalls patched anew, as on Linux`, async () => {
      const guest = compileGuest('exec_fresh', 'static', { srcDir: SRC, flags: ['-Wl,-e,tss_entry'] });
      const args = mode === 'lone' ? [guest] : [guest, 'threaded'];
      const native = await runNative(args, { timeoutMs: 30_000 });
      expect(native.stdout, explain(native)).toBe(expected);
      const r = await runSandbox([`--platform=${platform}`, ...args], { timeoutMs: 60_000 });
      expect(r.code, explain(r)).toBe(0);
      expect(r.stdout).toBe(expected);
    });
  }
});
