/**
 * TCP demultiplexing: established connections by 4-tuple, listeners by port (with
 * the SYN backlog and accept queue), RST for segments nobody owns, TIME_WAIT reuse by
 * a new SYN, and ICMP errors delivered to connections.
 */
import type { Stack } from '../stack';
import type { Nic } from '../nic';
import { PortTable } from '../ports';
import { type Addr, eq, isV4, isMulticast } from '../addr';
import { sumBytes, finish, pseudoSum } from '../checksum';
import { IPPROTO_TCP } from '../ipv4';
import { Segment, SYN, ACK, RST, FIN } from './segment';
import { TcpEndpoint, EV_IN, EV_OUT, EV_ERR } from './endpoint';
import { TcpState } from './state';
import { segmentArrives, applySynOptions } from './input';
import { sendSeg, onDelayedAck } from './output';
import { StackTimer } from '../timer';
import { add, gt } from './seq';
import * as E from '../../../abi/errno';
import { randomUint32 } from '../../../determinism/entropy';

export class Tcp {
  readonly ports = new PortTable<TcpEndpoint>();
  /** Connections by (lport << 16 | rport), then matched on addresses. */
  private readonly conns = new Map<number, TcpEndpoint[]>();
  private readonly seg = new Segment();
  /**
   * A SYN no connection or listener takes (a gateway's stack, network mode "user"): the
   * hook answers with a transparent listener to accept it on (the connection takes the
   * SYN's destination as its own address and port), "drop", or null (RST).
   */
  synHook: ((nic: Nic, v6: boolean, b: Buffer, off: number, len: number, src: Addr, dst: Addr, dport: number) => TcpEndpoint | 'drop' | null) | null = null;
  /** Every endpoint with a 4-tuple, for /proc/net/tcp. */
  connCount = 0;

  /**
   * Connections whose "every second segment" ACK waits for the end of this round's
   * frames (in-memory links deliver a round's frames together): one ACK per batch, as
   * Linux's GRO gives one per coalesced packet, not one per two segments.
   */
  private readonly ackQ: TcpEndpoint[] = [];
  private ackTimer: StackTimer | null = null;

  constructor(private readonly s: Stack) {}

  /** Inside a host link's batch of frames (FdLink's wake): ACKs wait for its end (rxBatch). */
  batching = false;

  deferAck(ep: TcpEndpoint): void {
    if (!this.ackQ.includes(ep)) this.ackQ.push(ep);
    if (this.batching) return;
    this.ackTimer ??= new StackTimer(this.s.clock, () => this.flushAcks());
    this.ackTimer.ensure(0);
  }

  /** A link's batch of received frames begins (true) or ends (false: the deferred ACKs go). */
  rxBatch(open: boolean): void {
    this.batching = open;
    if (!open && this.ackQ.length > 0) this.flushAcks();
  }

  private flushAcks(): void {
    const q = this.ackQ.splice(0);
    for (const ep of q) onDelayedAck(ep); // as the delayed ACK: none for a connection closed since
  }

  addConn(ep: TcpEndpoint): void {
    const k = ep.port * 65536 + ep.rport;
    const l = this.conns.get(k);
    if (l === undefined) this.conns.set(k, [ep]);
    else if (!l.includes(ep)) l.push(ep);
    else return;
    this.connCount++;
  }

  removeConn(ep: TcpEndpoint): void {
    const k = ep.port * 65536 + ep.rport;
    const l = this.conns.get(k);
    if (l === undefined) return;
    const i = l.indexOf(ep);
    if (i < 0) return;
    l.splice(i, 1);
    this.connCount--;
    if (l.length === 0) this.conns.delete(k);
  }

  lookupConn(laddr: Uint8Array, lport: number, raddr: Uint8Array, rport: number): TcpEndpoint | null {
    const l = this.conns.get(lport * 65536 + rport);
    if (l === undefined) return null;
    for (const ep of l) if (eq(ep.remote, raddr) && eq(ep.addr, laddr)) return ep;
    return null;
  }

  *allConns(): IterableIterator<TcpEndpoint> {
    for (const l of this.conns.values()) yield* l;
  }

