/**
 * SocketFile: the FileDescription every socket is (so read/write/poll/epoll/dup/fork
 * work unchanged), holding what all families share: options, shutdown state, the
 * receive queue, and the transfer rules of SOCK_STREAM, SOCK_SEQPACKET and SOCK_DGRAM
 * between two in-Sentry sockets. Families (unix, inet, netlink) subclass it and supply
 * addressing: bind, connect, naming, and where a datagram goes.
 *
 * Blocking convention (as fs/vfs/file.ts): methods return -EAGAIN when they would block and
 * leave in `blockQueue` the queue to sleep on; syscalls/net.ts parks the task there.
 */
import { netKeyOf } from './guest-netns';
import * as E from '../abi/errno';
import type { Task } from '../kernel/task';
import { WaitQueue } from '../waiter/waitqueue';
import { FileDescription } from '../../fs/vfs/file';
import { FileSystem, Inode, emptyStat, type SetAttr, type Stat } from '../../fs/vfs/inode';
import {
  O_NONBLOCK, O_RDWR, S_IFSOCK, POLLIN, POLLOUT, POLLERR, POLLHUP, POLLRDNORM, POLLWRNORM, POLLWRBAND, POLLRDHUP,
} from '../abi/fs';
import {
  SOCK_STREAM, SOCK_SEQPACKET, SOCK_DGRAM, DEFAULT_BUF, MSG_PEEK, MSG_TRUNC, MSG_DONTWAIT, SHUT_RD, SHUT_WR, SHUT_RDWR,
  SIOCINQ, SIOCOUTQ,
} from '../abi/socket';
import { ifreqIoctlFor } from './ifreq';
import { getOwn, setOwn, F_OWNER_PGRP, F_OWNER_PID } from '../kernel/fasync';
import { viewSourceOf } from './netns';
import { RecvQueue, dropRights, emptyMeta, giveChunk, type Creds, type Packet, type RecvMeta } from './packet';

class SockFs extends FileSystem {
  readonly magic = 0x534f434b; // SOCKFS_MAGIC
  readonly type = 'sockfs';
  root(): Inode {
    throw new Error('sockfs has no root');
  }
}
export const sockfs = new SockFs();
let nextIno = 10000;

/** The anonymous inode of a socket (fstat shows S_IFSOCK; /proc/pid/fd shows socket:[ino]). */
export class SocketInode extends Inode {
  readonly fs = sockfs;
  readonly ino = nextIno++;
  mode = S_IFSOCK | 0o777;
  constructor(
    public uid: number,
    public gid: number,
  ) {
    super();
  }
  /** fchmod/fchown of a socket (Linux's sockfs_setattr: simple_setattr; conmon fchmods its socket before bind). */
  override setattr(a: SetAttr): number {
    if (a.size !== undefined) return -E.EINVAL;
    if (a.mode !== undefined) this.mode = S_IFSOCK | (a.mode & 0o7777);
    if (a.uid !== undefined) this.uid = a.uid;
    if (a.gid !== undefined) this.gid = a.gid;
    return 0;
  }
  stat(): Stat {
    const st = emptyStat();
    st.dev = sockfs.dev;
    st.ino = this.ino;
    st.mode = this.mode;
    st.uid = this.uid;
    st.gid = this.gid;
    return st;
  }
}

export const enum SockState {
  Unconnected,
  Listening,
  Connected,
  /** Was connected; the peer is gone (or the connection was torn down). */
  Disconnected,
}

/** What a send carries (already copied out of the guest). */
export interface SendRequest {
  data: Buffer;
  flags: number;
  rights: FileDescription[] | null;
  creds: Creds;
  /** Raw destination sockaddr (sendto/sendmsg msg_name), or null. */
  to: Buffer | null;
  nonblock: boolean;
  /** IP-level ancillary data (sendmsg on inet sockets): (level, type, payload). */
  ipCtl?: Array<[number, number, Buffer]> | null;
}

export function credsOf(t: Task): Creds {
  return { pid: t.tg.pid, uid: t.creds.euid, gid: t.creds.egid };
}

