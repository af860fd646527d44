/**
 * The stack: interfaces, routes, the IP layers and the transport protocols. Everything
 * runs on the Sentry's one thread: frames come in through a Link's rx callback (a host
 * fd made readable, or the loopback queue), timers through the Sentry's timer queue,
 * and sends from socket calls. Outgoing packets are built in place in `tx` (link header
 * room first, then IP, then the transport header and payload), so the send path does
 * not allocate per segment; the receive path reads the link's buffer and copies only
 * payload it must keep.
 */
import * as E from '../../abi/errno';
import type { Link } from './link';
import { Nic } from './nic';
import { RouteTable, type Route } from './route';
import { Reassembler } from './fragment';
import type { Clock } from './timer';
import { type Addr, eq, isV4, isMulticast, isLoopback, solicitedNode, v4, parse } from './addr';
import { ETH_HLEN, ETHERTYPE_ARP, ETHERTYPE_IPV4, ETHERTYPE_IPV6, BROADCAST_MAC, writeEth, v6MulticastMac } from './ethernet';
import { arpInput, arpSend } from './arp';
import { ip4Input, ip4Output, IPPROTO_ICMP, IPPROTO_TCP, IPPROTO_UDP } from './ipv4';
import { ip6Input, ip6Output, IPPROTO_ICMPV6 } from './ipv6';
import { icmp4Input, icmp6Input, icmp4Error, icmp6Error } from './icmp';
import { ndpSolicit } from './ndp';
import { takeFrame } from './frame-pool';
import { Udp } from './udp';
import { Tcp } from './tcp/tcp';

export interface PcapSink {
  frame(b: Buffer, off: number, len: number): void;
}

/** Where a packet to a destination leaves: interface, next hop on it, and our source address. */
export interface PathInfo {
  nic: Nic;
  nextHop: Addr;
  src: Addr;
}

const LIMITED_BCAST = v4(255, 255, 255, 255);
const ALL_NODES = parse('ff02::1')!;
const MAX_PENDING = 64;

export class Stack {
  readonly nics: Nic[] = [];
  readonly routes = new RouteTable();
  /**
   * The transmit buffer every output path builds its packet in: a pool buffer
   * (frame-pool.ts), given to the link as the frame when `txGive` allows and the link
   * takes it (sendOwned; a new one taken in its place).
   */
  tx = takeFrame();
  /**
   * Set by TCP output around one send: tx may be given away (its builder does not reuse
   * it after the send, and never fragments it).
   */
  txGive = false;
  readonly frags: Reassembler;
  readonly udp: Udp;
  readonly tcp: Tcp;
  pcap: PcapSink | null = null;
  /**
   * Set by TCP output around one send: the segment's checksum is partial and its payload
   * may exceed the MTU in units of this many bytes (the link's GSO); 0 otherwise.
   */
  txPartial = 0;
  /** Receive-path scratch: the current packet's addresses (copy to keep), TTL, TOS, interface. */
  readonly rxSrc = Buffer.alloc(16);
  readonly rxDst = Buffer.alloc(16);
  rxTtl = 0;
  rxTos = 0;
  rxNic: Nic | null = null;
  /** The link said the transport checksum of this frame is not filled in yet (offload). */
  rxCsumTrusted = false;
  /**
   * The pool buffer the frame being received lies in, when its link lets the receiver keep
   * it: TCP input takes it (sets null) to queue a large payload without a copy.
   */
  rxKeep: Buffer | null = null;
  /** The frame (view) rxKeep holds: TCP keeps its payload only from this very frame (no `.buffer` lookup per segment). */
  rxKeepFrame: Buffer | null = null;
  /**
   * A gateway's stack (network mode "user", src/net/user-net.ts): packets to any unicast
   * address are ours, and `l4Hook` sees each transport packet first (true: taken).
   */
  promiscuous = false;
  l4Hook: ((nic: Nic, proto: number, v6: boolean, b: Buffer, off: number, len: number, ipOff: number, src: Addr, dst: Addr) => boolean) | null = null;
  /** Raw sockets' copy of every packet (set by src/net/icmp-socket.ts while any exists). */
  rawInput: ((proto: number, v6: boolean, b: Buffer, ipOff: number, off: number, len: number, src: Addr) => void) | null = null;
  /** Packet sockets' view of every frame (set by src/net/packet-socket.ts while any exists). */
  packetTap: ((nic: Nic, b: Buffer, off: number, len: number, outgoing: boolean) => void) | null = null;
  /** Who must see frames as the wire carries them (whole checksums, no GSO super-frames). */
  get wantsWireFrames(): boolean {
    return this.pcap !== null || this.rawInput !== null || this.packetTap !== null;
  }
  /** Ping (ICMP echo) replies go here: set by the socket layer. */
  onEchoReply: ((v6: boolean, b: Buffer, off: number, len: number, src: Addr) => void) | null = null;
  /** Counters for /proc/net/snmp and /proc/net/netstat (tcpTimeouts..: TcpExt's; tcpRackFirst: first losses RACK found, ours). */
  readonly mib = {
    ipInReceives: 0, ipInHdrErrors: 0, ipInDelivers: 0, ipOutRequests: 0, ipFragOKs: 0, ipFragFails: 0, ipFragCreates: 0,
    ip6FragOKs: 0, ip6FragFails: 0, ip6FragCreates: 0, tcpActiveOpens: 0, tcpPassiveOpens: 0, tcpRetransSegs: 0, tcpInSegs: 0, tcpOutSegs: 0, tcpOutRsts: 0, udpInDatagrams: 0, udpOutDatagrams: 0, udpNoPorts: 0,
    tcpTimeouts: 0, tcpLossProbes: 0, tcpSackRecovery: 0, tcpRackFirst: 0,
    icmpInErrors: 0, icmpInCsumErrors: 0,
    /** ICMP (IPv4) messages by type, received and sent (Icmp and IcmpMsg of /proc/net/snmp). */
    icmpIn: new Array<number>(256).fill(0),
    icmpOut: new Array<number>(256).fill(0),
    /** IPv6, ICMPv6 and UDP over IPv6 (/proc/net/snmp6); ip6InEcn by the ECN bits: NoECT, ECT(1), ECT(0), CE. */
    ip6InReceives: 0, ip6InHdrErrors: 0, ip6InDelivers: 0, ip6OutRequests: 0, ip6InOctets: 0, ip6OutOctets: 0,
    ip6InMcastPkts: 0, ip6OutMcastPkts: 0, ip6InMcastOctets: 0, ip6OutMcastOctets: 0, ip6InEcn: [0, 0, 0, 0],
    icmp6In: new Array<number>(256).fill(0),
    icmp6Out: new Array<number>(256).fill(0),
    icmp6InErrors: 0, icmp6InCsumErrors: 0,
    udp6InDatagrams: 0, udp6NoPorts: 0, udp6OutDatagrams: 0,
  };

