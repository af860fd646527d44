/**
 * execve's credentials (Linux's bprm_fill_uid, cap_bprm_creds_from_file and the
 * dumpability of begin_new_exec): a set-user-ID or set-group-ID file runs with its
 * owner's effective id (not on a nosuid mount, under no_new_privs, or for a tracee whose
 * tracer could not trace the result); every exec makes the saved and fs ids the effective
 * ones; the capabilities follow (capsAfterExec). Computed before the new image is loaded
 * (its auxv tells AT_EUID and AT_SECURE) and installed past the point of no return.
 */
import type { Credentials } from '../auth/credentials';
import { capable, hasCapability, capsAfterExec, capsOf, copyCaps, CAP_SETUID, CAP_SYS_PTRACE } from '../auth/capabilities';
import { fromKid } from '../auth/userns';
import { S_ISUID } from '../abi/fs';
import type { Inode } from '../../fs/vfs/inode';
import type { Mount } from '../../fs/vfs/mount';
import { mayAccess, MAY_READ } from '../../fs/vfs/perm';
import { identityChanged, SUID_DUMP_DISABLE, SUID_DUMP_USER } from './dumpable';
import type { Task } from './task';

const S_ISGID = 0o2000, S_IXGRP = 0o010;

export interface ExecCreds {
  creds: Credentials;
  /** AT_SECURE: the loader and libc then distrust the environment (LD_PRELOAD and co.). */
  secure: boolean;
  /** The new address space's dumpability. */
  dumpable: number;
  /** A privileged exec or an identity change ends PR_SET_PDEATHSIG. */
  clearPdeathSig: boolean;
}

/** The file an exec runs, as execInto has it: its inode (the overlay's, as stat shows) and mount. */
interface ExecFile {
  inode: Inode;
  dentry?: { inode: Inode; mnt: Mount | null } | null;
}

export function execCredentials(t: Task, file: ExecFile): ExecCreds {
  const o = t.creds;
  const n = o.clone();
  copyCaps(o, n);
  const inode = file.dentry?.inode ?? file.inode;
  const mnt = file.dentry?.mnt ?? null;
  const mode = inode.mode;
  if ((mode & (S_ISUID | S_ISGID)) !== 0 && !(mnt?.nosuid ?? false) && !t.noNewPrivs &&
      fromKid(o.userns, inode.uid) >= 0 && fromKid(o.userns, inode.gid, true) >= 0) {
    if (mode & S_ISUID) n.euid = inode.uid;
    if ((mode & (S_ISGID | S_IXGRP)) === (S_ISGID | S_IXGRP)) n.egid = inode.gid;
  }
  // A tracee gains nothing its tracer could not trace (LSM_UNSAFE_PTRACE), unless it could set ids itself.
  const tracer = t.ptrace !== null ? [...t.ptrace.tracer.tasks][0] : undefined;
  if ((n.euid !== o.euid || n.egid !== o.egid) && tracer !== undefined && !hasCapability(tracer.creds, CAP_SYS_PTRACE) && !capable(o, CAP_SETUID)) {
    n.euid = o.uid;
    n.egid = o.gid;
  }
  n.suid = n.fsuid = n.euid;
  n.sgid = n.fsgid = n.egid;
  capsAfterExec(n);
  const rootUid = o.userns === null ? n.uid === 0 : fromKid(o.userns, n.uid) === 0;
  const np = capsOf(n);
  const secure = n.euid !== o.uid || n.egid !== o.gid || (!rootUid && (np.permitted & ~(np.ambient ?? 0n)) !== 0n);
  // begin_new_exec: the old ids decide (an unreadable file too), then commit_creds's identity test.
  const changed = identityChanged(o, n);
  const keep = mayAccess(inode, o, MAY_READ) && o.euid === o.uid && o.egid === o.gid && !changed;
  return { creds: n, secure, dumpable: keep ? SUID_DUMP_USER : SUID_DUMP_DISABLE, clearPdeathSig: secure || changed };
}
