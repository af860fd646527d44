/**
 * A minimal /sys: what libc and runtimes read to size themselves, consistent with the
 * sandbox's own machine (Kernel.cpus CPUs, no block devices) and its limits (a cgroup v2
 * root at /sys/fs/cgroup whose memory.max and pids.max are --memory and --pids-limit);
 * nothing of the host's devices.
 */
import type { Inode } from '../../vfs/inode';
import type { Kernel } from '../../../src/kernel/kernel';
import { tmpfsBudget } from '../../vfs/space-budget';
import { processUsage, hostStatus } from '../../../src/kernel/time/cputime';
import { SynthDir, SynthFile, SynthFs, type SynthEntries } from '../kernfs/synth';

export const SYSFS_MAGIC = 0x62656572;

/** "0" or "0-N". */
export function cpuRange(n: number): string {
  return n > 1 ? `0-${n - 1}` : '0';
}

/** Bytes the sandbox uses now: its processes' resident memory and its tmpfs data. */
function memoryCurrent(k: Kernel): number {
  let rss = 0;
  for (const tg of k.threadGroups.values()) {
    const t = [...tg.tasks][0];
    if (t && t.hostTid > 0) rss += (hostStatus(t).rssKb ?? 0) * 1024;
  }
  return rss + tmpfsBudget.used;
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

export function createSysFs(kernel: Kernel): SynthFs {
  const fs = new SynthFs(SYSFS_MAGIC, 'sysfs');
  fs.source = 'sysfs';
  const n = kernel.cpus;
  const range = `${cpuRange(n)}\n`;
  const e = (list: Array<[string, () => Inode]>): (() => SynthEntries) => () => new Map(list);
  const file = (key: string, s: string | (() => string), mode = 0o444) =>
    () => new SynthFile(fs, key, typeof s === 'string' ? () => s : s, mode);
  const dir = (key: string, list: Array<[string, () => Inode]>) => () => new SynthDir(fs, key, e(list), 0o755);
  const cpuDirs: Array<[string, () => Inode]> = [];
  for (let i = 0; i < n; i++) cpuDirs.push([`cpu${i}`, dir(`/devices/system/cpu/cpu${i}`, [['online', file(`/devices/system/cpu/cpu${i}/online`, '1\n')]])]);
  const cg = cgroupFiles(kernel).map(([name, f]): [string, () => Inode] => [name, file(`/fs/cgroup/${name}`, f)]);
  fs.rootNode = new SynthDir(fs, '/', e([
    ['devices', dir('/devices', [
      ['system', dir('/devices/system', [
        ['cpu', dir('/devices/system/cpu', [
          ['online', file('/devices/system/cpu/online', range)],
          ['possible', file('/devices/system/cpu/possible', range)],
          ['present', file('/devices/system/cpu/present', range)],
          ['offline', file('/devices/system/cpu/offline', '\n')],
          ['kernel_max', file('/devices/system/cpu/kernel_max', '8191\n')],
          ...cpuDirs,
        ])],
        ['node', dir('/devices/system/node', [
          ['online', file('/devices/system/node/online', '0\n')],
          ['possible', file('/devices/system/node/possible', '0\n')],
          ['node0', dir('/devices/system/node/node0', [['cpulist', file('/devices/system/node/node0/cpulist', range)]])],
        ])],
      ])],
      ['virtual', dir('/devices/virtual', [])],
    ])],
    // No block devices in the sandbox: /sys/block and /proc/diskstats are empty alike.
    ['block', dir('/block', [])],
    ['fs', dir('/fs', [['cgroup', dir('/fs/cgroup', cg)]])],
    ['kernel', dir('/kernel', [['mm', dir('/kernel/mm', [])]])],
    ['class', dir('/class', [['block', dir('/class/block', [])], ['net', dir('/class/net', [])]])],
    ['bus', dir('/bus', [])],
    ['dev', dir('/dev', [['block', dir('/dev/block', [])], ['char', dir('/dev/char', [])]])],
  ]), 0o555);
  return fs;
}