  constructor(readonly clock: Clock) {
    this.frags = new Reassembler(clock);
    this.udp = new Udp(this);
    this.tcp = new Tcp(this);
  }

  // ------------------------------------------------------------------ interfaces

  addNic(name: string, link: Link): Nic {
    const nic = new Nic(this.nics.length + 1, name, link);
    this.nics.push(nic);
    link.attach(
      (b, off, len, trusted, whole) => this.rxFrame(nic, b, off, len, trusted === true, whole ?? null),
      (open) => this.tcp.rxBatch(open),
    );
    return nic;
  }

  nicByName(name: string): Nic | undefined {
    return this.nics.find((n) => n.name === name);
  }
  nicByIndex(i: number): Nic | undefined {
    return this.nics.find((n) => n.index === i);
  }
  get loopback(): Nic | undefined {
    return this.nics.find((n) => n.loopback);
  }

  /** Adds an address and its connected route (as `ip addr add` does). */
  addAddress(nic: Nic, addr: Addr, prefix: number): void {
    if (nic.hasAddr(addr)) return;
    nic.addrs.push({ addr, prefix });
    const net = Buffer.from(addr);
    const width = isV4(addr) ? 32 : 128;
    const start = isV4(addr) ? 12 : 0;
    for (let bit = prefix; bit < width; bit++) net[start + (bit >> 3)] &= ~(0x80 >> (bit & 7));
    if (!nic.loopback || prefix < width) this.routes.add({ dst: net, prefix, gateway: null, nic, metric: isV4(addr) ? 0 : 256, src: addr, proto: 'kernel' });
  }

  removeAddress(nic: Nic, addr: Addr): boolean {
    const i = nic.addrs.findIndex((x) => eq(x.addr, addr));
    if (i < 0) return false;
    nic.addrs.splice(i, 1);
    this.routes.remove((r) => r.nic === nic && r.proto === 'kernel' && r.src !== null && eq(r.src, addr));
    return true;
  }

  /** Is addr one of ours (any interface: Linux's weak host model)? */
  isLocal(addr: Uint8Array): boolean {
    for (const n of this.nics) if (n.hasAddr(addr)) return true;
    return false;
  }

