/**
 * A link over a host fd carrying Ethernet frames with a virtio_net_hdr in front:
 * AF_PACKET on a veth, or a TAP device (native/net_host.cc opens both). Frames are read
 * when the Sentry's host poller reports the fd readable, a bounded batch per wake so
 * guests keep running; a frame the host cannot take now is dropped (TCP retransmits).
 */
import { native } from '../../platform/native';
import { hostPoller } from '../../waiter/host-poller';
import { WaitQueue } from '../../waiter/waitqueue';
import type { Link, RxFn } from './link';

const VNET_HDR = 10;
const F_NEEDS_CSUM = 1;
const F_DATA_VALID = 2;
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
  private rx: ((b: Buffer, off: number, len: number, trusted: boolean) => void) | null = null;
  private readonly rxBuf = Buffer.allocUnsafe(VNET_HDR + 65536 + 64);
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

  attach(rx: RxFn): void {
    this.rx = rx as (b: Buffer, off: number, len: number, trusted: boolean) => void;
    this.arm();
  }

  private arm(): void {
    if (!this.closed) hostPoller.watch(this.fd, POLLIN, this.q);
  }

  private onReadable(): void {
    const n = netNative();
    const b = this.rxBuf;
    for (let i = 0; i < BATCH; i++) {
      const len = n.netRecv(this.fd, b);
      if (len < 0) break;
      if (len <= VNET_HDR) continue;
      const trusted = (b[0] & (F_NEEDS_CSUM | F_DATA_VALID)) !== 0;
      this.rx?.(b, VNET_HDR, len - VNET_HDR, trusted);
    }
    this.arm();
  }

  send(frame: Buffer, off: number, len: number): void {
    if (this.closed) return;
    const t = this.txBuf;
    frame.copy(t, VNET_HDR, off, off + len);
    const r = netNative().netSend(this.fd, t, 0, VNET_HDR + len);
    if (r < 0) this.txDropped++;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    netNative().netClose(this.fd);
  }
}
