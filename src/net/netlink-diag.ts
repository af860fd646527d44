/**
 * AF_NETLINK / NETLINK_SOCK_DIAG: SOCK_DIAG_BY_FAMILY dumps of the sandbox's TCP, UDP and
 * raw sockets (inet_diag, as Linux 6.1's tcp_diag/udp_diag/raw_diag) and unix sockets (unix_diag), so
 * `ss` takes its netlink path as on Linux: a listener's queues are its accept queue and
 * backlog, each socket its own family. A bytecode filter (INET_DIAG_REQ_BYTECODE) is not
 * run here; ss applies the same filter to every socket it reads.
 */
import * as E from '../abi/errno';
import type { Task } from '../kernel/task';
import { AF_NETLINK, AF_INET, AF_INET6, AF_UNIX, IPPROTO_TCP, IPPROTO_UDP, NLMSG_DONE, NLMSG_ERROR, NLM_F_DUMP, NLM_F_MULTI } from '../abi/socket';
import { encodeNetlink } from './sockaddr';
import { SocketInode, type SendRequest, type SocketFile, SockState } from './socket-file';
import { NetlinkSocket, nlmsg, rta as attr } from './netlink-route';
import { netKeyOf } from './guest-netns';
import { stackOf } from './netns';
import { tcpRows, udpRows, rawRows, type SockRow } from './sock-list';
import { isV4, isAny } from './stack/addr';
import { TcpState } from './stack/tcp/state';
import { liveUnix } from './unix-namespace';
import type { UnixSocket } from './unix-socket';

export const NETLINK_SOCK_DIAG = 4;
const IPPROTO_RAW = 255;
const SOCK_DIAG_BY_FAMILY = 20;
const INET_DIAG_SHUTDOWN = 8, INET_DIAG_SKV6ONLY = 11;
// The extensions a request asks for in idiag_ext, bit (type - 1) each (ss -m, ss -i).
const INET_DIAG_MEMINFO = 1, INET_DIAG_INFO = 2, INET_DIAG_CONG = 4, INET_DIAG_TOS = 5, INET_DIAG_TCLASS = 6, INET_DIAG_SKMEMINFO = 7;
const INET_DIAG_CLASS_ID = 17;
const want = (ext: number, type: number) => (ext & (1 << (type - 1))) !== 0;
const u32s = (...v: number[]) => {
  const b = Buffer.alloc(4 * v.length);
  v.forEach((x, i) => b.writeUInt32LE(Math.max(0, Math.min(x, 0xffffffff)) >>> 0, 4 * i));
  return b;
};
const UNIX_DIAG_NAME = 0, UNIX_DIAG_PEER = 2, UNIX_DIAG_RQLEN = 4, UNIX_DIAG_SHUTDOWN = 6;
const UDIAG_SHOW_NAME = 1, UDIAG_SHOW_PEER = 4, UDIAG_SHOW_RQLEN = 0x10;

const align4 = (n: number) => (n + 3) & ~3;

