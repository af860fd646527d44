/**
 * A TCP endpoint (the TCB): addresses, sequence space, queues, options and timers,
 * and the calls the socket layer makes (connect, listen, accept, read, write,
 * shutdown, close, abort). Segment arrival is input.ts; building and sending segments,
 * retransmission and the timers' actions are output.ts.
 */
import { URG_NONE, readLimit, afterRead, markUrgent } from './urgent';
import * as E from '../../../abi/errno';
import type { Stack, PathInfo } from '../stack';
import type { Binding } from '../ports';
import { type Addr, isAny } from '../addr';
import { StackTimer } from '../timer';
import { ByteQueue } from './byte-queue';
import { Reassembly } from './reassembly';
import { NewReno } from './congestion';
import { RttEstimator } from './rtt';
import { TcpState, canSend } from './state';
import { add, diff } from './seq';
import { SYN, RST, ACK } from './segment';
import { output, sendControl, onRto, onDelayedAck, onPersist, onKeepalive, onProbe, sendWindowUpdateIfNeeded } from './output';
import { onRackTimer, SentTimes } from './rack';
import { onEntropySeeded, randomBelow, randomUint32 } from '../../../determinism/entropy';

// poll bits (src/abi/fs)
export const EV_IN = 0x001 | 0x040;
export const EV_OUT = 0x004 | 0x100;
export const EV_ERR = 0x008;
export const EV_HUP = 0x010;
export const EV_RDHUP = 0x2000;

export const DEFAULT_RCVBUF = 6 << 20;
export const DEFAULT_SNDBUF = 4 << 20;
const NO_BYTES = new Uint8Array(0);
export const WSCALE = 7;
export const TIME_WAIT_MS = 60_000;
export const FIN_TIMEOUT_MS = 60_000;

let nextIss = randomUint32();
onEntropySeeded(() => (nextIss = randomUint32()));

export class TcpEndpoint implements Binding {
  // Binding (ports.ts)
  addr: Addr;
  port = 0;
  family: number;
  v6only = false;
  reuseAddr = false;
  reusePort = false;
  listening = false;
  bound = false;

  state = TcpState.CLOSED;
  remote: Addr;
  rport = 0;
  v6 = false;
  path: PathInfo | null = null;

  iss = 0;
  sndUna = 0;
  sndNxt = 0;
  sndMax = 0;
  sndWnd = 0;
  sndWl1 = 0;
  sndWl2 = 0;
  sndWscale = 0;
  rcvWscale = WSCALE;
  maxSndWnd = 0;
  irs = 0;
  rcvNxt = 0;
  /** Right edge of the window we advertised (never moved left). */
  rcvAdv = 0;
  /** Send MSS (the peer's MSS option, clamped by our path). */
  mss = 536;
  advMss = 1460;
  userMss = 0;
  tsOn = false;
  tsRecent = 0;
  sackOn = false;
  wsOn = false;

  readonly sendQ = new ByteQueue();
  readonly recvQ = new ByteQueue();
  readonly ooo = new Reassembly();
  /** The application shut down writing: a FIN follows the queued data. */
  finQueued = false;
  /** Sequence number our FIN took once sent, or -1. */
  finSentSeq = -1;
  /** The peer's FIN arrived (in order). */
  rcvFin = false;
  /** Pending error for SO_ERROR / the next call (positive errno). */
  err = 0;
  /** The connection ended in a reset or error (reads give the error, then 0). */
  failed = false;
  /** No socket owns us any more (closed): we linger to finish the close. */
  orphan = false;
  /** SHUT_RD by the application. */
  rdShut = false;
  /** Urgent data (urgent.ts): the receive side's mark and state, SO_OOBINLINE, the send side's pointer. */
  urgSeq = 0;
  urgState = URG_NONE;
  urgSignalled = false;
  oobInline = false;
  sndUp = 0;
  sndUrgent = false;

