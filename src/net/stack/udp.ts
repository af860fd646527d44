/** UDP (RFC 768): demultiplexing to bound endpoints, checksums, send. */
import type { Stack } from './stack';
import type { Nic } from './nic';
import { PortTable, type Binding } from './ports';
import { sumBytes, finish, pseudoSum } from './checksum';
import { type Addr, isAny, eq, isMulticast } from './addr';
import { IPPROTO_UDP } from './ipv4';

export interface UdpEndpoint extends Binding {
  remote: Addr | null;
  rport: number;
  /** A datagram for us: payload b[off, off+len) (copy to keep), from src:sport. */
  deliver(b: Buffer, off: number, len: number, src: Addr, sport: number, dst: Addr, nic: Nic): void;
  /** An ICMP error about a datagram we sent to dst:dport. */
  icmpError(err: number, dst: Addr, dport: number): void;
}

export class Udp {
  readonly ports = new PortTable<UdpEndpoint>();
  constructor(private readonly s: Stack) {}

  /** Returns false when no socket wanted the datagram (ICMP port unreachable). */
  input(nic: Nic, v6: boolean, b: Buffer, off: number, len: number, src: Addr, dst: Addr): boolean {
    if (len < 8) return true;
    const ulen = b.readUInt16BE(off + 4);
    if (ulen < 8 || ulen > len) return true;
    const ck = b.readUInt16BE(off + 6);
    if ((ck !== 0 || v6) && !this.s.rxCsumTrusted) {
      if (finish(sumBytes(b, off, ulen, pseudoSum(src, dst, IPPROTO_UDP, ulen, v6))) !== 0) return true;
    }
    const sport = b.readUInt16BE(off);
    const dport = b.readUInt16BE(off + 2);
    // InDatagrams: delivered to a socket (a datagram no socket takes is NoPorts instead).
    const m = this.s.mib;
    const delivered = () => {
      if (v6) m.udp6InDatagrams++;
      else m.udpInDatagrams++;
    };
    const match = (e: UdpEndpoint): boolean => e.remote === null || (e.rport === sport && (isAny(e.remote) || eq(e.remote, src)));
    if (isMulticast(dst) || nic.isBroadcast(dst) || (dst[12] === 255 && dst[13] === 255 && dst[14] === 255 && dst[15] === 255)) {
      const list = this.ports.byPort.get(dport);
      if (list === undefined) return true;
      let n = 0;
      for (const e of list.slice()) {
        if (!match(e)) continue;
        n++;
        e.deliver(b, off + 8, ulen - 8, src, sport, dst, nic);
      }
      if (n > 0) delivered();
      return true;
    }
    // Connected sockets first (exact 4-tuple), then bound ones.
    const list = this.ports.byPort.get(dport);
    if (list === undefined) return false;
    let best: UdpEndpoint | null = null;
    for (const e of list) {
      if (!PortTable.covers(e, dst)) continue;
      if (e.remote !== null) {
        if (match(e)) {
          best = e;
          break;
        }
        continue;
      }
      if (best === null || (isAny(best.addr) && !isAny(e.addr))) best = e;
    }
    if (best === null) return false;
    delivered();
    best.deliver(b, off + 8, ulen - 8, src, sport, dst, nic);
    return true;
  }

  /** Sends payload[poff, poff+plen) from src:sport to dst:dport. */
  send(src: Addr, sport: number, dst: Addr, dport: number, payload: Uint8Array, poff: number, plen: number, ttl: number, tos: number, nicHint: Nic | null): number {
    const p = this.s.path(dst, nicHint, isAny(src) ? null : src);
    if (typeof p === 'number') return p;
    const o = this.s.l4Off(!isV4Addr(dst));
    const tx = this.s.tx;
    const ulen = 8 + plen;
    if (ulen > 65535) return -90; // EMSGSIZE
    tx.writeUInt16BE(sport, o);
    tx.writeUInt16BE(dport, o + 2);
    tx.writeUInt16BE(ulen, o + 4);
    tx.writeUInt16BE(0, o + 6);
    tx.set(payload.subarray(poff, poff + plen), o + 8);
    let ck = finish(sumBytes(tx, o, ulen, pseudoSum(p.src, dst, IPPROTO_UDP, ulen, !isV4Addr(dst))));
    if (ck === 0) ck = 0xffff;
    tx.writeUInt16BE(ck, o + 6);
    if (isV4Addr(dst)) this.s.mib.udpOutDatagrams++;
    else this.s.mib.udp6OutDatagrams++;
    return this.s.sendOn(p, dst, IPPROTO_UDP, ulen, ttl, tos, false);
  }

  icmpError(qsrc: Addr, qdst: Addr, sport: number, dport: number, err: number): void {
    const e = this.ports.lookup(qsrc, sport);
    if (e !== null) e.icmpError(err, qdst, dport);
  }
}

function isV4Addr(a: Addr): boolean {
  return a[10] === 0xff && a[11] === 0xff && a[0] === 0 && a[8] === 0;
}
