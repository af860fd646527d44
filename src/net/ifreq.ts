/**
 * struct ifreq / ifconf ioctls (SIOCGIF*): what if_nametoindex, ifconfig and
 * getifaddrs-era programs ask about interfaces. With no stack (mode "none") the one
 * interface is lo; otherwise the stack's interfaces.
 */
import * as E from '../abi/errno';
import type { Task } from '../kernel/task';
import {
  SIOCGIFINDEX, SIOCGIFNAME, SIOCGIFFLAGS, SIOCGIFMTU, SIOCGIFADDR, SIOCGIFNETMASK, SIOCGIFBRDADDR, SIOCGIFHWADDR, SIOCGIFCONF,
  SIOCGIFDSTADDR, SIOCGIFTXQLEN,
} from '../abi/socket';
import { links, addrs, type LinkView, type NetSource } from './netview';
import { isV4 } from './stack/addr';

/** A link as the ifreq ioctls see it: its first IPv4 address beside it. */
interface IfView extends Omit<LinkView, 'stats' | 'nic'> {
  v4: { addr: Buffer; prefix: number } | null;
}

function views(stack: NetSource): IfView[] {
  const as = addrs(stack);
  return links(stack).map((l) => ({ ...l, flags: l.flags & 0xffff, v4: as.find((a) => a.index === l.index && isV4(a.addr)) ?? null }));
}

function sockaddrIn(b: Buffer, off: number, a: Buffer | null): void {
  b.fill(0, off, off + 16);
  b.writeUInt16LE(2, off);
  if (a !== null) a.copy(b, off + 4, 12, 16);
}

function maskOf(prefix: number): Buffer {
  const m = Buffer.alloc(16);
  m[10] = m[11] = 0xff;
  const n = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  m.writeUInt32BE(n, 12);
  return m;
}

/** Handles the ioctl; null when cmd is not an interface ioctl. */
export function ifreqIoctlFor(stack: NetSource, t: Task, cmd: number, arg: number): number | null {
  if (cmd === SIOCGIFCONF) {
    const hdr = t.mem.read(arg, 16);
    if (hdr === null) return -E.EFAULT;
    const len = hdr.readInt32LE(0);
    const ptr = Number(hdr.readBigUInt64LE(8));
    const list = views(stack).filter((v) => v.v4 !== null);
    if (ptr === 0) {
      hdr.writeInt32LE(list.length * 40, 0);
      return t.mem.write(arg, hdr.subarray(0, 4)) ? 0 : -E.EFAULT;
    }
    const n = Math.min(list.length, Math.floor(len / 40));
    const out = Buffer.alloc(n * 40);
    for (let i = 0; i < n; i++) {
      out.write(list[i].name, i * 40, 'latin1');
      sockaddrIn(out, i * 40 + 16, list[i].v4!.addr);
    }
    if (n > 0 && !t.mem.write(ptr, out)) return -E.EFAULT;
    hdr.writeInt32LE(n * 40, 0);
    return t.mem.write(arg, hdr.subarray(0, 4)) ? 0 : -E.EFAULT;
  }
  const known = [SIOCGIFINDEX, SIOCGIFNAME, SIOCGIFFLAGS, SIOCGIFMTU, SIOCGIFADDR, SIOCGIFNETMASK, SIOCGIFBRDADDR, SIOCGIFHWADDR, SIOCGIFDSTADDR, SIOCGIFTXQLEN];
  if (!known.includes(cmd)) return null;
  const r = t.mem.read(arg, 40);
  if (r === null) return -E.EFAULT;
  const all = views(stack);
  let v: IfView | undefined;
  if (cmd === SIOCGIFNAME) {
    v = all.find((x) => x.index === r.readInt32LE(16));
    if (v === undefined) return -E.ENODEV;
    r.fill(0, 0, 16);
    r.write(v.name, 0, 'latin1');
    return t.mem.write(arg, r) ? 0 : -E.EFAULT;
  }
  const end = r.indexOf(0);
  const name = r.toString('latin1', 0, end < 0 || end > 16 ? 16 : end);
  v = all.find((x) => x.name === name);
  if (v === undefined) return -E.ENODEV;
  switch (cmd) {
    case SIOCGIFINDEX: r.writeInt32LE(v.index, 16); break;
    case SIOCGIFMTU: r.writeInt32LE(v.mtu, 16); break;
    case SIOCGIFFLAGS: r.writeInt16LE(v.flags, 16); break;
    case SIOCGIFTXQLEN: r.writeInt32LE(v.loopback ? 1000 : 1000, 16); break;
    case SIOCGIFHWADDR:
      r.fill(0, 16, 32);
      r.writeUInt16LE(v.loopback ? 772 : 1, 16); // ARPHRD_LOOPBACK / ARPHRD_ETHER
      v.mac.copy(r, 18);
      break;
    case SIOCGIFADDR:
    case SIOCGIFDSTADDR:
      if (v.v4 === null) return -E.EADDRNOTAVAIL;
      sockaddrIn(r, 16, v.v4.addr);
      break;
    case SIOCGIFNETMASK:
      if (v.v4 === null) return -E.EADDRNOTAVAIL;
      sockaddrIn(r, 16, maskOf(v.v4.prefix));
      break;
    case SIOCGIFBRDADDR: {
      if (v.v4 === null) return -E.EADDRNOTAVAIL;
      const b = Buffer.from(v.v4.addr);
      const host = v.v4.prefix >= 32 ? 0 : (2 ** (32 - v.v4.prefix) - 1);
      b.writeUInt32BE((b.readUInt32BE(12) | host) >>> 0, 12);
      sockaddrIn(r, 16, b);
      break;
    }
  }
  return t.mem.write(arg, r) ? 0 : -E.EFAULT;
}
