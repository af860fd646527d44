/**
 * Discretionary access checks (generic_permission): owner, group, other bits against the
 * caller's fs uid/gid, with root's override (root may execute only if some x bit is set,
 * or the object is a directory).
 */
import type { Credentials } from '../../src/auth/credentials';
import { capable, capableReal, capableWrt, CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER } from '../../src/auth/capabilities';
import { S_IFMT, S_IFDIR } from '../../src/abi/fs';
import type { Inode } from './inode';

export const MAY_EXEC = 1;
export const MAY_WRITE = 2;
export const MAY_READ = 4;

export function permitted(mode: number, uid: number, gid: number, creds: Credentials, mask: number, realIds = false): boolean {
  const fsuid = realIds ? creds.uid : creds.fsuid;
  // In a child user namespace a capability overrides only for a file whose ids it maps.
  const cap = creds.userns !== null ? (c: Credentials, k: number) => !realIds && capableWrt(c, k, uid, gid) : realIds ? capableReal : capable;
  const isDir = (mode & S_IFMT) === S_IFDIR;
  // The mode bits first, the capabilities only if they refuse (generic_permission's order:
  // a capability that was not needed is not "used", acct's ASU).
  let bits: number;
  if (fsuid === uid) bits = (mode >> 6) & 7;
  else if ((realIds ? creds.gid : creds.fsgid) === gid || creds.groups.includes(gid)) bits = (mode >> 3) & 7;
  else bits = mode & 7;
  if ((bits & mask) === mask) return true;
  // CAP_DAC_OVERRIDE: anything but executing a file no x bit allows; CAP_DAC_READ_SEARCH: reads and searches.
  if (cap(creds, CAP_DAC_OVERRIDE) && ((mask & MAY_EXEC) === 0 || isDir || (mode & 0o111) !== 0)) return true;
  return (mask & MAY_WRITE) === 0 && (!(mask & MAY_EXEC) || isDir) && cap(creds, CAP_DAC_READ_SEARCH);
}

export function mayAccess(inode: Inode, creds: Credentials, mask: number): boolean {
  return permitted(inode.mode, inode.uid, inode.gid, creds, mask) || inode.grantsAccess();
}

/** Search permission on a directory; the hot check of every path walk step. */
export function mayExec(dir: Inode, creds: Credentials): boolean {
  return permitted(dir.mode, dir.uid, dir.gid, creds, MAY_EXEC) || dir.grantsAccess();
}

/** Sticky directories: only the owner of the entry or of the directory (or root) may remove it. */
export function mayDeleteSticky(dir: Inode, victim: Inode, creds: Credentials): boolean {
  // __check_sticky's order: the owners, then CAP_FOWNER (one not needed is not "used": acct's ASU).
  if ((dir.mode & 0o1000) === 0 || victim.uid === creds.fsuid || dir.uid === creds.fsuid) return true;
  return capableWrt(creds, CAP_FOWNER, victim.uid, victim.gid);
}
