/**
 * AF_NETLINK / NETLINK_ROUTE, just enough for getifaddrs(3) and if_nameindex(3): dumps
 * of links (RTM_GETLINK) and addresses (RTM_GETADDR) describing the sandbox's only
 * interface, lo with 127.0.0.1/8 and ::1/128. Each request is answered at once by
 * queueing the reply messages on the socket; anything else gets an NLMSG_ERROR.
 */
import * as E from '../abi/errno';
import type { Task } from '../kernel/task';
import { AF_NETLINK, AF_INET, AF_INET6, AF_UNSPEC } from '../abi/socket';
import { encodeNetlink } from './sockaddr';
import { SocketFile, SocketInode, type SendRequest } from './socket-file';

const NETLINK_ROUTE = 0;
const NLMSG_ERROR = 2;
const NLMSG_DONE = 3;
const NLM_F_MULTI = 2;
const NLM_F_ACK = 4;
const NLM_F_DUMP = 0x300;
const RTM_NEWLINK = 16;
const RTM_GETLINK = 18;
const RTM_NEWADDR = 20;
const RTM_GETADDR = 22;
const IFF_UP = 0x1, IFF_LOOPBACK = 0x8, IFF_RUNNING = 0x40, IFF_LOWER_UP = 0x10000;
const ARPHRD_LOOPBACK = 772;
const RT_SCOPE_HOST = 254;
const IFA_F_PERMANENT = 0x80;

let nextPortId = 1;
const align4 = (n: number) => (n + 3) & ~3;

function rta(type: number, data: Buffer): Buffer {
  const b = Buffer.alloc(align4(4 + data.length));
  b.writeUInt16LE(4 + data.length, 0);
  b.writeUInt16LE(type, 2);
  data.copy(b, 4);
  return b;
}
const u32 = (v: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(v >>> 0, 0);
  return b;
};
const cstr = (s: string) => Buffer.from(s + '\0', 'latin1');

function nlmsg(type: number, flags: number, seq: number, pid: number, body: Buffer): Buffer {
  const h = Buffer.alloc(16);
  h.writeUInt32LE(16 + body.length, 0);
  h.writeUInt16LE(type, 4);
  h.writeUInt16LE(flags, 6);
  h.writeUInt32LE(seq >>> 0, 8);
  h.writeUInt32LE(pid >>> 0, 12);
  return Buffer.concat([h, body]);
}

function linkBody(): Buffer {
  const ifi = Buffer.alloc(16);
  ifi[0] = AF_UNSPEC;
  ifi.writeUInt16LE(ARPHRD_LOOPBACK, 2);
  ifi.writeInt32LE(1, 4);
  ifi.writeUInt32LE(IFF_UP | IFF_LOOPBACK | IFF_RUNNING | IFF_LOWER_UP, 8);
  return Buffer.concat([
    ifi,
    rta(3, cstr('lo')), // IFLA_IFNAME
    rta(4, u32(65536)), // IFLA_MTU
    rta(16, Buffer.from([0])), // IFLA_OPERSTATE: unknown, like lo
    rta(1, Buffer.alloc(6)), // IFLA_ADDRESS
    rta(2, Buffer.alloc(6)), // IFLA_BROADCAST
  ]);
}

function addrBodies(family: number): Buffer[] {
  const out: Buffer[] = [];
  if (family === AF_UNSPEC || family === AF_INET) {
    const ifa = Buffer.from([AF_INET, 8, IFA_F_PERMANENT, RT_SCOPE_HOST, 1, 0, 0, 0]);
    const ip = Buffer.from([127, 0, 0, 1]);
    out.push(Buffer.concat([ifa, rta(1, ip), rta(2, ip), rta(3, cstr('lo')), rta(8, u32(IFA_F_PERMANENT))]));
  }
  if (family === AF_UNSPEC || family === AF_INET6) {
    const ifa = Buffer.from([AF_INET6, 128, IFA_F_PERMANENT, RT_SCOPE_HOST, 1, 0, 0, 0]);
    const ip = Buffer.alloc(16);
    ip[15] = 1;
    out.push(Buffer.concat([ifa, rta(1, ip), rta(8, u32(IFA_F_PERMANENT))]));
  }
  return out;
}

