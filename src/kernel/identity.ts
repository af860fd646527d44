import type { Kernel } from './kernel';
import type { UtsNs } from './namespaces/types';
import { guestMemory } from '../determinism/virtual-clock';
import { hostMemFree, hostMemTotal } from './host-stats';

/**
 * The sandbox's identity as uname(2) and sysinfo(2) report it. The host name and
 * domain name are the sandbox's own (sethostname changes kernel.hostname, never the
 * host's); release/version are the Sentry's, so guests cannot learn the host kernel.
 */

/** Bytes in each struct utsname field (__NEW_UTS_LEN + 1). */
export const UTS_FIELD = 65;
/** Longest host or domain name sethostname/setdomainname accept. */
export const UTS_MAX_NAME = 64;

/** struct new_utsname: sysname, nodename, release, version, machine, domainname. */
export function utsnameBytes(k: Kernel, uts: UtsNs = k): Buffer {
  const fields = [k.sysname, uts.hostname, k.release, k.version, k.machine, uts.domainname];
  const b = Buffer.alloc(UTS_FIELD * fields.length);
  fields.forEach((f, i) => {
    // Names may hold any bytes (sethostname takes bytes): keep them as latin1.
    b.write(f.slice(0, UTS_MAX_NAME), i * UTS_FIELD, 'latin1');
  });
  return b;
}

/** Sets the host name of a UTS namespace (the Kernel is the initial one). */
export function setHostname(uts: UtsNs, name: Buffer): void {
  uts.hostname = name.toString('latin1');
}

export function setDomainname(uts: UtsNs, name: Buffer): void {
  uts.domainname = name.toString('latin1');
}

/** Seconds since the sandbox booted, rounded up like Linux's sysinfo. */
export function uptimeSeconds(k: Kernel): number {
  const ns = k.nowNs();
  return Math.floor(ns / 1e9) + (ns % 1e9 ? 1 : 0);
}

/**
 * struct sysinfo (x86-64, 112 bytes). Memory figures are the host's (the sandbox has
 * no memory limit of its own yet); loads are 0 (the Sentry does not sample a run
 * queue); procs counts guest threads, as Linux counts all threads.
 */
export function sysinfoBytes(k: Kernel): Buffer {
  const b = Buffer.alloc(112);
  b.writeBigInt64LE(BigInt(uptimeSeconds(k)), 0);
  // loads[3] at 8, 16, 24 stay 0.
  const mem = guestMemory(hostMemTotal, hostMemFree);
  b.writeBigUInt64LE(BigInt(mem.total), 32); // totalram
  b.writeBigUInt64LE(BigInt(mem.free), 40); // freeram
  // sharedram 48, bufferram 56, totalswap 64, freeswap 72: 0.
  b.writeUInt16LE(Math.min(0xffff, Math.max(1, k.tasks.size)), 80); // procs
  // totalhigh 88, freehigh 96: 0 on 64-bit.
  b.writeUInt32LE(1, 104); // mem_unit
  return b;
}
