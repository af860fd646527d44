/**
 * Packet sockets (AF_PACKET, Linux's af_packet.c) on the stack's interfaces, for root in
 * the guest (CAP_NET_RAW: EPERM otherwise): SOCK_RAW sees and sends whole Ethernet
 * frames, SOCK_DGRAM the payload behind the header (the stack writes it on send from the
 * address's sll_addr and protocol). The protocol (network byte order, as socket(2) and
 * sockaddr_ll take it) picks what arrives: ETH_P_ALL every frame, outgoing ones included
 * (PACKET_OUTGOING), else only incoming frames of that EtherType. bind picks the
 * interface (0: all). On lo a sent packet is seen twice, outgoing then incoming, as Linux
 * shows it (libpcap drops the outgoing copy). The stack's frames are only tapped, never
 * taken: the stack still answers them.
 */
import * as E from '../abi/errno';
import type { Task } from '../kernel/task';
import { SOCK_RAW, SOCK_DGRAM } from '../abi/socket';
import { POLLIN, POLLRDNORM } from '../abi/fs';
import { SocketFile, SocketInode, type SendRequest } from './socket-file';
import type { Packet, RecvMeta } from './packet';
import type { Stack } from './stack/stack';
import type { Nic } from './stack/nic';
import { ETH_HLEN } from './stack/ethernet';
import { netCapable } from './guest-netns';
import { CAP_NET_RAW } from '../auth/capabilities';

export const AF_PACKET = 17;
const ETH_P_ALL = 0x0003;
const ARPHRD_ETHER = 1;
const ARPHRD_LOOPBACK = 772;
const PACKET_HOST = 0;
const PACKET_BROADCAST = 1;
const PACKET_MULTICAST = 2;
const PACKET_OTHERHOST = 3;
const PACKET_OUTGOING = 4;
const SLL_LEN = 20;
const MAX_QUEUED = 256;
export const SOL_PACKET = 263;
const PACKET_ADD_MEMBERSHIP = 1;
const PACKET_DROP_MEMBERSHIP = 2;
const PACKET_STATISTICS = 6;
const PACKET_AUXDATA = 8;
/** struct packet_mreq: ifindex, type, alen, address[8]. */
const MREQ_LEN = 16;
const TP_STATUS_USER = 1;

/** A frame's struct tpacket_auxdata fields (PACKET_AUXDATA), kept with it in the queue. */
type AuxPacket = Packet & { aux?: Buffer };

const swap16 = (v: number) => ((v & 0xff) << 8) | ((v >> 8) & 0xff);

const sockets = new WeakMap<Stack, Set<PacketSocket>>();

/** The stack's tap while any packet socket is open on it (Stack.packetTap). */
function tapFor(set: Set<PacketSocket>) {
  return (nic: Nic, b: Buffer, off: number, len: number, outgoing: boolean): void => {
    if (len < ETH_HLEN) return;
    const type = (b[off + 12] << 8) | b[off + 13];
    let pkttype = PACKET_OUTGOING;
    if (!outgoing) {
      const d0 = b[off];
      if (d0 & 1) pkttype = b.readUInt32BE(off) === 0xffffffff && b.readUInt16BE(off + 4) === 0xffff ? PACKET_BROADCAST : PACKET_MULTICAST;
      else pkttype = nic.loopback || b.compare(nic.link.mac, 0, 6, off, off + 6) === 0 ? PACKET_HOST : PACKET_OTHERHOST;
    }
    for (const s of set) {
      if (s.ifindex !== 0 && s.ifindex !== nic.index) continue;
      if (s.proto === ETH_P_ALL ? false : outgoing || s.proto !== type) continue;
      s.queue(nic, b, off, len, type, pkttype);
    }
  };
}

export class PacketSocket extends SocketFile {
  /** The EtherType taken (host order; 0: none until bound with one). */
  proto: number;
  ifindex = 0;
  /** PACKET_AUXDATA: recvmsg adds a tpacket_auxdata. */
  private auxdata = false;
  /** PACKET_STATISTICS since the last read: frames queued or dropped, and dropped (queue full). */
  private statPackets = 0;
  private statDrops = 0;
  /**
   * PACKET_ADD_MEMBERSHIP entries ("ifindex type alen address" with a count). The taps see
   * every frame the interface gets already, and Linux shows a membership's promiscuity in
   * no interface flag (dev_get_flags reports only the user's), so they are bookkeeping.
   */
  private readonly members = new Map<string, number>();

