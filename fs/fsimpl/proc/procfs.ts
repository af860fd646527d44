/**
 * /proc, synthesized from the Sentry's own task and thread-group tables: it shows the
 * sandbox (its pids, files, mounts), never the host's processes.
 */
import { procFilesystems } from './filesystems';
import { cgroupOf } from '../../../src/kernel/cgroup';
import { dumpOwner } from '../../../src/kernel/dumpable';
import { optionalFields } from '../../vfs/propagation';
import { ownCapable, CAP_SYS_RESOURCE } from '../../../src/auth/capabilities';
import { userNsLimits, USERNS_MAX_DEFAULT } from '../../../src/auth/userns';
import { MemInode, MmTextInode } from './mem-file';
import { statmText } from './statm';
import { procSysvipcShm } from '../../../src/kernel/ipc/shm';
import { procSysvipcSem } from '../../../src/kernel/ipc/sem';
import { procSysvipcMsg } from '../../../src/kernel/ipc/msg';
import { readFileSync } from 'fs';
import { randomUuid } from '../../../src/determinism/entropy';
import { guestMemory, virtualBootWallTs, virtualClock } from '../../../src/determinism/virtual-clock';
import { detRun } from '../../../src/determinism/run-state';
import * as E from '../../../src/abi/errno';
import type { Kernel } from '../../../src/kernel/kernel';
import type { Task } from '../../../src/kernel/task';
import type { ThreadGroup } from '../../../src/kernel/thread-group';
import { Dentry } from '../../vfs/dentry';
import type { FileDescription } from '../../vfs/file';
import type { Inode } from '../../vfs/inode';
import { SynthDir, SynthFile, SynthFs, SynthLink, type SynthEntries } from '../kernfs/synth';
import type { Vfs } from '../../vfs/vfs';
import { currentCaller } from '../../vfs/caller';
import { PIPE_MAX_SIZE } from '../pipefs/pipe';
import { processUsage } from '../../../src/kernel/time/cputime';
import { hostCpuTicks, hostMemFree, hostMemTotal, type CpuTicks } from '../../../src/kernel/host-stats';
import { tmpfsBudget } from '../../vfs/space-budget';
import { procNetFiles } from '../../../src/net/procnet';
import { nsDentry, nsLinkText, nsRefs } from '../../../src/kernel/namespaces/nsfs';
import { nsOf } from '../../../src/kernel/namespaces/types';
import { pidIn, type PidNamespace } from '../../../src/kernel/namespaces/pid-ns';
import { idMapRead, idMapWrite, setgroupsRead, setgroupsWrite } from '../../../src/kernel/namespaces/idmap-files';
import { mountNsInUse, seesMount } from '../../vfs/mount-ns';
import type { Mount } from '../../vfs/mount';
import { statLine, statusText, baseName, mapsText, limitsText, ioText, zombieStatus, ticks } from './pid-text';

export const PROC_SUPER_MAGIC = 0x9fa0;

/**
 * The mounts t's mount namespace sees under t's root, each with its path from there,
 * t's root first (Linux leaves out what lies outside the reader's root).
 */
function mountsOf(t: Task): Array<{ m: Mount; path: string }> {
  const root = t.fsCtx.root;
  const ns = t.fsCtx.mntNs;
  const inUse = mountNsInUse();
  const out: Array<{ m: Mount; path: string }> = [];
  for (const m of t.kernel.vfs.mounts) {
    if (m.root === root) {
      out.unshift({ m, path: '/' });
      continue;
    }
    if (m.mountpoint === null || (inUse && !seesMount(ns, m.root))) continue;
    const path = m.mountpoint.pathFrom(root);
    if (path !== null) out.push({ m, path });
  }
  return out;
}

/** The task doing the current path walk (/proc/self; devpts: /dev/tty opens the caller's terminal). */
export function procCaller(): Task | undefined {
  const c = currentCaller() as Partial<Task> | null;
  return c && c.tg ? (c as Task) : undefined;
}

const hostCpuinfo = (() => {
  try {
    return readFileSync('/proc/cpuinfo', 'latin1');
  } catch {
    return 'processor\t: 0\nvendor_id\t: unknown\n\n';
  }
})();
/** Drawn at the first read, so a seeded run (--deterministic) has seeded the stream by then. */
let bootId: string | null = null;

