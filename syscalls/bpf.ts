/**
 * bpf(2), the part cgroup device filters need (runc, systemd): PROG_LOAD of a
 * BPF_PROG_TYPE_CGROUP_DEVICE program, PROG_ATTACH/DETACH/QUERY on a cgroup2 directory
 * for BPF_CGROUP_DEVICE, PROG_GET_NEXT_ID, PROG_GET_FD_BY_ID and OBJ_GET_INFO_BY_FD.
 * Programs are enforced at open and mknod of device nodes (src/kernel/cgroup-bpf.ts).
 * CGROUP_SKB programs load (a feature probe's) but attach nowhere. Other program types, maps
 * and the other commands are EINVAL, as a kernel without them.
 * Privileged as on Debian's default (unprivileged_bpf_disabled): CAP_SYS_ADMIN or CAP_BPF
 * in the sandbox's initial user namespace, else EPERM.
 */
import * as E from '../src/abi/errno';
import { capable, CAP_SYS_ADMIN } from '../src/auth/capabilities';
import {
  attachDeviceProgram, BpfProgFile, BPF_CGROUP_DEVICE, BPF_F_ALLOW_MULTI, BPF_F_ALLOW_OVERRIDE, BPF_F_REPLACE,
  BPF_PROG_TYPE_CGROUP_DEVICE, deviceCheckFor, detachDeviceProgram, newProgram, nextProgramId, programById,
  queryDevicePrograms, type BpfProgram,
} from '../src/kernel/cgroup-bpf';
import { EBPF_MAX_INSNS, verifyEbpf } from '../src/kernel/ebpf';
import type { Task } from '../src/kernel/task';
import { cgroupOfDir } from '../fs/fsimpl/sys/cgroupfs';
import { O_RDWR } from '../src/abi/fs';
import { install } from './fs-common';

const CAP_BPF = 39;
const BPF_PROG_TYPE_CGROUP_SKB = 8;
const BPF_PROG_LOAD = 5, BPF_PROG_ATTACH = 8, BPF_PROG_DETACH = 9, BPF_PROG_GET_NEXT_ID = 11;
const BPF_PROG_GET_FD_BY_ID = 13, BPF_OBJ_GET_INFO_BY_FD = 15, BPF_PROG_QUERY = 16;
const BPF_F_QUERY_EFFECTIVE = 1;
/** The largest union bpf_attr read; bytes past it must be zero (E2BIG), as Linux's check. */
const ATTR_SIZE = 160;
/** sizeof(struct bpf_prog_info) here. */
const INFO_SIZE = 232;
/** prog_flags Linux knows (BPF_F_STRICT_ALIGNMENT ... BPF_F_XDP_DEV_BOUND_ONLY); none change a device program. */
const PROG_FLAGS = 0x7f;

/** Bytes of attr past `used` (the command's last field) must be zero, Linux's CHECK_ATTR. */
function tailZero(a: Buffer, used: number): boolean {
  for (let i = used; i < a.length; i++) if (a[i] !== 0) return false;
  return true;
}

export function bpf(t: Task, cmd: number, attrAddr: number, size: number): number {
  size >>>= 0;
  if (size > 4096) return -E.E2BIG;
  const raw = t.mem.read(attrAddr, size);
  if (raw === null) return -E.EFAULT;
  if (!tailZero(raw, Math.min(size, ATTR_SIZE))) return -E.E2BIG;
  const a = Buffer.alloc(ATTR_SIZE);
  raw.copy(a, 0, 0, Math.min(size, ATTR_SIZE));
  if (!capable(t.creds, CAP_SYS_ADMIN) && !capable(t.creds, CAP_BPF)) return -E.EPERM;
  switch (cmd | 0) {
    case BPF_PROG_LOAD: return progLoad(t, a);
    case BPF_PROG_ATTACH: return attachOrDetach(t, a, true);
    case BPF_PROG_DETACH: return attachOrDetach(t, a, false);
    case BPF_PROG_QUERY: return query(t, a, attrAddr);
    case BPF_PROG_GET_NEXT_ID: {
      if (!tailZero(a, 12)) return -E.EINVAL;
      const id = nextProgramId(t.kernel, a.readUInt32LE(0));
      if (id === null) return -E.ENOENT;
      const out = Buffer.alloc(4);
      out.writeUInt32LE(id);
      return t.mem.write(attrAddr + 4, out) ? 0 : -E.EFAULT;
    }
    case BPF_PROG_GET_FD_BY_ID: {
      if (!tailZero(a, 12) || a.readUInt32LE(8) !== 0) return -E.EINVAL;
      const p = programById(t.kernel, a.readUInt32LE(0));
      if (p === null) return -E.ENOENT;
      return installProg(t, new BpfProgFile(p.hold(), O_RDWR));
    }
    case BPF_OBJ_GET_INFO_BY_FD: return info(t, a, attrAddr);
    default:
      return -E.EINVAL;
  }
}