  private constructor(readonly stack: Stack, type: number, proto: number, inode: SocketInode, flags: number) {
    super(AF_PACKET, type, swap16(proto), inode, flags);
    this.proto = proto;
  }

  /** socket(AF_PACKET, type, protocol): protocol in network byte order, as Linux takes it. */
  static create(t: Task, stack: Stack | null, type: number, protocol: number, flags: number): PacketSocket | number {
    if (type !== SOCK_RAW && type !== SOCK_DGRAM) return -E.ESOCKTNOSUPPORT;
    if (!netCapable(t, CAP_NET_RAW)) return -E.EPERM;
    if (protocol < 0 || protocol > 0xffff) return -E.EINVAL;
    if (stack === null) return -E.EAFNOSUPPORT; // no stack (mode none or host): no interfaces of ours to tap
    const s = new PacketSocket(stack, type, swap16(protocol), new SocketInode(t.creds.euid, t.creds.egid), flags);
    let set = sockets.get(stack);
    if (set === undefined) sockets.set(stack, (set = new Set()));
    set.add(s);
    stack.packetTap = tapFor(set);
    return s;
  }

  /** bind(sockaddr_ll): the interface (0: any) and, if non-zero, a new protocol (packet_bind). */
  bind(_t: Task, b: Buffer): number {
    if (b.length < SLL_LEN || b.readUInt16LE(0) !== AF_PACKET) return -E.EINVAL;
    const idx = b.readInt32LE(4);
    if (idx !== 0 && this.stack.nicByIndex(idx) === undefined) return -E.ENODEV;
    const p = b.readUInt16BE(2);
    if (p !== 0) this.proto = p;
    this.ifindex = idx;
    return 0;
  }

  connect(): number {
    return -E.EOPNOTSUPP;
  }

  sockName(): Buffer {
    const nic = this.ifindex !== 0 ? this.stack.nicByIndex(this.ifindex) : undefined;
    return this.sll(this.proto, this.ifindex, nic, 0, nic?.link.mac ?? Buffer.alloc(6));
  }

  peerName(): Buffer | number {
    return -E.EOPNOTSUPP;
  }

  /** A sockaddr_ll of 18 bytes (12 + halen 6), as packet_getname and recvfrom give it. */
  private sll(proto: number, ifindex: number, nic: Nic | undefined, pkttype: number, mac: Uint8Array): Buffer {
    const a = Buffer.alloc(18);
    a.writeUInt16LE(AF_PACKET, 0);
    a.writeUInt16BE(proto, 2);
    a.writeInt32LE(ifindex, 4);
    a.writeUInt16LE(nic?.loopback ? ARPHRD_LOOPBACK : ARPHRD_ETHER, 8);
    a[10] = pkttype;
    a[11] = 6;
    a.set(mac.subarray(0, 6), 12);
    return a;
  }

  protected dgramTarget(): SocketFile | number {
    return -E.EOPNOTSUPP;
  }
  protected deliverDgram(): number {
    return -E.EOPNOTSUPP;
  }

  /** A frame seen on nic (copied): queued with its sockaddr_ll (and its auxdata). */
  queue(nic: Nic, b: Buffer, off: number, len: number, type: number, pkttype: number): void {
    if (this.rcvShut) return;
    this.statPackets++;
    if (this.rq.length >= MAX_QUEUED) {
      this.statDrops++;
      return;
    }
    const data = this.type === SOCK_RAW ? Buffer.from(b.subarray(off, off + len)) : Buffer.from(b.subarray(off + ETH_HLEN, off + len));
    const from = this.sll(type, nic.index, nic, pkttype, b.subarray(off + 6, off + 12));
    const pkt: AuxPacket = { data, off: 0, rights: null, creds: null, from };
    // tpacket_auxdata: status (the frames tapped here carry whole checksums), the frame's
    // length and what was queued of it, the link header at 0, the network header behind
    // it (SOCK_DGRAM: the data starts there), no VLAN tag.
    const aux = Buffer.alloc(20);
    aux.writeUInt32LE(TP_STATUS_USER, 0);
    aux.writeUInt32LE(data.length, 4);
    aux.writeUInt32LE(data.length, 8);
    aux.writeUInt16LE(this.type === SOCK_RAW ? ETH_HLEN : 0, 14);
    pkt.aux = aux;
    this.rq.push(pkt);
    this.waitQueue.notify(POLLIN | POLLRDNORM);
  }

