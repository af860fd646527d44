/**
 * Cgroup device programs (bpf(2) BPF_PROG_TYPE_CGROUP_DEVICE, the cgroup v2 device
 * controller runc and systemd use): loaded programs with their ids, what is attached to
 * each group (BPF_CGROUP_DEVICE, with Linux's override/multi rules), and the check Linux's
 * devcgroup makes at open and mknod of a device node: every effective program of the
 * caller's group must return 1, else EPERM. The programs run in ebpf.ts.
 */
import { createHash } from 'node:crypto';
import * as E from '../abi/errno';
import { anonInode } from '../../fs/vfs/anon';
import { FileDescription } from '../../fs/vfs/file';
import type { FsCaller } from '../../fs/vfs/caller';
import { cgroupOf, type Cgroup } from './cgroup';
import { runEbpf } from './ebpf';
import type { Kernel } from './kernel';
import type { ThreadGroup } from './thread-group';

export const BPF_PROG_TYPE_CGROUP_DEVICE = 15;
export const BPF_CGROUP_DEVICE = 6;
export const BPF_F_ALLOW_OVERRIDE = 1;
export const BPF_F_ALLOW_MULTI = 2;
export const BPF_F_REPLACE = 4;
/** Linux's BPF_CGROUP_MAX_PROGS. */
const MAX_PROGS = 64;
export const BPF_DEVCG_ACC_MKNOD = 1;
export const BPF_DEVCG_ACC_READ = 2;
export const BPF_DEVCG_ACC_WRITE = 4;
const BPF_DEVCG_DEV_BLOCK = 1;
const BPF_DEVCG_DEV_CHAR = 2;

/** A loaded program: held by its fds and its attachments; its id lasts while any holds it. */
export class BpfProgram {
  private refs = 0;
  /** Linux's tag: the first 8 bytes of the SHA-1 of its instructions. */
  readonly tag: Buffer;
  constructor(
    readonly kernel: Kernel,
    readonly id: number,
    readonly type: number,
    readonly code: Buffer,
    readonly name: string,
    readonly uid: number,
    readonly loadTimeNs: number,
    readonly gpl: boolean,
  ) {
    this.tag = createHash('sha1').update(code).digest().subarray(0, 8);
  }
  hold(): this {
    this.refs++;
    return this;
  }
  put(): void {
    if (--this.refs === 0) registry(this.kernel).progs.delete(this.id);
  }
}

interface Registry {
  progs: Map<number, BpfProgram>;
  nextId: number;
}
const registries = new WeakMap<Kernel, Registry>();
function registry(k: Kernel): Registry {
  let r = registries.get(k);
  if (r === undefined) registries.set(k, (r = { progs: new Map(), nextId: 1 }));
  return r;
}

/** A new program with the next id (held by the caller: its fd). */
export function newProgram(k: Kernel, type: number, code: Buffer, name: string, uid: number, gpl: boolean): BpfProgram {
  const r = registry(k);
  const p = new BpfProgram(k, r.nextId++, type, code, name, uid, k.nowNs(), gpl).hold();
  r.progs.set(p.id, p);
  return p;
}

export function programById(k: Kernel, id: number): BpfProgram | null {
  return registry(k).progs.get(id) ?? null;
}

/** Ids of live programs above `after`, lowest first (BPF_PROG_GET_NEXT_ID). */
export function nextProgramId(k: Kernel, after: number): number | null {
  let best: number | null = null;
  for (const id of registry(k).progs.keys()) if (id > after && (best === null || id < best)) best = id;
  return best;
}

/** The fd of a program ("anon_inode:bpf-prog"); its last close lets go of the program. */
export class BpfProgFile extends FileDescription {
  constructor(readonly prog: BpfProgram, flags: number) {
    super(anonInode, flags);
  }
  override anonName(): string {
    return 'anon_inode:bpf-prog';
  }
  protected override release(): void {
    this.prog.put();
  }
}

/** What is attached to one group for BPF_CGROUP_DEVICE. */
interface Attached {
  flags: number;
  progs: BpfProgram[];
}
const attached = new WeakMap<Cgroup, Attached>();

function attachedTo(c: Cgroup): Attached {
  let a = attached.get(c);
  if (a === undefined) attached.set(c, (a = { flags: 0, progs: [] }));
  return a;
}

/** hierarchy_allows_attach: no ancestor holds one program that may not be overridden. */
function hierarchyAllows(c: Cgroup): boolean {
  for (let p = c.parent; p !== null; p = p.parent) {
    const a = attached.get(p);
    if (a === undefined) continue;
    if (a.flags & BPF_F_ALLOW_MULTI) return true;
    if (a.progs.length === 1) return (a.flags & BPF_F_ALLOW_OVERRIDE) !== 0;
  }
  return true;
}