/** struct inet_diag_msg and its attributes for one socket (inet_sk_diag_fill); ext: idiag_ext. */
function inetMsg(r: SockRow, ext: number): Buffer {
  const m = Buffer.alloc(72);
  m[0] = r.family;
  m[1] = r.state;
  m.writeUInt16BE(r.lport, 4);
  m.writeUInt16BE(r.state === TcpState.LISTEN ? 0 : r.rport, 6);
  const put = (a: Buffer, off: number) => {
    if (r.family === AF_INET) a.copy(m, off, 12, 16);
    else a.copy(m, off, 0, 16);
  };
  put(r.local, 8);
  if (!isAny(r.remote)) put(r.remote, 24);
  // idiag_if 0 (no SO_BINDTODEVICE); the cookie: the inode, unique while the socket lives.
  m.writeUInt32LE(r.ino >>> 0, 44);
  // A listener's queues are its accept queue and backlog (tcp_diag_get_info).
  const listen = r.state === TcpState.LISTEN;
  m.writeUInt32LE(r.rxq, 56);
  m.writeUInt32LE(listen ? r.backlog : r.txq, 60);
  m.writeUInt32LE(r.uid >>> 0, 64);
  m.writeUInt32LE(r.ino >>> 0, 68);
  const parts = [m, attr(INET_DIAG_SHUTDOWN, Buffer.from([0]))];
  // ss --tos: IP_TOS, and for an AF_INET6 socket IPV6_TCLASS (inet_diag_msg_attrs_fill).
  if (want(ext, INET_DIAG_TOS)) parts.push(attr(INET_DIAG_TOS, Buffer.from([r.tos])));
  if (r.family === AF_INET6 && want(ext, INET_DIAG_TCLASS)) parts.push(attr(INET_DIAG_TCLASS, Buffer.from([r.tclass])));
  // An AF_INET6 listener or unconnected socket says whether it is v6-only (ss: "[::]" rather than "*").
  if (r.family === AF_INET6 && (listen || r.state === TcpState.CLOSED)) parts.push(attr(INET_DIAG_SKV6ONLY, Buffer.from([r.v6only ? 1 : 0])));
  // Asked with TCLASS (idiag_ext is a byte: CLASS_ID's own bit does not fit), any family:
  // the net_cls class id, none here (no net_cls cgroup), so SO_PRIORITY as Linux falls back.
  if (want(ext, INET_DIAG_TCLASS)) parts.push(attr(INET_DIAG_CLASS_ID, u32s(r.priority)));
  // Memory as the queues hold it: bytes received and unread, bytes queued to send (what is
  // sent and unacknowledged stays in the send queue: sk_wmem_queued); nothing is held
  // elsewhere (no forward allocation, no packets in a qdisc, no backlog, no drops).
  const rmem = listen ? 0 : r.rxq, wq = listen ? 0 : r.txq;
  if (want(ext, INET_DIAG_MEMINFO)) parts.push(attr(INET_DIAG_MEMINFO, u32s(rmem, wq, 0, 0)));
  // struct sk_meminfo order: rmem_alloc, rcvbuf, wmem_alloc, sndbuf, fwd_alloc, wmem_queued, optmem, backlog, drops.
  if (want(ext, INET_DIAG_SKMEMINFO)) parts.push(attr(INET_DIAG_SKMEMINFO, u32s(rmem, r.rcvbuf ?? 0, 0, r.sndbuf ?? 0, 0, wq, 0, 0, 0)));
  if (r.info !== undefined) {
    if (want(ext, INET_DIAG_INFO)) parts.push(attr(INET_DIAG_INFO, r.info()));
    // The stack's congestion control is NewReno: Linux's "reno" (the fast path, which loses
    // nothing, names the same).
    if (want(ext, INET_DIAG_CONG)) parts.push(attr(INET_DIAG_CONG, Buffer.from('reno\0')));
  }
  return Buffer.concat(parts);
}

/** struct unix_diag_msg and the attributes asked for (sk_diag_fill). */
function unixMsg(s: UnixSocket, show: number): Buffer {
  const m = Buffer.alloc(16);
  m[0] = AF_UNIX;
  m[1] = s.type;
  m[2] = s.state === SockState.Listening ? TcpState.LISTEN : s.state === SockState.Connected ? TcpState.ESTABLISHED : TcpState.CLOSED;
  m.writeUInt32LE(s.inode.ino >>> 0, 4);
  m.writeUInt32LE(s.inode.ino >>> 0, 8);
  const parts = [m];
  const n = s.name;
  if (show & UDIAG_SHOW_NAME && n.kind !== 'unnamed') {
    parts.push(attr(UNIX_DIAG_NAME, n.kind === 'path' ? Buffer.from(n.path, 'utf8') : Buffer.concat([Buffer.from([0]), n.name])));
  }
  const peer = s.peer as UnixSocket | null;
  if (show & UDIAG_SHOW_PEER && peer) {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(peer.inode.ino >>> 0, 0);
    parts.push(attr(UNIX_DIAG_PEER, b));
  }
  if (show & UDIAG_SHOW_RQLEN) {
    const b = Buffer.alloc(8);
    const listen = s.state === SockState.Listening;
    b.writeUInt32LE(listen ? s.acceptQ.length : s.rq.bytes, 0);
    b.writeUInt32LE(listen ? s.backlog : 0, 4);
    parts.push(attr(UNIX_DIAG_RQLEN, b));
  }
  parts.push(attr(UNIX_DIAG_SHUTDOWN, Buffer.from([0])));
  return Buffer.concat(parts);
}

export class DiagSocket extends NetlinkSocket {
  private key: object = {};

