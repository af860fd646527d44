/**
 * Port bindings of one protocol, with Linux's rules: a wildcard overlaps every
 * address of its family (an AF_INET6 wildcard without V6ONLY also covers IPv4),
 * SO_REUSEADDR lets non-listening TCP sockets (and any UDP sockets) share, SO_REUSEPORT
 * lets sockets that all set it share; ephemeral ports from 32768–60999.
 */
import { type Addr, isAny, isV4, eq } from './addr';
import { randomBelow } from '../../determinism/entropy';

export interface Binding {
  addr: Addr;
  port: number;
  /** Socket family: 2 (AF_INET) or 10 (AF_INET6). */
  family: number;
  v6only: boolean;
  reuseAddr: boolean;
  reusePort: boolean;
  /** TCP listener (REUSEADDR does not let another bind over a listener). */
  listening: boolean;
}

const LO = 32768;
const HI = 60999;

function fam(b: { addr: Addr; family: number; v6only: boolean }): 4 | 6 | 46 {
  if (b.family === 2) return 4;
  if (!isAny(b.addr)) return isV4(b.addr) ? 4 : 6;
  return b.v6only ? 6 : 46;
}

export class PortTable<T extends Binding> {
  readonly byPort = new Map<number, T[]>();
  private next = LO + randomBelow(HI - LO);

  private conflicts(b: Binding, port: number, tcp: boolean): boolean {
    const list = this.byPort.get(port);
    if (list === undefined) return false;
    const fa = fam(b);
    for (const o of list) {
      if (o === b) continue;
      const fo = fam(o);
      if (fa !== 46 && fo !== 46 && fa !== fo) continue;
      const aAny = isAny(b.addr);
      const oAny = isAny(o.addr);
      if (!aAny && !oAny && !eq(b.addr, o.addr)) continue;
      if (b.reusePort && o.reusePort) continue;
      if (b.reuseAddr && o.reuseAddr && (!tcp || !o.listening)) continue;
      return true;
    }
    return false;
  }

  /** Binds b to port (0: an ephemeral one); returns the port or -1 (in use). */
  bind(b: T, port: number, tcp: boolean): number {
    if (port === 0) {
      const span = HI - LO + 1;
      for (let i = 0; i < span; i++) {
        const p = LO + ((this.next - LO + i) % span);
        if (!this.conflicts(b, p, tcp) && !this.byPort.has(p)) {
          this.next = p + 1;
          port = p;
          break;
        }
      }
      if (port === 0) {
        for (let i = 0; i < span; i++) {
          const p = LO + ((this.next - LO + i) % span);
          if (!this.conflicts(b, p, tcp)) {
            port = p;
            break;
          }
        }
      }
      if (port === 0) return -1;
    } else if (this.conflicts(b, port, tcp)) return -1;
    b.port = port;
    const list = this.byPort.get(port);
    if (list === undefined) this.byPort.set(port, [b]);
    else list.push(b);
    return port;
  }

  /** Would b still fit on its port with its current flags (listen re-check)? */
  fits(b: T, tcp: boolean): boolean {
    return !this.conflicts(b, b.port, tcp);
  }

  unbind(b: T): void {
    const list = this.byPort.get(b.port);
    if (list === undefined) return;
    const i = list.indexOf(b);
    if (i >= 0) list.splice(i, 1);
    if (list.length === 0) this.byPort.delete(b.port);
  }

  /** Does binding b receive for address dst? */
  static covers(b: Binding, dst: Uint8Array): boolean {
    if (!isAny(b.addr)) return eq(b.addr, dst);
    const v4 = isV4(dst);
    if (b.family === 2) return v4 && isV4(b.addr);
    return v4 ? !b.v6only : true;
  }

  /** The best binding for dst:port (a specific address beats a wildcard). */
  lookup(dst: Uint8Array, port: number, pred: ((b: T) => boolean) | null = null): T | null {
    const list = this.byPort.get(port);
    if (list === undefined) return null;
    let wild: T | null = null;
    for (const b of list) {
      if (!PortTable.covers(b, dst)) continue;
      if (pred !== null && !pred(b)) continue;
      if (!isAny(b.addr)) return b;
      wild ??= b;
    }
    return wild;
  }
}