/** BPF_PROG_ATTACH to a group (flags already within OVERRIDE|MULTI|REPLACE): 0 or -errno as Linux's __cgroup_bpf_attach. */
export function attachDeviceProgram(c: Cgroup, prog: BpfProgram, flags: number, replace: BpfProgram | null): number {
  if ((flags & BPF_F_ALLOW_OVERRIDE && flags & BPF_F_ALLOW_MULTI) || (flags & BPF_F_REPLACE && !(flags & BPF_F_ALLOW_MULTI))) {
    return -E.EINVAL;
  }
  if (!hierarchyAllows(c)) return -E.EPERM;
  const a = attachedTo(c);
  const saved = flags & (BPF_F_ALLOW_OVERRIDE | BPF_F_ALLOW_MULTI);
  if (a.progs.length > 0 && a.flags !== saved) return -E.EPERM;
  if (a.progs.length >= MAX_PROGS) return -E.E2BIG;
  let slot = -1;
  if (flags & BPF_F_ALLOW_MULTI) {
    if (a.progs.includes(prog)) return -E.EINVAL;
    if (replace !== null) {
      slot = a.progs.indexOf(replace);
      if (slot < 0) return -E.ENOENT;
    }
  } else if (a.progs.length > 0) slot = 0;
  prog.hold();
  if (slot >= 0) {
    a.progs[slot].put();
    a.progs[slot] = prog;
  } else a.progs.push(prog);
  a.flags = saved;
  return 0;
}

/** BPF_PROG_DETACH (prog null: the fd given was no program of this type): 0 or -errno. */
export function detachDeviceProgram(c: Cgroup, prog: BpfProgram | null): number {
  const a = attached.get(c);
  if (a === undefined || a.progs.length === 0) return -E.ENOENT;
  let i = 0;
  if (a.flags & BPF_F_ALLOW_MULTI) {
    if (prog === null) return -E.EINVAL;
    i = a.progs.indexOf(prog);
    if (i < 0) return -E.ENOENT;
  }
  a.progs[i].put();
  a.progs.splice(i, 1);
  if (a.progs.length === 0) a.flags = 0;
  return 0;
}

/** The programs that run for a group, its own first (compute_effective_progs). */
export function effectivePrograms(c: Cgroup): BpfProgram[] {
  const out: BpfProgram[] = [];
  for (let p: Cgroup | null = c; p !== null; p = p.parent) {
    const a = attached.get(p);
    if (a === undefined) continue;
    if (out.length === 0 || a.flags & BPF_F_ALLOW_MULTI) out.push(...a.progs);
  }
  return out;
}

/** BPF_PROG_QUERY: the group's own programs and flags, or the effective list. */
export function queryDevicePrograms(c: Cgroup, effective: boolean): { flags: number; ids: number[] } {
  if (effective) return { flags: 0, ids: effectivePrograms(c).map((p) => p.id) };
  const a = attached.get(c);
  return { flags: a?.flags ?? 0, ids: a?.progs.map((p) => p.id) ?? [] };
}

/** A group removed (rmdir): its programs are let go. */
export function releaseGroupPrograms(c: Cgroup): void {
  const a = attached.get(c);
  if (a === undefined) return;
  for (const p of a.progs) p.put();
  attached.delete(c);
}

/**
 * devcgroup's check: whether tg may make (ACC_MKNOD) or open (ACC_READ/WRITE) the device
 * `kind` (S_IFCHR or S_IFBLK) major:minor. Groups with no programs allow everything.
 */
export function deviceAllowed(tg: ThreadGroup, isBlock: boolean, major: number, minor: number, access: number): boolean {
  const progs = effectivePrograms(cgroupOf(tg));
  if (progs.length === 0) return true;
  const ctx = Buffer.alloc(12);
  ctx.writeUInt32LE(((access << 16) | (isBlock ? BPF_DEVCG_DEV_BLOCK : BPF_DEVCG_DEV_CHAR)) >>> 0, 0);
  ctx.writeUInt32LE(major >>> 0, 4);
  ctx.writeUInt32LE(minor >>> 0, 8);
  for (const p of progs) if (runEbpf(p.code, ctx) !== 1n) return false;
  return true;
}

/** The VFS's device check (fs/vfs Vfs.deviceCheck) for a caller that is a task. */
export function deviceCheckFor(c: FsCaller, isBlock: boolean, major: number, minor: number, access: number): boolean {
  const tg = (c as { tg?: ThreadGroup }).tg;
  return tg === undefined || deviceAllowed(tg, isBlock, major, minor, access);
}
