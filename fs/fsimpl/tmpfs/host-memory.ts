/**
 * Host memory files back tmpfs files that get mmapped or grow past HOST_BACKED_MIN, so a
 * MAP_SHARED mapping in the stub and read/write here see the same pages and big files
 * stay off the Sentry's heap. Unnamed (a memfd, else O_TMPFILE on a host tmpfs); the fd
 * closes when the inode is garbage collected.
 */
import * as nfs from 'fs';
import * as os from 'os';
import * as E from '../../../src/abi/errno';
import { native, type NativeAddon } from '../../../src/platform/native';

const HOST_O_TMPFILE = 0o20200000;
/** Host memory files open now (each one host fd of the Sentry). */
export const hostBacked = { n: 0 };
/**
 * Past this many, files that merely grow stay on the heap (up to 2 GiB): host fds are the
 * Sentry's, and the budget alone (half of RAM / 1 MiB) could allow more than it has.
 * Mapped files always move (coherence needs the host file).
 */
export const MAX_GROWN_HOST_FILES = 4096;
const hostFdCloser = new FinalizationRegistry<number>((fd) => {
  hostBacked.n--;
  try {
    nfs.closeSync(fd);
  } catch {
    /* already closed */
  }
});
/** fd (owner's pages) closes when owner is collected. */
export function registerHostFd(owner: object, fd: number): void {
  hostFdCloser.register(owner, fd);
  hostBacked.n++;
}
export function hostBlocks(fd: number): number {
  try {
    return nfs.fstatSync(fd).blocks;
  } catch {
    return 0;
  }
}
/** Host memory for a file's pages: a memfd (no host path is named: the confined Sentry opens none). */
export function hostMemoryFile(): number {
  let n: Partial<NativeAddon> = {};
  try {
    n = native();
  } catch {
    /* no addon: the fallback below */
  }
  if (typeof n.hostMemfd === 'function') {
    const fd = n.hostMemfd('tssandbox-tmpfs');
    if (fd >= 0 || fd === -E.EMFILE || fd === -E.ENFILE) return fd >= 0 ? fd : -E.ENOMEM;
  }
  for (const dir of ['/dev/shm', os.tmpdir()]) {
    try {
      return nfs.openSync(dir, HOST_O_TMPFILE | nfs.constants.O_RDWR, 0o600);
    } catch {
      /* try the next */
    }
  }
  return -E.ENOMEM;
}
