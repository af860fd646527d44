/**
 * A minimal /sys: what libc and runtimes read to size themselves (CPU counts), nothing
 * of the host's devices.
 */
import * as os from 'os';
import type { Inode } from '../../vfs/inode';
import { SynthDir, SynthFile, SynthFs, type SynthEntries } from '../kernfs/synth';

export const SYSFS_MAGIC = 0x62656572;

export function createSysFs(): SynthFs {
  const fs = new SynthFs(SYSFS_MAGIC, 'sysfs');
  fs.source = 'sysfs';
  const n = os.cpus().length;
  const range = n > 1 ? `0-${n - 1}\n` : '0\n';
  const e = (list: Array<[string, () => Inode]>): (() => SynthEntries) => () => new Map(list);
  const file = (key: string, s: string) => () => new SynthFile(fs, key, () => s);
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
          ['kernel_max', file('/devices/system/cpu/kernel_max', '8191\n')],
          ...cpuDirs,
        ])],
      ])],
    ])],
    ['fs', dir('/fs', [['cgroup', dir('/fs/cgroup', [])]])],
    ['kernel', dir('/kernel', [['mm', dir('/kernel/mm', [])]])],
    ['class', dir('/class', [])],
    ['bus', dir('/bus', [])],
  ]), 0o555);
  return fs;
}