  /**
   * Closed sockets' connections still delivering: data or FIN not yet acknowledged
   * (FIN_WAIT1, CLOSING, LAST_ACK), which Linux's kernel finishes after the process.
   */
  closingOrphans(): number {
    let n = 0;
    let acked = 0;
    for (const ep of this.allConns()) {
      const st = ep.state;
      if (ep.orphan && (st === TcpState.FIN_WAIT1 || st === TcpState.CLOSING || st === TcpState.LAST_ACK)) {
        n++;
        acked += ep.bytesAcked;
      }
    }
    this.closingAcked = acked;
    return n;
  }
  /**
   * Connections a socket still holds (not orphans, synchronized or opening): once their
   * processes are killed, their closes send what is queued and a FIN.
   */
  heldConnections(): number {
    let n = 0;
    for (const ep of this.allConns()) if (!ep.orphan && ep.state !== TcpState.CLOSED && ep.state !== TcpState.TIME_WAIT && ep.state !== TcpState.LISTEN) n++;
    return n;
  }
  /** Bytes the peers acknowledged of the connections closingOrphans() last counted (their progress). */
  closingAcked = 0;

  childrenOf(listener: TcpEndpoint): TcpEndpoint[] {
    const out: TcpEndpoint[] = [];
    for (const ep of this.allConns()) if (ep.parent === listener) out.push(ep);
    return out;
  }

  input(nic: Nic, v6: boolean, b: Buffer, off: number, len: number, src: Addr, dst: Addr): void {
    const seg = this.seg;
    if (!seg.parse(b, off, len)) return;
    if (!this.s.rxCsumTrusted && finish(sumBytes(b, off, len, pseudoSum(src, dst, IPPROTO_TCP, len, v6))) !== 0) return;
    const ep = this.lookupConn(dst, seg.dport, src, seg.sport);
    if (ep !== null) return segmentArrives(ep, seg);
    if (isMulticast(dst) || !isV4(dst) !== v6) return;
    const f = seg.flags;
    if ((f & (SYN | ACK | RST)) === SYN) {
      const l = this.ports.lookup(dst, seg.dport, (e) => e.state === TcpState.LISTEN);
      if (l !== null) return this.listenInput(l, nic, v6, seg, src, dst);
      if (this.synHook !== null) {
        const h = this.synHook(nic, v6, b, off, len, src, dst, seg.dport);
        if (h === 'drop') return;
        if (h !== null) return this.listenInput(h, nic, v6, seg, src, dst);
      }
    }
    this.reset(v6, src, dst, seg);
  }

  /** A SYN for a listener: a child in SYN_RECV, unless the backlog is full (the SYN is dropped; the peer retries). */
  private listenInput(l: TcpEndpoint, nic: Nic, v6: boolean, seg: Segment, src: Addr, dst: Addr): void {
    if (l.acceptQ.length > l.backlog || l.synRecv >= Math.max(l.backlog, 128) * 2) return;
    const c = new TcpEndpoint(this.s, l.family);
    const transparent = l.transparent;
    c.addr = Buffer.from(dst);
    c.port = transparent ? seg.dport : l.port;
    c.v6only = l.v6only;
    c.reuseAddr = l.reuseAddr;
    c.reusePort = l.reusePort;
    c.remote = Buffer.from(src);
    c.rport = seg.sport;
    c.v6 = v6;
    c.nodelay = l.nodelay;
    c.keepalive = l.keepalive;
    c.keepIdle = l.keepIdle;
    c.keepIntvl = l.keepIntvl;
    c.keepCnt = l.keepCnt;
    c.sndLimit = l.sndLimit;
    c.rcvLimit = l.rcvLimit;
    c.userMss = l.userMss;
    c.oobInline = l.oobInline;
    c.ttl = l.ttl;
    c.tos = l.tos;
    c.lingerZero = l.lingerZero;
    c.parent = l;
    c.uid = l.uid;
    const p = this.s.path(c.remote, null, c.addr);
    if (typeof p === 'number') return;
    c.path = p;
    c.setupMss();
    c.irs = seg.seq;
    c.rcvNxt = add(seg.seq, 1);
    applySynOptions(c, seg);
    c.rcvAdv = c.rcvNxt;
    c.iss = randomUint32();
    c.sndUna = c.iss;
    c.sndNxt = add(c.iss, 1);
    c.sndMax = c.sndNxt;
    c.sndWnd = seg.wnd;
    c.state = TcpState.SYN_RECV;
    if (!transparent) {
      this.ports.bind(c, l.port, true);
      // Bound beside the listener whatever the flags (a child always shares its port).
      if (c.port !== l.port) {
        c.port = l.port;
        const list = this.ports.byPort.get(l.port)!;
        if (!list.includes(c)) list.push(c);
      }
      c.bound = true;
    }
    l.synRecv++;
    this.addConn(c);
    this.s.mib.tcpPassiveOpens++;
    void nic;
    sendSeg(c, c.iss, SYN | ACK, 0);
    c.rtoTimer.arm(c.rtt.current);
  }