export abstract class SocketFile extends FileDescription {
  state = SockState.Unconnected;
  peer: SocketFile | null = null;
  readonly rq = new RecvQueue();
  /** Connections waiting for accept (listening sockets). */
  readonly acceptQ: SocketFile[] = [];
  backlog = 0;
  /** No more data will arrive (peer shut down its write side / own SHUT_RD). */
  rcvShut = false;
  /** No more data may be sent. */
  sndShut = false;
  /** The peer of a connection closed (writes fail with EPIPE). */
  peerGone = false;
  /** Pending SO_ERROR (positive errno), reported once. */
  err = 0;
  /** Credentials of the other end (SO_PEERCRED), fixed at connect/listen/socketpair. */
  peerCreds: Creds | null = null;
  /** Where a blocked call should sleep (set alongside -EAGAIN). */
  blockQueue: WaitQueue;

  // options
  reuseAddr = false;
  reusePort = false;
  keepAlive = false;
  passCred = false;
  linger: [number, number] = [0, 0];
  sndbuf = DEFAULT_BUF;
  rcvbuf = DEFAULT_BUF;
  rcvTimeoNs = 0;
  sndTimeoNs = 0;
  /** Other integer options kept only to be read back (key "level:name"). */
  readonly intOpts = new Map<string, number>();

  constructor(
    readonly domain: number,
    readonly type: number,
    readonly protocol: number,
    inode: SocketInode,
    flags: number,
  ) {
    super(inode, O_RDWR | (flags & O_NONBLOCK));
    this.blockQueue = this.waitQueue;
  }

  get connectionOriented(): boolean {
    return this.type === SOCK_STREAM || this.type === SOCK_SEQPACKET;
  }

  // ------------------------------------------------------------------ family hooks

  abstract bind(t: Task, addr: Buffer): number;
  /** connect(2); may return -EAGAIN (blocking wait), -EINPROGRESS. */
  abstract connect(t: Task, addr: Buffer, nonblock: boolean): number;
  abstract sockName(): Buffer;
  /** Encoded peer address; -ENOTCONN when not connected. */
  abstract peerName(): Buffer | number;
  /** The socket a datagram to `to` (or the connected peer when null) goes to. */
  protected abstract dgramTarget(t: Task | null, to: Buffer | null): SocketFile | number;
  /** listen(2) checks beyond the common ones (inet: autobind a port). */
  protected prepareListen(_t: Task): number {
    return 0;
  }
  /** Datagram send rules of the family (queue full, refused...) once the target is known. */
  protected abstract deliverDgram(target: SocketFile, req: SendRequest): number;
  /** Source address a stream recvmsg reports (unix: the sender's name if it has one). */
  protected streamFrom(): Buffer | null {
    return null;
  }
  /** Called on the last close, before the common teardown (unbind names). */
  protected unbind(): void {}
  /** Error a send on a never-connected connection-oriented socket gives (TCP: EPIPE). */
  protected get notConnectedSendErr(): number {
    return -E.ENOTCONN;
  }
  /** The last close resets the connection (TCP with SO_LINGER 0): the peer sees ECONNRESET. */
  protected resetOnClose(): boolean {
    return false;
  }
  /** Error a recv on an unconnected connection-oriented socket gives. */
  protected get notConnectedRecvErr(): number {
    return -E.ENOTCONN;
  }

  // ------------------------------------------------------------------ common operations

  listen(t: Task, backlog: number): number {
    if (!this.connectionOriented) return -E.EOPNOTSUPP;
    if (this.state !== SockState.Unconnected && this.state !== SockState.Listening) return -E.EINVAL;
    const r = this.prepareListen(t);
    if (r < 0) return r;
    this.backlog = Math.min(Math.max(backlog, 0), 4096);
    if (this.state !== SockState.Listening) this.peerCreds = credsOf(t);
    this.state = SockState.Listening;
    this.waitQueue.notify(POLLOUT | POLLHUP);
    return 0;
  }

  /** Takes the oldest pending connection (-EAGAIN when none). */
  accept(): SocketFile | number {
    if (this.state !== SockState.Listening) return -E.EINVAL;
    const s = this.acceptQ.shift();
    this.blockQueue = this.waitQueue;
    if (s === undefined) return -E.EAGAIN;
    // Room in the backlog: connectors blocked on a full queue may proceed.
    this.waitQueue.notify(POLLOUT);
    return s;
  }

  /** Joins two sockets as the two ends of a connection. */
  static link(a: SocketFile, b: SocketFile): void {
    a.peer = b;
    b.peer = a;
    a.state = b.state = SockState.Connected;
  }

