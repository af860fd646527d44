/**
 * `run --checkpoint-on SIGNAL --image-path DIR`: when the CLI gets SIGNAL the Sentry
 * stops the world (every running task kicked and held, every finished syscall's result
 * kept, parked ones left parked), walks its state into DIR/checkpoint.img and ends the
 * sandbox; the CLI exits 0. A state the image cannot hold yet is one line on stderr and
 * the sandbox goes on as if nothing happened. `checkpointNow` is the same on request (an
 * OCI container's `checkpoint`, src/oci/checkpoint.ts), with --leave-running.
 */
import type { Sentry } from '../kernel/sentry';
import { TaskState } from '../kernel/task';
import type { AddressSpace } from '../mm/address-space';
import { openImageForWrite, PageWriter, PayloadWriter, SnapshotError, writeImage } from './format';
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
    checkpointNow(s, fd, {
      run: o.run,
      leaveRunning: false,
      done: (err) => {
        if (err !== null) o.report(`checkpoint failed: ${err}; the sandbox goes on`);
      },
    });
    return mask & ~bit;
  };
}

export interface CheckpointNowOptions {
  /** What the restorer builds the sandbox from (`run`'s flags, or an OCI container's equivalent). */
  run: Record<string, unknown>;
  /** After a saved image, the sandbox goes on (runc's --leave-running) instead of ending. */
  leaveRunning: boolean;
  /**
   * Called once: null when the image is written, else why it was not (the sandbox then
   * goes on). Every task is still held while it runs; the sandbox ends (or goes on) after.
   */
  done: (error: string | null) => void;
}

/**
 * Stops the world and writes the image to fd (opened by whoever may open paths: the CLI,
 * or the Sentry before its confinement) at the next loop turns. False if a checkpoint is
 * already under way.
 */
export function checkpointNow(s: Sentry, fd: number, o: CheckpointNowOptions): boolean {
  if (s.holdKicks) return false;
  s.holdKicks = true;
  s.holdPendingResume();
  s.loopHook = () => step(s, fd, o);
  return true;
}

/** One loop turn while the world stops: kick who still runs; once all are held, save. */
function step(s: Sentry, fd: number, o: CheckpointNowOptions): void {
  let running = false;
  for (const t of s.kernel.tasks.values()) {
    if (t.state === TaskState.Dead || t.state === TaskState.Blocked || s.heldResults.has(t) || t.inSentry) continue;
    s.kick(t);
    running = true;
  }
  if (running || s.readyCount > 0) return;
  s.loopHook = null;
  const payload = new PayloadWriter();
  const pages = new PageWriter();
  try {
    const meta = captureSandbox(s, o.run, payload, pages);
    writeImage(fd, meta, payload, pages);
  } catch (e) {
    if (!(e instanceof SnapshotError) && !(e instanceof Error && 'code' in e)) throw e;
    o.done(e.message);
    releaseWorld(s);
    return;
  }
  o.done(null);
  if (o.leaveRunning) {
    releaseWorld(s);
    return;
  }
  const spaces = new Set<AddressSpace>();
  for (const t of s.kernel.tasks.values()) if (t.state !== TaskState.Dead && t.mm) spaces.add(t.mm);
  for (const mm of spaces) s.platform.destroyAddressSpace(mm.asPid);
  s.finish(0);
}

/** Lets every held task go on (the checkpoint was refused, or --leave-running). */
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
