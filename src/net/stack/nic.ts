/** A network interface of the stack: its link, addresses, counters and neighbour cache. */
import type { Link } from './link';
import { type Addr, inPrefix, isV4 } from './addr';
import { StackTimer, type Clock } from './timer';

export interface IfAddr {
  addr: Addr;
  /** Prefix length in the family's own width (24 for a /24 IPv4 address). */
  prefix: number;
}

export const IFF_UP = 0x1;
export const IFF_BROADCAST = 0x2;
export const IFF_LOOPBACK = 0x8;
export const IFF_RUNNING = 0x40;
export const IFF_MULTICAST = 0x1000;
export const IFF_LOWER_UP = 0x10000;

/** A neighbour (ARP / NDP) entry; packets wait in `pending` until the address resolves. */
export interface Neighbour {
  mac: Buffer | null;
  pending: Buffer[];
  tries: number;
  timer: StackTimer | null;
  /** Packets waiting: their IP version (for the frame's ethertype). */
  v6: boolean;
}

export class Nic {
  readonly addrs: IfAddr[] = [];
  up = true;
  readonly stats = { rxBytes: 0, rxPackets: 0, rxErrors: 0, rxDropped: 0, txBytes: 0, txPackets: 0, txErrors: 0, txDropped: 0 };
  readonly neigh = new Map<string, Neighbour>();
  constructor(
    readonly index: number,
    readonly name: string,
    readonly link: Link,
  ) {}

  get loopback(): boolean {
    return this.link.kind === 'loopback';
  }
  /** `ip link set DEV mtu N` (IFLA_MTU): at most the link's own (the host's interface, or lo's 64 KiB); null: the link's. */
  mtuSet: number | null = null;
  get mtu(): number {
    return this.mtuSet ?? this.link.mtu;
  }
  get flags(): number {
    const base = this.loopback ? IFF_LOOPBACK : IFF_BROADCAST | IFF_MULTICAST;
    return base | (this.up ? IFF_UP | IFF_RUNNING | IFF_LOWER_UP : 0);
  }

  hasAddr(a: Uint8Array): boolean {
    for (const x of this.addrs) {
      let same = true;
      for (let i = 15; i >= 0; i--)
        if (x.addr[i] !== a[i]) {
          same = false;
          break;
        }
      if (same) return true;
    }
    return false;
  }

  /** The first address of the family, preferring one on dst's subnet. */
  sourceFor(dst: Uint8Array): Addr | null {
    const v4 = isV4(dst);
    let first: Addr | null = null;
    for (const x of this.addrs) {
      if (isV4(x.addr) !== v4) continue;
      if (!v4 && x.addr[0] === 0xfe && (x.addr[1] & 0xc0) === 0x80 && !(dst[0] === 0xfe && (dst[1] & 0xc0) === 0x80)) continue;
      if (inPrefix(x.addr, dst, x.prefix)) return x.addr;
      first ??= x.addr;
    }
    return first;
  }

  /** Is a the directed broadcast of one of our IPv4 subnets? */
  isBroadcast(a: Uint8Array): boolean {
    for (const x of this.addrs) {
      if (!isV4(x.addr) || x.prefix >= 31) continue;
      if (!inPrefix(x.addr, a, x.prefix)) continue;
      const hostBits = 32 - x.prefix;
      const n = ((a[12] << 24) | (a[13] << 16) | (a[14] << 8) | a[15]) >>> 0;
      const mask = hostBits >= 32 ? 0xffffffff : (2 ** hostBits - 1);
      if ((n & mask) >>> 0 === mask) return true;
    }
    return false;
  }

  newNeighbour(clock: Clock, onTimer: (n: Neighbour) => void, v6: boolean): Neighbour {
    const n: Neighbour = { mac: null, pending: [], tries: 0, timer: null, v6 };
    n.timer = new StackTimer(clock, () => onTimer(n));
    return n;
  }
}
