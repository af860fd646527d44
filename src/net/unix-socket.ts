/**
 * AF_UNIX sockets (SOCK_STREAM, SOCK_SEQPACKET, SOCK_DGRAM), entirely in the Sentry:
 * naming (unnamed, pathname in the VFS, abstract, autobind), connection set-up into the
 * listener's accept queue, and datagram delivery rules. Data transfer is SocketFile's.
 */
import * as E from '../abi/errno';
import type { Task } from '../kernel/task';
import { POLLIN, POLLOUT, POLLRDNORM } from '../abi/fs';
import { AF_UNIX, AF_UNSPEC, SOCK_DGRAM, MAX_DGRAM_QLEN } from '../abi/socket';
import { decodeUnix, encodeUnix, type UnixName } from './sockaddr';
import * as ns from './unix-namespace';
import { SocketFile, SocketInode, SockState, credsOf, type SendRequest } from './socket-file';

export class UnixSocket extends SocketFile {
  name: UnixName = { kind: 'unnamed' };
  /** Key of the path binding in the namespace, if bound to a path. */
  private pathKey: string | null = null;

  constructor(type: number, inode: SocketInode, flags: number) {
    super(AF_UNIX, type, 0, inode, flags);
    ns.liveUnix.add(this);
  }

  static create(t: Task, type: number, flags: number): UnixSocket {
    return new UnixSocket(type, new SocketInode(t.creds.euid, t.creds.egid), flags);
  }

  /** socketpair(2): two connected sockets whose peer credentials are the creator's. */
  static pair(t: Task, type: number, flags: number): [UnixSocket, UnixSocket] {
    const a = UnixSocket.create(t, type, flags);
    const b = UnixSocket.create(t, type, flags);
    SocketFile.link(a, b);
    a.peerCreds = b.peerCreds = credsOf(t);
    return [a, b];
  }

  /** Linux reports no address (msg_namelen 0) for an unnamed sender. */
  protected override streamFrom(): Buffer | null {
    return this.name.kind === 'unnamed' ? null : encodeUnix(this.name);
  }
  protected override prepareListen(): number {
    return this.name.kind === 'unnamed' ? -E.EINVAL : 0;
  }

  protected override get mirrorsShutRd(): boolean {
    return true;
  }
  protected override get notConnectedRecvErr(): number {
    return -E.EINVAL;
  }

  bind(t: Task, addr: Buffer): number {
    const n = decodeUnix(addr);
    if (typeof n === 'number') return n;
    // A path is created before the "already bound" check, so an existing path wins (EADDRINUSE).
    if (this.name.kind !== 'unnamed' && (n === 'autobind' || n.kind !== 'path')) return -E.EINVAL;
    if (n === 'autobind') return this.autobind();
    if (n.kind === 'abstract') {
      const r = ns.bindAbstract(this, n.name);
      if (r < 0) return r;
    } else if (n.kind === 'path') {
      const key = ns.bindPath(t, this, n.path, this.inode.mode);
      if (typeof key === 'number') return key;
      if (this.name.kind !== 'unnamed') {
        ns.unbindKey(key, this);
        return -E.EINVAL;
      }
      this.pathKey = key;
    }
    this.name = n;
    return 0;
  }

  private autobind(): number {
    const name = ns.autobind(this);
    if (typeof name === 'number') return name;
    this.name = { kind: 'abstract', name };
    return 0;
  }

  /** The bound socket at addr, type-checked. */
  private resolve(t: Task, addr: Buffer): UnixSocket | number {
    const n = decodeUnix(addr);
    if (typeof n === 'number') return n;
    if (n === 'autobind') return -E.EINVAL;
    const s = ns.lookup(t, n);
    if (typeof s === 'number') return s;
    const u = s as UnixSocket;
    if (u.type !== this.type) return -E.EPROTOTYPE;
    return u;
  }