  shutdown(how: number): number {
    if (how !== SHUT_RD && how !== SHUT_WR && how !== SHUT_RDWR) return -E.EINVAL;
    if (this.state === SockState.Listening && this.connectionOriented) {
      // Linux: shutting down a listener wakes and fails pending accepts.
      this.rcvShut = this.sndShut = true;
      this.waitQueue.notify(POLLIN | POLLOUT | POLLHUP);
      return 0;
    }
    if (this.state !== SockState.Connected && this.connectionOriented) return -E.ENOTCONN;
    if (!this.connectionOriented && this.peer === null) return -E.ENOTCONN;
    const rd = how !== SHUT_WR;
    const wr = how !== SHUT_RD;
    if (rd) this.rcvShut = true;
    if (wr) this.sndShut = true;
    const p = this.peer;
    if (p !== null && this.connectionOriented) {
      if (wr) p.rcvShut = true;
      // Unix sockets tell the peer about SHUT_RD too (it then gets EPIPE); TCP does not.
      if (rd && this.mirrorsShutRd) p.sndShut = true;
      p.waitQueue.notify(POLLIN | POLLOUT | POLLHUP | POLLRDHUP);
    }
    this.waitQueue.notify(POLLIN | POLLOUT | POLLHUP | POLLRDHUP);
    return 0;
  }
  protected get mirrorsShutRd(): boolean {
    return false;
  }

  /** Sends; returns bytes accepted or -errno (-EAGAIN: wait on blockQueue). EPIPE is the caller's SIGPIPE cue. */
  send(t: Task | null, req: SendRequest): number {
    if (this.connectionOriented) return this.sendConn(req);
    const target = this.dgramTarget(t, req.to);
    if (typeof target === 'number') return target;
    return this.deliverDgram(target, req);
  }

  private sendConn(req: SendRequest): number {
    this.blockQueue = this.waitQueue;
    if (this.state !== SockState.Connected) {
      if (this.err !== 0) return -this.takeErr();
      return this.state === SockState.Disconnected ? -E.EPIPE : this.notConnectedSendErr;
    }
    if (this.sndShut) return -E.EPIPE;
    const p = this.peer!;
    if (this.peerGone || p.released) {
      if (this.err !== 0) return -this.takeErr();
      return -E.EPIPE;
    }
    const len = req.data.length;
    if (this.type === SOCK_SEQPACKET) {
      if (len > this.sndbuf - 32) return -E.EMSGSIZE;
      if (p.rq.bytes > 0 && p.rq.bytes + len > this.sndbuf) return -E.EAGAIN;
      this.deliver(p, req.data, req, this.streamFrom());
      return len;
    }
    if (len === 0) return 0;
    const room = this.sndbuf - p.rq.bytes;
    if (room <= 0) return -E.EAGAIN;
    // A blocking send takes the whole chunk once there is any room (the syscall layer
    // chunks large writes), so writers block at about sndbuf like Linux without a
    // partial-write loop; a nonblocking one takes only what fits.
    const n = req.nonblock ? Math.min(room, len) : len;
    this.deliver(p, n === len ? req.data : req.data.subarray(0, n), req, this.streamFrom());
    return n;
  }

  /** Queues a packet on target and wakes its readers. Takes the request's rights. */
  protected deliver(target: SocketFile, data: Buffer, req: SendRequest, from: Buffer | null): void {
    const pkt: Packet = { data, off: 0, rights: req.rights, creds: req.creds, from };
    if (this.nextChunk !== undefined && data.buffer === this.nextChunk.buffer) {
      pkt.chunk = this.nextChunk;
      this.nextChunk = undefined;
    }
    req.rights = null;
    target.rq.push(pkt);
    target.waitQueue.notify(POLLIN | POLLRDNORM);
  }

  /**
   * Receives into dst. Returns bytes copied (or the full datagram length with MSG_TRUNC),
   * 0 at EOF, or -errno (-EAGAIN: wait on blockQueue).
   */
  recv(dst: Uint8Array, flags: number, meta: RecvMeta): number {
    this.blockQueue = this.waitQueue;
    const peek = (flags & MSG_PEEK) !== 0;
    if (this.rq.length === 0) {
      if (this.err !== 0) return -this.takeErr();
      if (this.connectionOriented) {
        if (this.state === SockState.Listening) return -E.EINVAL;
        if (this.state === SockState.Unconnected) return this.notConnectedRecvErr;
      }
      if (this.rcvShut || this.state === SockState.Disconnected) return 0;
      return -E.EAGAIN;
    }
    let n: number;
    if (this.type === SOCK_STREAM) {
      n = this.rq.readStream(dst, peek, meta);
    } else {
      meta.info = this.rq.packets[0].info;
      n = this.rq.readPacket(dst, peek, meta);
      if (flags & MSG_TRUNC) n = meta.full;
    }
    if (!peek) this.afterConsume();
    return n;
  }