/** The host's /proc/cpuinfo cut to the first n processors (the CPUs the guest may use), numbered 0..n-1. */
function cpuinfoText(n: number): string {
  const blocks = hostCpuinfo.split(/\n\n+/).filter((b) => b.trim() !== '');
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const b = blocks[Math.min(i, blocks.length - 1)] ?? 'processor\t: 0';
    out.push(b.replace(/^processor\s*:\s*\d+/m, `processor\t: ${i}`).replace(/^siblings\s*:\s*\d+/m, `siblings\t: ${n}`)
      .replace(/^cpu cores\s*:\s*\d+/m, `cpu cores\t: ${n}`));
  }
  const text = out.join('\n\n') + '\n\n';
  // --deterministic: no clock rate that drifts; with --mask-cpuid no RDRAND/RDSEED (as CPUID says).
  if (!virtualClock.active) return text;
  const fixed = text.replace(/^(cpu MHz\s*:).*$/gm, '$1 1000.000').replace(/^(bogomips\s*:).*$/gm, '$1 2000.00');
  return detRun.cpuidMasked ? fixed.replace(/ (rdrand|rdseed)(?= |$)/gm, '') : fixed;
}

/**
 * argv/envp as NUL-terminated bytes. The exec path holds them as latin1 strings, one char
 * a byte (src/loader/exec-args.ts), like the VFS's paths; a Buffer passes kernfs unchanged.
 */
function stringsBytes(list: string[]): Buffer {
  return list.length ? Buffer.from(list.join('\0') + '\0', 'latin1') : Buffer.alloc(0);
}

/** /proc/vmstat: the counters tools read, from the sandbox's processes (no swap, no block I/O). */
function vmstatText(kernel: Kernel): string {
  let minflt = 0, majflt = 0;
  for (const tg of kernel.threadGroups.values()) {
    const u = processUsage(tg);
    minflt += u.minflt;
    majflt += u.majflt;
  }
  const free = Math.floor(guestMemory(hostMemTotal, hostMemFree).free / 4096);
  const rows: Array<[string, number]> = [
    ['nr_free_pages', free], ['nr_inactive_anon', 0], ['nr_active_anon', 0], ['nr_inactive_file', 0],
    ['nr_active_file', 0], ['nr_unevictable', 0], ['nr_mlock', 0], ['nr_anon_pages', 0], ['nr_mapped', 0],
    ['nr_file_pages', 0], ['nr_dirty', 0], ['nr_writeback', 0], ['nr_shmem', Math.ceil(tmpfsBudget.used / 4096)],
    ['pgpgin', 0], ['pgpgout', 0], ['pswpin', 0], ['pswpout', 0], ['pgfault', minflt + majflt], ['pgmajfault', majflt],
    ['oom_kill', 0],
  ];
  return rows.map(([k, v]) => `${k} ${v}\n`).join('');
}

const entries = (list: Array<[string, () => Inode]>): SynthEntries => new Map(list);


function fdPath(vfs: Vfs, t: Task, f: FileDescription): string {
  if (f.dentry !== null) {
    const p = vfs.pathOf(t.fsCtx.root, f.dentry);
    return f.dentry.deleted ? p + ' (deleted)' : p;
  }
  return f.anonName() ?? 'anon_inode:[unknown]';
}

/** A dentry standing for an open file, for the magic /proc/pid/fd/N link. */
function fdDentry(f: FileDescription): Dentry {
  return f.dentry ?? new Dentry(f.anonName() ?? 'anon', null, f.inode);
}


/** mount -t proc: the instance shows the mounting task's pid namespace (as Linux's proc_fill_super). */
export function createProcFsForCaller(vfs: Vfs, kernel: Kernel): SynthFs {
  const c = procCaller();
  return createProcFs(vfs, kernel, c ? nsOf(c).pid : null);
}