  connect(t: Task, addr: Buffer, nonblock: boolean): number {
    if (this.type === SOCK_DGRAM) {
      if (addr.length >= 2 && addr.readUInt16LE(0) === AF_UNSPEC) {
        this.peer = null;
        return 0;
      }
      const target = this.resolve(t, addr);
      if (typeof target === 'number') return target;
      if (this.passCred && this.name.kind === 'unnamed') this.autobind();
      this.peer = target;
      this.peerCreds = target.peerCreds;
      return 0;
    }
    if (this.state === SockState.Connected) return -E.EISCONN;
    if (this.state === SockState.Listening) return -E.EINVAL;
    const target = this.resolve(t, addr);
    if (typeof target === 'number') return target;
    if (target.state !== SockState.Listening || target.rcvShut) return -E.ECONNREFUSED;
    if (target.acceptQ.length > target.backlog) {
      if (nonblock) return -E.EAGAIN;
      this.blockQueue = target.waitQueue;
      return -E.EAGAIN;
    }
    const server = new UnixSocket(this.type, new SocketInode((target.inode as SocketInode).uid, (target.inode as SocketInode).gid), 0);
    server.name = target.name;
    server.passCred = target.passCred;
    server.sndbuf = target.sndbuf;
    server.rcvbuf = target.rcvbuf;
    server.peerCreds = credsOf(t);
    this.peerCreds = target.peerCreds;
    SocketFile.link(this, server);
    target.acceptQ.push(server);
    target.waitQueue.notify(POLLIN | POLLRDNORM);
    this.waitQueue.notify(POLLOUT);
    return 0;
  }

  sockName(): Buffer {
    return encodeUnix(this.name);
  }

  peerName(): Buffer | number {
    const p = this.peer as UnixSocket | null;
    if (p === null || (this.connectionOriented && this.state !== SockState.Connected)) return -E.ENOTCONN;
    return encodeUnix(p.name);
  }

  protected dgramTarget(t: Task | null, to: Buffer | null): SocketFile | number {
    if (to === null || to.length === 0) {
      const p = this.peer;
      if (p === null) return -E.ENOTCONN;
      return p;
    }
    if (t === null) return -E.EINVAL;
    const r = this.resolve(t, to);
    return r;
  }

  protected deliverDgram(target: SocketFile, req: SendRequest): number {
    if (this.passCred && this.name.kind === 'unnamed') this.autobind();
    if (target.released) {
      // Our connected peer closed: Linux disconnects us and says ECONNREFUSED.
      if (target === this.peer) this.peer = null;
      return -E.ECONNREFUSED;
    }
    if (target.peer !== null && target.peer !== this) return -E.EPERM;
    if (target.rcvShut) return -E.EPIPE;
    const len = req.data.length;
    if (len > this.sndbuf - 32) return -E.EMSGSIZE;
    // A receiver not connected back to us has a bounded queue (net.unix.max_dgram_qlen);
    // otherwise only the bytes in flight limit the sender.
    const full = (target.peer !== this && target.rq.length > MAX_DGRAM_QLEN) ||
      (target.rq.length > 0 && target.rq.bytes + len > this.sndbuf);
    if (full) {
      this.blockQueue = target.waitQueue;
      return -E.EAGAIN;
    }
    this.deliver(target, req.data, req, this.streamFrom());
    return len;
  }

  /** Checkpoint support (src/snapshot): the inode key a pathname binding is found by, else null. */
  get boundPathKey(): string | null {
    return this.pathKey;
  }

  /** Checkpoint support: whether it holds its name (an accepted socket only shows its listener's). */
  get holdsName(): boolean {
    if (this.name.kind === 'path') return this.pathKey !== null;
    return this.name.kind === 'abstract' && ns.holdsAbstract(this.name.name, this);
  }

  /** Checkpoint support: the name it had, held again if it held it (pathKey: the restored inode's); -errno if taken. */
  adoptName(name: UnixName, holds: boolean, pathKey: string | null): number {
    if (holds && name.kind === 'abstract') {
      const r = ns.bindAbstract(this, name.name);
      if (r < 0) return r;
    } else if (holds && name.kind === 'path') {
      if (pathKey === null) return -E.EINVAL;
      const r = ns.adoptPathKey(pathKey, this);
      if (r < 0) return r;
      this.pathKey = pathKey;
    }
    this.name = name;
    return 0;
  }

  protected override unbind(): void {
    ns.liveUnix.delete(this);
    if (this.name.kind === 'abstract') ns.unbindAbstract(this.name.name, this);
    ns.unbindKey(this.pathKey, this);
  }
}
