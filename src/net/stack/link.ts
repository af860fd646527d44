/**
 * Link endpoints: what an interface sends frames through. The stack never knows which
 * one it drives: loopback (IP packets, no link header), a host fd carrying Ethernet
 * frames (AF_PACKET on a veth, or a TAP device; native/net_host.cc), or an in-memory
 * wire (tests).
 */
import { StackTimer, type Clock } from './timer';

/** `csumTrusted`: the host says the transport checksum needs no check (offload). */
export type RxFn = (frame: Buffer, off: number, len: number, csumTrusted?: boolean) => void;

export interface Link {
  readonly kind: 'loopback' | 'ethernet';
  readonly mtu: number;
  /** 6 bytes (zeros for loopback). */
  readonly mac: Buffer;
  /** Sends frame[off, off+len); the buffer is the caller's and reused after the call. */
  send(frame: Buffer, off: number, len: number): void;
  /** Called once by the stack: where received frames go. */
  attach(rx: RxFn): void;
  close(): void;
}

/** Frames queued and delivered on the next timer round (no re-entry into the sender). */
class QueuedLink {
  private readonly q: Buffer[] = [];
  private readonly timer: StackTimer;
  protected rx: RxFn | null = null;
  constructor(clock: Clock) {
    this.timer = new StackTimer(clock, () => this.flush());
  }
  attach(rx: RxFn): void {
    this.rx = rx;
  }
  protected enqueue(b: Buffer): void {
    this.q.push(b);
    this.timer.ensure(0);
  }
  private flush(): void {
    // Frames queued while delivering wait for the next round (bounded work per round).
    const n = this.q.length;
    for (let i = 0; i < n; i++) {
      const b = this.q.shift()!;
      this.deliver(b);
    }
  }
  protected deliver(b: Buffer): void {
    this.rx?.(b, 0, b.length);
  }
  close(): void {
    this.timer.cancel();
    this.q.length = 0;
  }
}

export class LoopbackLink extends QueuedLink implements Link {
  readonly kind = 'loopback';
  readonly mac = Buffer.alloc(6);
  constructor(clock: Clock, readonly mtu = 65536) {
    super(clock);
  }
  send(frame: Buffer, off: number, len: number): void {
    this.enqueue(Buffer.from(frame.subarray(off, off + len)));
  }
}

/** One end of an in-memory Ethernet wire; `lossy` decides per frame whether it is dropped. */
export class WireEnd extends QueuedLink implements Link {
  readonly kind = 'ethernet';
  peer: WireEnd | null = null;
  lossy: ((frame: Buffer) => boolean) | null = null;
  constructor(clock: Clock, readonly mac: Buffer, readonly mtu = 1500) {
    super(clock);
  }
  send(frame: Buffer, off: number, len: number): void {
    const b = Buffer.from(frame.subarray(off, off + len));
    if (this.lossy !== null && this.lossy(b)) return;
    this.peer?.enqueue(b);
  }
  /** Puts a frame on the wire later than its turn (tests reorder with this). */
  inject(b: Buffer): void {
    this.peer?.enqueue(b);
  }
  static pair(clock: Clock, macA: Buffer, macB: Buffer, mtu = 1500): [WireEnd, WireEnd] {
    const a = new WireEnd(clock, macA, mtu);
    const b = new WireEnd(clock, macB, mtu);
    a.peer = b;
    b.peer = a;
    return [a, b];
  }
}