  /** SACK scoreboard: [left, right) ranges the peer holds above sndUna, sorted, flat pairs. */
  sacked: number[] = [];
  /** Next sequence a SACK-driven retransmission may start at (this recovery). */
  rexmitNext = 0;
  /** snd_max when a tail loss probe went out (one per flight), or -1. */
  tlpHigh = -1;
  /** This recovery's retransmissions, flat [seq, end, sentMs, sndMax] (rack.ts). */
  rackRecs: number[] = [];
  /** Send times of the original transmissions in flight (RACK for first losses, rack.ts). */
  readonly sentTimes = new SentTimes();
  /** RACK.xmit_ts and RACK.rtt (RFC 8985 §6.2): the newest SACKed original's send time and round trip. */
  rackXmit = -1;
  rackRtt = 0;
  cc: NewReno;
  readonly rtt = new RttEstimator();
  retries = 0;
  rttSeq = -1;
  rttStart = 0;
  ackPending = 0;
  probes = 0;
  lastRecvMs = 0;
  lastSendMs = 0;

  readonly rtoTimer: StackTimer;
  readonly dackTimer: StackTimer;
  readonly persistTimer: StackTimer;
  readonly keepTimer: StackTimer;
  readonly waitTimer: StackTimer;
  /** Continues a send burst on the next round (output sends at most BURST segments per call). */
  readonly burstTimer: StackTimer;
  /** Tail loss probe (RFC 8985 §7): a lost tail is found in ~2 RTTs, not an RTO. */
  readonly probeTimer: StackTimer;
  /** RACK's reordering window running out for a retransmission that may be lost (rack.ts). */
  readonly rackTimer: StackTimer;

  // options the socket sets
  nodelay = false;
  cork = false;
  keepalive = false;
  keepIdle = 7200;
  keepIntvl = 75;
  keepCnt = 9;
  userTimeout = 0;
  /** Segments still acknowledged at once (Linux quickack mode at the start, TCP_QUICKACK). */
  quickAcks = 16;
  sndLimit = DEFAULT_SNDBUF;
  rcvLimit = DEFAULT_RCVBUF;
  ttl = 64;
  tos = 0;
  lingerZero = false;
  /** A gateway's listener for SYNs to any address (Tcp.synHook): children are not bound to ports. */
  transparent = false;

  // listener
  backlog = 0;
  readonly acceptQ: TcpEndpoint[] = [];
  synRecv = 0;
  parent: TcpEndpoint | null = null;

  // TCP_INFO counters
  totalRetrans = 0;
  retransOut = 0;
  segsIn = 0;
  segsOut = 0;
  bytesAcked = 0;
  bytesReceived = 0;

  /** The owning socket's inode number and uid (/proc/net/tcp). */
  ino = 0;
  uid = 0;
  /** The socket's buffer sizes (SO_RCVBUF/SO_SNDBUF), for sock_diag's skmem; null: no socket yet. */
  owner: { readonly rcvbuf: number; readonly sndbuf: number; readonly intOpts?: ReadonlyMap<string, number> } | null = null;
  /** Readiness changed: the socket's wait queue. */
  notify: (events: number) => void = () => {};
  /** A new urgent mark (tcp_check_urg): the socket's SIGURG to its owner. */
  onUrgent: () => void = () => {};

  constructor(
    readonly stack: Stack,
    family: number,
  ) {
    this.family = family;
    this.addr = Buffer.alloc(16);
    if (family === 2) this.addr[10] = this.addr[11] = 0xff;
    this.remote = Buffer.from(this.addr);
    const c = stack.clock;
    this.rtoTimer = new StackTimer(c, () => onRto(this));
    this.dackTimer = new StackTimer(c, () => onDelayedAck(this));
    this.persistTimer = new StackTimer(c, () => onPersist(this));
    this.keepTimer = new StackTimer(c, () => onKeepalive(this));
    this.waitTimer = new StackTimer(c, () => this.finalClose());
    this.burstTimer = new StackTimer(c, () => output(this));
    this.probeTimer = new StackTimer(c, () => onProbe(this));
    this.rackTimer = new StackTimer(c, () => onRackTimer(this));
    this.cc = new NewReno(this.mss);
  }