export class NetlinkSocket extends SocketFile {
  portId = 0;
  groups = 0;

  static create(t: Task, type: number, protocol: number, flags: number): NetlinkSocket | number {
    if (protocol !== NETLINK_ROUTE) return -E.EPROTONOSUPPORT;
    return new NetlinkSocket(AF_NETLINK, type, protocol, new SocketInode(t.creds.euid, t.creds.egid), flags);
  }

  private autobind(t: Task | null): void {
    // Linux gives the first socket of a process its pid as port id.
    if (this.portId === 0) this.portId = t !== null && nextPortId === 1 ? t.tg.pid : 0x40000000 + nextPortId++;
  }

  bind(t: Task, addr: Buffer): number {
    if (addr.length < 12) return -E.EINVAL;
    if (addr.readUInt16LE(0) !== AF_NETLINK) return -E.EINVAL;
    const pid = addr.readUInt32LE(4);
    this.groups = addr.readUInt32LE(8);
    if (pid !== 0) this.portId = pid;
    else this.autobind(t);
    return 0;
  }

  connect(t: Task, addr: Buffer): number {
    if (addr.length < 12 || addr.readUInt16LE(0) !== AF_NETLINK) return -E.EINVAL;
    this.autobind(t);
    return 0;
  }

  sockName(): Buffer {
    return encodeNetlink(this.portId, this.groups);
  }
  peerName(): Buffer {
    return encodeNetlink(0, 0);
  }

  protected dgramTarget(t: Task | null): SocketFile | number {
    this.autobind(t);
    return this;
  }

  /** Answers each request message in the buffer. */
  protected deliverDgram(_target: SocketFile, req: SendRequest): number {
    const b = req.data;
    let off = 0;
    while (off + 16 <= b.length) {
      const len = b.readUInt32LE(off);
      if (len < 16 || off + len > b.length) break;
      const type = b.readUInt16LE(off + 4);
      const flags = b.readUInt16LE(off + 6);
      const seq = b.readUInt32LE(off + 8);
      const family = len >= 17 ? b[off + 16] : AF_UNSPEC;
      this.answer(type, flags, seq, family, b.subarray(off, off + len));
      off += align4(len);
    }
    return b.length;
  }

  private answer(type: number, flags: number, seq: number, family: number, msg: Buffer): void {
    const pid = this.portId;
    const parts: Buffer[] = [];
    if ((type === RTM_GETLINK || type === RTM_GETADDR) && (flags & NLM_F_DUMP) === NLM_F_DUMP) {
      const bodies = type === RTM_GETLINK ? (family === AF_UNSPEC || family === 17 ? [linkBody()] : [linkBody()]) : addrBodies(family);
      for (const body of bodies) parts.push(nlmsg(type === RTM_GETLINK ? RTM_NEWLINK : RTM_NEWADDR, NLM_F_MULTI, seq, pid, body));
      parts.push(nlmsg(NLMSG_DONE, NLM_F_MULTI, seq, pid, u32(0)));
    } else if (type === RTM_GETLINK) {
      parts.push(nlmsg(RTM_NEWLINK, 0, seq, pid, linkBody()));
    } else {
      // NLMSG_ERROR carrying the request header: EOPNOTSUPP, or 0 as a plain ACK.
      const known = type === RTM_GETADDR;
      const err = Buffer.alloc(4);
      err.writeInt32LE(known ? 0 : -E.EOPNOTSUPP, 0);
      if (known && !(flags & NLM_F_ACK)) return;
      parts.push(nlmsg(NLMSG_ERROR, 0, seq, pid, Buffer.concat([err, msg.subarray(0, 16)])));
    }
    // One dump reply is one datagram (what recvmsg returns in one call).
    this.rq.push({ data: Buffer.concat(parts), off: 0, rights: null, creds: null, from: encodeNetlink(0, 0) });
    this.waitQueue.notify(1 | 0x40);
  }

  override get pollable(): boolean {
    return true;
  }
}
