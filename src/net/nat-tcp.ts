/**
 * TCP through the gateway of network mode "user" (as slirp4netns/passt): the guest's
 * SYN to any address reaches the gateway's stack, which first connects a host socket to
 * that address (made by the broker, under --allow-net/--deny-net) and only then answers:
 * the saved SYN is fed to the gateway's stack again, now accepted by a transparent
 * listener, so the guest's connect succeeds only when the real one did (refused: RST,
 * the guest's ECONNREFUSED). Once both halves exist, bytes are copied between the
 * gateway's TcpEndpoint and the host socket, with back-pressure both ways (a full side
 * is not read from), half-close passed on, and a reset passed on as a reset.
 */
import * as E from '../abi/errno';
import { AF_INET, AF_INET6, SOCK_STREAM, SOL_SOCKET } from '../abi/socket';
import type { Stack } from './stack/stack';
import type { Nic } from './stack/nic';
import { TcpEndpoint } from './stack/tcp/endpoint';
import { TcpState } from './stack/tcp/state';
import { fmt, isV4, type Addr } from './stack/addr';
import { hn, edges, brokerSocket, sockaddr } from './host-io';

const SO_ERROR = 4;
const SO_LINGER = 13;
/** Guest bytes sent to the host per turn. */
const CHUNK = 256 * 1024;
/** Host reads toward the guest per turn: straight into the gateway's send queue. */
const HOST_CHUNK = 1 << 20;
/**
 * The gateway's send and receive buffers: the host socket is the real buffer, so a small
 * one suffices between two stacks of one thread; the default 4 and 6 MiB kept that much
 * data cycling through pool blocks, out of cache (measured: 256 KiB, host -> guest
 * 2.9 -> 1.7 ms/MiB, guest -> host 2.9 -> 2.4 ms/MiB).
 */
const GW_BUF = 256 * 1024;
const errBuf = Buffer.alloc(4);

/** Where the gateway sends a guest's connection on the host (null: refused). */
export type Redirect = (dst: Addr, port: number, proto: 'tcp' | 'udp') => { ip: Addr; port: number } | null;

interface Flow {
  key: string;
  fd: number;
  state: 'connecting' | 'ready' | 'refused' | 'open';
  /** The guest's SYN, answered once the host connect is done; `trusted`: its checksum may be unfilled (offload). */
  syn: { nic: Nic; v6: boolean; bytes: Buffer; src: Addr; dst: Addr; trusted: boolean } | null;
  ep: TcpEndpoint | null;
  /** Bytes read from one side that the other could not take yet. */
  toHost: Buffer | null;
  /** The host socket may have bytes: false after its EAGAIN until its next edge (no futile recv per ACK). */
  hostIn: boolean;
  hostEof: boolean;
  guestEof: boolean;
  closed: boolean;
}

export class NatTcp {
  private readonly flows = new Map<string, Flow>();
  private readonly listeners: [TcpEndpoint, TcpEndpoint];

  constructor(
    private readonly gw: Stack,
    private readonly kernel: object,
    private readonly redirect: Redirect,
    private readonly log: ((m: string) => void) | null,
    /** false: only splices adopted connections (--publish in mode "sandbox"), no NAT of SYNs. */
    hook = true,
  ) {
    this.listeners = [this.listener(AF_INET), this.listener(AF_INET6)];
    if (hook) gw.tcp.synHook = (nic, v6, b, off, len, src, dst, dport) => this.onSyn(nic, v6, b, off, len, src, dst, dport);
  }

  private listener(family: number): TcpEndpoint {
    const l = new TcpEndpoint(this.gw, family);
    l.transparent = true;
    l.state = TcpState.LISTEN;
    l.backlog = 4096;
    l.sndLimit = GW_BUF; // children take these
    l.rcvLimit = GW_BUF;
    l.notify = () => this.acceptAll(l);
    return l;
  }

  /** Guest bytes handed to host sockets so far (progress, for linger.ts). */
  get sentToHost(): number {
    return sentTotal;
  }

  get size(): number {
    return this.flows.size;
  }

  /** Flows with guest bytes (or the guest's FIN) not yet handed to the host socket. */
  pendingToHost(): boolean {
    for (const f of this.flows.values()) {
      const ep = f.ep;
      if (f.state !== 'open' || ep === null || f.closed) continue;
      if (f.toHost !== null || ep.recvQ.bytes > 0 || (ep.rcvFin && !f.guestEof)) return true;
    }
    return false;
  }

