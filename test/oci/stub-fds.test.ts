/**
 * The stubs' socket pair (native/ptrace_platform.cc SpawnStub) in a process that starts
 * sandboxes one after another, as a pool member does (its warm-up's, then its
 * container's): each spawn's pair replaces the last one (no fd growth), and the pool's
 * warm-up (src/oci/warm-guest.ts), which closes what its throwaway sandbox left, tells
 * the platform, so the next spawn does not close an fd that has taken that number since.
 * On the platform TSSANDBOX_PLATFORM names (ptrace by default, systrap).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { createPlatform } from '../../src/platform/select';
import { native } from '../../src/platform/native';
import { warmGuest } from '../../src/oci/warm-guest';

const name = (process.env.TSSANDBOX_PLATFORM ?? 'ptrace') as 'ptrace' | 'systrap';
const ECHILD = 10;
const EAGAIN = 11;

const fdCount = () => fs.readdirSync('/proc/self/fd').length;

/** One sandbox's template stub started, then killed and collected. */
function spawnAndEnd(): void {
  const made = createPlatform(name, { pin: false });
  if (typeof made === 'string') throw new Error(made);
  const stub = made.platform.start();
  expect(stub).toBeGreaterThan(0);
  const n = native();
  n.kill(stub, 9);
  const nap = new Int32Array(new SharedArrayBuffer(4));
  for (let i = 0; i < 2000; i++) {
    const r = n.reap(-1);
    if (r === -ECHILD) break;
    if (r === -EAGAIN) Atomics.wait(nap, 0, 0, 1);
  }
}

describe.skipIf(!['ptrace', 'systrap'].includes(name))(`the stubs' socket pair (${name})`, () => {
  it('N spawns in one process: the fd count does not grow', () => {
    spawnAndEnd();
    const after1 = fdCount();
    for (let i = 0; i < 8; i++) spawnAndEnd();
    expect(fdCount()).toBe(after1);
  });

  it("after the pool's warm-up, the next spawn closes none of the fds opened since", () => {
    expect(typeof warmGuest()).toBe('number');
    // Opened now, they take the lowest free numbers: the warm-up's pair's, if it was closed without the platform knowing.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tss-stubfds-'));
    const files: number[] = [];
    try {
      for (let i = 0; i < 4; i++) files.push(fs.openSync(path.join(dir, `f${i}`), 'w'));
      const ids = files.map((fd) => fs.fstatSync(fd).ino);
      spawnAndEnd();
      spawnAndEnd();
      expect(files.map((fd) => fs.fstatSync(fd).ino)).toEqual(ids);
    } finally {
      // An fd the platform closed by mistake is already gone: the assertion above says so.
      for (const fd of files) try { fs.closeSync(fd); } catch { /* closed */ }
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
