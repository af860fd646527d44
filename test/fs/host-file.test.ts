import { describe, it, expect } from 'vitest';
import * as nfs from 'fs';
import * as path from 'path';
import { execFileSync } from 'child_process';
import { HostFile } from '../../fs/fsimpl/host/host-file';
import { hostPoller } from '../../src/waiter/host-poller';
import { O_RDWR, O_RDONLY, POLLIN } from '../../src/abi/fs';
import * as E from '../../src/abi/errno';
import { native } from '../../src/platform/native';
import { tmpDirs } from '../helpers/tmp';

const mkTmp = tmpDirs();

const hasNative = (() => {
  try {
    return typeof native().hostPoll === 'function';
  } catch {
    return false;
  }
})();

describe.skipIf(!hasNative)('HostFile', () => {
  it('never blocks: EAGAIN when empty, a poller watch when waiting, data once written', () => {
    const dir = mkTmp('tss-hf-');
    const fifo = path.join(dir, 'p');
    execFileSync('mkfifo', [fifo]);
    const fd = nfs.openSync(fifo, nfs.constants.O_RDWR | nfs.constants.O_NONBLOCK);
    const f = new HostFile(fd, O_RDWR, true);
    const b = Buffer.alloc(16);
    expect(f.read(b)).toBe(-E.EAGAIN);
    expect(f.readiness() & POLLIN).toBe(0);
    f.armWait(POLLIN);
    expect(hostPoller.empty).toBe(false);
    expect(f.write(Buffer.from('abc'))).toBe(3);
    expect(f.readiness() & POLLIN).toBe(POLLIN);
    expect(f.read(b)).toBe(3);
    expect(b.subarray(0, 3).toString()).toBe('abc');
    expect(f.isTty).toBe(false);
    const st = f.stat();
    expect(typeof st === 'object' && (st.mode & 0o170000) === 0o010000).toBe(true);
    f.decRef();
    expect(() => nfs.fstatSync(fd)).toThrow();
  });

  it('a non-tty answers ENOTTY to terminal ioctls; writes to a read-only fd are EBADF', () => {
    const fd = nfs.openSync('/etc/passwd', 'r');
    const f = new HostFile(fd, O_RDONLY, true);
    expect(f.ioctl({} as never, 0x5401, 0)).toBe(-E.ENOTTY);
    expect(f.write(Buffer.from('x'))).toBe(-E.EBADF);
    f.decRef();
  });
});
