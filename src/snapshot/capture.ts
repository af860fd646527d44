/**
 * The walk of a stopped Sentry into an image: processes and threads (registers, FP
 * state, signal state, credentials), address spaces (src/snapshot/memory.ts), fd tables
 * and their descriptions (host stdio, pipes with their data, files by path), fs contexts,
 * and the host files in use with their identity. Called with every task stopped in the
 * Sentry (src/snapshot/checkpoint.ts); a state it cannot save yet is refused by name.
 */
import { hasOwnNs } from '../kernel/namespaces/types';
import { Reg } from '../platform/event-buffer';
import type { Sentry } from '../kernel/sentry';
import { TaskState, type Task } from '../kernel/task';
import type { ThreadGroup } from '../kernel/thread-group';
import { limitsOf } from '../kernel/limits';
import type { AddressSpace } from '../mm/address-space';
import type { FdTable } from '../../fs/vfs/fdtable';
import type { FsContext } from '../../fs/vfs/context';
import type { FileDescription } from '../../fs/vfs/file';
import { HostFile } from '../../fs/fsimpl/host/host-file';
import { PipeEnd, type Pipe } from '../../fs/fsimpl/pipefs/pipe';
import { EventFd } from '../../fs/fsimpl/eventfd/eventfd';
import { EpollFile } from '../../fs/fsimpl/epoll/epoll';
import { AT_FDCWD } from '../abi/fs';
import { OverlayFs } from '../../fs/fsimpl/overlay/overlay';
import { type PageWriter, PayloadWriter, SnapshotError } from './format';
import type { FileImage, HostFileCheck, ImageMeta, ProcessImage, TaskImage } from './image';
import { saveMemory } from './memory';
import { SeccompSaver } from './seccomp';
import { saveTmpfsMounts, saveUpper } from './upper';
import { timerQueue } from '../kernel/time/timers';
import { getItimer, ITIMER_PROF, ITIMER_REAL, ITIMER_VIRTUAL } from '../kernel/time/itimers';
import { TimerFd } from '../kernel/time/timerfd';
import { savePosixTimers, timerFdImage } from './timers';
import { isSavedSocket, socketImage } from './sockets';
import { Credentials } from '../auth/credentials';
import { CAP_FULL, capsOf } from '../auth/capabilities';
import { FdTable as Fds } from '../../fs/vfs/fdtable';

const RLIM_NLIMITS = 16;

/** Indexes objects by identity, in first-seen order. */
class Index<T> {
  readonly items: T[] = [];
  private readonly map = new Map<T, number>();
  of(x: T): { i: number; fresh: boolean } {
    const i = this.map.get(x);
    if (i !== undefined) return { i, fresh: false };
    this.map.set(x, this.items.length);
    this.items.push(x);
    return { i: this.items.length - 1, fresh: true };
  }
}

/** Files whose identity a restore checks: real paths, not the Sentry's synthetic trees. */
function checkedPath(p: string): boolean {
  return p.startsWith('/') && !/^\/(proc|sys|dev)(\/|$)/.test(p) && !p.includes(' (deleted)') && !p.startsWith('/memfd:');
}