function progOf(t: Task, fd: number): BpfProgram | number {
  const f = t.fdTable.get(fd);
  if (!f) return -E.EBADF;
  return f instanceof BpfProgFile ? f.prog : -E.EINVAL;
}

function progLoad(t: Task, a: Buffer): number {
  if (!tailZero(a, 152)) return -E.EINVAL;
  const type = a.readUInt32LE(0), cnt = a.readUInt32LE(4), flags = a.readUInt32LE(44);
  const logLevel = a.readUInt32LE(24), logSize = a.readUInt32LE(28), logBuf = Number(a.readBigUInt64LE(32));
  if (flags & ~PROG_FLAGS) return -E.EINVAL;
  if (cnt === 0 || cnt > EBPF_MAX_INSNS) return -E.E2BIG;
  const license = t.mem.readCString(Number(a.readBigUInt64LE(16)), 128);
  if (license === null) return -E.EFAULT;
  // CGROUP_SKB programs load (cilium/ebpf, and so runc, probe BPF_PROG_ATTACH by loading
  // one) but attach nowhere: the network stack runs no programs.
  if (type !== BPF_PROG_TYPE_CGROUP_DEVICE && type !== BPF_PROG_TYPE_CGROUP_SKB) return -E.EINVAL;
  // The name: up to 15 of [A-Za-z0-9_.], NUL-terminated (EINVAL otherwise, as bpf_obj_name_cpy).
  const nameBytes = a.subarray(48, 64);
  const nul = nameBytes.indexOf(0);
  if (nul < 0) return -E.EINVAL;
  const name = nameBytes.subarray(0, nul).toString('latin1');
  if (!/^[A-Za-z0-9_.]*$/.test(name)) return -E.EINVAL;
  if (logLevel !== 0 && (logSize < 128 || logBuf === 0)) return -E.EINVAL;
  const code = t.mem.read(Number(a.readBigUInt64LE(8)), cnt * 8);
  if (code === null) return -E.EFAULT;
  const owned = Buffer.from(code);
  const r = verifyEbpf(owned);
  if (r < 0) {
    if (logLevel !== 0) {
      const msg = Buffer.from('tssandbox: cgroup device programs use ALU, jumps, LD_IMM64 and context/stack loads and stores only (no helper calls, no maps)\n\0', 'latin1');
      t.mem.write(logBuf, msg.subarray(0, Math.min(msg.length, logSize)));
    }
    return r;
  }
  const gpl = ['GPL', 'GPL v2', 'GPL and additional rights', 'Dual BSD/GPL', 'Dual MIT/GPL', 'Dual MPL/GPL'].includes(license);
  return installProg(t, new BpfProgFile(newProgram(t.kernel, type, owned, name, t.creds.uid, gpl), O_RDWR));
}

/** A program's fd, close-on-exec as Linux's (with no fd free, install lets the file and so the program go). */
function installProg(t: Task, f: BpfProgFile): number {
  return install(t, f, true);
}

function attachOrDetach(t: Task, a: Buffer, attach: boolean): number {
  if (!tailZero(a, 32)) return -E.EINVAL;
  const target = a.readInt32LE(0), progFd = a.readInt32LE(4), type = a.readUInt32LE(8), flags = a.readUInt32LE(12);
  if (attach && flags & ~(BPF_F_ALLOW_OVERRIDE | BPF_F_ALLOW_MULTI | BPF_F_REPLACE)) return -E.EINVAL;
  if (type !== BPF_CGROUP_DEVICE) return -E.EINVAL;
  const prog = progOf(t, progFd);
  if (attach && typeof prog === 'number') return prog;
  // bpf_prog_get_type: a program of another type is EINVAL (detach: as no program).
  if (attach && typeof prog !== 'number' && prog.type !== BPF_PROG_TYPE_CGROUP_DEVICE) return -E.EINVAL;
  const f = t.fdTable.get(target);
  const cg = f ? cgroupOfDir(f.inode) : null;
  if (cg === null) return -E.EBADF;
  if (!attach) return detachDeviceProgram(cg, typeof prog === 'number' || prog.type !== BPF_PROG_TYPE_CGROUP_DEVICE ? null : prog);
  let replace: BpfProgram | null = null;
  if (flags & BPF_F_ALLOW_MULTI && flags & BPF_F_REPLACE) {
    const r = progOf(t, a.readInt32LE(16));
    if (typeof r === 'number') return r;
    if (r.type !== BPF_PROG_TYPE_CGROUP_DEVICE) return -E.EINVAL;
    replace = r;
  }
  const r = attachDeviceProgram(cg, prog as BpfProgram, flags, replace);
  // From the first attachment on, the VFS asks at every device open and mknod.
  if (r === 0) t.kernel.vfs.deviceCheck ??= deviceCheckFor;
  return r;
}

