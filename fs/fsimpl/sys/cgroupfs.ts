/**
 * The sandbox's cgroup v2 filesystem, mounted at /sys/fs/cgroup (and what `mount -t
 * cgroup2` shows: one hierarchy, as Linux's): a root whose memory.max and pids.max are
 * --memory and --pids-limit, with cgroup.procs, pids.current, memory.current (resident
 * memory of the sandbox's processes plus tmpfs data) and cpu.stat. Its magic is
 * CGROUP2_SUPER_MAGIC, so programs that tell v1 from v2 by statfs (podman, systemd,
 * runc) see v2. Child groups (mkdir/rmdir), cgroup.procs moves, subtree_control and the
 * pids controller below the root (src/kernel/cgroup.ts enforces pids.max at fork).
 */
import * as E from '../../../src/abi/errno';
import type { Inode } from '../../vfs/inode';
import type { Kernel } from '../../../src/kernel/kernel';
import type { ThreadGroup } from '../../../src/kernel/thread-group';
import { Cgroup, CHILD_CONTROLLERS, cgroupRoot, moveToCgroup, pidsIn, procsOf } from '../../../src/kernel/cgroup';
import { controllerFiles, residentBytes } from './cgroup-controllers';
import { memoryPressureOf } from '../../../src/kernel/memory-pressure';
import { releaseGroupPrograms } from '../../../src/kernel/cgroup-bpf';
import { currentCaller } from '../../vfs/caller';
import { tmpfsBudget } from '../../vfs/space-budget';
import { processUsage } from '../../../src/kernel/time/cputime';
import { SynthDir, SynthFile, SynthFs } from '../kernfs/synth';
import { cpuRange } from './sysfs';

export const CGROUP2_SUPER_MAGIC = 0x63677270;

/** Bytes the sandbox uses now: its processes' resident memory and its tmpfs data. */
function memoryCurrent(k: Kernel): number {
  return residentBytes(k, k.threadGroups.values()) + tmpfsBudget.used;
}

function cgroupFiles(k: Kernel): Array<[string, () => string]> {
  const lim = (v: number) => (Number.isFinite(v) ? String(v) : 'max');
  return [
    ['cgroup.controllers', () => 'cpuset cpu io memory pids\n'],
    ['cgroup.subtree_control', () => '\n'],
    ['cgroup.type', () => 'domain\n'],
    ['cgroup.procs', () => [...k.threadGroups.keys()].sort((a, b) => a - b).map((p) => `${p}\n`).join('')],
    ['cgroup.threads', () => [...k.tasks.keys()].sort((a, b) => a - b).map((p) => `${p}\n`).join('')],
    ['cpu.max', () => `${k.cpus === 1 ? '100000' : 'max'} 100000\n`],
    ['cpu.stat', () => {
      let user = 0, sys = 0;
      for (const tg of k.threadGroups.values()) {
        const u = processUsage(tg);
        user += u.userNs;
        sys += u.sysNs;
      }
      const us = (ns: number) => Math.floor(ns / 1000);
      return `usage_usec ${us(user + sys)}\nuser_usec ${us(user)}\nsystem_usec ${us(sys)}\n`;
    }],
    ['cpuset.cpus.effective', () => `${cpuRange(k.cpus)}\n`],
    ['cpuset.mems.effective', () => '0\n'],
    ['memory.max', () => `${lim(k.memoryLimit)}\n`],
    ['memory.high', () => 'max\n'],
    ['memory.current', () => `${memoryCurrent(k)}\n`],
    ['memory.swap.max', () => '0\n'],
    ['memory.swap.current', () => '0\n'],
    ['pids.max', () => `${lim(k.pidsLimit)}\n`],
    ['pids.current', () => `${k.tasks.size}\n`],
  ];
}

/** Parses "+pids -cpu": every change, or -errno (ENOENT: not a controller it may enable, EINVAL: bad syntax). */
function parseControl(text: string, allowed: readonly string[]): Array<[boolean, string]> | number {
  const out: Array<[boolean, string]> = [];
  for (const tok of text.split(/\s+/)) {
    if (tok === '') continue;
    if (tok[0] !== '+' && tok[0] !== '-') return -E.EINVAL;
    const name = tok.slice(1);
    if (!allowed.includes(name)) return -E.ENOENT;
    out.push([tok[0] === '+', name]);
  }
  return out;
}

/** A directory of the hierarchy: its interface files and its child groups (mkdir/rmdir make and remove them). */
class CgroupDir extends SynthDir {
  constructor(
    fs: SynthFs,
    private readonly kernel: Kernel,
    readonly cg: Cgroup,
    private readonly files: () => Map<string, () => Inode>,
  ) {
    super(fs, `/cg${cg.path}`, () => {
      const m = new Map(files());
      for (const [name, c] of cg.children) m.set(name, () => dirOf(fs, kernel, c));
      return m;
    }, 0o755);
  }

  override mkdir(name: string): Inode | number {
    if (this.files().has(name) || this.cg.children.has(name)) return -E.EEXIST;
    if (name.length > 255) return -E.ENAMETOOLONG;
    const c = new Cgroup(name, this.cg);
    this.cg.children.set(name, c);
    return dirOf(this.fs, this.kernel, c);
  }