/** `pages`: the address spaces' page runs (the image's raw page section); `payload`: every other byte. */
export function captureSandbox(s: Sentry, run: Record<string, unknown>, payload: PayloadWriter, pages: PageWriter): ImageMeta {
  const k = s.kernel;
  const p = s.platform;
  const mms = new Index<AddressSpace>();
  const fdTables = new Index<FdTable>();
  const fsContexts = new Index<FsContext>();
  const files = new Index<FileDescription>();
  const pipes = new Index<Pipe>();
  const meta: ImageMeta = {
    kind: 'tssandbox-checkpoint', createdMs: Date.now(), run, pidCursor: k.pidCursor, clockNs: k.nowNs(), hostname: k.hostname,
    foregroundPgid: k.foregroundPgid, processes: [], tasks: [], mms: [], fdTables: [], files: [], pipes: [],
    fsContexts: [], hostFiles: [], upper: [],
  };

  /** Who looks up a bound unix socket's path: the root of the sandbox, as root. */
  const statCaller = { fsCtx: k.vfs.rootContext(), creds: new Credentials(0, 0), fdTable: new Fds() };
  /** Timers saved that sit in the timer queue (ITIMER_REAL, timer_create timers, timerfds). */
  const armed = { n: 0 };
  const hostFiles = new Map<string, HostFileCheck>();
  const seccomp = new SeccompSaver(payload);
  const anyTask = [...k.tasks.values()].find((t) => t.state !== TaskState.Dead);
  const noteHostFile = (path: string) => {
    if (!anyTask || hostFiles.has(path) || !checkedPath(path)) return;
    const d = k.vfs.lookup(anyTask, AT_FDCWD, path, true);
    if (typeof d === 'number') return; // unlinked meanwhile: nothing to re-check
    // A file of the overlay's upper layer is in the image itself (src/snapshot/upper.ts).
    if (d.inode.fs instanceof OverlayFs && (d.inode as unknown as { upper: unknown }).upper !== null) return;
    const st = d.inode.stat();
    if (typeof st === 'number') return;
    hostFiles.set(path, { path, size: st.size, mtimeSec: st.mtimeSec, mtimeNsec: st.mtimeNsec, ino: st.ino });
  };

  // An OCI container's console (src/oci/checkpoint.ts): its pty slave is the container's stdio, saved as fd 0's.
  const consoleFd = typeof run.consoleHostFd === 'number' ? run.consoleHostFd : -1;
  const fileImage = (f: FileDescription, where: string): FileImage => {
    if (f instanceof HostFile) {
      if (f.hostFd === consoleFd) return { kind: 'stdio', hostFd: 0, flags: f.flags };
      if (f.hostFd > 2) throw new SnapshotError(`cannot checkpoint: ${where} is a host fd other than stdio (not supported yet)`);
      return { kind: 'stdio', hostFd: f.hostFd, flags: f.flags };
    }
    if (f instanceof PipeEnd) {
      const { i, fresh } = pipes.of(f.pipe);
      if (fresh) {
        const data = f.pipe.snapshotData();
        const ino = f.inode as unknown as { uid?: number; gid?: number };
        meta.pipes.push({ data: { off: payload.add(data), len: data.length }, capacity: f.pipe.capacity, uid: ino.uid ?? 0, gid: ino.gid ?? 0 });
      }
      return { kind: 'pipe', pipe: i, flags: f.flags };
    }
    if (f instanceof EventFd) return { kind: 'eventfd', count: f.counter, semaphore: f.isSemaphore, flags: f.flags };
    if (f instanceof TimerFd) return timerFdImage(f, where, armed);
    if (isSavedSocket(f)) return socketImage(f, where, payload, k.vfs, statCaller, (o) => addFile(o, `a file linked to ${where} (peer, connection or fd in flight)`));
    if (f instanceof EpollFile) {
      // Its watched descriptions get their indexes once this one has its own (below).
      const img: FileImage = { kind: 'epoll', flags: f.flags, items: [] };
      epolls.push({ f, img, where });
      return img;
    }
    if (f.dentry !== null) {
      const path = f.dentry.absolutePath();
      noteHostFile(path);
      return { kind: 'path', path, flags: f.flags, pos: f.pos };
    }
    throw new SnapshotError(`cannot checkpoint: ${where} is a ${f.constructor.name} (not supported yet)`);
  };

  /** f's index in `files`, its image added if it is new (its slot first: an image may add others). */
  const addFile = (f: FileDescription, where: string): number => {
    const fi = files.of(f);
    if (fi.fresh) {
      meta.files.push(null as unknown as FileImage);
      meta.files[fi.i] = fileImage(f, where);
    }
    return fi.i;
  };
  const epolls: Array<{ f: EpollFile; img: Extract<FileImage, { kind: 'epoll' }>; where: string }> = [];
  /** The epoll sets' items, after every fd table: a watched description not in one is added then. */
  const epollItems = (): void => {
    for (let n = 0; n < epolls.length; n++) {
      const { f, img, where } = epolls[n];
      for (const it of f.snapshotItems()) {
        if (it.file instanceof HostFile) throw new SnapshotError(`cannot checkpoint: ${where} watches a host fd (not supported yet)`);
        const fi = addFile(it.file, `a file ${where} watches`);
        img.items.push({ fd: it.fd, file: fi, events: it.events, data: it.data.toString('hex'), pending: it.pending, disabled: it.disabled });
      }
    }
  };

  const fdTableIndex = (ft: FdTable, pid: number): number => {
    const { i, fresh } = fdTables.of(ft);
    if (!fresh) return i;
    const entries: ImageMeta['fdTables'][number] = [];
    meta.fdTables.push(entries);
    for (let fd = 0; fd < ft.highest; fd++) {
      const f = ft.get(fd);
      if (!f) continue;
      entries.push({ fd, cloexec: ft.isCloexec(fd), file: addFile(f, `fd ${fd} of pid ${pid}`) });
    }
    return i;
  };

  const fsIndex = (c: FsContext): number => {
    const { i, fresh } = fsContexts.of(c);
    if (fresh) meta.fsContexts.push({ root: c.root.absolutePath(), cwd: c.cwd.absolutePath(), umask: c.umask });
    return i;
  };

  const mmIndex = (mm: AddressSpace): number => {
    const { i, fresh } = mms.of(mm);
    if (fresh) {
      meta.mms.push(saveMemory(p, mm, pages));
      for (const v of mm.vmas) if (v.name) noteHostFile(v.name);
    }
    return i;
  };

  const groups = [...k.threadGroups.values()].sort((a, b) => a.pid - b.pid);
  for (const tg of groups) meta.processes.push(processImage(tg));
  // ITIMER_REAL and timer_create timers go with their process, timerfds with their
  // files; the armed ones are counted against the timer queue (CPU-time itimers are not saved yet).
  for (const tg of groups) if (!tg.zombie) savePosixTimers(tg, meta.processes.find((p) => p.pid === tg.pid)!, armed);
  for (const tg of groups) {
    if (tg.zombie) continue;
    for (const w of [ITIMER_VIRTUAL, ITIMER_PROF]) {
      if (getItimer(tg, w).value !== 0n) throw new SnapshotError(`cannot checkpoint: pid ${tg.pid} has a CPU-time itimer (not supported yet)`);
    }
    const real = getItimer(tg, ITIMER_REAL);
    if (real.value !== 0n) {
      armed.n++;
      meta.processes.find((p) => p.pid === tg.pid)!.itimerReal = { value: real.value, interval: real.interval };
    }
  }
  for (const tg of groups) {
    for (const t of [...tg.tasks].sort((a, b) => a.tid - b.tid)) {
      if (t.state === TaskState.Dead) continue;
      meta.tasks.push(taskImage(s, t, payload, seccomp, mmIndex(t.mm), fdTableIndex(t.fdTable, tg.pid), fsIndex(t.fsCtx)));
    }
  }
  epollItems();
  // Whatever else waits in the timer queue would be lost.
  // (--memory's sampling tick is the Sentry's own: the restored Sentry arms its own.)
  if (timerQueue.size > armed.n + (k.memAcct?.armed ? 1 : 0)) throw new SnapshotError('cannot checkpoint: an armed timer of a kind not saved yet');
  meta.hostFiles = [...hostFiles.values()];
  if (seccomp.image.states.length > 0) meta.seccomp = seccomp.image;
  meta.upper = saveUpper(k.vfs, payload);
  const tmpfsPaths = Array.isArray(run.tmpfs) ? (run.tmpfs as string[]).map((p) => Buffer.from(p).toString('latin1')) : [];
  meta.tmpfs = saveTmpfsMounts(k.vfs, ['/dev/shm', ...tmpfsPaths], payload);
  return meta;
}

