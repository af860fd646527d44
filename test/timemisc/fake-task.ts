/**
 * A Task stand-in for unit tests of the time/misc handlers: Buffer-backed guest
 * memory at [BASE, BASE + SIZE), a real ThreadGroup and Credentials, and a block()
 * that records the deadline. Address 0 and anything outside the window fault. All fake
 * tasks of a test file are processes of one sandbox (t.kernel), so they see each other.
 */
import { ThreadGroup } from '../../src/kernel/thread-group';
import { Credentials } from '../../src/auth/credentials';
import { Kernel } from '../../src/kernel/kernel';
import type { Task } from '../../src/kernel/task';

export const BASE = 0x10000;
export const SIZE = 0x10000;
export const BAD = 1; // (void*)1
export const BLOCK = -0x100000;

function inWindow(addr: number, len: number): boolean {
  return addr >= BASE && addr + len <= BASE + SIZE;
}

export class FakeMem {
  readonly buf = Buffer.alloc(SIZE);
  read(addr: number, len: number): Buffer | null {
    return inWindow(addr, len) ? Buffer.from(this.buf.subarray(addr - BASE, addr - BASE + len)) : null;
  }
  write(addr: number, data: Buffer): boolean {
    if (!inWindow(addr, data.length)) return false;
    data.copy(this.buf, addr - BASE);
    return true;
  }
  readU32(addr: number): number | null {
    return inWindow(addr, 4) ? this.buf.readUInt32LE(addr - BASE) : null;
  }
  readI32(addr: number): number | null {
    return inWindow(addr, 4) ? this.buf.readInt32LE(addr - BASE) : null;
  }
  readU64(addr: number): number | null {
    return inWindow(addr, 8) ? Number(this.buf.readBigUInt64LE(addr - BASE)) : null;
  }
  writeU32(addr: number, v: number): boolean {
    if (!inWindow(addr, 4)) return false;
    this.buf.writeUInt32LE(v >>> 0, addr - BASE);
    return true;
  }
  writeI32(addr: number, v: number): boolean {
    if (!inWindow(addr, 4)) return false;
    this.buf.writeInt32LE(v | 0, addr - BASE);
    return true;
  }
  writeU64(addr: number, v: number): boolean {
    if (!inWindow(addr, 8)) return false;
    this.buf.writeBigUInt64LE(BigInt(v), addr - BASE);
    return true;
  }
  i64(addr: number): bigint {
    return this.buf.readBigInt64LE(addr - BASE);
  }
  setI64(addr: number, v: bigint): void {
    this.buf.writeBigInt64LE(v, addr - BASE);
  }
}

let nextPid = 1000;
const kernel = new Kernel();

export interface FakeTask {
  kernel: Kernel;
  tid: number;
  hostTid: number;
  tg: ThreadGroup;
  creds: Credentials;
  mem: FakeMem;
  sysState: any;
  timedOut: boolean;
  deadline: number;
  block(d?: number): number;
}

/** A new single-thread process, registered in its kernel's tasks / threadGroups. */
export function fakeTask(uid = 0): Task & FakeTask {
  const pid = nextPid++;
  const tg = new ThreadGroup(kernel, pid, {} as never);
  const t: FakeTask = {
    kernel,
    tid: pid,
    hostTid: process.pid,
    tg,
    creds: new Credentials(uid, uid),
    mem: new FakeMem(),
    sysState: undefined,
    timedOut: false,
    deadline: Infinity,
    block(d = Infinity) {
      this.deadline = d;
      return BLOCK;
    },
  };
  const task = t as unknown as Task & FakeTask;
  tg.tasks.add(task);
  kernel.tasks.set(pid, task);
  kernel.threadGroups.set(pid, tg);
  return task;
}