  private onSyn(nic: Nic, v6: boolean, b: Buffer, off: number, len: number, src: Addr, dst: Addr, dport: number): TcpEndpoint | 'drop' | null {
    const sport = b.readUInt16BE(off);
    const key = `${fmt(src)}|${sport}|${fmt(dst)}|${dport}`;
    const f = this.flows.get(key);
    if (f !== undefined) {
      if (f.state === 'ready') return this.listeners[v6 ? 1 : 0];
      if (f.state === 'refused') {
        this.flows.delete(key);
        return null;
      }
      return 'drop'; // still connecting (a retransmitted SYN), or a stray SYN on an open flow
    }
    const to = this.redirect(dst, dport, 'tcp');
    if (to === null) return null;
    const fd = brokerSocket(this.kernel, isV4(to.ip) ? AF_INET : AF_INET6, SOCK_STREAM, 0);
    if (fd < 0) return null;
    const flow: Flow = {
      key, fd, state: 'connecting', syn: { nic, v6, bytes: Buffer.from(b.subarray(off, off + len)), src: Buffer.from(src), dst: Buffer.from(dst), trusted: this.gw.rxCsumTrusted },
      ep: null, toHost: null, hostIn: true, hostEof: false, guestEof: false, closed: false,
    };
    this.flows.set(key, flow);
    edges.add(fd, { edge: () => this.onHost(flow), waiting: () => true, always: true });
    const r = hn().netSockConnect(fd, sockaddr(to.ip, to.port));
    if (r === 0) this.connected(flow, 0);
    else if (r !== -E.EINPROGRESS) this.connected(flow, -r);
    return 'drop';
  }

  private onHost(f: Flow): void {
    if (f.state === 'connecting') {
      const n = hn();
      if ((n.netSockPoll(f.fd, 4 /* POLLOUT */) & 0x1c) === 0) return;
      const r = n.netSockGetOpt(f.fd, SOL_SOCKET, SO_ERROR, errBuf);
      this.connected(f, r >= 4 ? errBuf.readInt32LE(0) : E.ECONNREFUSED);
      return;
    }
    f.hostIn = true;
    this.pump(f);
  }

  /** The host connect finished (err 0) or failed: the saved SYN is answered either way. */
  private connected(f: Flow, err: number): void {
    const syn = f.syn!;
    f.syn = null;
    if (err !== 0) {
      this.log?.(`net: user mode: connect to ${f.key.split('|').slice(2).join(':')} failed (errno ${err})`);
      f.state = 'refused';
      this.closeHost(f, false);
    } else {
      f.state = 'ready';
    }
    const gw = this.gw;
    const was = gw.rxCsumTrusted;
    gw.rxCsumTrusted = syn.trusted;
    try {
      gw.tcp.input(syn.nic, syn.v6, syn.bytes, 0, syn.bytes.length, syn.src, syn.dst);
    } finally {
      gw.rxCsumTrusted = was;
    }
  }

  private acceptAll(l: TcpEndpoint): void {
    for (;;) {
      const c = l.accept();
      if (typeof c === 'number') return;
      const key = `${fmt(c.remote)}|${c.rport}|${fmt(c.addr)}|${c.port}`;
      const f = this.flows.get(key);
      if (f === undefined || f.state !== 'ready') {
        c.abort(0);
        continue;
      }
      this.attach(f, c);
    }
  }

  /** Joins a gateway endpoint to a connected host fd. */
  private attach(f: Flow, ep: TcpEndpoint): void {
    f.state = 'open';
    f.ep = ep;
    ep.notify = () => this.pump(f);
    this.pump(f);
  }

  /** A host fd already connected (a published port's accepted connection) and its gateway endpoint. */
  adopt(fd: number, ep: TcpEndpoint, key: string): void {
    const f: Flow = { key, fd, state: 'open', syn: null, ep, toHost: null, hostIn: true, hostEof: false, guestEof: false, closed: false };
    this.flows.set(key, f);
    ep.sndLimit = GW_BUF;
    ep.rcvLimit = GW_BUF;
    edges.add(fd, { edge: () => this.onHost(f), waiting: () => true, always: true });
    ep.notify = () => this.pump(f);
  }

