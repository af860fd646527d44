/**
 * The host side of a HostInode's setattr (truncate, chmod, chown, utimes), and its
 * write-behind: for a file the sandbox made, chmod, chown and utimes go with the next
 * Gofer round trip instead of their own (README.md, "Write-behind").
 */
import * as E from '../../../src/abi/errno';
import { O_RDWR, O_WRONLY, UTIME_OMIT } from '../../../src/abi/fs';
import { goferNative } from '../../../src/gofer/native';
import { nowTs, type SetAttr } from '../../vfs/inode';
import type { HostInode } from './hostfs';

/**
 * Sets a's attributes on the host: r, 0 or -errno; behind, whether any went write-behind
 * (then the inode takes the mode and owners as the host will have them).
 *
 * Write-behind, when the backend can (the Gofer holds CAP_CHOWN/CAP_FOWNER/CAP_FSETID,
 * and no host watch waits for the echo) and the file is one the sandbox made: the VFS
 * checked the caller's right, the host cannot refuse (no immutable or append-only flag on
 * a file it just made) and what it does is known (chmod: exactly the bits asked; chown:
 * the ids, with no setuid/setgid bit to clear, else it is asked), so the call goes with
 * the next round trip, in order. It reaches the host before the host is asked about the
 * file or its fd is used (HostInode.settle), with any other request, at the Sentry's
 * bound (fs/rootfs: a timer) and at exit.
 */
export function setattrHost(i: HostInode, a: SetAttr): { r: number; behind: boolean } {
  const be = i.fs.backend;
  let r = 0;
  let behind = false;
  if (a.size !== undefined) {
    if (i.isDir) return { r: -E.EISDIR, behind };
    r = be.truncate(i.rel, a.size);
    if (r < 0) return { r, behind };
    i.dropWindows();
  }
  const wb = i.madeHere && be.writesBehind !== undefined && be.writesBehind(i.rel);
  // A deferred call the host refused after all (the tree changed on the host): ask it again.
  const refused = (): void => i.changed();
  const wrote = (gen: number): void => {
    i.pendingGen = gen;
    behind = true;
  };
  if (a.mode !== undefined && !i.isSymlink) {
    if (wb) wrote(be.deferChmod!(i.rel, a.mode & 0o7777, refused));
    else r = be.chmod(i.rel, a.mode & 0o7777);
    if (r < 0) return { r, behind };
  }
  if ((a.uid !== undefined && a.uid !== -1) || (a.gid !== undefined && a.gid !== -1)) {
    // chown clears a setuid/setgid bit: one there, and the host says what is left.
    const mode = a.mode !== undefined ? a.mode : i.mode;
    if (wb && (mode & 0o6000) === 0) wrote(be.deferChown!(i.rel, a.uid ?? -1, a.gid ?? -1, refused));
    else r = be.lchown(i.rel, a.uid ?? -1, a.gid ?? -1);
    if (r < 0) return { r, behind };
  }
  if (a.atime !== undefined || a.mtime !== undefined) {
    // Exact (sec, nsec) pairs; an absent time is UTIME_OMIT for the host (no stat first).
    // 'now' is the Sentry's clock (the guest's: --deterministic keeps its own).
    const pair = (t: typeof a.atime): readonly [number, number] => (t === undefined ? [0, UTIME_OMIT] : t === 'now' ? nowTs() : t);
    const at = pair(a.atime);
    const mt = pair(a.mtime);
    if (futimes(i, at, mt)) r = 0;
    else if (wb) wrote(be.deferUtimes!(i.rel, at, mt, refused));
    else r = be.lutimes(i.rel, at, mt);
  }
  return { r, behind };
}

/**
 * Sets the times through a writable host fd of this file the Sentry holds (touch's
 * futimens after its open): no round trip. False when there is none or the host
 * refuses (the Sentry's own credentials): the Gofer does it.
 */
function futimes(i: HostInode, at: readonly [number, number], mt: readonly [number, number]): boolean {
  const refused = i.fs.futimesRefused;
  const n = goferNative();
  if (refused.has(i.uid) || n?.hostFutimens === undefined) return false;
  i.settle();
  for (const acc of [O_WRONLY, O_RDWR]) {
    const sl = i.slots[acc];
    if (sl === null || sl.fd < 0) continue;
    const r = i.fs.own(() => n.hostFutimens!(sl.fd, at[0], at[1], mt[0], mt[1]));
    // Explicit times need the owner (or CAP_FOWNER): refused for one file, refused for
    // every file of that owner (an immutable file only costs its owner's the fast path).
    if (r === -E.EPERM) refused.add(i.uid);
    return r === 0;
  }
  return false;
}
