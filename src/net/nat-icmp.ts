/**
 * ICMP echo through the gateway of network mode "user": a guest's echo request to an
 * outside address is sent from a host ping socket (SOCK_DGRAM + IPPROTO_ICMP, made by
 * the broker; the host's net.ipv4.ping_group_range must admit the Sentry's group, else
 * the request is dropped, as slirp4netns does), one per guest (source, identifier); the
 * reply comes back with the guest's identifier. Echo requests to the gateway's own
 * addresses are answered by the gateway's stack itself.
 */
import * as E from '../abi/errno';
import { AF_INET, AF_INET6, SOCK_DGRAM } from '../abi/socket';
import type { Stack } from './stack/stack';
import { StackTimer } from './stack/timer';
import { sumBytes, finish, pseudoSum } from './stack/checksum';
import { fmt, type Addr } from './stack/addr';
import { hn, edges, brokerSocket, sockaddr, rxScratch, expireIdle } from './host-io';
import { decodeInet } from './sockaddr';
import type { NetPolicy } from './policy';

const IDLE_MS = 30_000;
const { data: buf, name, noCtl, out } = rxScratch;

interface EchoFlow {
  key: string;
  fd: number;
  v6: boolean;
  guest: Addr;
  id: number;
  /** The destination of the last request (replies come from it). */
  dst: Addr;
  used: boolean;
  idle: StackTimer;
}

export class NatIcmp {
  private readonly flows = new Map<string, EchoFlow>();
  /** Guest (source, identifier) whose host ping socket could not be made: not retried per packet. */
  private readonly refused = new Set<string>();

  constructor(
    private readonly gw: Stack,
    private readonly kernel: object,
    private readonly policy: NetPolicy | null,
  ) {}

  /** An echo request to dst (not one of the gateway's addresses): forwarded. Always taken. */
  request(v6: boolean, b: Buffer, off: number, len: number, src: Addr, dst: Addr): boolean {
    if (len < 8) return true;
    if (this.policy !== null && !this.policy.permits(dst, 0, true)) return true;
    const id = b.readUInt16BE(off + 4);
    const key = `${fmt(src)}|${id}|${v6 ? 6 : 4}`;
    let f = this.flows.get(key);
    if (f === undefined) {
      if (this.refused.has(key)) return true;
      const fd = brokerSocket(this.kernel, v6 ? AF_INET6 : AF_INET, SOCK_DGRAM, v6 ? 58 : 1);
      if (fd < 0) {
        this.refused.add(key);
        return true;
      }
      const nf: EchoFlow = { key, fd, v6, guest: Buffer.from(src), id, dst: Buffer.from(dst), used: true, idle: new StackTimer(this.gw.clock, () => this.expire(nf)) };
      f = nf;
      this.flows.set(key, f);
      edges.add(fd, { edge: () => this.replies(nf), waiting: () => true, always: true });
      f.idle.arm(IDLE_MS);
    }
    f.used = true;
    f.dst = Buffer.from(dst);
    hn().netSockSend(f.fd, b, off, len, 0, sockaddr(dst, 0));
    return true;
  }

  private replies(f: EchoFlow): void {
    const n = hn();
    const gw = this.gw;
    for (let i = 0; i < 64; i++) {
      const r = n.netSockRecv(f.fd, buf, 0, buf.length, 0, name, noCtl, out);
      if (r === -E.EAGAIN) return;
      if (r < 8) continue;
      const from = decodeInet(name.subarray(0, out[0]));
      const src = typeof from === 'number' ? f.dst : from.ip;
      const o = gw.l4Off(f.v6);
      const tx = gw.tx;
      buf.copy(tx, o, 0, r);
      tx.writeUInt16BE(f.id, o + 4);
      tx.writeUInt16BE(0, o + 2);
      const ck = f.v6 ? finish(sumBytes(tx, o, r, pseudoSum(src, f.guest, 58, r, true))) : finish(sumBytes(tx, o, r, 0));
      tx.writeUInt16BE(ck, o + 2);
      gw.sendIp(src, f.guest, f.v6 ? 58 : 1, r, 64, 0, false);
    }
  }

  private expire(f: EchoFlow): void {
    expireIdle(this.flows, f, IDLE_MS);
  }
}