  acceptsDst(nic: Nic, dst: Uint8Array): boolean {
    if (nic.loopback) return true;
    if (this.isLocal(dst)) return true;
    if (this.promiscuous && !isMulticast(dst) && !nic.isBroadcast(dst) && !eq(dst, LIMITED_BCAST)) return true;
    if (isV4(dst)) return eq(dst, LIMITED_BCAST) || nic.isBroadcast(dst) || isMulticast(dst);
    if (eq(dst, ALL_NODES)) return true;
    if (dst[0] === 0xff && dst[1] === 0x02 && dst[11] === 1 && dst[12] === 0xff) {
      for (const a of nic.addrs) if (!isV4(a.addr) && eq(solicitedNode(a.addr), dst)) return true;
    }
    return false;
  }

  // ------------------------------------------------------------------ routing

  /** The path to dst (ENETUNREACH when none); a local destination goes through loopback. */
  path(dst: Addr, oif: Nic | null = null, src: Addr | null = null): PathInfo | number {
    if (isLoopback(dst) || (this.isLocal(dst) && oif === null)) {
      const lo = this.loopback;
      // Linux drops the local routes of an interface that is down.
      if (lo === undefined || !lo.up) return -E.ENETUNREACH;
      return { nic: lo, nextHop: dst, src: src ?? (isLoopback(dst) ? dst : dst) };
    }
    if (isMulticast(dst) || eq(dst, LIMITED_BCAST)) {
      const nic = oif ?? this.nics.find((n) => !n.loopback && n.up && n.sourceFor(dst) !== null);
      if (nic === undefined) return -E.ENETUNREACH;
      const s = src ?? nic.sourceFor(dst);
      if (s === null) return -E.EADDRNOTAVAIL;
      return { nic, nextHop: dst, src: s };
    }
    const r: Route | null = this.routes.lookup(dst, oif);
    if (r === null) return -E.ENETUNREACH;
    const s = src ?? r.src ?? r.nic.sourceFor(r.gateway ?? dst);
    if (s === null) return -E.EADDRNOTAVAIL;
    return { nic: r.nic, nextHop: r.gateway ?? dst, src: s };
  }

  /** Offset in tx where the transport header goes. */
  l4Off(v6: boolean): number {
    return ETH_HLEN + (v6 ? 40 : 20);
  }

  /** Sends the transport bytes at tx[l4Off] to dst (routing it). */
  sendIp(src: Addr, dst: Addr, proto: number, l4len: number, ttl: number, tos: number, df: boolean, nic: Nic | null = null): number {
    const p = this.path(dst, nic, src);
    if (typeof p === 'number') return p;
    return this.sendOn(p, dst, proto, l4len, ttl, tos, df);
  }

  sendOn(p: PathInfo, dst: Addr, proto: number, l4len: number, ttl: number, tos: number, df: boolean): number {
    if (isV4(dst)) {
      // /proc/net/snmp's Ip and Icmp groups are IPv4's (IPv6 has snmp6).
      this.mib.ipOutRequests++;
      if (proto === IPPROTO_ICMP) this.mib.icmpOut[this.tx[this.l4Off(false)]]++;
      return ip4Output(this, p.nic, p.nextHop, p.src, dst, proto, l4len, ttl, tos, df);
    }
    // Ip6OutRequests counts datagrams (fragments are Ip6OutTransmits on kernels that have it).
    this.mib.ip6OutRequests++;
    if (proto === IPPROTO_ICMPV6) this.mib.icmp6Out[this.tx[this.l4Off(true)]]++;
    return ip6Output(this, p.nic, p.nextHop, p.src, dst, proto, l4len, ttl, tos);
  }