  /** Space was freed in our receive queue: wake senders (they sleep on their own queue). */
  protected afterConsume(): void {
    if (this.peer !== null) this.peer.waitQueue.notify(POLLOUT | POLLWRNORM);
    this.waitQueue.notify(POLLOUT | POLLWRNORM);
  }

  takeErr(): number {
    const e = this.err;
    this.err = 0;
    return e;
  }

  /** The peer of a connection went away; `unread`: it had data nobody read (RST). */
  peerClosed(unread: boolean): void {
    this.peerGone = true;
    this.rcvShut = true;
    if (this.mirrorsShutRd) this.sndShut = true;
    if (unread && this.type === SOCK_STREAM) this.err = E.ECONNRESET;
    this.waitQueue.notify(POLLIN | POLLOUT | POLLHUP | POLLRDHUP | POLLERR);
  }

  // ------------------------------------------------------------------ FileDescription

  override read(buf: Uint8Array): number {
    const meta = emptyMeta();
    const n = this.recv(buf, 0, meta);
    if (meta.rights !== null) for (const f of meta.rights) f.decRef();
    return n;
  }

  /**
   * Stream sockets whose bytes stay in the Sentry (unix, the loopback fast path): read and
   * write move them straight between guest memory and the queued packets (writeChunk,
   * readTo), one copy each way as Linux makes. Sockets over the stack or the host: false.
   */
  get directStream(): boolean {
    return this.type === SOCK_STREAM;
  }
  private nextChunk: Buffer | undefined;

  /** write(2)/send(2) of a buffer from takeChunk, queued as is (given back when not taken). */
  writeChunk(buf: Buffer, t: Task, flags = 0, nonblock = (this.flags & O_NONBLOCK) !== 0): number {
    this.nextChunk = buf;
    const r = this.send(t, { data: buf, flags, rights: null, creds: credsOf(t), to: null, nonblock });
    // Not queued (refused, or swallowed as by a reset peer): the buffer is free again.
    if (this.nextChunk !== undefined) giveChunk(this.nextChunk);
    this.nextChunk = undefined;
    return r;
  }

  /**
   * read(2)/recv(2) of at most max bytes, each piece handed to put (guest memory); as recv
   * otherwise. Passed rights stay in `meta` when given (recvmsg), else are dropped (read).
   */
  readTo(max: number, put: (b: Uint8Array) => boolean, into: RecvMeta | null = null): number {
    this.blockQueue = this.waitQueue;
    if (this.rq.length === 0) return this.recv(new Uint8Array(0), 0, into ?? emptyMeta());
    const meta = into ?? emptyMeta();
    const n = this.rq.readStreamTo(max, put, meta);
    if (into === null && meta.rights !== null) for (const f of meta.rights) f.decRef();
    this.afterConsume();
    return n < 0 ? -E.EFAULT : n;
  }

  /**
   * read(2) of a stream straight from where its bytes are into guest memory [addr, addr+len)
   * (host-mode sockets: the host socket); -EAGAIN with blockQueue set when none are there.
   * null: this socket has no such path (the caller stages the bytes).
   */
  readGuest(_t: Task, _addr: number, _len: number): number | null {
    return null;
  }

  /** write(2) likewise, straight from guest memory; null: no such path. */
  writeGuest(_t: Task, _addr: number, _len: number): number | null {
    return null;
  }

  /**
   * send() keeps none of req.data past the call (it copies what it queues, or hands it to
   * the host), so callers may pass a reused staging buffer instead of a fresh copy.
   */
  get sendCopies(): boolean {
    return false;
  }

  override write(buf: Uint8Array, t?: Task): number {
    const b = Buffer.from(buf.buffer, buf.byteOffset, buf.length);
    return this.send(t ?? null, {
      data: this.sendCopies ? b : Buffer.from(b), // the caller's staging buffer is reused: keep our own copy
      flags: 0,
      rights: null,
      creds: t !== undefined ? credsOf(t) : { pid: 0, uid: 0, gid: 0 },
      to: null,
      nonblock: (this.flags & O_NONBLOCK) !== 0,
    });
  }