  nowMs(): number {
    return Math.floor(this.stack.clock.nowNs() / 1e6);
  }

  get tcp() {
    return this.stack.tcp;
  }

  // ------------------------------------------------------------------ socket calls

  bind(addr: Addr, port: number): number {
    if (this.bound) return -E.EINVAL;
    this.addr = Buffer.from(addr);
    const p = this.tcp.ports.bind(this, port, true);
    if (p < 0) return -E.EADDRINUSE;
    this.bound = true;
    return 0;
  }

  listen(backlog: number): number {
    if (this.state !== TcpState.CLOSED && this.state !== TcpState.LISTEN) return -E.EINVAL;
    if (!this.bound) {
      const r = this.bind(this.addr, 0);
      if (r < 0) return r;
    }
    this.listening = true;
    if (!this.tcp.ports.fits(this, true)) {
      this.listening = false;
      return -E.EADDRINUSE;
    }
    this.backlog = Math.min(Math.max(backlog, 0), 4096);
    this.state = TcpState.LISTEN;
    return 0;
  }

  /** Starts an active open to dst:dport. Returns 0 (SYN sent) or -errno. */
  connect(dst: Addr, dport: number): number {
    const p = this.stack.path(dst, null, isAny(this.addr) ? null : this.addr);
    if (typeof p === 'number') return p;
    if (isAny(this.addr) || !this.bound) {
      if (!this.bound) {
        this.addr = Buffer.from(p.src);
        const r = this.tcp.ports.bind(this, 0, true);
        if (r < 0) return -E.EADDRNOTAVAIL;
        this.bound = true;
      } else {
        this.addr = Buffer.from(p.src);
      }
    }
    if (this.tcp.lookupConn(this.addr, this.port, dst, dport) !== null) return -E.EADDRNOTAVAIL;
    this.remote = Buffer.from(dst);
    this.rport = dport;
    this.v6 = !(dst[10] === 0xff && dst[11] === 0xff && dst[0] === 0);
    this.path = p;
    this.setupMss();
    this.iss = nextIss = (nextIss + 0x10000 + randomBelow(0x10000)) >>> 0;
    this.sndUna = this.iss;
    this.sndNxt = add(this.iss, 1);
    this.sndMax = this.sndNxt;
    this.state = TcpState.SYN_SENT;
    this.tcp.addConn(this);
    this.stack.mib.tcpActiveOpens++;
    sendControl(this, this.iss, SYN);
    this.rtoTimer.arm(this.rtt.current);
    return 0;
  }

  setupMss(): void {
    const mtu = this.path?.nic.mtu ?? 1500;
    this.advMss = Math.min(mtu - (this.v6 ? 60 : 40), 65495);
    if (this.userMss > 0) this.advMss = Math.min(this.advMss, this.userMss);
    this.mss = Math.min(536, this.advMss);
  }

  /** Accepts a completed connection (-EAGAIN when none). */
  accept(): TcpEndpoint | number {
    if (this.state !== TcpState.LISTEN) return -E.EINVAL;
    const c = this.acceptQ.shift();
    if (c === undefined) return -E.EAGAIN;
    c.parent = null;
    return c;
  }

  /** Room in the send queue for a write now, or -errno (-EAGAIN: full or not yet connected). */
  private sendRoom(): number {
    if (this.err !== 0 && this.failed) return -this.takeErr();
    if (this.state === TcpState.SYN_SENT || this.state === TcpState.SYN_RECV) return -E.EAGAIN;
    if (!canSend(this.state) || this.finQueued) {
      if (this.state === TcpState.CLOSED && this.err === 0 && !this.failed && this.remote === null) return -E.ENOTCONN;
      return -E.EPIPE;
    }
    const room = this.sndLimit - this.sendQ.bytes;
    return room <= 0 ? -E.EAGAIN : room;
  }