  /** Moves what it can both ways; ends the flow when both directions are done or one side reset. */
  private pump(f: Flow): void {
    const ep = f.ep;
    if (f.closed || ep === null) return;
    const n = hn();
    if (ep.state === TcpState.SYN_SENT || ep.state === TcpState.SYN_RECV) return;
    if (ep.failed) {
      // The guest reset (or the gateway's endpoint died): reset the host side too.
      return this.finish(f, true);
    }
    // guest -> host: sent straight from the receive queue's blocks; only what the host did
    // not take is kept (a copy), so the steady state allocates nothing.
    if (f.toHost !== null) {
      const out = f.toHost;
      const w = n.netSockSend(f.fd, out, 0, out.length, 0, null);
      if (w < 0 && w !== -E.EAGAIN) return this.reset(f);
      if (w > 0) sentTotal += w;
      f.toHost = w === out.length ? null : out.subarray(w < 0 ? 0 : w);
    }
    for (let i = 0; i < 64 && f.toHost === null && !f.guestEof; i++) {
      sendFd = f.fd;
      sendState = 0;
      const r = ep.readTo(CHUNK, sendPiece);
      if (sendState < 0 && sendState !== -E.EAGAIN) return this.reset(f);
      if (sendState === 1) f.toHost = sendRest;
      sendRest = null;
      if (r === -E.EAGAIN) break;
      if (r <= 0 && sendState === 0) {
        f.guestEof = true;
        n.netSockShutdown(f.fd, 1 /* SHUT_WR */);
        break;
      }
      if (sendState !== 0) break; // the host is full
    }
    // host -> guest: received straight into the gateway's send queue (its pooled blocks),
    // at most what it has room for.
    // Each turn ends at the host's EAGAIN (an edge comes), EOF, or a full send queue (its
    // ACKs call pump again).
    while (!f.hostEof && f.hostIn) {
      recvFd = f.fd;
      hostResult = 1;
      const w = ep.writeFrom(HOST_CHUNK, recvFill);
      if (hostResult === 0) {
        f.hostEof = true;
        ep.shutdownWrite();
        break;
      }
      if (hostResult === -E.EAGAIN) {
        f.hostIn = false; // the host has nothing now: its next edge says when
        break;
      }
      if (hostResult < 0) return this.reset(f);
      if (w === -E.EAGAIN) break; // the send queue is full: its ACKs call pump again
      if (w < 0) return this.finish(f, true);
    }
    if (f.hostEof && f.guestEof && f.toHost === null) this.finish(f, false);
  }

  /** The host side reset: so does the guest's. */
  private reset(f: Flow): void {
    f.ep?.abort(E.ECONNRESET);
    this.finish(f, false);
  }

  private finish(f: Flow, resetHost: boolean): void {
    if (f.closed) return;
    f.closed = true;
    this.flows.delete(f.key);
    const ep = f.ep;
    if (ep !== null) {
      ep.notify = () => {};
      if (!ep.failed) ep.close();
    }
    this.closeHost(f, resetHost);
  }

  private closeHost(f: Flow, reset: boolean): void {
    if (f.fd < 0) return;
    const n = hn();
    if (reset) {
      const l = Buffer.alloc(8);
      l.writeInt32LE(1, 0); // SO_LINGER {1, 0}: close sends RST
      n.netSockSetOpt(f.fd, SOL_SOCKET, SO_LINGER, l);
    }
    edges.del(f.fd);
    n.netClose(f.fd);
    f.fd = -1;
  }
}

const nameScratch = Buffer.alloc(128);
const ctlScratch = Buffer.alloc(0);
const outScratch = new Int32Array(3);
/** The host recv pump's fill: into the send queue's tail, the result also kept (0: EOF, -errno). */
let recvFd = -1;
let hostResult = 1;
function recvFill(b: Buffer, off: number, len: number): number {
  hostResult = hn().netSockRecv(recvFd, b, off, len, 0, nameScratch, ctlScratch, outScratch);
  return hostResult;
}

/**
 * The guest -> host pump's put: one piece of the receive queue to the host socket. A
 * piece the host takes only in part is still consumed, its rest kept (sendRest, state 1);
 * one it refuses stays queued (state -errno, -EAGAIN: full).
 */
let sendFd = -1;
let sendState = 0;
let sentTotal = 0;
let sendRest: Buffer | null = null;
function sendPiece(b: Uint8Array): boolean {
  if (sendState !== 0) return false;
  const buf = b as Buffer;
  const w = hn().netSockSend(sendFd, buf, 0, buf.length, 0, null);
  if (w > 0) sentTotal += w;
  if (w === buf.length) return true;
  if (w < 0) {
    sendState = w;
    return false;
  }
  sendState = 1;
  sendRest = Buffer.from(buf.subarray(w));
  return true;
}
