/**
 * The host figures the guest sees (sysinfo, /proc/meminfo, /proc/stat, /proc/vmstat):
 * read through /proc files opened once, when this module loads at start-up, and read
 * again at offset 0 for each value. Node's os.freemem()/os.cpus() would open
 * /proc/meminfo and /proc/stat by name at every call, and the Sentry opens no host path
 * once guests run (its seccomp filter and its chroot refuse it: SECURITY.md).
 */
import { openSync, readSync } from 'fs';
import * as os from 'os';

function openOnce(path: string): number {
  try {
    return openSync(path, 'r');
  } catch {
    return -1;
  }
}

const meminfoFd = openOnce('/proc/meminfo');
const statFd = openOnce('/proc/stat');
const buf = Buffer.alloc(64 * 1024);

function readAll(fd: number): string | null {
  if (fd < 0) return null;
  try {
    return buf.toString('latin1', 0, readSync(fd, buf, 0, buf.length, 0));
  } catch {
    return null;
  }
}

function meminfoKb(text: string | null, key: string): number | null {
  const m = text === null ? null : new RegExp(`^${key}:\\s*(\\d+) kB`, 'm').exec(text);
  return m ? Number(m[1]) * 1024 : null;
}

const total = meminfoKb(readAll(meminfoFd), 'MemTotal') ?? os.totalmem();

/** Host RAM in bytes (fixed). */
export function hostMemTotal(): number {
  return total;
}

/** Available host RAM in bytes (MemAvailable, as Node's os.freemem). */
export function hostMemFree(): number {
  const t = readAll(meminfoFd);
  return meminfoKb(t, 'MemAvailable') ?? meminfoKb(t, 'MemFree') ?? 0;
}

/** Per-CPU times in USER_HZ ticks (the host's /proc/stat "cpuN" rows, in order). */
export interface CpuTicks {
  user: number;
  nice: number;
  sys: number;
  idle: number;
  irq: number;
}

export function hostCpuTicks(): CpuTicks[] {
  const t = readAll(statFd);
  if (t === null) return [];
  const out: CpuTicks[] = [];
  for (const line of t.split('\n')) {
    const m = /^cpu\d+ (\d+) (\d+) (\d+) (\d+) \d+ (\d+)/.exec(line);
    if (m) out.push({ user: Number(m[1]), nice: Number(m[2]), sys: Number(m[3]), idle: Number(m[4]), irq: Number(m[5]) });
  }
  return out;
}