  /**
   * A write whose bytes fill(buf, off, len) puts straight into the send queue (the NAT's
   * host socket recv): up to max bytes, no staging copy. Returns fill's result, or -errno
   * from the endpoint (fill not called).
   */
  writeFrom(max: number, fill: (b: Buffer, off: number, len: number) => number): number {
    const room = this.sendRoom();
    if (room < 0) return room;
    const lim = Math.min(room, max);
    let done = 0;
    let r = 0;
    // Block by block, then one output: an output per block would cut a segment at each
    // block's end.
    while (done < lim) {
      r = this.sendQ.fillTail(lim - done, fill);
      if (r <= 0) break;
      done += r;
    }
    if (done > 0) output(this);
    return done > 0 ? done : r;
  }

  /** Queues bytes to send; returns how many were taken or -errno (-EAGAIN: buffer full). */
  write(data: Buffer, nonblock: boolean, owned: boolean): number {
    const room = this.sendRoom();
    if (room < 0) return room;
    let n = data.length;
    if (nonblock && n > room) n = room;
    this.sendQ.push(n === data.length ? data : data.subarray(0, n), owned && n === data.length);
    output(this);
    return n;
  }

  /** send(MSG_OOB): as write, its last byte urgent and sent at once (no Nagle wait), as tcp_push. */
  writeUrgent(data: Buffer, nonblock: boolean): number {
    const room = this.sendRoom();
    if (room < 0) return room;
    const n = nonblock && data.length > room ? room : data.length;
    this.sendQ.push(data.subarray(0, n), false);
    markUrgent(this);
    const nodelay = this.nodelay;
    this.nodelay = true;
    output(this);
    this.nodelay = nodelay;
    return n;
  }

  /** POLLOUT as Linux: free send space at least a third of the limit (sk_stream_wspace >= min_wspace). */
  get writable(): boolean {
    return this.sendQ.bytes <= (this.sndLimit * 2) / 3;
  }

  /** Reads into dst; 0 at EOF; -EAGAIN when nothing yet. */
  read(dst: Uint8Array, peek: boolean): number {
    if (this.recvQ.bytes === 0) {
      if (this.err !== 0) return -this.takeErr();
      if (this.rcvFin || this.failed || this.rdShut) return 0;
      if (this.state === TcpState.CLOSED) return 0;
      return -E.EAGAIN;
    }
    const lim = readLimit(this, peek);
    if (this.recvQ.bytes === 0) return this.read(dst, peek); // it held only the urgent byte
    let n: number;
    if (lim.skip > 0) {
      n = Math.min(dst.length, this.recvQ.bytes - lim.skip);
      if (n > 0) this.recvQ.copyAt(lim.skip, n, dst, 0);
      else return this.rcvFin || this.failed || this.rdShut ? 0 : -E.EAGAIN;
    } else n = this.recvQ.read(lim.max < dst.length ? dst.subarray(0, lim.max) : dst, peek);
    if (!peek && n > 0) {
      afterRead(this);
      sendWindowUpdateIfNeeded(this);
    }
    return n;
  }

  /**
   * read() whose bytes go to put piece by piece (guest memory: no staging copy); a piece
   * put refuses stays queued. -EFAULT when the first piece is refused.
   */
  readTo(max: number, put: (b: Uint8Array) => boolean): number {
    if (this.recvQ.bytes === 0) return this.read(NO_BYTES, false);
    const lim = readLimit(this, false);
    if (this.recvQ.bytes === 0) return this.read(NO_BYTES, false);
    const n = this.recvQ.drainTo(Math.min(max, lim.max), put);
    if (n > 0) {
      afterRead(this);
      sendWindowUpdateIfNeeded(this);
    }
    return n > 0 || max === 0 ? n : -E.EFAULT;
  }

  takeErr(): number {
    const e = this.err;
    this.err = 0;
    return e;
  }

  shutdownWrite(): number {
    if (this.state === TcpState.LISTEN || this.state === TcpState.CLOSED) return this.state === TcpState.LISTEN ? 0 : -E.ENOTCONN;
    if (this.state === TcpState.SYN_SENT) {
      this.abortQuiet();
      return 0;
    }
    if (this.finQueued) return 0;
    this.finQueued = true;
    if (this.state === TcpState.ESTABLISHED) this.state = TcpState.FIN_WAIT1;
    else if (this.state === TcpState.CLOSE_WAIT) this.state = TcpState.LAST_ACK;
    output(this);
    return 0;
  }

