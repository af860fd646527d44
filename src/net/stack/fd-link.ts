/**
 * A link over a host fd carrying Ethernet frames with a virtio_net_hdr in front:
 * AF_PACKET on a veth, or a TAP device (native/net_host.cc opens both). Frames are read
 * when the Sentry's host poller reports the fd readable, a bounded batch per wake so
 * guests keep running; a frame the host cannot take now is dropped (TCP retransmits).
 * Sends use the header too: a TCP segment may leave its checksum to the host
 * (NEEDS_CSUM) and carry up to 64 KiB that the host cuts into MSS-sized segments (GSO,
 * as a virtio NIC's driver hands them over): one host call per 64 KiB instead of ~45.
 */
import { native } from '../../platform/native';
import { hostPoller } from '../../waiter/host-poller';
import { WaitQueue } from '../../waiter/waitqueue';
import type { Link, RxFn } from './link';
import { takeFrame } from './frame-pool';

const VNET_HDR = 10;
const F_NEEDS_CSUM = 1;
const F_DATA_VALID = 2;
const GSO_TCPV4 = 1;
const GSO_TCPV6 = 4;
const ETH_HLEN = 14;
const POLLIN = 1;
const BATCH = 512;

export interface NetNative {
  netOpenPacket(nsPath: string, ifname: string): { fd: number; ifindex: number; mac: Buffer; mtu: number } | number;
  netOpenTap(nsPath: string, ifname: string): { fd: number; ifindex: number; mac: Buffer; mtu: number } | number;
  netRecv(fd: number, buf: Buffer): number;
  netSend(fd: number, buf: Buffer, off: number, len: number): number;
  netClose(fd: number): number;
}

export function netNative(): NetNative {
  return native() as unknown as NetNative;
}

export class FdLink implements Link {
  readonly kind = 'ethernet';
  /** TCP payload per frame the host segments (an IP packet's worth). */
  readonly gso = 65535 - 60 - 60;
  private rx: RxFn | null = null;
  private batch: ((open: boolean) => void) | null = null;
  /**
   * Frames are read into a pool buffer (frame-pool.ts: room for a 64 KiB GSO frame and
   * its vnet header), so TCP keeps a large in-order payload as a receive-queue block
   * without a copy; a kept buffer is replaced by a fresh one from the pool.
   */
  private rxBuf = takeFrame();
  private readonly txBuf = Buffer.alloc(VNET_HDR + 65536 + 64);
  private readonly q = new WaitQueue();
  private closed = false;
  txDropped = 0;

  constructor(
    readonly fd: number,
    readonly mac: Buffer,
    readonly mtu: number,
  ) {
    this.q.add(POLLIN | 0x38, () => this.onReadable());
  }

  attach(rx: RxFn, batch?: (open: boolean) => void): void {
    this.rx = rx;
    this.batch = batch ?? null;
    this.arm();
  }

  private arm(): void {
    if (!this.closed) hostPoller.watch(this.fd, POLLIN, this.q);
  }

  private onReadable(): void {
    const n = netNative();
    const rx = this.rx;
    this.batch?.(true);
    try {
      for (let i = 0; i < BATCH; i++) {
        const b = this.rxBuf;
        const len = n.netRecv(this.fd, b);
        if (len < 0) break;
        if (len <= VNET_HDR || rx === null) continue;
        const trusted = (b[0] & (F_NEEDS_CSUM | F_DATA_VALID)) !== 0;
        if (rx(b, VNET_HDR, len - VNET_HDR, trusted, b) === true) this.rxBuf = takeFrame();
      }
    } finally {
      this.batch?.(false);
    }
    this.arm();
  }

  send(frame: Buffer, off: number, len: number, tcpPartial = 0): void {
    if (this.closed) return;
    const t = this.txBuf;
    t.fill(0, 0, VNET_HDR);
    if (tcpPartial > 0) this.offload(frame, off, len, tcpPartial);
    frame.copy(t, VNET_HDR, off, off + len);
    const r = netNative().netSend(this.fd, t, 0, VNET_HDR + len);
    if (r < 0) this.txDropped++;
  }

  /** virtio_net_hdr for a TCP segment whose checksum the host finishes (and cuts, past the MTU). */
  private offload(f: Buffer, off: number, len: number, mss: number): void {
    const t = this.txBuf;
    const v6 = f.readUInt16BE(off + 12) === 0x86dd;
    const ipl = v6 ? 40 : (f[off + ETH_HLEN] & 0xf) * 4;
    const l4 = ETH_HLEN + ipl;
    const thl = (f[off + l4 + 12] >> 4) * 4;
    t[0] = F_NEEDS_CSUM;
    t.writeUInt16LE(l4, 6); // csum_start, from the frame's start
    t.writeUInt16LE(16, 8); // csum_offset: TCP's checksum field
    if (len - l4 - thl > mss && len - ETH_HLEN > this.mtu) {
      t[1] = v6 ? GSO_TCPV6 : GSO_TCPV4;
      t.writeUInt16LE(l4 + thl, 2); // hdr_len
      t.writeUInt16LE(mss, 4); // gso_size
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    netNative().netClose(this.fd);
  }
}
