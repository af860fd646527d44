/**
 * The text of /proc/PID files made from one process's tables: stat, status, maps, io,
 * limits (procfs.ts lays out the directories and hands these their task).
 */
import { boundingOf, capsOf } from '../../../src/auth/capabilities';
import { seenGid, seenUid, type UserNamespace } from '../../../src/auth/userns';
import { filterCount } from '../../../src/kernel/seccomp/filter';
import type { Task } from '../../../src/kernel/task';
import type { ThreadGroup } from '../../../src/kernel/thread-group';
import { limitsOf, RLIM_INFINITY } from '../../../src/kernel/limits';
import { devMajor, devMinor } from '../../../src/abi/fs';
import { processUsage, hostStatus, zeroUsage } from '../../../src/kernel/time/cputime';
import { cttyDevNum, cttyOf } from '../../../src/kernel/tty';
import { groupPidNs, pidIn, type PidNamespace } from '../../../src/kernel/namespaces/pid-ns';

function stateLetter(t: Task | undefined): string {
  if (!t) return 'Z';
  switch (t.state as number) {
    case 0: return 'R';
    case 1: return 'S';
    case 2: return 'T';
    default: return 'Z';
  }
}

function hex16(n: bigint | number): string {
  return BigInt(n).toString(16).padStart(16, '0');
}

export function baseName(p: string): string {
  const i = p.lastIndexOf('/');
  return (i >= 0 ? p.slice(i + 1) : p).slice(0, 15);
}

/** Total mapped bytes of the task's address space (VmSize / vsize). */
function vmBytes(t: Task): number {
  const vmas = (t.mm as { vmas?: Array<{ start: number; end: number }> } | undefined)?.vmas;
  let n = 0;
  if (vmas) for (const v of vmas) n += v.end - v.start;
  return n;
}

/** /proc/PID/io: read/write calls and characters; no block device, so no block I/O bytes. */
export function ioText(tg: ThreadGroup): string {
  const io = tg.io;
  return `rchar: ${io.rchar}\nwchar: ${io.wchar}\nsyscr: ${io.syscr}\nsyscw: ${io.syscw}\nread_bytes: 0\nwrite_bytes: 0\ncancelled_write_bytes: 0\n`;
}

export const ticks = (ns: number) => Math.floor(ns / 1e7);

const samePid = (n: number) => n;

/** tpgid: the foreground process group of its controlling terminal (-1 without one). */
function tpgid(tg: ThreadGroup, v: (n: number) => number): number {
  const c = cttyOf(tg);
  return c === null || c.fgPgid === 0 ? -1 : v(c.fgPgid);
}

export function statLine(t: Task | undefined, tg: ThreadGroup, state?: string, v = samePid): string {
  const comm = (t && t.comm) || baseName(tg.exePath);
  const startTicks = Math.floor(tg.startTimeNs / 1e7);
  const u = tg.zombie ? (tg.finalUsage ?? zeroUsage()) : processUsage(tg);
  const c = tg.childrenUsage ?? zeroUsage();
  const rssPages = t && t.hostTid > 0 ? Math.floor((hostStatus(t).rssKb ?? 0) / 4) : 0;
  const f = [
    v(t ? t.tid : tg.pid), `(${comm})`, state ?? stateLetter(t), v(tg.ppid), v(tg.pgid), v(tg.sid), cttyDevNum(tg), tpgid(tg, v), 4194304,
    u.minflt, c.minflt, u.majflt, c.majflt, ticks(u.userNs), ticks(u.sysNs), ticks(c.userNs), ticks(c.sysNs),
    20, 0, tg.tasks.size, 0, startTicks, t ? vmBytes(t) : 0, rssPages, RLIM_INFINITY.toString(),
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, tg.exitSignal, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
  ];
  return f.join(' ') + '\n';
}

/** NSpid & co.: the pid in the reader's namespace and in each one below it down to the process's own. */
function nsPids(tg: ThreadGroup, kpid: number, reader: PidNamespace | null): string {
  const chain: Array<PidNamespace | null> = [];
  for (let n = groupPidNs(tg); n !== null; n = n.parent) {
    chain.unshift(n);
    if (n === reader) break;
  }
  if (reader === null) chain.unshift(null);
  return chain.map((ns) => pidIn(ns, kpid)).join('\t');
}

export function zombieStatus(tg: ThreadGroup, v = samePid): string {
  return [
    `Name:\t${baseName(tg.exePath)}`, 'State:\tZ (zombie)', `Tgid:\t${v(tg.pid)}`, `Pid:\t${v(tg.pid)}`,
    `PPid:\t${v(tg.ppid)}`, 'Threads:\t1', '',
  ].join('\n');
}

