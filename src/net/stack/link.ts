/**
 * Link endpoints: what an interface sends frames through. The stack never knows which
 * one it drives: loopback (IP packets, no link header), a host fd carrying Ethernet
 * frames (AF_PACKET on a veth, or a TAP device; native/net_host.cc), or an in-memory
 * wire (tests).
 */
import { StackTimer, type Clock } from './timer';
import { FRAME, takeFrame, giveFrame } from './frame-pool';

/**
 * `csumTrusted`: the host says the transport checksum needs no check (offload). `whole`:
 * the frame lies in this pool buffer (frame-pool.ts), which the receiver may keep; it
 * returns true when it did (the link then never reuses it).
 */
export type RxFn = (frame: Buffer, off: number, len: number, csumTrusted?: boolean, whole?: Buffer | null) => boolean | void;

export interface Link {
  readonly kind: 'loopback' | 'ethernet';
  readonly mtu: number;
  /** 6 bytes (zeros for loopback). */
  readonly mac: Buffer;
  /**
   * Sends frame[off, off+len); the buffer is the caller's and reused after the call.
   * `tcpPartial` > 0 (only on links with `gso`): a TCP segment whose checksum field holds
   * the pseudo-header sum only, the link (the host) finishing it, and whose payload may
   * span several segments of `tcpPartial` bytes each, the host cutting them (GSO).
   */
  send(frame: Buffer, off: number, len: number, tcpPartial?: number): void;
  /** Largest TCP payload one frame may carry when the host segments (GSO); absent: MTU-sized only. */
  readonly gso?: number;
  /**
   * Takes frame[off, off+len) with its buffer `whole` (from frame-pool.ts, given away by
   * the caller: no copy); absent: the link copies (send).
   */
  sendOwned?(whole: Buffer, off: number, len: number): void;
  /**
   * Called once by the stack: where received frames go. `batch` (links that read several
   * frames per wake): called with true before a wake's frames and false after them, so the
   * stack answers a batch with one ACK per connection (as GRO does), not one per two frames.
   */
  attach(rx: RxFn, batch?: (open: boolean) => void): void;
  close(): void;
  /**
   * Whether the transport checksum may be left out (the receiver trusts frames from this
   * link, as Linux's loopback with CHECKSUM_PARTIAL): asked per packet; absent: never.
   */
  csumOffload?(): boolean;
}

/** A frame copied into a pool buffer (the whole buffer is what goes back to the pool). */
function frameCopy(src: Buffer, off: number, len: number): { view: Buffer; whole: Buffer | null } {
  if (len > FRAME) return { view: Buffer.from(src.subarray(off, off + len)), whole: null };
  const b = takeFrame();
  src.copy(b, 0, off, off + len);
  return { view: b.subarray(0, len), whole: b };
}

/**
 * Frames queued and delivered on the next timer round (no re-entry into the sender).
 * A pooled frame goes back to the pool once delivered: receivers copy what they keep.
 */
class QueuedLink {
  private readonly q: Buffer[] = [];
  /** q[i]'s pool buffer, or null for a frame of its own. */
  private readonly wholes: Array<Buffer | null> = [];
  private readonly timer: StackTimer;
  protected rx: RxFn | null = null;
  constructor(clock: Clock) {
    this.timer = new StackTimer(clock, () => this.flush());
  }
  attach(rx: RxFn): void {
    this.rx = rx;
  }
  protected enqueue(b: Buffer, whole: Buffer | null = null): void {
    this.q.push(b);
    this.wholes.push(whole);
    this.timer.ensure(0);
  }
  /** Queues a copy of frame[off, off+len). */
  protected enqueueCopy(frame: Buffer, off: number, len: number): void {
    const c = frameCopy(frame, off, len);
    this.enqueue(c.view, c.whole);
  }
  /**
   * The stack gives its tx buffer away (sendOwned): queued as is, no copy. Frames from
   * pool buffers may be kept by the receiver (a TCP payload as a receive-queue block).
   */
  sendOwned(whole: Buffer, off: number, len: number): void {
    this.target()?.enqueue(whole.subarray(off, off + len), whole);
  }
  protected target(): QueuedLink | null {
    return this;
  }
  private flush(): void {
    // Frames queued while delivering wait for the next round (bounded work per round).
    const q = this.q.splice(0);
    const wholes = this.wholes.splice(0);
    for (let i = 0; i < q.length; i++) {
      const whole = wholes[i];
      const kept = this.deliver(q[i], whole);
      if (whole !== null && !kept) giveFrame(whole);
    }
  }
  /** Hands a frame to the receiver; true if it kept `whole` (its pool buffer). */
  protected deliver(b: Buffer, whole: Buffer | null): boolean {
    return this.rx?.(b, 0, b.length, false, whole) === true;
  }
  close(): void {
    this.timer.cancel();
    for (const w of this.wholes) if (w !== null) giveFrame(w);
    this.q.length = 0;
    this.wholes.length = 0;
  }
}

export class LoopbackLink extends QueuedLink implements Link {
  readonly kind = 'loopback';
  readonly mac = Buffer.alloc(6);
  constructor(clock: Clock, readonly mtu = 65536) {
    super(clock);
  }
  send(frame: Buffer, off: number, len: number): void {
    this.enqueueCopy(frame, off, len);
  }
  /** Loopback packets never leave the stack: their checksums need not be filled in (as Linux). */
  csumOffload(): boolean {
    return true;
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
    if (this.lossy === null) return void this.peer?.enqueueCopy(frame, off, len);
    // A lossy wire's hook may keep the frame (to reorder it): a copy of its own.
    const b = Buffer.from(frame.subarray(off, off + len));
    if (this.lossy(b)) return;
    this.peer?.enqueue(b);
  }
  protected override target(): QueuedLink | null {
    return this.lossy === null ? this.peer : null;
  }
  override sendOwned(whole: Buffer, off: number, len: number): void {
    if (this.lossy !== null || this.peer === null) {
      this.send(whole, off, len);
      return giveFrame(whole);
    }
    super.sendOwned(whole, off, len);
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
