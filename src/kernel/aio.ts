/**
 * Linux native AIO contexts (io_setup/io_submit/io_getevents/io_cancel/io_destroy): one
 * table per address space (fork does not copy them, as Linux). A context's id is the
 * address of a page mapped in the guest for it, as Linux's ring is; the page holds no
 * ring magic, so libaio reaps through io_getevents. Reads, writes and syncs complete
 * at submission (buffered I/O in Linux does too); IOCB_CMD_POLL completes when its file
 * becomes ready. Completion posts an io_event, wakes io_getevents and signals the iocb's
 * eventfd (IOCB_FLAG_RESFD).
 */
import type { AddressSpace } from '../mm/address-space';
import type { FileDescription } from '../../fs/vfs/file';
import { WaitQueue, type WaitEntry } from '../waiter/waitqueue';

export interface IoEvent { data: bigint; obj: bigint; res: number; res2: number }

export interface PendingPoll { obj: bigint; data: bigint; file: FileDescription; entry: WaitEntry; resfd: FileDescription | null }

export class AioContext {
  readonly done: IoEvent[] = [];
  readonly pending = new Map<bigint, PendingPoll>();
  readonly queue = new WaitQueue();
  dead = false;
  constructor(
    readonly id: number,
    readonly ringLen: number,
    readonly maxEvents: number,
  ) {}

  /** Posts a completion (and signals its eventfd). */
  complete(ev: IoEvent, resfd: FileDescription | null): void {
    this.done.push(ev);
    if (resfd) {
      const one = Buffer.alloc(8);
      one.writeBigUInt64LE(1n);
      resfd.write(one);
    }
    this.queue.notify(1);
  }

  /** Events in flight or done but not reaped: at most maxEvents (EAGAIN past it). */
  get inFlight(): number {
    return this.done.length + this.pending.size;
  }
}

const tables = new WeakMap<AddressSpace, Map<number, AioContext>>();

export function aioTable(mm: AddressSpace): Map<number, AioContext> {
  let m = tables.get(mm);
  if (!m) tables.set(mm, (m = new Map()));
  return m;
}

/** All contexts of the sandbox's processes count against aio-max-nr. */
export const AIO_MAX_NR = 65536;
