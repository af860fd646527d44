/**
 * UDP through the gateway of network mode "user": one host socket per guest source
 * (address, port), as a full-cone NAT does, closed after a minute without traffic.
 * Each datagram goes to its destination through the redirect (DNS to the gateway's
 * resolver address goes to the host's resolver, the gateway's own address to the host's
 * loopback) under the policy; replies come back to the guest from the address it sent
 * to. A refused destination gets an ICMP port unreachable, as a closed port would; so
 * does a datagram the host's stack learned was refused: the host sockets have
 * IP_RECVERR, and each error queued on one (ICMP from the destination, or the host's own
 * loopback) comes back to the guest as the ICMP error its datagram caused.
 */
import * as E from '../abi/errno';
import { AF_INET, AF_INET6, SOCK_DGRAM } from '../abi/socket';
import type { Stack } from './stack/stack';
import { StackTimer } from './stack/timer';
import { icmp4Error, icmp6Error } from './stack/icmp';
import { decodeInet } from './sockaddr';
import { eq, fmt, isV4, type Addr } from './stack/addr';
import { hn, edges, brokerSocket, sockaddr, rxScratch, expireIdle } from './host-io';
import type { Redirect } from './nat-tcp';

const IDLE_MS = 60_000;
const { data: buf, name, noCtl, out } = rxScratch;
const MSG_ERRQUEUE = 0x2000;
const ONE = Buffer.from([1, 0, 0, 0]);
const errCtl = Buffer.alloc(256);
const SO_EE_ORIGIN_ICMP = 2;
const SO_EE_ORIGIN_ICMP6 = 3;

interface UdpFlow {
  key: string;
  fd: number;
  src: Addr;
  sport: number;
  /** Host address:port -> the address:port the guest sent to (for mapped destinations). */
  back: Map<string, { ip: Addr; port: number }>;
  idle: StackTimer;
  used: boolean;
}

export class NatUdp {
  private readonly flows = new Map<string, UdpFlow>();

  constructor(
    private readonly gw: Stack,
    private readonly kernel: object,
    private readonly redirect: Redirect,
  ) {}

  get size(): number {
    return this.flows.size;
  }

  /** A guest datagram (l4Hook): always taken. */
  input(v6: boolean, b: Buffer, off: number, len: number, ipOff: number, src: Addr, dst: Addr): boolean {
    if (len < 8) return true;
    const sport = b.readUInt16BE(off);
    const dport = b.readUInt16BE(off + 2);
    const ulen = Math.min(b.readUInt16BE(off + 4), len);
    if (ulen < 8) return true;
    const to = this.redirect(dst, dport, 'udp');
    if (to === null) {
      const ipLen = off + len - ipOff;
      if (v6) icmp6Error(this.gw, b, ipOff, ipLen, 1, 4);
      else icmp4Error(this.gw, b, ipOff, ipLen, 3, 3);
      return true;
    }
    const f = this.flow(src, sport, isV4(to.ip));
    if (f === null) return true;
    if (!eq(to.ip, dst) || to.port !== dport) f.back.set(`${fmt(to.ip)}|${to.port}`, { ip: Buffer.from(dst), port: dport });
    f.used = true;
    hn().netSockSend(f.fd, b, off + 8, ulen - 8, 0, sockaddr(to.ip, to.port));
    return true;
  }

  private flow(src: Addr, sport: number, v4: boolean): UdpFlow | null {
    const key = `${fmt(src)}|${sport}|${v4 ? 4 : 6}`;
    let f = this.flows.get(key);
    if (f !== undefined) return f;
    const fd = brokerSocket(this.kernel, v4 ? AF_INET : AF_INET6, SOCK_DGRAM, 0);
    if (fd < 0) return null;
    // IP_RECVERR / IPV6_RECVERR: ICMP errors for this unconnected socket are queued, not lost.
    hn().netSockSetOpt(fd, v4 ? 0 : 41, v4 ? 11 : 25, ONE);
    const nf: UdpFlow = {
      key, fd, src: Buffer.from(src), sport, back: new Map(), used: true,
      idle: new StackTimer(this.gw.clock, () => this.expire(nf)),
    };
    f = nf;
    this.flows.set(key, f);
    edges.add(fd, { edge: () => this.replies(nf), waiting: () => true, always: true });
    f.idle.arm(IDLE_MS);
    return f;
  }

