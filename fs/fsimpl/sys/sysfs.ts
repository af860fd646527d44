/**
 * A minimal /sys: what libc and runtimes read to size themselves, consistent with the
 * sandbox's own machine (Kernel.cpus CPUs, no block devices); /sys/fs/cgroup is the
 * mount point of the cgroup2 filesystem (cgroupfs.ts). Nothing of the host's devices.
 */
import type { Inode } from '../../vfs/inode';
import type { Kernel } from '../../../src/kernel/kernel';
import { SynthDir, SynthFile, SynthFs, type SynthEntries } from '../kernfs/synth';

export const SYSFS_MAGIC = 0x62656572;

/** "0" or "0-N". */
export function cpuRange(n: number): string {
  return n > 1 ? `0-${n - 1}` : '0';
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
    // The mount point of the cgroup2 filesystem (cgroupfs.ts), mounted with /sys.
    ['fs', dir('/fs', [['cgroup', dir('/fs/cgroup', [])]])],
    ['kernel', dir('/kernel', [['mm', dir('/kernel/mm', [])]])],
    ['class', dir('/class', [['block', dir('/class/block', [])], ['net', dir('/class/net', [])]])],
    ['bus', dir('/bus', [])],
    ['dev', dir('/dev', [['block', dir('/dev/block', [])], ['char', dir('/dev/char', [])]])],
  ]), 0o555);
  return fs;
}