function processImage(tg: ThreadGroup): ProcessImage {
  const lim = limitsOf(tg);
  return {
    pid: tg.pid, ppid: tg.ppid, pgid: tg.pgid, sid: tg.sid, argv: tg.argv, envp: tg.envp, exePath: tg.exePath,
    exitSignal: tg.exitSignal, didExec: tg.didExec, subreaper: tg.subreaper, personality: tg.personality, thpDisabled: tg.thpDisabled,
    startTimeNs: tg.startTimeNs, handlers: tg.handlers.actions.map((a) => ({ ...a })),
    sharedPending: tg.sharedPending.map((x) => ({ ...x })),
    limits: Array.from({ length: RLIM_NLIMITS }, (_, r) => ({ ...lim.get(r) })),
    zombie: tg.zombie, waitStatus: tg.waitStatus,
  };
}

function taskImage(s: Sentry, t: Task, payload: PayloadWriter, seccomp: SeccompSaver, mm: number, fdTable: number, fsCtx: number): TaskImage {
  const p = s.platform;
  const where = `task ${t.tid}`;
  let at: TaskImage['at'];
  if (s.heldResults.has(t)) at = 'result';
  else if (t.state === TaskState.Blocked) at = 'restart';
  else if (t.state === TaskState.Running && t.inSentry) at = 'user';
  else throw new SnapshotError(`cannot checkpoint: ${where} is ${t.state === TaskState.Stopped ? 'job-control stopped' : 'not stopped'} (not supported yet)`);
  if (p.getRegs(t.hostTid) !== 0) throw new SnapshotError(`cannot checkpoint: the registers of ${where} cannot be read`);
  const regs = Array.from(p.ev.regs);
  let mask = t.sig.mask;
  if (at === 'result') regs[Reg.RAX] = BigInt.asUintN(64, BigInt(s.heldResults.get(t)!));
  if (at === 'restart') {
    // Re-issued at restore: back over the 2-byte `syscall` with its number in rax, under
    // the mask it was called with (ppoll/sigsuspend set theirs again).
    regs[Reg.RIP] -= 2n;
    regs[Reg.RAX] = regs[Reg.ORIG_RAX];
    if (t.sig.savedMask !== null) mask = t.sig.savedMask;
  }
  const fpLen = p.getFpState(t.hostTid);
  if (fpLen <= 0) throw new SnapshotError(`cannot checkpoint: the FP state of ${where} cannot be read`);
  const fp = { off: payload.add(Buffer.from(p.ev.fp.subarray(0, fpLen))), len: fpLen };
  const c = t.creds;
  if (c.userns !== null || t.fsCtx.mntNs !== null || hasOwnNs(t)) throw new SnapshotError(`cannot checkpoint: ${where} is in a namespace of its own (not supported yet)`);
  const filter = seccomp.of(t, where);
  return {
    tid: t.tid, pid: t.tg.pid, mm, fdTable, fsCtx,
    creds: { uid: c.uid, gid: c.gid, euid: c.euid, egid: c.egid, suid: c.suid, sgid: c.sgid, fsuid: c.fsuid, fsgid: c.fsgid, groups: [...c.groups] },
    sigMask: mask, pending: t.sig.pending.map((x) => ({ ...x })), altStack: { sp: t.sig.altStack.sp, flags: t.sig.altStack.flags, size: t.sig.altStack.size },
    clearChildTid: t.clearChildTid, robustList: t.robustList, rseq: t.rseq ? { ...t.rseq } : null, comm: t.comm,
    noNewPrivs: t.noNewPrivs, pdeathSig: t.pdeathSig,
    timerSlack: { ns: t.timerSlackNs, defaultNs: t.defaultTimerSlackNs }, regs, fp, at, ...capsImage(c), ...(filter !== undefined ? { seccomp: filter } : {}),
  };
}

/** The task's capability sets when they are not what its uids alone give (src/auth/capabilities.ts). */
function capsImage(c: Credentials): { caps?: TaskImage['caps'] } {
  const k = capsOf(c);
  const anyRoot = c.uid === 0 || c.euid === 0 || c.suid === 0;
  const derived = k.effective === (c.euid === 0 ? CAP_FULL : 0n) && k.permitted === (anyRoot ? CAP_FULL : 0n) && k.inheritable === 0n
    && (k.ambient ?? 0n) === 0n && (k.bounding ?? CAP_FULL) === CAP_FULL && !k.keepCaps;
  if (derived) return {};
  return { caps: { effective: k.effective, permitted: k.permitted, inheritable: k.inheritable, ambient: k.ambient ?? 0n, bounding: k.bounding ?? CAP_FULL, keepCaps: !!k.keepCaps } };
}