  private replies(f: UdpFlow): void {
    const n = hn();
    for (let i = 0; i < 256; i++) {
      const r = n.netSockRecv(f.fd, buf, 0, buf.length, 0, name, noCtl, out);
      if (r === -E.EAGAIN) return;
      if (r < 0) {
        this.errors(f);
        continue;
      }
      const from = decodeInet(name.subarray(0, out[0]));
      if (typeof from === 'number') continue;
      const virt = f.back.get(`${fmt(from.ip)}|${from.port}`) ?? { ip: from.ip, port: from.port };
      f.used = true;
      this.gw.udp.send(virt.ip, virt.port, f.src, f.sport, buf, 0, Math.min(r, buf.length), 64, 0, null);
    }
  }

  /** Each error queued on the host socket goes to the guest as the ICMP error it stands for. */
  private errors(f: UdpFlow): void {
    const n = hn();
    for (let i = 0; i < 64; i++) {
      const r = n.netSockRecv(f.fd, buf, 0, buf.length, MSG_ERRQUEUE, name, errCtl, out);
      if (r < 0) return;
      const dst = decodeInet(name.subarray(0, out[0]));
      if (typeof dst === 'number') continue;
      const ee = extendedErr(errCtl, out[1]);
      if (ee === null) continue;
      const virt = f.back.get(`${fmt(dst.ip)}|${dst.port}`) ?? { ip: dst.ip, port: dst.port };
      this.icmpToGuest(f, virt.ip, virt.port, ee.type, ee.code, Math.min(r, buf.length));
    }
  }

  /**
   * Sends the guest the ICMP error its datagram (f.src:f.sport -> ip:port, payload in buf)
   * would have drawn on the way: the quoted packet is rebuilt from the flow.
   */
  private icmpToGuest(f: UdpFlow, ip: Addr, port: number, type: number, code: number, plen: number): void {
    const v6 = !isV4(ip);
    const hl = v6 ? 40 : 20;
    const q = Math.min(plen, 64);
    const pkt = Buffer.alloc(hl + 8 + q);
    if (v6) {
      pkt[0] = 0x60;
      pkt.writeUInt16BE(8 + plen, 4);
      pkt[6] = 17;
      pkt[7] = 64;
      f.src.copy(pkt, 8);
      ip.copy(pkt, 24);
    } else {
      pkt[0] = 0x45;
      pkt.writeUInt16BE(20 + 8 + plen, 2);
      pkt[8] = 64;
      pkt[9] = 17;
      f.src.copy(pkt, 12, 12, 16);
      ip.copy(pkt, 16, 12, 16);
    }
    pkt.writeUInt16BE(f.sport, hl);
    pkt.writeUInt16BE(port, hl + 2);
    pkt.writeUInt16BE(8 + plen, hl + 4);
    buf.copy(pkt, hl + 8, 0, q);
    // The error comes from the destination, to the guest: the stack's current-packet addresses.
    const gw = this.gw;
    ip.copy(gw.rxDst);
    f.src.copy(gw.rxSrc);
    if (v6) icmp6Error(gw, pkt, 0, pkt.length, type, code);
    else icmp4Error(gw, pkt, 0, pkt.length, type, code);
  }

  private expire(f: UdpFlow): void {
    expireIdle(this.flows, f, IDLE_MS);
  }
}

/** The ICMP type and code of an IP_RECVERR / IPV6_RECVERR message (sock_extended_err), or null. */
function extendedErr(ctl: Buffer, len: number): { type: number; code: number } | null {
  for (let o = 0; o + 16 <= len;) {
    const clen = Number(ctl.readBigUInt64LE(o));
    if (clen < 16) return null;
    const level = ctl.readInt32LE(o + 8);
    const type = ctl.readInt32LE(o + 12);
    if (((level === 0 && type === 11) || (level === 41 && type === 25)) && clen >= 16 + 16) {
      const origin = ctl[o + 16 + 4];
      if (origin !== SO_EE_ORIGIN_ICMP && origin !== SO_EE_ORIGIN_ICMP6) return null;
      return { type: ctl[o + 16 + 5], code: ctl[o + 16 + 6] };
    }
    o += (clen + 7) & ~7;
  }
  return null;
}