  override recv(dst: Uint8Array, flags: number, meta: RecvMeta): number {
    const first = this.rq.packets[0] as AuxPacket | undefined;
    const n = super.recv(dst, flags, meta);
    if (n >= 0 && this.auxdata && first?.aux !== undefined) meta.ipCtl = [[SOL_PACKET, PACKET_AUXDATA, first.aux]];
    return n;
  }

  /** getsockopt(SOL_PACKET): PACKET_AUXDATA, PACKET_STATISTICS (read and reset, as packet_getsockopt). */
  getPacketOpt(name: number): Buffer | number {
    if (name === PACKET_AUXDATA) {
      const b = Buffer.alloc(4);
      b.writeInt32LE(this.auxdata ? 1 : 0, 0);
      return b;
    }
    if (name === PACKET_STATISTICS) {
      const b = Buffer.alloc(8);
      b.writeUInt32LE(this.statPackets, 0);
      b.writeUInt32LE(this.statDrops, 4);
      this.statPackets = 0;
      this.statDrops = 0;
      return b;
    }
    return -E.ENOPROTOOPT;
  }

  /** setsockopt(SOL_PACKET): PACKET_AUXDATA, PACKET_ADD_MEMBERSHIP / PACKET_DROP_MEMBERSHIP (packet_mreq). */
  setPacketOpt(name: number, v: Buffer): number {
    if (name === PACKET_AUXDATA) {
      if (v.length < 4) return -E.EINVAL;
      this.auxdata = v.readInt32LE(0) !== 0;
      return 0;
    }
    if (name !== PACKET_ADD_MEMBERSHIP && name !== PACKET_DROP_MEMBERSHIP) return -E.ENOPROTOOPT;
    if (v.length < MREQ_LEN) return -E.EINVAL;
    const ifindex = v.readInt32LE(0);
    const type = v.readUInt16LE(4);
    const alen = v.readUInt16LE(6);
    if (v.length < 8 + alen) return -E.EINVAL;
    const addr = v.subarray(8, 8 + Math.min(alen, 8)).toString('hex');
    const key = `${ifindex} ${type} ${alen} ${addr}`;
    if (name === PACKET_DROP_MEMBERSHIP) {
      // packet_mc_drop: 0 whether or not the entry was there.
      const c = this.members.get(key);
      if (c !== undefined && c > 1) this.members.set(key, c - 1);
      else this.members.delete(key);
      return 0;
    }
    const nic = this.stack.nicByIndex(ifindex);
    if (nic === undefined) return -E.ENODEV;
    if (alen > 6) return -E.EINVAL; // longer than the interface's address (dev->addr_len)
    this.members.set(key, (this.members.get(key) ?? 0) + 1);
    return 0;
  }

  /** sendto(sockaddr_ll) or send on a bound socket: one frame out of the interface (packet_snd). */
  override send(_t: Task | null, req: SendRequest): number {
    let ifindex = this.ifindex;
    let proto = this.proto;
    let dstMac: Buffer | null = null;
    if (req.to !== null && req.to.length > 0) {
      if (req.to.length < 12 || req.to.readUInt16LE(0) !== AF_PACKET) return -E.EINVAL;
      ifindex = req.to.readInt32LE(4);
      proto = req.to.readUInt16BE(2);
      const halen = req.to[11];
      if (req.to.length >= 12 + 6 && halen >= 6) dstMac = Buffer.from(req.to.subarray(12, 18));
    }
    if (ifindex === 0) return -E.ENXIO;
    const nic = this.stack.nicByIndex(ifindex);
    if (nic === undefined) return -E.ENXIO;
    if (!nic.up) return -E.ENETDOWN;
    const data = req.data;
    const head = this.type === SOCK_DGRAM ? ETH_HLEN : 0;
    if (data.length + head > nic.mtu + ETH_HLEN) return -E.EMSGSIZE;
    if (this.type === SOCK_RAW && data.length < ETH_HLEN) return -E.EINVAL;
    if (this.type === SOCK_DGRAM && dstMac === null) return -E.EINVAL;
    const f = Buffer.alloc(data.length + head);
    if (head > 0) {
      dstMac!.copy(f, 0);
      nic.link.mac.copy(f, 6);
      f.writeUInt16BE(proto, 12);
    }
    data.copy(f, head);
    this.stack.sendRawFrame(nic, f);
    return data.length;
  }

  protected override release(): void {
    const set = sockets.get(this.stack);
    set?.delete(this);
    if (set !== undefined && set.size === 0) this.stack.packetTap = null;
    super.release();
  }
}
