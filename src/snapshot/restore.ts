/**
 * An image back into a Sentry that never ran the guest: host files checked first (a
 * change is an error, before anything runs), then fs contexts, pipes with their data,
 * descriptions, fd tables, processes (signal handlers, limits, parent links, zombies),
 * address spaces in new stubs, and every thread with its registers and FP state. Each
 * task then resumes where it was (a syscall it was parked in is issued again).
 */
import { setCaps } from '../auth/capabilities';
import { restoreSeccomp } from './seccomp';
import { InfoField } from '../platform/event-buffer';
import type { Sentry } from '../kernel/sentry';
import { Task, TaskState } from '../kernel/task';
import { ThreadGroup } from '../kernel/thread-group';
import { Limits } from '../kernel/limits';
import { SignalHandlers, SignalState } from '../kernel/signals';
import { adoptFdTable } from '../kernel/process-lifecycle';
import { ITIMER_REAL, setItimer } from '../kernel/time/itimers';
import { AddressSpace } from '../mm/address-space';
import { Credentials } from '../auth/credentials';
import { FdTable } from '../../fs/vfs/fdtable';
import { FsContext } from '../../fs/vfs/context';
import type { FileDescription } from '../../fs/vfs/file';
import type { FsCaller } from '../../fs/vfs/caller';
import { Pipe, PipeInode } from '../../fs/fsimpl/pipefs/pipe';
import { EventFd } from '../../fs/fsimpl/eventfd/eventfd';
import { restorePosixTimers, restoreTimerFd } from './timers';
import { linkSocket, restoreSocket } from './sockets';
import type { SocketFile } from '../net/socket-file';
import { EpollFile } from '../../fs/fsimpl/epoll/epoll';
import { AT_FDCWD, O_CREAT, O_EXCL, O_TRUNC } from '../abi/fs';
import { errnoMessage } from '../abi/errno';
import { SnapshotError } from './format';
import type { ImageMeta } from './image';
import { adoptMemory, restoreMemory, unshareMemory } from './memory';
import { restoreTmpfsMounts } from './upper';

const RLIMIT_NOFILE = 7;

export interface RestoreHooks {
  /** The restoring command's own stdio fd (0-2) as a description with these flags. */
  stdio(hostFd: number, flags: number): FileDescription;
}

function bytes(payload: Buffer, span: { off: number; len: number }): Buffer {
  if (span.off + span.len > payload.length) throw new SnapshotError('image corrupted (data past the payload)');
  return payload.subarray(span.off, span.off + span.len);
}

/**
 * Checks, through the restoring sandbox's VFS (so the Gofer), that no host file the image
 * uses changed. `sameTree` false: the tree is a copy of the checkpointed one (an engine's
 * new snapshot of the image: other inodes), so size and mtime only, as CRIU checks sizes.
 */
export function checkHostFiles(s: Sentry, meta: ImageMeta, sameTree = true): void {
  const vfs = s.kernel.vfs;
  const c: FsCaller = { fsCtx: vfs.rootContext(), creds: new Credentials(0, 0), fdTable: new FdTable() };
  for (const h of meta.hostFiles) {
    const st = vfs.stat(c, AT_FDCWD, h.path, true);
    if (typeof st === 'number') throw new SnapshotError(`${h.path}: ${errnoMessage(st)} (it was there at the checkpoint)`);
    if (st.size !== h.size || st.mtimeSec !== h.mtimeSec || st.mtimeNsec !== h.mtimeNsec || (sameTree && st.ino !== h.ino)) {
      throw new SnapshotError(`${h.path} changed since the checkpoint (size, mtime or inode differ)`);
    }
  }
}

/** A sandbox restored but for its stdio and not yet resumed (a template held ready in a pool worker). */
export interface PreparedRestore {
  s: Sentry;
  tasks: Task[];
  /** fd slots of host stdio, filled by finishRestore with the restoring command's own. */
  stdioSlots: Array<{ ft: FdTable; fd: number; cloexec: boolean; file: number; hostFd: number; flags: number }>;
}

