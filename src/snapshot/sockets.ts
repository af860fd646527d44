/**
 * Sockets in an image: AF_UNIX (stream, seqpacket, datagram; unnamed, abstract or bound
 * at a path) and loopback AF_INET/AF_INET6 (TCP, UDP, UDP-Lite), which live wholly in the
 * Sentry (network mode `none`): each socket's options, state and shutdown flags, its
 * queued data (every packet with its sender's credentials and address), its peer and
 * accept queue (as indexes of other descriptions), and its name or port binding. A closed
 * peer is saved too (released, in no fd table) so the survivor sees what it saw.
 * Fds in flight (SCM_RIGHTS) are saved as the indexes of their descriptions, which join the
 * image as any other (a description only in flight is in no fd table).
 * Refused (not saved yet): host stdio in flight, a path binding not found again at its
 * absolute name, sockets of other kinds.
 */
import type { SocketFile } from '../net/socket-file';
import { SocketInode, SockState } from '../net/socket-file';
import { UnixSocket } from '../net/unix-socket';
import { InetSocket } from '../net/inet-socket';
import type { InetAddr, UnixName } from '../net/sockaddr';
import type { Creds } from '../net/packet';
import type { Vfs } from '../../fs/vfs/vfs';
import type { FsCaller } from '../../fs/vfs/caller';
import { AT_FDCWD } from '../abi/fs';
import { SnapshotError, type PayloadWriter } from './format';
import { FileDescription } from '../../fs/vfs/file';
import { HostFile } from '../../fs/fsimpl/host/host-file';
import type { Span } from './image';

interface AddrImage {
  family: number;
  ip: string;
  port: number;
  flowinfo: number;
  scope: number;
}

export interface SocketImage {
  kind: 'socket';
  family: 'unix' | 'inet';
  domain: number;
  type: number;
  protocol: number;
  flags: number;
  uid: number;
  gid: number;
  released: boolean;
  state: number;
  /** Index in `files` of the peer (a connection's other end, a datagram socket's connected target), or null. */
  peer: number | null;
  acceptQ: number[];
  backlog: number;
  rcvShut: boolean;
  sndShut: boolean;
  peerGone: boolean;
  err: number;
  peerCreds: Creds | null;
  opts: {
    reuseAddr: boolean; reusePort: boolean; keepAlive: boolean; passCred: boolean; linger: [number, number];
    sndbuf: number; rcvbuf: number; rcvTimeoNs: number; sndTimeoNs: number; intOpts: Array<[string, number]>;
  };
  rq: Array<{
    data: Span; creds: Creds | null; from: string | null; info?: { ifindex: number; dst: string; ttl: number; tos: number };
    /** Fds in flight with this packet (SCM_RIGHTS): indexes in `files`. */
    rights?: number[];
  }>;
  /** holds: the name is this socket's binding (an accepted socket only shows its listener's). */
  unix?: { name: { kind: 'unnamed' } | { kind: 'abstract'; name: string } | { kind: 'path'; path: string; raw: string }; holds: boolean };
  inet?: {
    local: AddrImage | null; remote: AddrImage | null; v6only: boolean; nodelay: boolean; sendCscov: number | null; recvCscov: number | null;
    connectPending: boolean; reset: boolean; pendingDest: AddrImage | null; inTable: boolean;
  };
}

const addrOut = (a: InetAddr | null): AddrImage | null => (a === null ? null : { ...a, ip: a.ip.toString('hex') });
const addrIn = (a: AddrImage | null): InetAddr | null => (a === null ? null : { ...a, ip: Buffer.from(a.ip, 'hex') });

export function isSavedSocket(f: unknown): f is SocketFile {
  return f instanceof UnixSocket || f instanceof InetSocket;
}

/**
 * s's image. `index` gives the files index of a description it refers to (its peer, the
 * connections in its accept queue, fds in flight), adding it to the image if it is not there.
 */