  override rmdir(name: string): number {
    const c = this.cg.children.get(name);
    if (c === undefined) return this.files().has(name) ? -E.ENOTDIR : -E.ENOENT;
    // Linux: a group with live processes or child groups cannot go.
    if (c.children.size > 0 || procsOf(this.kernel, c).length > 0) return -E.EBUSY;
    this.cg.children.delete(name);
    releaseGroupPrograms(c);
    return 0;
  }
}

/** The group a directory of this hierarchy stands for (bpf(2)'s target fd), or null. */
export function cgroupOfDir(i: Inode): Cgroup | null {
  return i instanceof CgroupDir ? i.cg : null;
}

const dirs = new WeakMap<Cgroup, CgroupDir>();
function dirOf(fs: SynthFs, k: Kernel, c: Cgroup): CgroupDir {
  let d = dirs.get(c);
  if (d === undefined) {
    // Listed at each lookup: the pids files come and go with the parent's subtree_control.
    const files = (): Map<string, () => Inode> => {
      const m = new Map<string, () => Inode>();
      for (const [name, content, write] of groupFiles(k, c)) {
        m.set(name, () => new SynthFile(fs, `/cg${c.path}/${name}`, content, write === null ? 0o444 : 0o644, write));
      }
      if (c.parent === null) {
        for (const [name, content] of cgroupFiles(k)) if (!m.has(name)) m.set(name, () => new SynthFile(fs, `/${name}`, content));
      }
      return m;
    };
    dirs.set(c, (d = new CgroupDir(fs, k, c, files)));
  }
  return d;
}

type GroupFile = [string, () => string, ((data: Buffer) => number) | null];

/** The files every group has (the root's others come from cgroupFiles), with their writers. */
function groupFiles(k: Kernel, c: Cgroup): GroupFile[] {
  const list = (tgs: number[]) => tgs.sort((a, b) => a - b).map((p) => `${p}\n`).join('');
  const isRoot = c.parent === null;
  const files: GroupFile[] = [
    ['cgroup.procs', () => list(procsOf(k, c).map((tg) => tg.pid)), (data) => {
      const text = data.toString('latin1').trim();
      if (!/^[0-9]+$/.test(text)) return -E.EINVAL;
      const pid = Number(text);
      const caller = currentCaller() as { tg?: ThreadGroup } | null;
      const tg = pid === 0 ? caller?.tg : k.threadGroups.get(pid);
      if (tg === undefined) return -E.ESRCH;
      // No processes in a group that hands controllers to children ("no internal processes").
      if (!isRoot && c.subtreeControl.size > 0) return -E.EBUSY;
      moveToCgroup(tg, c);
      return data.length;
    }],
    ['cgroup.threads', () => list(procsOf(k, c).flatMap((tg) => [...tg.tasks].map((t) => t.tid))), null],
    ['cgroup.subtree_control', () => `${CHILD_CONTROLLERS.filter((n) => c.subtreeControl.has(n)).join(' ')}\n`, (data) => {
      const changes = parseControl(data.toString('latin1'), c.controllers);
      if (typeof changes === 'number') return changes;
      for (const [on, name] of changes) {
        if (on && !isRoot && procsOf(k, c).length > 0) return -E.EBUSY;
        if (!on) for (const ch of c.children.values()) if (ch.subtreeControl.has(name)) return -E.EBUSY;
      }
      for (const [on, name] of changes) {
        if (on) c.subtreeControl.add(name);
        else c.subtreeControl.delete(name);
      }
      return data.length;
    }],
  ];
  if (isRoot) return files;
  files.push(
    ['cgroup.controllers', () => `${c.controllers.join(' ')}\n`, null],
    ['cgroup.type', () => 'domain\n', null],
    ['cgroup.events', () => `populated ${pidsIn(k, c) > 0 ? 1 : 0}\nfrozen 0\n`, null],
    // PSI's file of the core (with or without the memory controller): the stalls memory.high causes.
    ['memory.pressure', () => memoryPressureOf(c).show(k.nowNs()), null],
  );
  files.push(...controllerFiles(k, c));
  if (c.controllers.includes('pids')) {
    files.push(
      ['pids.max', () => `${Number.isFinite(c.pidsMax) ? c.pidsMax : 'max'}\n`, (data) => {
        const text = data.toString('latin1').trim();
        if (text === 'max') c.pidsMax = Infinity;
        else if (/^[0-9]+$/.test(text)) c.pidsMax = Number(text);
        else return -E.EINVAL;
        return data.length;
      }],
      ['pids.current', () => `${pidsIn(k, c)}\n`, null],
    );
  }
  return files;
}

const instances = new WeakMap<Kernel, SynthFs>();

/** The sandbox's one cgroup2 hierarchy (every mount of it shows the same). */
export function cgroupFsFor(kernel: Kernel): SynthFs {
  let fs = instances.get(kernel);
  if (fs !== undefined) return fs;
  fs = new SynthFs(CGROUP2_SUPER_MAGIC, 'cgroup2');
  fs.source = 'cgroup2';
  fs.rootNode = dirOf(fs, kernel, cgroupRoot(kernel));
  instances.set(kernel, fs);
  return fs;
}