export function statusText(t: Task, state?: string, v = samePid, reader: PidNamespace | null = null, users: UserNamespace | null = null): string {
  const tg = t.tg;
  const c = t.creds;
  const name = t.comm || baseName(tg.exePath);
  const st = state ?? stateLetter(t);
  const hs = t.hostTid > 0 ? hostStatus(t) : { maxRssKb: 0, rssKb: 0, nvcsw: 0, nivcsw: 0 };
  const stName = { R: 'R (running)', S: 'S (sleeping)', T: 'T (stopped)', Z: 'Z (zombie)' }[st] ?? st;
  return [
    `Name:\t${name}`,
    `Umask:\t${t.fsCtx.umask.toString(8).padStart(4, '0')}`,
    `State:\t${stName}`,
    `Tgid:\t${v(tg.pid)}`,
    `Ngid:\t0`,
    `Pid:\t${v(t.tid)}`,
    `PPid:\t${v(tg.ppid)}`,
    `TracerPid:\t${t.ptrace?.tracer.pid ?? 0}`,
    // Ids as the reader's user namespace sees them (from_kuid_munged), as Linux's task_state.
    `Uid:\t${[c.uid, c.euid, c.suid, c.fsuid].map((id) => seenUid(users, id)).join('\t')}`,
    `Gid:\t${[c.gid, c.egid, c.sgid, c.fsgid].map((id) => seenGid(users, id)).join('\t')}`,
    `FDSize:\t${Math.max(64, t.fdTable.highest)}`,
    `Groups:\t${c.groups.map((g) => seenGid(users, g)).join(' ')} `,
    `NStgid:\t${nsPids(tg, tg.pid, reader)}`,
    `NSpid:\t${nsPids(tg, t.tid, reader)}`,
    `NSpgid:\t${nsPids(tg, tg.pgid, reader)}`,
    `NSsid:\t${nsPids(tg, tg.sid, reader)}`,
    `VmPeak:\t${String(Math.floor(vmBytes(t) / 1024)).padStart(8)} kB`,
    `VmSize:\t${String(Math.floor(vmBytes(t) / 1024)).padStart(8)} kB`,
    `VmHWM:\t${String(hs.maxRssKb).padStart(8)} kB`,
    `VmRSS:\t${String(hs.rssKb ?? 0).padStart(8)} kB`,
    `Threads:\t${tg.tasks.size}`,
    `SigQ:\t0/63704`,
    `SigPnd:\t${hex16(0)}`,
    `ShdPnd:\t${hex16(0)}`,
    `SigBlk:\t${hex16(0)}`,
    `SigIgn:\t${hex16(0)}`,
    `SigCgt:\t${hex16(0)}`,
    `CapInh:\t${hex16(capsOf(c).inheritable)}`,
    `CapPrm:\t${hex16(capsOf(c).permitted)}`,
    `CapEff:\t${hex16(capsOf(c).effective)}`,
    `CapBnd:\t${hex16(boundingOf(c))}`,
    `CapAmb:\t${(capsOf(c).ambient ?? 0n).toString(16).padStart(16, '0')}`,
    `NoNewPrivs:\t${t.noNewPrivs ? 1 : 0}`,
    `Seccomp:\t${t.seccomp?.mode ?? 0}`,
    `Seccomp_filters:\t${filterCount(t.seccomp)}`,
    `Cpus_allowed:\t${(2 ** t.kernel.cpus - 1).toString(16)}`,
    `Cpus_allowed_list:\t${t.kernel.cpus > 1 ? `0-${t.kernel.cpus - 1}` : '0'}`,
    `voluntary_ctxt_switches:\t${hs.nvcsw}`,
    `nonvoluntary_ctxt_switches:\t${hs.nivcsw}`,
    '',
  ].join('\n');
}

export function mapsText(t: Task): string {
  const vmas = (t.mm as { vmas?: Array<{ start: number; end: number; prot: number; flags: number; name: string; offset: number; dev: number; ino: number }> } | undefined)?.vmas;
  if (!vmas) return '';
  let out = '';
  for (const v of vmas) {
    const perms = (v.prot & 1 ? 'r' : '-') + (v.prot & 2 ? 'w' : '-') + (v.prot & 4 ? 'x' : '-') + ((v.flags & 0x0f) === 1 ? 's' : 'p');
    const dev = `${devMajor(v.dev).toString(16).padStart(2, '0')}:${devMinor(v.dev).toString(16).padStart(2, '0')}`;
    const head = `${v.start.toString(16).padStart(8, '0')}-${v.end.toString(16).padStart(8, '0')} ${perms} ${v.offset.toString(16).padStart(8, '0')} ${dev} ${v.ino}`;
    out += v.name ? head.padEnd(73) + v.name + '\n' : head + ' \n';
  }
  return out;
}

const LIMIT_ROWS: Array<[string, string]> = [
  ['Max cpu time', 'seconds'], ['Max file size', 'bytes'], ['Max data size', 'bytes'], ['Max stack size', 'bytes'],
  ['Max core file size', 'bytes'], ['Max resident set', 'bytes'], ['Max processes', 'processes'],
  ['Max open files', 'files'], ['Max locked memory', 'bytes'], ['Max address space', 'bytes'],
  ['Max file locks', 'locks'], ['Max pending signals', 'signals'], ['Max msgqueue size', 'bytes'],
  ['Max nice priority', ''], ['Max realtime priority', ''], ['Max realtime timeout', 'us'],
];

export function limitsText(tg: ThreadGroup): string {
  const l = limitsOf(tg);
  let out = 'Limit                     Soft Limit           Hard Limit           Units     \n';
  LIMIT_ROWS.forEach(([name, unit], i) => {
    const r = l.get(i);
    const s = (v: bigint) => (v === RLIM_INFINITY ? 'unlimited' : v.toString());
    out += `${name.padEnd(26)}${s(r.cur).padEnd(21)}${s(r.max).padEnd(21)}${unit.padEnd(10)}\n`;
  });
  return out;
}

