/**
 * The interface files of the memory, cpu, cpuset and io controllers in a child group
 * (there once its parent's cgroup.subtree_control enables them), with the formats and
 * checks of Documentation/admin-guide/cgroup-v2.rst. memory.current is the resident
 * memory of the group's processes (and its children's); cpu.stat their CPU time. Limits
 * are kept and shown; memory.max and pids.max are enforced in every group (the root's are
 * --memory and --pids-limit).
 */
import * as E from '../../../src/abi/errno';
import { cgroupOf, type Cgroup } from '../../../src/kernel/cgroup';
import { groupMemoryLimitSet } from '../../../src/kernel/memory-account';
import type { ThreadGroup } from '../../../src/kernel/thread-group';
import type { Kernel } from '../../../src/kernel/kernel';
import { openProc, platformResidentKb, processUsage } from '../../../src/kernel/time/cputime';
import { ProcFileKind } from '../../../src/gofer/protocol';
import { closeSync, readSync } from 'node:fs';
import { cpuRange } from './sysfs';

const PAGE = 4096;

export type ControllerFile = [string, () => string, ((data: Buffer) => number) | null];

/** The processes in c and below. */
function members(k: Kernel, c: Cgroup): ThreadGroup[] {
  return [...k.threadGroups.values()].filter((tg) => c.contains(cgroupOf(tg)));
}

/**
 * Resident bytes of these processes' address spaces, as the sandbox's memory account
 * counts them (src/kernel/memory-account.ts): each stub's statm, private pages summed,
 * the file-backed and shared ones (libc, the binary: the same in all) once.
 */
export function residentBytes(k: Kernel, tgs: Iterable<ThreadGroup>): number {
  const seen = new Set<object>();
  const buf = Buffer.alloc(256);
  let priv = 0, shared = 0;
  for (const tg of tgs) {
    for (const t of tg.tasks) {
      const mm = t.mm;
      if (!mm || seen.has(mm) || mm.asPid <= 0) continue;
      seen.add(mm);
      const kb = platformResidentKb(k, mm.asPid);
      if (kb !== null) {
        priv += kb * 1024;
        continue;
      }
      const fd = openProc(k, mm.asPid, ProcFileKind.Statm);
      if (fd < 0) continue;
      let text = '';
      try {
        text = buf.toString('latin1', 0, readSync(fd, buf, 0, buf.length, 0));
      } catch {
        // A stub that just went: nothing resident.
      } finally {
        closeSync(fd);
      }
      // "size resident shared text lib data dt", in pages.
      const f = text.split(' ').map(Number);
      const res = (f[1] || 0) * PAGE, sh = Math.min(f[2] || 0, f[1] || 0) * PAGE;
      priv += res - sh;
      shared = Math.max(shared, sh);
    }
  }
  return priv + shared;
}

/** page_counter_memparse: "max", or bytes (K/M/G/T suffixes) rounded down to pages; null if bad. */
function memLimit(text: string): number | null {
  const t = text.trim();
  if (t === 'max') return Infinity;
  const m = /^(\d+)([kKmMgGtT]?)$/.exec(t);
  if (m === null) return null;
  const mult = { '': 1, k: 2 ** 10, m: 2 ** 20, g: 2 ** 30, t: 2 ** 40 }[m[2].toLowerCase() as '' | 'k' | 'm' | 'g' | 't'];
  return Math.floor((Number(m[1]) * mult) / PAGE) * PAGE;
}
const showLimit = (v: number) => (Number.isFinite(v) ? `${v}\n` : 'max\n');

/** A memory.* limit kept in c.limits (writes: "max" or bytes). */
function memFile(k: Kernel, c: Cgroup, name: string, dflt: number): ControllerFile {
  return [name, () => showLimit(c.limits.get(name) ?? dflt), (d) => {
    const v = memLimit(d.toString('latin1'));
    if (v === null) return -E.EINVAL;
    c.limits.set(name, v);
    // memory.max is enforced and memory.high counted (src/kernel/memory-account.ts); the others are kept.
    if ((name === 'memory.max' || name === 'memory.high') && v < Infinity) groupMemoryLimitSet(k);
    return d.length;
  }];
}

/** A list of CPUs ("0-1,3"), each below n; null if bad. "" is empty (the parent's). */
function cpuList(text: string, n: number): string | null {
  const t = text.trim();
  if (t === '') return '';
  for (const part of t.split(',')) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part);
    if (m === null) return null;
    const lo = Number(m[1]), hi = m[2] === undefined ? lo : Number(m[2]);
    if (hi < lo || hi >= n) return null;
  }
  return t;
}

