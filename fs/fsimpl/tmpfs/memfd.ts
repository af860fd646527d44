/**
 * memfd_create: an unlinked tmpfs file. Sealing (F_ADD_SEALS) is kept on the inode and
 * enforced by TmpfsFile.
 */
import { Credentials } from '../../../src/auth/credentials';
import { O_RDWR, O_LARGEFILE, S_IFREG } from '../../../src/abi/fs';
import { Dentry } from '../../vfs/dentry';
import { Tmpfs, TmpfsInode, TmpfsFile, SEAL_SEAL } from './tmpfs';

/** Created on first use: module-level instances of other modules' classes break under import cycles. */
let memfdFs: Tmpfs | null = null;
let seq = 0;

export const MFD_CLOEXEC = 1;
export const MFD_ALLOW_SEALING = 2;

export function createMemfd(name: string, allowSealing: boolean, creds: Credentials): TmpfsFile {
  const root = (memfdFs ??= new Tmpfs({ type: 'tmpfs', mode: 0o1777 })).root();
  const tmp = `memfd-${seq++}`;
  const ino = root.mknod(tmp, S_IFREG | 0o777, creds, 0) as TmpfsInode;
  root.unlink(tmp);
  if (!allowSealing) ino.seals = SEAL_SEAL;
  const f = new TmpfsFile(ino, O_RDWR | O_LARGEFILE);
  const d = new Dentry(`memfd:${name}`, null, ino);
  d.deleted = true;
  f.dentry = d;
  return f;
}
