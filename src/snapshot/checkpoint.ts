/**
 * `run --checkpoint-on SIGNAL --image-path DIR`: when the CLI gets SIGNAL the Sentry
 * stops the world (every running task kicked and held, every finished syscall's result
 * kept, parked ones left parked), walks its state into DIR/checkpoint.img and ends the
 * sandbox; the CLI exits 0. A state the image cannot hold yet is one line on stderr and
 * the sandbox goes on as if nothing happened.
 */
import type { Sentry } from '../kernel/sentry';
import { TaskState } from '../kernel/task';
import type { AddressSpace } from '../mm/address-space';
import { openImageForWrite, PayloadWriter, SnapshotError, writeImage } from './format';
import { captureSandbox } from './capture';

export interface CheckpointOptions {
  signal: number;
  imagePath: string;
  /** The `run` flags, for the restorer to build the same sandbox. */
  run: Record<string, unknown>;
  /** One line on the host's stderr. */
  report: (line: string) => void;
}

/** Arms the checkpoint; call before the Sentry is confined (DIR and its image file are made now). */
export function armCheckpoint(s: Sentry, o: CheckpointOptions): void {
  const fd = openImageForWrite(o.imagePath);
  const bit = 1 << o.signal;
  s.hostSignalFilter = (mask) => {
    if ((mask & bit) === 0) return mask;
    if (!s.holdKicks) {
      s.holdKicks = true;
      s.holdPendingResume();
      s.loopHook = () => step(s, o, fd);
    }
    return mask & ~bit;
  };
}

/** One loop turn while the world stops: kick who still runs; once all are held, save. */
function step(s: Sentry, o: CheckpointOptions, fd: number): void {
  let running = false;
  for (const t of s.kernel.tasks.values()) {
    if (t.state === TaskState.Dead || t.state === TaskState.Blocked || s.heldResults.has(t) || t.inSentry) continue;
    s.kick(t);
    running = true;
  }
  if (running || s.readyCount > 0) return;
  s.loopHook = null;
  const payload = new PayloadWriter();
  try {
    const meta = captureSandbox(s, o.run, payload);
    writeImage(fd, meta, payload);
  } catch (e) {
    if (!(e instanceof SnapshotError) && !(e instanceof Error && 'code' in e)) throw e;
    o.report(`checkpoint failed: ${e.message}; the sandbox goes on`);
    releaseWorld(s);
    return;
  }
  const spaces = new Set<AddressSpace>();
  for (const t of s.kernel.tasks.values()) if (t.state !== TaskState.Dead && t.mm) spaces.add(t.mm);
  for (const mm of spaces) s.platform.destroyAddressSpace(mm.asPid);
  s.finish(0);
}

/** Lets every held task go on (the checkpoint was refused). */
function releaseWorld(s: Sentry): void {
  s.holdKicks = false;
  const held = [...s.heldResults];
  s.heldResults.clear();
  for (const [t, r] of held) {
    t.inSentry = false;
    s.platform.resumeSyscall(t.hostTid, r);
  }
  for (const t of s.kernel.tasks.values()) {
    if (t.state === TaskState.Running && t.inSentry && !held.some(([h]) => h === t)) s.resumeWithSignals(t);
  }
}