  /** A passive connection finished its handshake: to the accept queue (or the active opener's socket). */
  childEstablished(c: TcpEndpoint): void {
    const l = c.parent;
    if (l === null) {
      c.notify(EV_OUT);
      return;
    }
    l.synRecv--;
    if (l.state !== TcpState.LISTEN) return c.abort(0);
    l.acceptQ.push(c);
    l.notify(EV_IN);
  }

  /** RST for a segment of no connection (RFC 9293 §3.10.7.1). */
  private reset(v6: boolean, src: Addr, dst: Addr, seg: Segment): void {
    if (seg.flags & RST) return;
    const seq = seg.flags & ACK ? seg.ack : 0;
    const ack = seg.flags & ACK ? 0 : add(seg.seq, seg.segLen);
    this.sendRaw(v6, Buffer.from(dst), seg.dport, Buffer.from(src), seg.sport, seq, ack, seg.flags & ACK ? RST : RST | ACK);
  }

  sendResetFor(ep: TcpEndpoint, seg: Segment): void {
    this.sendRaw(ep.v6, ep.addr, ep.port, ep.remote, ep.rport, seg.ack, 0, RST);
  }

  private sendRaw(v6: boolean, src: Addr, sport: number, dst: Addr, dport: number, seq: number, ack: number, flags: number): void {
    const o = this.s.l4Off(v6);
    const b = this.s.tx;
    b.writeUInt16BE(sport, o);
    b.writeUInt16BE(dport, o + 2);
    b.writeUInt32BE(seq >>> 0, o + 4);
    b.writeUInt32BE(ack >>> 0, o + 8);
    b[o + 12] = 5 << 4;
    b[o + 13] = flags;
    b.writeUInt32BE(0, o + 14);
    b.writeUInt16BE(0, o + 18);
    b.writeUInt16BE(finish(sumBytes(b, o, 20, pseudoSum(src, dst, IPPROTO_TCP, 20, v6))), o + 16);
    this.s.mib.tcpOutRsts++;
    this.s.sendIp(src, dst, IPPROTO_TCP, 20, 64, 0, true);
  }

  /** A SYN for a tuple in TIME_WAIT with a higher sequence number starts a new connection (RFC 6191 spirit). */
  timeWaitSyn(tw: TcpEndpoint, seg: Segment): void {
    if (!gt(seg.seq, tw.rcvNxt)) return;
    const l = this.ports.lookup(tw.addr, tw.port, (e) => e.state === TcpState.LISTEN);
    tw.finalClose();
    if (l !== null && tw.path !== null) this.listenInput(l, tw.path.nic, tw.v6, seg, tw.remote, tw.addr);
  }

  icmpError(qsrc: Addr, qdst: Addr, sport: number, dport: number, err: number, mtu: number, hard: boolean): void {
    const ep = this.lookupConn(qsrc, sport, qdst, dport);
    if (ep === null) return;
    if (err === E.EMSGSIZE && mtu > 0) {
      const m = mtu - (ep.v6 ? 60 : 40) - (ep.tsOn ? 12 : 0);
      if (m >= 68 && m < ep.mss) {
        ep.mss = m;
        ep.cc.setMss(m);
      }
      return;
    }
    if (ep.state === TcpState.SYN_SENT && hard) return ep.fail(err);
    // Soft error: reported by SO_ERROR if the connection later times out.
    ep.err = ep.state === TcpState.SYN_SENT ? err : ep.err;
    ep.notify(EV_ERR);
    void EV_OUT;
    void FIN;
  }

  /** ARP/NDP gave up on a neighbour: connections still opening to it fail with EHOSTUNREACH. */
  hostUnreachable(a: Addr): void {
    for (const ep of [...this.allConns()]) {
      if (ep.state === TcpState.SYN_SENT && ep.path !== null && eq(ep.path.nextHop, a) && ep.retries >= 2) ep.fail(E.EHOSTUNREACH);
    }
  }
}
