/**
 * A stand-in for a Task in fs unit tests: guest memory is a flat Buffer at a fixed base
 * address; fdTable/fsCtx/creds are real, and so is its kernel (a fresh Kernel over the
 * given VFS, as handlers reach the sandbox through t.kernel). Blocking is recorded, not
 * performed.
 */
import * as nfs from 'fs';
import { Credentials } from '../../src/auth/credentials';
import { FdTable } from '../../fs/vfs/fdtable';
import type { FsContext } from '../../fs/vfs/context';
import type { Vfs } from '../../fs/vfs/vfs';
import { BLOCK } from '../../src/kernel/syscall-dispatch';
import type { WaitQueue } from '../../src/waiter/waitqueue';
import type { Task } from '../../src/kernel/task';
import { Kernel } from '../../src/kernel/kernel';

export const BASE = 0x10000;

/** Not a private method: a private member makes `FakeMem & GuestMemory` (the task's mem
 *  as tests see it) `never`. */
function inRange(buf: Buffer, addr: number, len: number): boolean {
  return addr >= BASE && addr + len <= BASE + buf.length;
}

export class FakeMem {
  readonly buf: Buffer;
  brk = 0;
  constructor(size = 1 << 22) {
    this.buf = Buffer.alloc(size);
  }
  read(addr: number, len: number): Buffer | null {
    if (!inRange(this.buf, addr, len)) return null;
    return Buffer.from(this.buf.subarray(addr - BASE, addr - BASE + len));
  }
  readInto(addr: number, b: Uint8Array, off = 0, len = b.length - off): boolean {
    if (!inRange(this.buf, addr, len)) return false;
    b.set(this.buf.subarray(addr - BASE, addr - BASE + len), off);
    return true;
  }
  write(addr: number, data: Uint8Array, off = 0, len = data.length - off): boolean {
    if (!inRange(this.buf, addr, len)) return false;
    this.buf.set(data.subarray(off, off + len), addr - BASE);
    return true;
  }
  /** As GuestMemory.readFromHost: a host fd read straight into (fake) guest memory. */
  readFromHost(hostFd: number, pos: number, addr: number, len: number): number {
    if (len === 0) return 0;
    if (!inRange(this.buf, addr, len)) return -14;
    try {
      return nfs.readSync(hostFd, this.buf, addr - BASE, len, pos < 0 ? null : pos);
    } catch (e) {
      return (e as { errno?: number }).errno ?? -5;
    }
  }
  readCString(addr: number, max = 4096): string | null {
    if (!inRange(this.buf, addr, 1)) return null;
    const start = addr - BASE;
    const end = this.buf.indexOf(0, start);
    if (end < 0 || end - start > max) return null;
    return this.buf.toString('utf8', start, end);
  }
  readPath(addr: number): string | number {
    if (!inRange(this.buf, addr, 1)) return -14;
    const start = addr - BASE;
    const end = this.buf.indexOf(0, start);
    if (end < 0) return -14;
    if (end - start >= 4096) return -36;
    if (end === start) return -2;
    return this.buf.toString('utf8', start, end);
  }
  readU32(a: number): number | null {
    return inRange(this.buf, a, 4) ? this.buf.readUInt32LE(a - BASE) : null;
  }
  readI32(a: number): number | null {
    return inRange(this.buf, a, 4) ? this.buf.readInt32LE(a - BASE) : null;
  }
  readU64(a: number): number | null {
    return inRange(this.buf, a, 8) ? Number(this.buf.readBigUInt64LE(a - BASE)) : null;
  }
  readI64(a: number): number | null {
    return inRange(this.buf, a, 8) ? Number(this.buf.readBigInt64LE(a - BASE)) : null;
  }
  writeU32(a: number, v: number): boolean {
    if (!inRange(this.buf, a, 4)) return false;
    this.buf.writeUInt32LE(v >>> 0, a - BASE);
    return true;
  }
  writeI32(a: number, v: number): boolean {
    if (!inRange(this.buf, a, 4)) return false;
    this.buf.writeInt32LE(v | 0, a - BASE);
    return true;
  }
  writeU64(a: number, v: number | bigint): boolean {
    if (!inRange(this.buf, a, 8)) return false;
    this.buf.writeBigUInt64LE(BigInt.asUintN(64, BigInt(v)), a - BASE);
    return true;
  }
  /** Bump allocator for test data. */
  alloc(len: number): number {
    const a = BASE + this.brk;
    this.brk += (len + 15) & ~15;
    return a;
  }
  str(s: string): number {
    const b = Buffer.from(s + '\0');
    const a = this.alloc(b.length);
    this.write(a, b);
    return a;
  }
  get(addr: number, len: number): Buffer {
    return this.buf.subarray(addr - BASE, addr - BASE + len);
  }
}

export interface FakeTask {
  kernel: Kernel;
  mem: FakeMem;
  fdTable: FdTable;
  fsCtx: FsContext;
  creds: Credentials;
  tg: { kernel: Kernel; pid: number; pgid: number; sid: number; argv: string[]; envp: string[]; exePath: string; tasks: Set<unknown>; ppid: number; io: { rchar: number; wchar: number; syscr: number; syscw: number } };
  tid: number;
  sysState: unknown;
  timedOut: boolean;
  blocked: Array<[WaitQueue, number]>;
  signals: number[];
  sendSignalSelf(sig: number): void;
  waitOn(q: WaitQueue, mask: number): void;
  block(deadline?: number): number;
  blockOn(q: WaitQueue, mask: number, deadline?: number): number;
}

/** A task alone in a sandbox of its own over vfs. */
export function fakeTask(vfs: Vfs): FakeTask & Task {
  const kernel = new Kernel();
  kernel.vfs = vfs;
  const t: FakeTask = {
    kernel,
    mem: new FakeMem(),
    fdTable: new FdTable(),
    fsCtx: vfs.rootContext(),
    creds: new Credentials(),
    tg: { kernel, pid: 1, pgid: 1, sid: 1, argv: ['test'], envp: [], exePath: '/bin/true', tasks: new Set(), ppid: 0, io: { rchar: 0, wchar: 0, syscr: 0, syscw: 0 } },
    tid: 1,
    sysState: undefined,
    timedOut: false,
    blocked: [],
    signals: [],
    sendSignalSelf(sig) {
      this.signals.push(sig);
    },
    waitOn(q, mask) {
      this.blocked.push([q, mask]);
    },
    block() {
      return BLOCK;
    },
    blockOn(q, mask) {
      this.blocked.push([q, mask]);
      return BLOCK;
    },
  };
  return t as unknown as FakeTask & Task;
}