export function controllerFiles(k: Kernel, c: Cgroup): ControllerFile[] {
  const files: ControllerFile[] = [];
  const has = (name: string) => c.controllers.includes(name);
  if (has('cpuset')) {
    const knob = (name: string, max: number, eff: () => string): ControllerFile[] => [
      [name, () => `${c.settings.get(name) ?? ''}\n`, (d) => {
        const v = cpuList(d.toString('latin1'), max);
        if (v === null) return -E.EINVAL;
        c.settings.set(name, v);
        return d.length;
      }],
      [`${name}.effective`, () => `${c.settings.get(name) || eff()}\n`, null],
    ];
    files.push(...knob('cpuset.cpus', k.cpus, () => cpuRange(k.cpus)), ...knob('cpuset.mems', 1, () => '0'));
  }
  if (has('cpu')) {
    files.push(
      ['cpu.max', () => `${c.settings.get('cpu.max') ?? 'max 100000'}\n`, (d) => {
        // "$MAX [$PERIOD]": MAX "max" or a quota of at least 1 ms, PERIOD 1 ms to 1 s (µs).
        const f = d.toString('latin1').trim().split(/\s+/);
        const old = (c.settings.get('cpu.max') ?? 'max 100000').split(' ');
        if (f.length < 1 || f.length > 2 || f[0] === '') return -E.EINVAL;
        const period = f.length === 2 ? Number(f[1]) : Number(old[1]);
        if (!/^\d+$/.test(String(period)) || period < 1000 || period > 1_000_000) return -E.EINVAL;
        if (f[0] !== 'max' && (!/^\d+$/.test(f[0]) || Number(f[0]) < 1000)) return -E.EINVAL;
        c.settings.set('cpu.max', `${f[0]} ${period}`);
        return d.length;
      }],
      ['cpu.weight', () => `${c.settings.get('cpu.weight') ?? '100'}\n`, (d) => {
        const t = d.toString('latin1').trim();
        if (!/^\d+$/.test(t)) return -E.EINVAL;
        // cpu_weight_write_u64: outside 1..10000 is ERANGE.
        if (Number(t) < 1 || Number(t) > 10000) return -E.ERANGE;
        c.settings.set('cpu.weight', String(Number(t)));
        return d.length;
      }],
    );
  }
  // cpu.stat is in every group (the core's part of it).
  files.push(['cpu.stat', () => {
    let user = 0, sys = 0;
    for (const tg of members(k, c)) {
      const u = processUsage(tg);
      user += u.userNs;
      sys += u.sysNs;
    }
    const us = (ns: number) => Math.floor(ns / 1000);
    return `usage_usec ${us(user + sys)}\nuser_usec ${us(user)}\nsystem_usec ${us(sys)}\n`;
  }, null]);
  if (has('io')) {
    files.push(
      ['io.max', () => [...(c.ioMax ?? new Map<string, string>()).entries()].map(([dev, v]) => `${dev} ${v}\n`).join(''), (d) => {
        // "MAJ:MIN key=value...": kept per device (a device the sandbox has none of still takes it).
        const m = /^(\d+:\d+)((?:\s+(?:rbps|wbps|riops|wiops)=(?:\d+|max))+)\s*$/.exec(d.toString('latin1'));
        if (m === null) return -E.EINVAL;
        c.ioMax ??= new Map();
        c.ioMax.set(m[1], m[2].trim().split(/\s+/).join(' '));
        return d.length;
      }],
      ['io.stat', () => '', null],
      ['io.weight', () => `default ${c.settings.get('io.weight') ?? '100'}\n`, (d) => {
        const t = d.toString('latin1').trim().replace(/^default\s+/, '');
        if (!/^\d+$/.test(t) || Number(t) < 1 || Number(t) > 10000) return -E.EINVAL;
        c.settings.set('io.weight', String(Number(t)));
        return d.length;
      }],
    );
  }
  if (has('memory')) {
    files.push(
      ['memory.current', () => `${residentBytes(k, members(k, c))}\n`, null],
      memFile(k, c, 'memory.min', 0), memFile(k, c, 'memory.low', 0), memFile(k, c, 'memory.high', Infinity), memFile(k, c, 'memory.max', Infinity),
      ['memory.events', () => {
        k.memAcct?.sample(true); // Linux counts at the charge: what was touched by now has been
        const e = c.memEvents;
        return `low 0\nhigh ${e.high}\nmax ${e.max}\noom ${e.oom}\noom_kill ${e.oomKill}\noom_group_kill 0\n`;
      }, null],
      ['memory.swap.current', () => '0\n', null],
      memFile(k, c, 'memory.swap.max', Infinity),
    );
  }
  return files;
}