  /** Puts the IP packet b[off, off+len) on nic, resolving nextHop's link address. */
  linkOutput(nic: Nic, nextHop: Addr, v6: boolean, b: Buffer, off: number, len: number): number {
    if (!nic.up) return -E.ENETDOWN;
    const type = v6 ? ETHERTYPE_IPV6 : ETHERTYPE_IPV4;
    if (nic.loopback) {
      writeEth(b, off - ETH_HLEN, nic.link.mac, nic.link.mac, type);
      this.pcap?.frame(b, off - ETH_HLEN, len + ETH_HLEN);
      if (this.packetTap !== null) {
        // lo: a packet socket sees it leave and arrive.
        this.packetTap(nic, b, off - ETH_HLEN, len + ETH_HLEN, true);
        this.packetTap(nic, b, off - ETH_HLEN, len + ETH_HLEN, false);
      }
      this.linkSend(nic, b, off, len);
      nic.stats.txPackets++;
      nic.stats.txBytes += len;
      return 0;
    }
    let mac: Uint8Array | null = null;
    if (v6 ? nextHop[0] === 0xff : isMulticast(nextHop)) mac = v6 ? v6MulticastMac(nextHop) : Buffer.from([1, 0, 0x5e, nextHop[13] & 0x7f, nextHop[14], nextHop[15]]);
    else if (!v6 && (eq(nextHop, LIMITED_BCAST) || nic.isBroadcast(nextHop))) mac = BROADCAST_MAC;
    else {
      const key = nextHop.toString('latin1');
      let n = nic.neigh.get(key);
      if (n !== undefined && n.mac !== null) mac = n.mac;
      else {
        // Queued before soliciting: the solicitation is built in tx, which may hold this packet.
        const fresh = n === undefined;
        if (n === undefined) {
          n = nic.newNeighbour(this.clock, (x) => this.neighbourTimer(nic, Buffer.from(key, 'latin1'), x), v6);
          nic.neigh.set(key, n);
        }
        // A GSO segment is not kept (sent later, it would lack its offload facts): TCP resends it.
        if (n.pending.length < MAX_PENDING && this.txPartial === 0) n.pending.push(Buffer.from(b.subarray(off, off + len)));
        n.v6 = v6;
        if (fresh) {
          this.solicit(nic, nextHop, v6);
          n.timer!.arm(1000);
        }
        return 0;
      }
    }
    writeEth(b, off - ETH_HLEN, mac, nic.link.mac, type);
    return this.sendFrame(nic, b, off - ETH_HLEN, len + ETH_HLEN);
  }

  sendFrame(nic: Nic, b: Buffer, off: number, len: number): number {
    this.pcap?.frame(b, off, len);
    this.packetTap?.(nic, b, off, len, true);
    if (this.txPartial > 0) nic.link.send(b, off, len, this.txPartial);
    else this.linkSend(nic, b, off, len);
    nic.stats.txPackets++;
    nic.stats.txBytes += len;
    return 0;
  }

  /** link.send, or the tx buffer itself given to a link that takes it (no copy). */
  /** A packet socket's frame (Ethernet header included) out of nic; on lo, an IP one comes back in. */
  sendRawFrame(nic: Nic, f: Buffer): void {
    if (!nic.loopback) return void this.sendFrame(nic, f, 0, f.length);
    this.pcap?.frame(f, 0, f.length);
    this.packetTap?.(nic, f, 0, f.length, true);
    this.packetTap?.(nic, f, 0, f.length, false);
    const type = f.readUInt16BE(12);
    if (type === ETHERTYPE_IPV4 || type === ETHERTYPE_IPV6) nic.link.send(f, ETH_HLEN, f.length - ETH_HLEN);
    nic.stats.txPackets++;
    nic.stats.txBytes += f.length - ETH_HLEN;
  }

  private linkSend(nic: Nic, b: Buffer, off: number, len: number): void {
    const link = nic.link;
    if (this.txGive && b === this.tx && link.sendOwned !== undefined) {
      this.txGive = false;
      this.tx = takeFrame();
      link.sendOwned(b, off, len);
    } else link.send(b, off, len);
  }

  private solicit(nic: Nic, target: Addr, v6: boolean): void {
    const src = nic.sourceFor(target);
    if (src === null) return;
    if (v6) ndpSolicit(this, nic, src, target);
    else arpSend(this, nic, 1, BROADCAST_MAC, src, target, null);
  }

  private neighbourTimer(nic: Nic, target: Addr, n: import('./nic').Neighbour): void {
    if (n.mac !== null) return;
    if (++n.tries >= 3) {
      // Unresolvable: drop what waited (TCP retransmits; UDP is lost, as on Linux).
      nic.neigh.delete(target.toString('latin1'));
      n.pending.length = 0;
      this.tcp.hostUnreachable(target);
      return;
    }
    this.solicit(nic, target, n.v6);
    n.timer!.arm(1000);
  }

  neighbourKnown(nic: Nic, a: Uint8Array): boolean {
    return nic.neigh.has(Buffer.from(a).toString('latin1'));
  }

  learnNeighbour(nic: Nic, a: Uint8Array, mac: Uint8Array): void {
    const key = Buffer.from(a).toString('latin1');
    let n = nic.neigh.get(key);
    if (n === undefined) {
      n = nic.newNeighbour(this.clock, () => {}, !isV4(a));
      nic.neigh.set(key, n);
    }
    n.timer?.cancel();
    n.mac = Buffer.from(mac.subarray(0, 6));
    const waiting = n.pending.splice(0);
    for (const pkt of waiting) {
      const b = this.tx;
      pkt.copy(b, ETH_HLEN);
      writeEth(b, 0, n.mac, nic.link.mac, (pkt[0] >> 4) === 6 ? ETHERTYPE_IPV6 : ETHERTYPE_IPV4);
      this.sendFrame(nic, b, 0, pkt.length + ETH_HLEN);
    }
  }

