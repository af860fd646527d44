/**
 * `pause`/`resume` as the cgroup freezer does them: every thread of the container held
 * at its next stop, the guest not told (no SIGCHLD, no WUNTRACED). A group the guest
 * itself job-control stopped is not the freezer's: `resume` does not continue it.
 *
 * A paused container can be checkpointed (runc's `checkpoint` of a paused container,
 * containerd's `ctr c checkpoint --task`, which pauses first): the frozen threads are
 * handed to the checkpoint's world stop (src/snapshot/checkpoint.ts) as a running
 * container's would be, each saved where the freezer held it: the image is a running
 * container's, as runc's (a restore runs it). After a `--leave-running` checkpoint, or
 * one that was refused, the container is frozen again exactly where it was.
 */
import { stopGroup, continueGroup } from '../kernel/process-lifecycle';
import type { Kernel } from '../kernel/kernel';
import type { Sentry } from '../kernel/sentry';
import { TaskState } from '../kernel/task';
import type { ThreadGroup } from '../kernel/thread-group';
import { Reg } from '../platform/event-buffer';
import { ERESTARTSYS, ERESTART_RESTARTBLOCK } from '../abi/errno';

const SIGSTOP = 19;

export class Freezer {
  /** The groups this freezer stopped. */
  private readonly frozen = new Set<ThreadGroup>();
  private isPaused = false;

  constructor(private readonly s: Sentry, private readonly kernel: Kernel) {}

  get paused(): boolean {
    return this.isPaused;
  }

  pause(): void {
    for (const tg of this.kernel.threadGroups.values()) {
      if (tg.zombie || tg.stopped) continue;
      stopGroup(this.s, tg, SIGSTOP, true);
      this.frozen.add(tg);
    }
    this.isPaused = true;
  }

  resume(): void {
    for (const tg of this.frozen) if (!tg.zombie) continueGroup(this.s, tg, true);
    this.frozen.clear();
    this.isPaused = false;
  }

  /**
   * Called once the checkpoint's hold is set (checkpointNow): each frozen thread becomes
   * what the world stop saves. A thread held at a syscall's result: that result kept
   * (heldResults); held with a restart code: set back to re-issue its syscall, as
   * Linux's freezer restarts it (a restart_syscall's remaining time is not kept: it
   * starts over); held between instructions, or still on its way to its stop: the
   * checkpoint's own hold takes it. Blocked threads are saved as blocked.
   */
  thawIntoCheckpoint(): void {
    for (const tg of this.frozen) {
      tg.stopped = false;
      for (const t of tg.tasks) {
        t.stopWhenDone = false;
        if (t.state !== TaskState.Stopped) continue;
        t.state = TaskState.Running;
        const held = t.held;
        t.held = null;
        if (held === null || held.result === null) continue;
        const r = held.result;
        if (r <= -ERESTARTSYS && r >= -ERESTART_RESTARTBLOCK && this.s.platform.getRegs(t.hostTid) === 0) {
          const ev = this.s.platform.ev;
          ev.setReg(Reg.RIP, ev.reg(Reg.RIP) - 2n);
          ev.setReg(Reg.RAX, ev.reg(Reg.ORIG_RAX));
          this.s.platform.setRegs(t.hostTid);
        } else {
          this.s.heldResults.set(t, r);
        }
      }
    }
  }

  /** After the checkpoint answered, before its hold is released: the container frozen again (it stays paused). */
  refreeze(): void {
    for (const tg of this.frozen) {
      if (tg.zombie) continue;
      tg.stopped = true;
      for (const t of tg.tasks) {
        if (t.state === TaskState.Blocked) t.stopWhenDone = true;
        if (t.state !== TaskState.Running) continue;
        t.state = TaskState.Stopped;
        const r = this.s.heldResults.get(t);
        this.s.heldResults.delete(t);
        // continueTask (resume) hands the result back, or lets it go on from its registers.
        t.held = { result: r ?? null };
      }
    }
  }
}