export function restoreSandbox(s: Sentry, meta: ImageMeta, payload: Buffer, hooks: RestoreHooks): void {
  finishRestore(prepareRestore(s, meta, payload), hooks);
}

/**
 * A template restored many times in one process (a reusing pool worker): its address
 * spaces once restored are kept as stopped stubs that never run ("masters"), and each
 * later restore forks them, so the copies share the pages copy-on-write instead of
 * writing the image's bytes again. Shared mappings are made anew in each copy
 * (unshareMemory): a fork would keep them shared between copies.
 */
export interface CowSpaces {
  /** Host ctx of each mm's master; null until the first restore made them. */
  masters: number[] | null;
}

/** Everything of a restore but stdio and the resume: host files checked, state rebuilt, threads stopped. */
export function prepareRestore(s: Sentry, meta: ImageMeta, payload: Buffer, cow?: CowSpaces, sameTree = true): PreparedRestore {
  const k = s.kernel;
  const p = s.platform;
  const vfs = k.vfs;
  checkHostFiles(s, meta, sameTree);
  restoreTmpfsMounts(vfs, Array.isArray(meta.tmpfs) ? meta.tmpfs : [], payload);
  const root: FsCaller = { fsCtx: vfs.rootContext(), creds: new Credentials(0, 0), fdTable: new FdTable() };
  const lookup = (path: string) => {
    const d = vfs.lookup(root, AT_FDCWD, path, true);
    if (typeof d === 'number') throw new SnapshotError(`${path}: ${errnoMessage(d)} (a directory in use at the checkpoint)`);
    return d;
  };
  const fsContexts = meta.fsContexts.map((c) => new FsContext(lookup(c.root), lookup(c.cwd), c.umask));

  const pipes = meta.pipes.map((x) => {
    const pipe = Pipe.restored(Buffer.from(bytes(payload, x.data)), x.capacity);
    return { pipe, inode: new PipeInode(pipe, x.uid, x.gid) };
  });
  // Host stdio is the restoring command's: known only when it comes (finishRestore).
  const files: Array<FileDescription | null> = meta.files.map((f) => {
    if (f.kind === 'stdio') return null;
    if (f.kind === 'pipe') {
      const x = pipes[f.pipe];
      if (!x) throw new SnapshotError('image corrupted (a pipe end without its pipe)');
      return x.pipe.end(x.inode, f.flags);
    }
    if (f.kind === 'eventfd') return EventFd.restored(BigInt.asUintN(64, f.count), f.flags, f.semaphore === true);
    if (f.kind === 'epoll') return new EpollFile(f.flags); // its items once every file is there
    if (f.kind === 'timerfd') return restoreTimerFd(f);
    if (f.kind === 'socket') return restoreSocket(f); // its links once every file is there
    const r = vfs.open(root, AT_FDCWD, f.path, f.flags & ~(O_CREAT | O_EXCL | O_TRUNC), 0);
    if (typeof r === 'number') throw new SnapshotError(`${f.path}: ${errnoMessage(r)} (open at the checkpoint)`);
    r.pos = f.pos;
    return r;
  });
  meta.files.forEach((f, i) => {
    if (f.kind !== 'epoll') return;
    const ep = files[i] as EpollFile;
    for (const it of f.items) {
      const target = files[it.file];
      if (!target || target === ep || !/^[0-9a-f]{16}$/.test(it.data)) throw new SnapshotError('image corrupted (an epoll item)');
      ep.restoreItem(it.fd, target, it.events, Buffer.from(it.data, 'hex'), it.pending, it.disabled === true);
    }
  });
  // Sockets: peers, accept queues, queued data, names and ports.
  const held = new Set<number>(); // connections in an accept queue: held by their listener, in no fd table
  meta.files.forEach((f, i) => {
    if (f.kind !== 'socket') return;
    linkSocket(files[i] as SocketFile, f, files, payload, vfs, root);
    for (const c of f.acceptQ) held.add(c);
  });
  // Each fd slot holds one reference: the description came with one, the others are taken here.
  const used = new Set<number>();
  const stdioSlots: PreparedRestore['stdioSlots'] = [];
  const fdTables = meta.fdTables.map((entries) => {
    const ft = new FdTable();
    for (const e of entries) {
      const img = meta.files[e.file];
      if (!img) throw new SnapshotError('image corrupted (an fd without its file)');
      if (img.kind === 'stdio') {
        // Only the restorer's own stdio: an image must never name another host fd of the Sentry.
        if (img.hostFd !== 0 && img.hostFd !== 1 && img.hostFd !== 2) throw new SnapshotError('image corrupted (a host fd other than stdio)');
        stdioSlots.push({ ft, fd: e.fd, cloexec: e.cloexec, file: e.file, hostFd: img.hostFd, flags: img.flags });
        continue;
      }
      const f = files[e.file];
      if (!f) throw new SnapshotError('image corrupted (an fd without its file)');
      ft.installAt(e.fd, used.has(e.file) ? f.incRef() : f, e.cloexec);
      used.add(e.file);
    }
    return ft;
  });
  files.forEach((f, i) => { if (f && !used.has(i) && !held.has(i)) f.decRef(); });

  const groups = new Map<number, ThreadGroup>();
  for (const pi of meta.processes) {
    const h = new SignalHandlers();
    pi.handlers.forEach((a, i) => { h.actions[i] = { ...a }; });
    const tg = new ThreadGroup(k, pi.pid, h);
    tg.pgid = pi.pgid;
    tg.sid = pi.sid;
    tg.argv = pi.argv;
    tg.envp = pi.envp;
    tg.exePath = pi.exePath;
    tg.exitSignal = pi.exitSignal;
    tg.didExec = pi.didExec;
    tg.subreaper = pi.subreaper;
    tg.personality = pi.personality;
    tg.thpDisabled = pi.thpDisabled === true;
    tg.startTimeNs = pi.startTimeNs;
    tg.sharedPending = pi.sharedPending.map((x) => ({ ...x }));
    tg.limits = new Limits(pi.limits);
    tg.zombie = pi.zombie;
    tg.waitStatus = pi.waitStatus;
    groups.set(pi.pid, tg);
    k.threadGroups.set(pi.pid, tg);
  }
  for (const pi of meta.processes) {
    const parent = groups.get(pi.ppid);
    if (parent) {
      groups.get(pi.pid)!.parent = parent;
      parent.children.add(groups.get(pi.pid)!);
    }
  }
  for (const pi of meta.processes) {
    // The clock goes on from the checkpoint's, so the time left is left still.
    if (pi.itimerReal && !pi.zombie) setItimer(groups.get(pi.pid)!, ITIMER_REAL, { value: BigInt(pi.itimerReal.value), interval: BigInt(pi.itimerReal.interval) });
  }
  const init = groups.get(1);
  if (!init) throw new SnapshotError('image corrupted (no pid 1)');
  s.init = init;
  k.pidCursor = meta.pidCursor;
  k.hostname = meta.hostname;
  k.foregroundPgid = meta.foregroundPgid;

  const masters = cow?.masters ?? null;
  const spaces: Array<{ mm: AddressSpace; ctx: number; first: boolean }> = meta.mms.map((img, i) => {
    const ctx = masters ? (p.forkSibling ? p.forkSibling(masters[i]) : p.forkAddressSpace(masters[i])) : p.newAddressSpace();
    if (ctx < 0) throw new SnapshotError(`cannot create an address space (errno ${-ctx})`);
    const mm = new AddressSpace(p, ctx);
    if (masters) {
      unshareMemory(p, ctx, img, meta.pageSource);
      adoptMemory(mm, img);
    } else restoreMemory(p, ctx, mm, img, meta.pageSource);
    return { mm, ctx, first: true };
  });
  if (cow !== undefined && masters === null) {
    // The first restore: a fork of each space, before any of it runs, is the master.
    const made = spaces.map((sp) => p.forkAddressSpace(sp.ctx));
    if (made.every((c) => c > 0)) cow.masters = made;
    else for (const c of made) if (c > 0) p.destroyAddressSpace(c);
  }

  const seccompStates = restoreSeccomp(meta.seccomp, (sp) => bytes(payload, sp));
  const tasks: Task[] = [];
  for (const ti of meta.tasks) {
    const sp = spaces[ti.mm], tg = groups.get(ti.pid), ft = fdTables[ti.fdTable], fsCtx = fsContexts[ti.fsCtx];
    if (!sp || !tg || !ft || !fsCtx) throw new SnapshotError('image corrupted (a task with a missing part)');
    let ctx = sp.ctx;
    if (!sp.first) {
      ctx = p.newThread(sp.ctx);
      if (ctx < 0) throw new SnapshotError(`cannot create a thread (errno ${-ctx})`);
    }
    sp.first = false;
    sp.mm.users++;
    const c = ti.creds;
    const sig = new SignalState(ti.sigMask);
    sig.pending = ti.pending.map((x) => ({ ...x }));
    sig.altStack = { ...ti.altStack };
    ft.limit = tg.limits.get(RLIMIT_NOFILE).cur;
    const t = new Task(k, ti.tid, ctx, tg, sp.mm, adoptFdTable(ft), fsCtx,
      new Credentials(c.uid, c.gid, c.euid, c.egid, c.suid, c.sgid, c.fsuid, c.fsgid, [...c.groups]), sig, s.wake);
    t.clearChildTid = ti.clearChildTid;
    t.robustList = ti.robustList;
    t.rseq = ti.rseq ? { ...ti.rseq } : null;
    t.comm = ti.comm;
    t.noNewPrivs = ti.noNewPrivs;
    if (ti.caps) setCaps(t.creds, { ...ti.caps });
    if (ti.seccomp !== undefined) {
      const st = seccompStates[ti.seccomp];
      if (!st) throw new SnapshotError('image corrupted (a task\'s seccomp state)');
      t.seccomp = st;
    }
    t.pdeathSig = ti.pdeathSig;
    if (ti.timerSlack !== undefined) {
      const { ns, defaultNs } = ti.timerSlack;
      if (!(Number.isSafeInteger(ns) && ns > 0 && Number.isSafeInteger(defaultNs) && defaultNs > 0)) throw new SnapshotError('image corrupted (a task\'s timer slack)');
      t.timerSlackNs = ns;
      t.defaultTimerSlackNs = defaultNs;
    }
    s.register(t);
    const ev = p.ev;
    if (ti.regs.length !== ev.regs.length) throw new SnapshotError('image corrupted (register count)');
    ev.regs.set(ti.regs.map((r) => BigInt.asUintN(64, r)));
    if (p.setRegs(ctx) !== 0) throw new SnapshotError(`cannot set the registers of task ${ti.tid}`);
    const fp = bytes(payload, ti.fp);
    ev.fp.set(fp);
    ev.info[InfoField.FpSize] = fp.length;
    if (p.setFpState(ctx) !== 0) throw new SnapshotError(`cannot set the FP state of task ${ti.tid}`);
    tasks.push(t);
  }
  restorePosixTimers(k, meta.processes, groups);
  return { s, tasks, stdioSlots };
}

/** Gives the restored sandbox the restoring command's stdio and lets every thread go on. */
export function finishRestore(r: PreparedRestore, hooks: RestoreHooks): void {
  const made = new Map<number, FileDescription>();
  for (const slot of r.stdioSlots) {
    let f = made.get(slot.file);
    if (f) f.incRef();
    else {
      f = hooks.stdio(slot.hostFd, slot.flags);
      made.set(slot.file, f);
    }
    slot.ft.installAt(slot.fd, f, slot.cloexec);
  }
  for (const t of r.tasks) {
    t.state = TaskState.Running;
    r.s.resumeNow(t);
  }
}
