/**
 * BSD process accounting (acct(2), kernel/acct.c): while a file is named, every process
 * that ends appends one struct acct_v3 (64 bytes, ACCT_VERSION 3, as x86-64 kernels build
 * it) to it: flags (AFORK: forked, never exec'd; AXSIG: killed by a signal; ACORE: dumped),
 * the wait status, real uid/gid as the file's opener sees them, pid and parent pid in the
 * pid namespace the file was named in, start time, elapsed time (a float of 1/100 s),
 * user and system time and page faults (comp_t), virtual size in KiB, the command name.
 * Accounting is per pid namespace; a process is also recorded in each ancestor's file.
 * ASU when one of its syscalls passed a capability check (ThreadGroup.superPriv), ac_tty
 * the controlling terminal's device number. Not kept: ac_io/ac_rw (0, as Linux), the
 * free-space suspension.
 */
import type { Kernel } from './kernel';
import type { Task } from './task';
import type { ThreadGroup } from './thread-group';
import type { FileDescription } from '../../fs/vfs/file';
import type { UserNamespace } from '../auth/userns';
import { seenGid, seenUid } from '../auth/userns';
import { groupPidNs, pidIn, type PidNamespace } from './namespaces/pid-ns';
import { processCpu } from './time/cputime';
import { cttyDevNum } from './tty';

const AFORK = 0x01, ASU = 0x02, ACORE = 0x08, AXSIG = 0x10;
const ACCT_VERSION = 3;
const AHZ_NS = 10_000_000;

interface Accounting {
  file: FileDescription;
  userns: UserNamespace | null;
  ns: PidNamespace | null;
}

const files = new WeakMap<Kernel, Map<PidNamespace | null, Accounting>>();

function tableOf(k: Kernel): Map<PidNamespace | null, Accounting> {
  let m = files.get(k);
  if (!m) files.set(k, (m = new Map()));
  return m;
}

/** acct(name) of the caller's pid namespace: `file` (opened for append) or null to stop. */
export function setAccounting(t: Task, file: FileDescription | null): void {
  const m = tableOf(t.kernel);
  const ns = groupPidNs(t.tg);
  m.get(ns)?.file.decRef();
  if (file === null) m.delete(ns);
  else m.set(ns, { file, userns: t.creds.userns, ns });
}

/** encode_comp_t: 13-bit mantissa, base-8 exponent, rounded. */
export function compT(v: number): number {
  let value = Math.max(0, Math.floor(v)), exp = 0, rnd = 0;
  while (value > 0x1fff) {
    rnd = value & 4;
    value = Math.floor(value / 8);
    exp++;
  }
  if (rnd && ++value > 0x1fff) {
    value = Math.floor(value / 8);
    exp++;
  }
  return exp > 7 ? 0xffff : (exp << 13) + value;
}

/** encode_float: value as an IEEE single, the mantissa truncated. */
export function encodeFloat(v: number): number {
  let value = BigInt(Math.max(0, Math.floor(v)));
  if (value === 0n) return 0;
  let exp = 190;
  while (!(value & (1n << 63n))) {
    value <<= 1n;
    exp--;
  }
  return Number((value >> 40n) & 0x7fffffn) | (exp << 23);
}

/** The record of tg, ended with wait status `status`, its last thread `last`, for `a`. */
function record(k: Kernel, a: Accounting, tg: ThreadGroup, status: number, last: Task | undefined): Buffer {
  const b = Buffer.alloc(64);
  const elapsed = Math.max(0, k.nowNs() - tg.startTimeNs);
  let flag = 0;
  if (!tg.didExec && tg.parent !== null) flag |= AFORK;
  if (status & 0x7f) flag |= AXSIG;
  if (status & 0x80) flag |= ACORE;
  if (tg.superPriv) flag |= ASU;
  const cpu = processCpu(tg);
  const creds = last?.creds;
  const vms = (last?.mm as { vmas?: Array<{ start: number; end: number }> } | undefined)?.vmas ?? [];
  const vsize = vms.reduce((s, v) => s + (v.end - v.start), 0);
  b.writeUInt8(flag, 0);
  b.writeUInt8(ACCT_VERSION, 1);
  b.writeUInt16LE(cttyDevNum(tg), 2);
  b.writeUInt32LE(status >>> 0, 4);
  b.writeUInt32LE(creds ? seenUid(a.userns, creds.uid) >>> 0 : 0, 8);
  b.writeUInt32LE(creds ? seenGid(a.userns, creds.gid) >>> 0 : 0, 12);
  b.writeUInt32LE(pidIn(a.ns, tg.pid) >>> 0, 16);
  b.writeUInt32LE(tg.parent ? pidIn(a.ns, tg.parent.pid) >>> 0 : 0, 20);
  b.writeUInt32LE(Math.max(0, Math.floor(Date.now() / 1000 - Math.floor(elapsed / 1e9))) >>> 0, 24);
  b.writeUInt32LE(encodeFloat(elapsed / AHZ_NS), 28);
  b.writeUInt16LE(compT(cpu.userNs / AHZ_NS), 32);
  b.writeUInt16LE(compT(cpu.sysNs / AHZ_NS), 34);
  b.writeUInt16LE(compT(vsize / 1024), 36);
  b.writeUInt16LE(compT(cpu.minflt), 42);
  b.writeUInt16LE(compT(cpu.majflt), 44);
  b.write((last?.comm ?? '').slice(0, 15), 48, 'latin1');
  return b;
}

/** acct_process: tg has ended; one record in its pid namespace's file and each ancestor's. */
export function accountProcess(k: Kernel, tg: ThreadGroup, status: number, last: Task | undefined): void {
  const m = files.get(k);
  if (!m || m.size === 0) return;
  for (let ns = groupPidNs(tg); ; ns = ns.parent) {
    const a = m.get(ns);
    if (a) a.file.write(record(k, a, tg, status, last));
    if (ns === null) break;
  }
}