export function socketImage(s: SocketFile, where: string, payload: PayloadWriter, vfs: Vfs, caller: FsCaller,
  index: (other: FileDescription) => number): SocketImage {
  const ino = s.inode as SocketInode;
  const img: SocketImage = {
    kind: 'socket', family: s instanceof UnixSocket ? 'unix' : 'inet', domain: s.domain, type: s.type, protocol: s.protocol,
    flags: s.flags, uid: ino.uid, gid: ino.gid, released: s.released, state: s.state,
    peer: null, acceptQ: [], backlog: s.backlog, rcvShut: s.rcvShut, sndShut: s.sndShut, peerGone: s.peerGone, err: s.err,
    peerCreds: s.peerCreds === null ? null : { ...s.peerCreds },
    opts: {
      reuseAddr: s.reuseAddr, reusePort: s.reusePort, keepAlive: s.keepAlive, passCred: s.passCred, linger: [...s.linger] as [number, number],
      sndbuf: s.sndbuf, rcvbuf: s.rcvbuf, rcvTimeoNs: s.rcvTimeoNs, sndTimeoNs: s.sndTimeoNs, intOpts: [...s.intOpts],
    },
    rq: s.rq.packets.map((p) => {
      if (p.rights?.some((f) => f instanceof HostFile)) {
        throw new SnapshotError(`cannot checkpoint: ${where} has a host fd in flight (SCM_RIGHTS; not supported yet)`);
      }
      const data = p.data.subarray(p.off);
      return {
        data: { off: payload.add(data), len: data.length }, creds: p.creds === null ? null : { ...p.creds },
        from: p.from === null ? null : p.from.toString('hex'),
        ...(p.info ? { info: { ...p.info, dst: p.info.dst.toString('hex') } } : {}),
      };
    }),
  };
  // Fds in flight, once the packets are out: indexing may add other descriptions (and sockets).
  s.rq.packets.forEach((p, i) => {
    if (p.rights !== null) img.rq[i].rights = p.rights.map((f) => index(f));
  });
  if (s instanceof UnixSocket) {
    const n = s.name;
    if (n.kind === 'path' && s.holdsName) {
      // Found again by its absolute name: the same socket inode now, the restored one then.
      const st = n.path.startsWith('/') ? vfs.stat(caller, AT_FDCWD, n.path, false) : -1;
      if (typeof st === 'number' || `${st.dev}:${st.ino}` !== s.boundPathKey) {
        throw new SnapshotError(`cannot checkpoint: ${where} is bound at ${n.path}, no longer found there by that name (not supported yet)`);
      }
    }
    img.unix = {
      name: n.kind === 'unnamed' ? { kind: 'unnamed' } : n.kind === 'abstract' ? { kind: 'abstract', name: n.name.toString('hex') }
        : { kind: 'path', path: n.path, raw: n.raw.toString('hex') },
      holds: s.holdsName,
    };
  } else if (s instanceof InetSocket) {
    const st = s.checkpointState();
    img.inet = {
      local: addrOut(s.local), remote: addrOut(s.remote), v6only: s.v6only, nodelay: s.nodelay, sendCscov: s.sendCscov, recvCscov: s.recvCscov,
      connectPending: st.connectPending, reset: st.reset, pendingDest: addrOut(st.pendingDest), inTable: st.inTable,
    };
  }
  // Last: these may add other sockets to the image.
  if (s.peer !== null) {
    if (!isSavedSocket(s.peer)) throw new SnapshotError(`cannot checkpoint: ${where} is connected to a socket of another kind`);
    img.peer = index(s.peer);
  }
  img.acceptQ = s.acceptQ.map((c) => index(c));
  return img;
}