  // ------------------------------------------------------------------ input

  private rx(nic: Nic, b: Buffer, off: number, len: number): void {
    nic.stats.rxPackets++;
    nic.stats.rxBytes += len;
    if (!nic.up) return void nic.stats.rxDropped++;
    if (nic.loopback) {
      // Captured once, when sent (linkOutput), as a capture on Linux's lo shows each packet.
      this.rxCsumTrusted = true;
      if (b[off] >> 4 === 6) ip6Input(this, nic, b, off, len);
      else ip4Input(this, nic, b, off, len);
      return;
    }
    this.pcap?.frame(b, off, len);
    this.packetTap?.(nic, b, off, len, false);
    if (len < ETH_HLEN) return;
    // Frames for another host (promiscuous veth peers) are not ours.
    const d0 = b[off];
    if ((d0 & 1) === 0) {
      const m = nic.link.mac;
      for (let i = 0; i < 6; i++) if (b[off + i] !== m[i]) return;
    }
    const type = (b[off + 12] << 8) | b[off + 13];
    if (type === ETHERTYPE_IPV4) ip4Input(this, nic, b, off + ETH_HLEN, len - ETH_HLEN);
    else if (type === ETHERTYPE_IPV6) ip6Input(this, nic, b, off + ETH_HLEN, len - ETH_HLEN);
    else if (type === ETHERTYPE_ARP) arpInput(this, nic, b, off + ETH_HLEN, len - ETH_HLEN);
  }

  /**
   * A frame from a link: its transport checksum may be left to offload (vnet header, a
   * trusted wire), and it may lie in a pool buffer the receiver may keep (true: kept).
   */
  rxFrame(nic: Nic, b: Buffer, off: number, len: number, csumTrusted: boolean, whole: Buffer | null = null): boolean {
    this.rxCsumTrusted = csumTrusted;
    this.rxKeep = whole;
    this.rxKeepFrame = whole !== null ? b : null;
    this.rx(nic, b, off, len);
    const kept = whole !== null && this.rxKeep === null;
    this.rxKeep = null;
    this.rxKeepFrame = null;
    this.rxCsumTrusted = false;
    return kept;
  }

  deliverL4(nic: Nic, proto: number, v6: boolean, b: Buffer, off: number, len: number, ipOff: number, src: Addr, dst: Addr): void {
    if (this.l4Hook !== null && this.l4Hook(nic, proto, v6, b, off, len, ipOff, src, dst)) return;
    if (v6) this.mib.ip6InDelivers++;
    else this.mib.ipInDelivers++;
    if (this.rawInput !== null) this.rawInput(proto, v6, b, ipOff, off, len, src);
    if (proto === IPPROTO_TCP) return this.tcp.input(nic, v6, b, off, len, src, dst);
    if (proto === IPPROTO_UDP) {
      if (!this.udp.input(nic, v6, b, off, len, src, dst) && !isMulticast(dst) && !nic.isBroadcast(dst)) {
        if (v6) this.mib.udp6NoPorts++;
        else this.mib.udpNoPorts++;
        const ipLen = off + len - ipOff;
        if (v6) icmp6Error(this, b, ipOff, ipLen, 1, 4);
        else icmp4Error(this, b, ipOff, ipLen, 3, 3);
      }
      return;
    }
    if (!v6 && proto === IPPROTO_ICMP) return icmp4Input(this, nic, b, off, len, ipOff, src, dst);
    if (v6 && proto === IPPROTO_ICMPV6) return icmp6Input(this, nic, b, off, len, src, dst);
    if (!v6) icmp4Error(this, b, ipOff, off + len - ipOff, 3, 2);
  }

  rxSrcCopy(): Addr {
    return Buffer.from(this.rxSrc);
  }
  rxDstCopy(): Addr {
    return Buffer.from(this.rxDst);
  }

  icmpError(proto: number, qsrc: Addr, qdst: Addr, sport: number, dport: number, err: number, mtu: number, hard: boolean): void {
    if (proto === IPPROTO_UDP) this.udp.icmpError(qsrc, qdst, sport, dport, err);
    else if (proto === IPPROTO_TCP) this.tcp.icmpError(qsrc, qdst, sport, dport, err, mtu, hard);
  }

  pingInput(v6: boolean, b: Buffer, off: number, len: number, src: Addr): void {
    this.onEchoReply?.(v6, b, off, len, src);
  }
}