  override readiness(): number {
    let m = 0;
    if (this.err !== 0) m |= POLLERR;
    if (this.state === SockState.Listening) {
      if (this.acceptQ.length > 0) m |= POLLIN | POLLRDNORM;
      if (this.rcvShut) m |= POLLHUP;
      return m;
    }
    if (this.rcvShut && this.sndShut) m |= POLLHUP;
    if (this.rcvShut) m |= POLLIN | POLLRDNORM | POLLRDHUP;
    if (this.rq.length > 0) m |= POLLIN | POLLRDNORM;
    if (this.connectionOriented && this.state !== SockState.Connected) {
      if (this.state === SockState.Unconnected || this.state === SockState.Disconnected) m |= POLLHUP;
      return m | POLLOUT | POLLWRNORM;
    }
    if (this.writableNow()) m |= POLLOUT | POLLWRNORM | POLLWRBAND;
    return m;
  }

  /** POLLOUT: Linux reports writable once in-flight data is at most a quarter of sndbuf. */
  protected writableNow(): boolean {
    const p = this.peer;
    if (p === null || this.sndShut || this.peerGone || p.released) return true;
    if (this.connectionOriented) return p.rq.bytes * 4 <= this.sndbuf;
    return true;
  }

  /** recv passes MSG_OOB and MSG_ERRQUEUE to the socket (host-mode sockets: the host has them). */
  get passesOobFlags(): boolean {
    return false;
  }

  /** Bytes waiting to be read (sizes a stream read's buffer). */
  get inBytes(): number {
    return this.rq.bytes;
  }

  override available(): number {
    if (this.state === SockState.Listening) return -E.EINVAL;
    if (this.type === SOCK_STREAM) return this.rq.bytes;
    const p = this.rq.packets[0];
    return p === undefined ? 0 : p.data.length;
  }

  override ioctl(t: Task, cmd: number, arg: number): number {
    const o = ownerIoctl(this, t, cmd, arg);
    if (o !== null) return o;
    if (cmd === SIOCOUTQ) {
      const n = this.connectionOriented && this.peer !== null && !this.peerGone ? this.peer.rq.bytes : 0;
      return t.mem.writeI32(arg, n) ? 0 : -E.EFAULT;
    }
    if (cmd === SIOCINQ) {
      const n = this.available();
      if (n < 0) return n;
      return t.mem.writeI32(arg, n) ? 0 : -E.EFAULT;
    }
    const r = ifreqIoctlFor(viewSourceOf(netKeyOf(t)), t, cmd, arg);
    return r === null ? -E.ENOTTY : r;
  }

  override anonName(): string {
    return `socket:[${this.inode.ino}]`;
  }

  protected override release(): void {
    this.unbind();
    for (const s of this.acceptQ.splice(0)) s.decRef();
    const unread = this.rq.length > 0 || this.resetOnClose();
    this.rq.clear();
    const p = this.peer;
    if (p !== null && this.connectionOriented && p.peer === this) {
      p.peerClosed(unread);
      p.waitQueue.notify(POLLOUT | POLLWRNORM);
    } else if (p !== null) {
      p.waitQueue.notify(POLLOUT | POLLWRNORM);
    }
    this.peer = null;
    this.state = SockState.Disconnected;
    this.waitQueue.notify(0xffff);
  }
}

/** Nonblocking intent of one call: the file's O_NONBLOCK or MSG_DONTWAIT. */
export function isNonblock(f: FileDescription, flags: number): boolean {
  return (f.flags & O_NONBLOCK) !== 0 || (flags & MSG_DONTWAIT) !== 0;
}

export { SOCK_DGRAM, dropRights };

const FIOSETOWN = 0x8901, SIOCSPGRP = 0x8902, FIOGETOWN = 0x8903, SIOCGPGRP = 0x8904;

/** The owner ioctls every socket has (sock_ioctl): FIOSETOWN/SIOCSPGRP as F_SETOWN, FIOGETOWN/SIOCGPGRP as F_GETOWN; null for any other. */
export function ownerIoctl(f: FileDescription, t: Task, cmd: number, arg: number): number | null {
  if (cmd === FIOSETOWN || cmd === SIOCSPGRP) {
    const who = t.mem.readI32(arg);
    if (who === null) return -E.EFAULT;
    if (who === -0x80000000) return -E.EINVAL;
    return setOwn(t, f, who < 0 ? F_OWNER_PGRP : F_OWNER_PID, Math.abs(who));
  }
  if (cmd === FIOGETOWN || cmd === SIOCGPGRP) return t.mem.writeI32(arg, getOwn(f)) ? 0 : -E.EFAULT;
  return null;
}
