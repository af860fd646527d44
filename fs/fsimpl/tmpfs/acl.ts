/** POSIX access ACLs on tmpfs files: what of one the mode bits carry. */
import * as E from '../../../src/abi/errno';
import type { TmpfsInode } from './tmpfs';

/**
 * system.posix_acl_access (version 2: entries of u16 tag, u16 perm, u32 id): owner,
 * group (or mask) and other permissions become the mode bits. Returns 0 when the ACL
 * is equivalent to the mode (nothing to keep), 1 when it must be kept, or -EINVAL.
 */
export function applyAccessAcl(ino: TmpfsInode, v: Buffer): number {
  if (v.length < 4 || (v.length - 4) % 8 !== 0 || v.readUInt32LE(0) !== 2) return -E.EINVAL;
  let user = -1, group = -1, mask = -1, other = -1, extended = false;
  for (let o = 4; o < v.length; o += 8) {
    const tag = v.readUInt16LE(o);
    const perm = v.readUInt16LE(o + 2) & 7;
    if (tag === 0x01) user = perm;
    else if (tag === 0x04) group = perm;
    else if (tag === 0x10) mask = perm;
    else if (tag === 0x20) other = perm;
    else if (tag === 0x02 || tag === 0x08) extended = true;
    else return -E.EINVAL;
  }
  if (user < 0 || group < 0 || other < 0 || (extended && mask < 0)) return -E.EINVAL;
  const g = mask >= 0 ? mask : group;
  ino.mode = (ino.mode & ~0o777) | (user << 6) | (g << 3) | other;
  ino.touch(false, true);
  return extended || mask >= 0 ? 1 : 0;
}