/** /proc of one pid namespace (null: the initial one): its processes, by its numbers. */
export function createProcFs(vfs: Vfs, kernel: Kernel, pidNs: PidNamespace | null = null): SynthFs {
  const fs = new SynthFs(PROC_SUPER_MAGIC, 'proc');
  const v = (kpid: number) => pidIn(pidNs, kpid);
  fs.source = 'proc';
  const file = (key: string, f: () => string | Buffer, mode = 0o444, w: ((d: Buffer) => number) | null = null) =>
    () => new SynthFile(fs, key, f, mode, w);
  const link = (key: string, target: () => string | number, magic: (() => Dentry | number) | null = null) =>
    () => new SynthLink(fs, key, target, magic);
  const dir = (key: string, e: () => SynthEntries, mode = 0o555, owner?: () => [number, number]) =>
    () => new SynthDir(fs, key, e, mode, ...(owner ? owner() : [0, 0]));

  const self = procCaller;
  /** The reader's UTS namespace (the Kernel is the initial one). */
  const utsSeen = () => {
    const c = self();
    return c ? nsOf(c).uts : kernel;
  };

  /** The per-task directory (used for /proc/pid and /proc/pid/task/tid). */
  const taskDir = (key: string, t: Task, withTask: boolean, state?: string): SynthEntries => {
    const tg = t.tg;
    const K = (n: string) => `${key}/${n}`;
    // Owned by the task's effective ids while it is dumpable, else by root (task_dump_owner);
    // its 0555 directories always by the task.
    const owner = (): [number, number] => dumpOwner(t);
    const ids = (): [number, number] => [t.creds.euid, t.creds.egid];
    const tfile = (k: string, f: () => string | Buffer, mode = 0o444, w: ((d: Buffer) => number) | null = null) =>
      () => new SynthFile(fs, k, f, mode, w, ...owner());
    // Files of the address space: read as empty once the process has exec'd or exited.
    const mmFile = (k: string, f: () => string | Buffer, lines: boolean, mode = 0o444) => () => new MmTextInode(fs, k, t, f, lines, mode, ...owner());
    // proc_fd_permission: a process may always read its own fd directories.
    const fdDir = (k: string, e: () => SynthEntries) => () => {
      const d = new SynthDir(fs, k, e, 0o500, ...owner());
      d.grant = () => self()?.tg === tg;
      return d;
    };
    const list: Array<[string, () => Inode]> = [
      ['stat', tfile(K('stat'), () => statLine(t, t.tg, state, v))],
      ['status', tfile(K('status'), () => statusText(t, state, v, pidNs, self()?.creds.userns ?? null))],
      ['statm', tfile(K('statm'), () => statmText(t))],
      ['cmdline', tfile(K('cmdline'), () => stringsBytes(tg.argv))],
      ['environ', mmFile(K('environ'), () => stringsBytes(tg.envp), false, 0o400)],
      ['comm', tfile(K('comm'), () => (t.comm || baseName(tg.exePath)) + '\n', 0o644, (d) => {
        t.comm = d.toString('latin1').replace(/\n$/, '').slice(0, 15);
        return d.length;
      })],
      // The file it runs, by dentry (Linux's mm->exe_file): reached even once its path is gone.
      ['exe', link(K('exe'), () => {
        const d = tg.exeDentry;
        if (d === null) return tg.exePath || -E.ENOENT;
        const p = vfs.pathOf(t.fsCtx.root, d);
        return d.deleted ? p + ' (deleted)' : p;
      }, () => tg.exeDentry ?? vfs.lookup(t, -100, tg.exePath || '/', true))],
      ['cwd', link(K('cwd'), () => vfs.pathOf(t.fsCtx.root, t.fsCtx.cwd), () => t.fsCtx.cwd)],
      ['root', link(K('root'), () => vfs.pathOf(vfs.rootDentry, t.fsCtx.root), () => t.fsCtx.root)],
      ['net', dir(K('net'), () => entries(procNetFiles(kernel).map(([n, f]) => [n, file(K(`net/${n}`), f)])), 0o555, ids)],
      ['fd', fdDir(K('fd'), () => {
        const m: SynthEntries = new Map();
        for (const [fd, f] of t.fdTable.entries()) {
          m.set(String(fd), link(K(`fd/${fd}`), () => fdPath(vfs, t, f), () => fdDentry(f)));
        }
        return m;
      })],
      ['fdinfo', fdDir(K('fdinfo'), () => {
        const m: SynthEntries = new Map();
        for (const [fd, f] of t.fdTable.entries()) {
          m.set(String(fd), tfile(K(`fdinfo/${fd}`), () => {
            const flags = f.flags | (t.fdTable.isCloexec(fd) ? 0o2000000 : 0);
            return `pos:\t${f.pos}\nflags:\t0${flags.toString(8)}\nmnt_id:\t20\nino:\t${f.inode.ino}\n`;
          }));
        }
        return m;
      })],
      ['maps', mmFile(K('maps'), () => mapsText(t), true)],
      ['smaps', mmFile(K('smaps'), () => mapsText(t), true)],
      ['mounts', tfile(K('mounts'), () => mountsOf(t).map((x) => x.m.mountsLine(x.path)).join(''))],
      ['mountinfo', tfile(K('mountinfo'), () => mountsOf(t).map((x) => x.m.mountinfoLine(x.path, optionalFields(x.m, t.fsCtx.mntNs))).join(''))],
      ['limits', tfile(K('limits'), () => limitsText(tg))],
      ['cgroup', tfile(K('cgroup'), () => `0::${cgroupOf(tg).path}\n`)],
      ['oom_score_adj', tfile(K('oom_score_adj'), () => '0\n', 0o644, (d) => d.length)],
      ['oom_score', tfile(K('oom_score'), () => '0\n')],
      ['loginuid', tfile(K('loginuid'), () => '4294967295')],
      ['sessionid', tfile(K('sessionid'), () => '4294967295')],
      ['auxv', tfile(K('auxv'), () => tg.auxv, 0o400)],
      ['mem', () => new MemInode(fs, K('mem'), t, self)],
      ['wchan', tfile(K('wchan'), () => '0')],
      ['io', tfile(K('io'), () => ioText(t.tg), 0o400)],
    ];
    if (withTask) {
      list.push(['task', dir(K('task'), () => {
        const m: SynthEntries = new Map();
        for (const th of tg.tasks) m.set(String(v(th.tid)), dir(K(`task/${th.tid}`), () => taskDir(K(`task/${th.tid}`), th, false)));
        return m;
      }, 0o555, ids)]);
      list.push(['ns', dir(K('ns'), () => entries(nsRefs(t).map(([n, r]) => [n, link(K(`ns/${n}`), () => nsLinkText(r), () => nsDentry(r))])), 0o511, owner)]);
      // The opener's credentials decide a map write (Linux: the file's f_cred).
      const opener = self()?.creds;
      // Owned by the process (as Linux's for a dumpable one), so an unprivileged creator writes its own maps.
      const own = (n: string, read: () => string, write: (d: Buffer) => number) =>
        [n, () => new SynthFile(fs, K(n), read, 0o644, write, t.creds.euid, t.creds.egid)] as [string, () => Inode];
      const readerNs = opener?.userns ?? null;
      // Linux reads the write as a C string (memdup_user_nul): a NUL ends it, as runc's
      // maps end ("0 1000 1\n\0"); the whole count is still taken.
      const mapWrite = (gid: boolean) => (d: Buffer) => {
        const nul = d.indexOf(0);
        const r = idMapWrite(opener, t.creds.userns, gid, nul < 0 ? d : d.subarray(0, nul));
        return r < 0 ? r : d.length;
      };
      list.push(own('uid_map', () => idMapRead(t.creds.userns, false, readerNs), mapWrite(false)));
      list.push(own('gid_map', () => idMapRead(t.creds.userns, true, readerNs), mapWrite(true)));
      list.push(own('setgroups', () => setgroupsRead(t.creds.userns), (d) => setgroupsWrite(opener, t.creds.userns, d)));
    }
    return entries(list);
  };

  const pidEntry = (tg: ThreadGroup, fallback?: Task) => {
    const leader = tg.leader;
    const t = leader ?? [...tg.tasks][0] ?? fallback;
    return () => {
      const K = `/${tg.pid}`;
      if (!t) {
        // A zombie: what Linux still shows until the parent reaps it.
        return new SynthDir(fs, K, () => entries([
          ['stat', file(`${K}/stat`, () => statLine(undefined, tg, 'Z', v))],
          ['status', file(`${K}/status`, () => zombieStatus(tg, v))],
          ['cmdline', file(`${K}/cmdline`, () => '')],
          ['comm', file(`${K}/comm`, () => baseName(tg.exePath) + '\n')],
        ]));
      }
      const creds = t.creds;
      // The leader thread exited while others run: the process shows as a zombie leader.
      const state = leader === undefined && fallback === undefined ? 'Z' : undefined;
      return new SynthDir(fs, K, () => taskDir(K, t, true, state), 0o555, creds.euid, creds.egid);
    };
  };

  const sysEntries = (): SynthEntries => entries([
    ['kernel', dir('/sys/kernel', () => entries([
      ['hostname', file('/sys/kernel/hostname', () => utsSeen().hostname + '\n', 0o644, (d) => {
        utsSeen().hostname = d.toString('latin1').replace(/\n$/, '');
        return d.length;
      })],
      ['domainname', file('/sys/kernel/domainname', () => utsSeen().domainname + '\n', 0o644)],
      ['osrelease', file('/sys/kernel/osrelease', () => kernel.release + '\n')],
      ['ostype', file('/sys/kernel/ostype', () => kernel.sysname + '\n')],
      ['version', file('/sys/kernel/version', () => kernel.version + '\n')],
      ['pid_max', file('/sys/kernel/pid_max', () => kernel.pidMax + '\n')],
      ['dmesg_restrict', file('/sys/kernel/dmesg_restrict', () => kernel.dmesgRestrict + '\n')],
      ['threads-max', file('/sys/kernel/threads-max', () => '63704\n')],
      ['ngroups_max', file('/sys/kernel/ngroups_max', () => '65536\n')],
      ['cap_last_cap', file('/sys/kernel/cap_last_cap', () => '40\n')],
      ['overflowuid', file('/sys/kernel/overflowuid', () => '65534\n')],
      ['overflowgid', file('/sys/kernel/overflowgid', () => '65534\n')],
      ['shmmax', file('/sys/kernel/shmmax', () => '18446744073692774399\n')],
      ['shmall', file('/sys/kernel/shmall', () => '18446744073692774399\n')],
      ['shmmni', file('/sys/kernel/shmmni', () => '4096\n')],
      ['sem', file('/sys/kernel/sem', () => '32000\t1024000000\t500\t32000\n')],
      ['msgmax', file('/sys/kernel/msgmax', () => '8192\n')],
      ['msgmnb', file('/sys/kernel/msgmnb', () => '16384\n')],
      ['msgmni', file('/sys/kernel/msgmni', () => '32000\n')],
      ['yama', dir('/sys/kernel/yama', () => entries([['ptrace_scope', file('/sys/kernel/yama/ptrace_scope', () => '1\n')]]))],
      ['random', dir('/sys/kernel/random', () => entries([
        ['boot_id', file('/sys/kernel/random/boot_id', () => (bootId ??= randomUuid()) + '\n')],
        ['uuid', file('/sys/kernel/random/uuid', () => randomUuid() + '\n')],
        ['entropy_avail', file('/sys/kernel/random/entropy_avail', () => '256\n')],
        ['poolsize', file('/sys/kernel/random/poolsize', () => '256\n')],
      ]))],
    ]))],
    ['user', dir('/sys/user', () => entries([
      // Per user namespace, the reader's; its root (CAP_SYS_RESOURCE there) may lower it.
      ['max_user_namespaces', () => {
        const c = self()?.creds; // the opener's (looked up by its walk)
        const lim = userNsLimits(c?.userns ?? null);
        return new SynthFile(fs, '/sys/user/max_user_namespaces', () => `${lim.maxUserNamespaces}\n`, 0o644, (d) => {
          if (c === undefined || !ownCapable(c, CAP_SYS_RESOURCE)) return -E.EACCES;
          const v = /^\s*(\d+)\s*$/.exec(d.toString('latin1'));
          if (!v || Number(v[1]) > USERNS_MAX_DEFAULT) return -E.EINVAL;
          lim.maxUserNamespaces = Number(v[1]);
          return d.length;
        });
      }],
    ]))],
    ['vm', dir('/sys/vm', () => entries([
      ['overcommit_memory', file('/sys/vm/overcommit_memory', () => '0\n')],
      ['max_map_count', file('/sys/vm/max_map_count', () => '65530\n')],
      ['mmap_min_addr', file('/sys/vm/mmap_min_addr', () => '65536\n')],
    ]))],
    ['fs', dir('/sys/fs', () => entries([
      ['pipe-max-size', file('/sys/fs/pipe-max-size', () => PIPE_MAX_SIZE + '\n')],
      ['nr_open', file('/sys/fs/nr_open', () => '1048576\n')],
      ['file-max', file('/sys/fs/file-max', () => '9223372036854775807\n')],
      // The settings the VFS and src/kernel/dumpable.ts enforce: hard links restricted
      // (vfs.ts mayLinkSource), no symlink/fifo/regular-file restriction in sticky
      // directories, no core of a set-id process.
      ['protected_hardlinks', file('/sys/fs/protected_hardlinks', () => '1\n')],
      ['protected_symlinks', file('/sys/fs/protected_symlinks', () => '0\n')],
      ['protected_fifos', file('/sys/fs/protected_fifos', () => '0\n')],
      ['protected_regular', file('/sys/fs/protected_regular', () => '0\n')],
      ['suid_dumpable', file('/sys/fs/suid_dumpable', () => '0\n')],
    ]))],
    ['net', dir('/sys/net', () => entries([
      ['core', dir('/sys/net/core', () => entries([['somaxconn', file('/sys/net/core/somaxconn', () => '4096\n')]]))],
      ['ipv4', dir('/sys/net/ipv4', () => entries([
        ['ip_unprivileged_port_start', file('/sys/net/ipv4/ip_unprivileged_port_start', () => `${kernel.unprivilegedPortStart}\n`, 0o644, (d) => {
          const v = /^\s*(\d+)\s*$/.exec(d.toString('latin1'));
          if (!v || Number(v[1]) > 65535) return -E.EINVAL;
          kernel.unprivilegedPortStart = Number(v[1]);
          return d.length;
        })],
        ['ping_group_range', file('/sys/net/ipv4/ping_group_range', () => `${kernel.pingGroupRange}\n`, 0o644, (d) => {
          // As Linux: one or two gids (more are ignored; one sets the low end only), each
          // a valid gid; a range whose high end is below its low end becomes "1 0" (nobody).
          const words = d.toString('latin1').trim().split(/\s+/).filter((w) => w !== '').slice(0, 2);
          if (words.length === 0) return d.length;
          if (words.some((w) => !/^\d+$/.test(w) || Number(w) > 4294967294)) return -E.EINVAL;
          const cur = kernel.pingGroupRange.split('\t').map(Number);
          const lo = Number(words[0]);
          const hi = words.length > 1 ? Number(words[1]) : cur[1];
          kernel.pingGroupRange = hi < lo ? '1\t0' : `${lo}\t${hi}`;
          return d.length;
        })],
      ]))],
    ]))],
  ]);

  const rootEntries = (): SynthEntries => {
    const m: SynthEntries = entries([
      ['self', link('/self', () => {
        const t = self();
        return t && v(t.tg.pid) ? String(v(t.tg.pid)) : -E.ENOENT;
      })],
      ['thread-self', link('/thread-self', () => {
        const t = self();
        return t && v(t.tg.pid) ? `${v(t.tg.pid)}/task/${v(t.tid)}` : -E.ENOENT;
      })],
      ['cpuinfo', file('/cpuinfo', () => cpuinfoText(kernel.cpus))],
      ['vmstat', file('/vmstat', () => vmstatText(kernel))],
      // No block devices in the sandbox (see /sys/block).
      ['diskstats', file('/diskstats', () => '')],
      ['partitions', file('/partitions', () => 'major minor  #blocks  name\n\n')],
      ['meminfo', file('/meminfo', meminfoText)],
      ['stat', file('/stat', () => statText(kernel))],
      ['uptime', file('/uptime', () => {
        const up = kernel.nowNs() / 1e9;
        return `${up.toFixed(2)} ${(up * kernel.cpus * 0.9).toFixed(2)}\n`;
      })],
      ['loadavg', file('/loadavg', () => `0.00 0.00 0.00 1/${kernel.tasks.size} ${Math.max(0, ...kernel.tasks.keys())}\n`)],
      ['version', file('/version', () => `Linux version ${kernel.release} (tssandbox@tssandbox) (gcc) ${kernel.version}\n`)],
      ['filesystems', file('/filesystems', procFilesystems)],
      ['mounts', link('/mounts', () => 'self/mounts')],
      ['cmdline', file('/cmdline', () => 'BOOT_IMAGE=/vmlinuz root=/dev/root ro\n')],
      ['sys', dir('/sys', sysEntries)],
      ['sysvipc', dir('/sysvipc', () => entries([
        ['shm', file('/sysvipc/shm', () => procSysvipcShm(kernel))],
        ['sem', file('/sysvipc/sem', () => procSysvipcSem(kernel))],
        ['msg', file('/sysvipc/msg', () => procSysvipcMsg(kernel))],
      ]))],
      ['net', link('/net', () => 'self/net')],
    ]);
    for (const tg of kernel.threadGroups.values()) {
      const pid = v(tg.pid);
      if (pid !== 0) m.set(String(pid), pidEntry(tg));
    }
    // The caller always sees itself, even before the kernel tables list it.
    const me = self();
    if (me && v(me.tg.pid) !== 0 && !m.has(String(v(me.tg.pid)))) m.set(String(v(me.tg.pid)), pidEntry(me.tg, me));
    return m;
  };

  fs.rootNode = new SynthDir(fs, '/', rootEntries);
  return fs;
}