function query(t: Task, a: Buffer, attrAddr: number): number {
  if (!tailZero(a, 64)) return -E.EINVAL;
  const target = a.readInt32LE(0), type = a.readUInt32LE(4), qflags = a.readUInt32LE(8);
  const idsAddr = Number(a.readBigUInt64LE(16)), cnt = a.readUInt32LE(24);
  if (qflags & ~BPF_F_QUERY_EFFECTIVE) return -E.EINVAL;
  if (type !== BPF_CGROUP_DEVICE) return -E.EINVAL;
  const f = t.fdTable.get(target);
  const cg = f ? cgroupOfDir(f.inode) : null;
  if (cg === null) return -E.EBADF;
  const effective = (qflags & BPF_F_QUERY_EFFECTIVE) !== 0;
  // prog_attach_flags (per program) is for a non-effective query only.
  if (effective && a.readBigUInt64LE(32) !== 0n) return -E.EINVAL;
  const q = queryDevicePrograms(cg, effective);
  const head = Buffer.alloc(4);
  head.writeUInt32LE(q.flags);
  if (!t.mem.write(attrAddr + 12, head)) return -E.EFAULT;
  head.writeUInt32LE(q.ids.length);
  if (!t.mem.write(attrAddr + 24, head)) return -E.EFAULT;
  if (cnt === 0 || idsAddr === 0 || q.ids.length === 0) return 0;
  const n = Math.min(cnt, q.ids.length);
  const ids = Buffer.alloc(n * 4);
  for (let i = 0; i < n; i++) ids.writeUInt32LE(q.ids[i], i * 4);
  if (!t.mem.write(idsAddr, ids)) return -E.EFAULT;
  const pfAddr = Number(a.readBigUInt64LE(32));
  // Each program's own attach flags: 0 (only BPF_F_PREORDER would show there).
  if (pfAddr !== 0 && !t.mem.write(pfAddr, Buffer.alloc(n * 4))) return -E.EFAULT;
  return n < q.ids.length ? -E.ENOSPC : 0;
}

function info(t: Task, a: Buffer, attrAddr: number): number {
  if (!tailZero(a, 16)) return -E.EINVAL;
  const f = t.fdTable.get(a.readInt32LE(0));
  if (!f) return -E.EBADFD;
  if (!(f instanceof BpfProgFile)) return -E.EINVAL;
  const p = f.prog;
  const infoAddr = Number(a.readBigUInt64LE(8));
  const asked = a.readUInt32LE(4);
  // What the caller's struct holds past ours must be zero (bpf_check_uarg_tail_zero).
  if (asked > INFO_SIZE) {
    const extra = t.mem.read(infoAddr + INFO_SIZE, Math.min(asked - INFO_SIZE, 4096));
    if (extra === null) return -E.EFAULT;
    if (!tailZero(extra, 0)) return -E.E2BIG;
  }
  const len = Math.min(asked, INFO_SIZE);
  const given = t.mem.read(infoAddr, len);
  if (given === null) return -E.EFAULT;
  const out = Buffer.alloc(INFO_SIZE);
  given.copy(out);
  const inLen = out.readUInt32LE(20), inInsns = Number(out.readBigUInt64LE(32));
  out.fill(0);
  out.writeUInt32LE(p.type, 0);
  out.writeUInt32LE(p.id, 4);
  p.tag.copy(out, 8);
  out.writeUInt32LE(p.code.length, 20);
  out.writeBigUInt64LE(BigInt(Math.floor(p.loadTimeNs)), 40);
  out.writeUInt32LE(p.uid, 48);
  out.write(p.name, 64, 'latin1');
  out.writeUInt32LE(p.gpl ? 1 : 0, 84);
  out.writeUInt32LE(p.code.length / 8, 216);
  // The instructions as loaded, into the caller's buffer up to its length.
  if (inLen > 0 && inInsns !== 0) {
    if (!t.mem.write(inInsns, p.code.subarray(0, Math.min(inLen, p.code.length)))) return -E.EFAULT;
    out.writeBigUInt64LE(BigInt(inInsns), 32);
  }
  if (!t.mem.write(infoAddr, out.subarray(0, len))) return -E.EFAULT;
  const l = Buffer.alloc(4);
  l.writeUInt32LE(len);
  return t.mem.write(attrAddr + 4, l) ? 0 : -E.EFAULT;
}
