/**
 * UDP through the gateway of network mode "user": one host socket per guest source
 * (address, port), as a full-cone NAT does, closed after a minute without traffic.
 * Each datagram goes to its destination through the redirect (DNS to the gateway's
 * resolver address goes to the host's resolver, the gateway's own address to the host's
 * loopback) under the policy; replies come back to the guest from the address it sent
 * to. A refused destination gets an ICMP port unreachable, as a closed port would.
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
      if (r < 0) continue; // an ICMP error reported on the socket: dropped, as a NAT would
      const from = decodeInet(name.subarray(0, out[0]));
      if (typeof from === 'number') continue;
      const virt = f.back.get(`${fmt(from.ip)}|${from.port}`) ?? { ip: from.ip, port: from.port };
      f.used = true;
      this.gw.udp.send(virt.ip, virt.port, f.src, f.sport, buf, 0, Math.min(r, buf.length), 64, 0, null);
    }
  }

  private expire(f: UdpFlow): void {
    expireIdle(this.flows, f, IDLE_MS);
  }
}