/** A socket as its image says, without its links (linkSocket, once every file exists). */
export function restoreSocket(img: SocketImage): SocketFile {
  const ino = new SocketInode(img.uid, img.gid);
  const s = img.family === 'unix' ? new UnixSocket(img.type, ino, img.flags) : new InetSocket(img.domain, img.type, img.protocol, ino, img.flags);
  if (s.flags !== img.flags) s.flags = img.flags;
  s.state = img.state as SockState;
  s.backlog = img.backlog;
  s.rcvShut = img.rcvShut;
  s.sndShut = img.sndShut;
  s.peerGone = img.peerGone;
  s.err = img.err;
  s.peerCreds = img.peerCreds;
  const o = img.opts;
  s.reuseAddr = o.reuseAddr;
  s.reusePort = o.reusePort;
  s.keepAlive = o.keepAlive;
  s.passCred = o.passCred;
  s.linger = [o.linger[0], o.linger[1]];
  s.sndbuf = o.sndbuf;
  s.rcvbuf = o.rcvbuf;
  s.rcvTimeoNs = o.rcvTimeoNs;
  s.sndTimeoNs = o.sndTimeoNs;
  for (const [k, v] of o.intOpts) s.intOpts.set(k, v);
  if (img.inet && s instanceof InetSocket) {
    const x = img.inet;
    s.local = addrIn(x.local);
    s.remote = addrIn(x.remote);
    s.v6only = x.v6only;
    s.nodelay = x.nodelay;
    s.sendCscov = x.sendCscov;
    s.recvCscov = x.recvCscov;
  }
  return s;
}

/** Links a restored socket: peer, accept queue, queued data, and its name or port (the last, as at bind). */
export function linkSocket(s: SocketFile, img: SocketImage, files: Array<unknown>, payload: Buffer, vfs: Vfs, caller: FsCaller): void {
  const sock = (i: number): SocketFile => {
    const f = files[i];
    if (!isSavedSocket(f)) throw new SnapshotError('image corrupted (a socket linked to a file that is not one)');
    return f;
  };
  // Each fd in flight holds a reference of its own (the description's first is its fd slot's, or dropped).
  const inFlight = (i: number): FileDescription => {
    const f = files[i];
    if (!(f instanceof FileDescription)) throw new SnapshotError('image corrupted (an fd in flight that is no file of the image)');
    return f.incRef();
  };
  if (img.peer !== null) s.peer = sock(img.peer);
  for (const i of img.acceptQ) s.acceptQ.push(sock(i));
  for (const p of img.rq) {
    if (p.data.off + p.data.len > payload.length) throw new SnapshotError('image corrupted (socket data past the payload)');
    s.rq.push({
      data: Buffer.from(payload.subarray(p.data.off, p.data.off + p.data.len)), off: 0,
      rights: Array.isArray(p.rights) && p.rights.length > 0 ? p.rights.map(inFlight) : null, creds: p.creds,
      from: p.from === null ? null : Buffer.from(p.from, 'hex'),
      ...(p.info ? { info: { ...p.info, dst: Buffer.from(p.info.dst, 'hex') } } : {}),
    });
  }
  if (img.released) {
    s.released = true; // a closed peer: its survivor sees it closed; nothing of it is bound
    return;
  }
  if (s instanceof UnixSocket && img.unix) {
    const n = img.unix.name;
    let name: UnixName = { kind: 'unnamed' };
    let key: string | null = null;
    if (n.kind === 'abstract') name = { kind: 'abstract', name: Buffer.from(n.name, 'hex') };
    if (n.kind === 'path') {
      name = { kind: 'path', path: n.path, raw: Buffer.from(n.raw, 'hex') };
      if (img.unix.holds) {
        const st = vfs.stat(caller, AT_FDCWD, n.path, false);
        if (typeof st === 'number') throw new SnapshotError(`${n.path}: the socket file of a bound unix socket is missing`);
        key = `${st.dev}:${st.ino}`;
      }
    }
    if (s.adoptName(name, img.unix.holds === true, key) < 0) throw new SnapshotError('image corrupted (a unix socket name bound twice)');
  } else if (s instanceof InetSocket && img.inet) {
    s.adoptState({ ...img.inet, pendingDest: addrIn(img.inet.pendingDest) });
  }
}