  static createDiag(t: Task, type: number, protocol: number, flags: number): DiagSocket {
    const s = new DiagSocket(AF_NETLINK, type, protocol, new SocketInode(t.creds.euid, t.creds.egid), flags);
    s.key = netKeyOf(t);
    return s;
  }

  protected override deliverDgram(_target: SocketFile, req: SendRequest): number {
    const b = req.data;
    let off = 0;
    while (off + 16 <= b.length) {
      const len = b.readUInt32LE(off);
      if (len < 16 || off + len > b.length) break;
      this.answerDiag(b.subarray(off, off + len));
      off += align4(len);
    }
    return b.length;
  }

  private reply(parts: Buffer[]): void {
    this.rq.push({ data: Buffer.concat(parts), off: 0, rights: null, creds: null, from: encodeNetlink(0, 0) });
    this.waitQueue.notify(1 | 0x40);
  }

  private fail(err: number, seq: number, msg: Buffer): void {
    const e = Buffer.alloc(4);
    e.writeInt32LE(err, 0);
    this.reply([nlmsg(NLMSG_ERROR, 0, seq, this.portId, Buffer.concat([e, msg.subarray(0, 16)]))]);
  }

  private answerDiag(msg: Buffer): void {
    const type = msg.readUInt16LE(4);
    const flags = msg.readUInt16LE(6);
    const seq = msg.readUInt32LE(8);
    const pid = this.portId;
    // Only SOCK_DIAG_BY_FAMILY dumps (the old TCPDIAG_GETSOCK/DCCPDIAG_GETSOCK: EINVAL, as a 6.1 kernel without inet_diag's compat would not answer them either).
    if (type !== SOCK_DIAG_BY_FAMILY) return this.fail(-E.EINVAL, seq, msg);
    if (msg.length < 16 + 4) return this.fail(-E.EINVAL, seq, msg);
    const family = msg[16];
    const bodies: Buffer[] = [];
    if (family === AF_INET || family === AF_INET6) {
      if (msg.length < 16 + 56) return this.fail(-E.EINVAL, seq, msg);
      const proto = msg[17];
      const ext = msg[18];
      const states = msg.readUInt32LE(20);
      // IPPROTO_RAW: raw_diag, every raw socket of the family whatever its protocol (the
      // request's sdiag_raw_protocol picks one only for a lookup, not for a dump).
      if (proto !== IPPROTO_TCP && proto !== IPPROTO_UDP && proto !== IPPROTO_RAW) return this.fail(-E.ENOENT, seq, msg);
      const stack = stackOf(this.key);
      const rows = proto === IPPROTO_TCP ? tcpRows(stack).filter((r) => r.state !== TcpState.CLOSED) : proto === IPPROTO_RAW ? rawRows(stack) : udpRows(stack);
      if ((flags & NLM_F_DUMP) !== NLM_F_DUMP) return this.fail(-E.EOPNOTSUPP, seq, msg);
      for (const r of rows) {
        if (r.family !== family || !(states & (1 << r.state))) continue;
        if (r.family === AF_INET && !isV4(r.local)) continue;
        bodies.push(inetMsg(r, ext));
      }
    } else if (family === AF_UNIX) {
      if (msg.length < 16 + 24) return this.fail(-E.EINVAL, seq, msg);
      const states = msg.readUInt32LE(20);
      const show = msg.readUInt32LE(28);
      if ((flags & NLM_F_DUMP) !== NLM_F_DUMP) return this.fail(-E.EOPNOTSUPP, seq, msg);
      for (const b of liveUnix) {
        const s = b as UnixSocket;
        const st = s.state === SockState.Listening ? TcpState.LISTEN : s.state === SockState.Connected ? TcpState.ESTABLISHED : TcpState.CLOSED;
        if (states & (1 << st)) bodies.push(unixMsg(s, show));
      }
    } else {
      // No handler for the family (sock_diag_handlers[family] NULL): ENOENT; out of range: EINVAL.
      return this.fail(family >= 46 ? -E.EINVAL : -E.ENOENT, seq, msg);
    }
    const parts = bodies.map((body) => nlmsg(SOCK_DIAG_BY_FAMILY, NLM_F_MULTI, seq, pid, body));
    parts.push(nlmsg(NLMSG_DONE, NLM_F_MULTI, seq, pid, Buffer.alloc(4)));
    this.reply(parts);
  }
}