function meminfoText(): string {
  const kb = (n: number) => `${Math.floor(n / 1024).toString().padStart(8)} kB`;
  const { total, free } = guestMemory(hostMemTotal, hostMemFree);
  return [
    `MemTotal:       ${kb(total)}`, `MemFree:        ${kb(free)}`, `MemAvailable:   ${kb(free)}`,
    `Buffers:        ${kb(0)}`, `Cached:         ${kb(0)}`, `SwapCached:     ${kb(0)}`,
    `Active:         ${kb(0)}`, `Inactive:       ${kb(0)}`, `SwapTotal:      ${kb(0)}`, `SwapFree:       ${kb(0)}`,
    `Shmem:          ${kb(0)}`, `CommitLimit:    ${kb(total)}`, `Committed_AS:   ${kb(total - free)}`,
    `HugePages_Total:       0`, `HugePages_Free:        0`, `Hugepagesize:       2048 kB`, '',
  ].join('\n');
}

/** --deterministic: every CPU busy since the virtual boot (in ticks, as /proc/stat gives them). */
function virtualCpus(kernel: Kernel): CpuTicks[] {
  const ticks = Math.floor(kernel.nowNs() / 1e7);
  return Array.from({ length: kernel.cpus }, () => ({ user: ticks, nice: 0, sys: 0, idle: 0, irq: 0 }));
}

function statText(kernel: Kernel): string {
  const cpus = virtualClock.active ? virtualCpus(kernel) : hostCpuTicks().slice(0, kernel.cpus);
  const line = (name: string, t: CpuTicks) => `${name} ${t.user} ${t.nice} ${t.sys} ${t.idle} 0 ${t.irq} 0 0 0 0\n`;
  const sum = cpus.reduce((a, c) => ({
    user: a.user + c.user, nice: a.nice + c.nice, sys: a.sys + c.sys, idle: a.idle + c.idle, irq: a.irq + c.irq,
  }), { user: 0, nice: 0, sys: 0, idle: 0, irq: 0 });
  let out = line('cpu ', sum);
  cpus.forEach((c, i) => (out += line(`cpu${i}`, c)));
  out += `intr 0\nctxt 0\nbtime ${virtualClock.active ? virtualBootWallTs()[0] : Math.floor(kernel.bootWallMs / 1000)}\nprocesses ${kernel.threadGroups.size}\n`;
  out += `procs_running 1\nprocs_blocked 0\nsoftirq 0\n`;
  return out;
}