  /** The socket's last close. */
  close(): void {
    this.orphan = true;
    this.notify = () => {};
    this.onUrgent = () => {};
    if (this.state === TcpState.LISTEN) {
      for (const c of this.acceptQ.splice(0)) c.abort(0);
      for (const c of this.tcp.childrenOf(this)) c.abort(0);
      return this.finalClose();
    }
    if (this.state === TcpState.CLOSED || this.state === TcpState.SYN_SENT) return this.finalClose();
    if (this.recvQ.bytes > 0 || this.lingerZero) {
      // Unread data (RFC 2525) or SO_LINGER 0: reset, the peer sees ECONNRESET.
      return this.abort(0);
    }
    if (this.state === TcpState.SYN_RECV) return this.abort(0);
    this.shutdownWrite();
  }

  /** Resets the connection (sends RST if synchronized); err is what our own socket reports. */
  abort(err: number): void {
    if (this.state !== TcpState.CLOSED && this.state !== TcpState.LISTEN && this.state !== TcpState.SYN_SENT && this.state !== TcpState.TIME_WAIT) {
      sendControl(this, this.sndNxt, RST | ACK);
      this.stack.mib.tcpOutRsts++;
    }
    this.fail(err);
  }

  /** Drops the connection without a segment (SYN_SENT shutdown, timeouts). */
  abortQuiet(): void {
    this.fail(0);
  }

  /** Ends the connection with an error for the socket (0: none). */
  fail(err: number): void {
    if (err !== 0) this.err = err;
    this.failed = true;
    this.sendQ.clear();
    this.ooo.clear();
    if (this.orphan) this.recvQ.clear();
    this.state = TcpState.CLOSED;
    this.stopTimers();
    this.tcp.removeConn(this);
    if (this.parent !== null) {
      const i = this.parent.acceptQ.indexOf(this);
      if (i >= 0) this.parent.acceptQ.splice(i, 1);
      this.parent = null;
    }
    if (this.orphan) this.unbind();
    this.notify(EV_IN | EV_OUT | EV_ERR | EV_HUP | EV_RDHUP);
  }

  stopTimers(): void {
    this.rtoTimer.cancel();
    this.dackTimer.cancel();
    this.persistTimer.cancel();
    this.keepTimer.cancel();
    this.waitTimer.cancel();
    this.burstTimer.cancel();
    this.probeTimer.cancel();
    this.rackTimer.cancel();
  }

  /** Releases the 4-tuple and the port: TIME_WAIT over, or an orphan done. */
  finalClose(): void {
    this.stopTimers();
    this.state = TcpState.CLOSED;
    this.tcp.removeConn(this);
    this.unbind();
    this.notify(EV_IN | EV_OUT | EV_HUP);
  }

  unbind(): void {
    if (this.bound) {
      this.tcp.ports.unbind(this);
      this.bound = false;
    }
  }

  /** Enters TIME_WAIT: 2MSL (60 s as Linux) before the tuple is free again. */
  enterTimeWait(): void {
    this.state = TcpState.TIME_WAIT;
    this.rtoTimer.cancel();
    this.persistTimer.cancel();
    this.keepTimer.cancel();
    this.dackTimer.cancel();
    this.waitTimer.arm(TIME_WAIT_MS);
    this.notify(EV_IN | EV_OUT | EV_HUP | EV_RDHUP);
  }

  /** Data in flight (sent, not yet acknowledged), in bytes. */
  get flight(): number {
    return diff(this.sndMax, this.sndUna);
  }

  armKeepalive(): void {
    if (this.keepalive && (this.state === TcpState.ESTABLISHED || this.state === TcpState.CLOSE_WAIT)) this.keepTimer.arm(this.keepIdle * 1000);
    else this.keepTimer.cancel();
  }
}
