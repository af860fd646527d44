/**
 * What a checkpoint image says (the meta part; src/snapshot/format.ts stores it):
 * a walk of the Sentry's state. Bytes (pages, FP state, pipe data) are offsets into
 * the payload. Indexes tie shared objects together: tasks sharing an address space, fd
 * tables, fs contexts; descriptions shared by dup/fork; the two ends of a pipe.
 */
import type { Vma } from '../mm/vma';
import type { SigAction, SigInfo } from '../kernel/signals';
import type { UpperNode } from './upper';
import type { PageSource } from './format';

export interface Span {
  off: number;
  len: number;
}

export interface ImageMeta {
  kind: 'tssandbox-checkpoint';
  createdMs: number;
  /** The `run` flags the sandbox was built with (the restorer builds the same one). */
  run: Record<string, unknown>;
  pidCursor: number;
  /** The sandbox's monotonic clock at the checkpoint (ns since its boot): the restore goes on from it. */
  clockNs: number;
  hostname: string;
  foregroundPgid: number;
  processes: ProcessImage[];
  tasks: TaskImage[];
  mms: MmImage[];
  fdTables: Array<Array<{ fd: number; cloexec: boolean; file: number }>>;
  files: FileImage[];
  pipes: Array<{ data: Span; capacity: number; uid: number; gid: number }>;
  fsContexts: Array<{ root: string; cwd: string; umask: number }>;
  /** The root overlay's upper layer (src/snapshot/upper.ts). */
  upper: UpperNode[];
  /** The sandbox's tmpfs mounts (/dev/shm, --tmpfs) with their trees (absent in older images: none). */
  tmpfs?: Array<{ path: string; nodes: UpperNode[] }>;
  /** Host files the guest has open or mapped, as they were: a change is an error at restore. */
  hostFiles: HostFileCheck[];
  /** Guest seccomp states and their filters (src/snapshot/seccomp.ts); absent: no task had any. */
  seccomp?: SeccompImage;
  /** Not stored: set by the reader, where the page runs are in the image file (format.ts readImage). */
  pageSource?: PageSource;
}

import type { SocketImage } from './sockets';

export interface ProcessImage {
  pid: number;
  ppid: number;
  pgid: number;
  sid: number;
  argv: string[];
  envp: string[];
  exePath: string;
  exitSignal: number;
  didExec: boolean;
  subreaper: boolean;
  personality: number;
  /** PR_SET_THP_DISABLE (absent in older images: off). */
  thpDisabled?: boolean;
  startTimeNs: number;
  handlers: SigAction[];
  sharedPending: SigInfo[];
  limits: Array<{ cur: bigint; max: bigint }>;
  zombie: boolean;
  waitStatus: number;
  /** ITIMER_REAL (setitimer/alarm): time left and interval, ns; absent when disarmed. */
  itimerReal?: { value: bigint; interval: bigint };
  /** timer_create timers (src/snapshot/timers.ts) and the next id; absent when it made none. */
  timers?: { next: number; list: PosixTimerImage[] };
}

/** A clock a timer runs on (not a CPU clock): its kind and clockid as the guest named it. */
export interface ClockImage {
  kind: string;
  id: number;
}

/** One timer_create timer: its sigevent, its setting (time left and interval, ns; value 0 disarmed). */
export interface PosixTimerImage {
  id: number;
  clock: ClockImage;
  notify: number;
  signo: number;
  /** SIGEV_THREAD_ID's thread, else null. */
  target: number | null;
  sigValue: bigint;
  value: bigint;
  interval: bigint;
  lastOverrun: number;
}

/** How a task stopped: its registers resume it exactly (the restart already folded in). */
export interface TaskImage {
  tid: number;
  pid: number;
  mm: number;
  fdTable: number;
  fsCtx: number;
  creds: { uid: number; gid: number; euid: number; egid: number; suid: number; sgid: number; fsuid: number; fsgid: number; groups: number[] };
  /** Capability sets set apart from the uids (capset, prctl, an OCI process's list); absent: as the uids derive them. */
  /** Index into ImageMeta.seccomp.states; absent: no filter. */
  seccomp?: number;
  caps?: { effective: bigint; permitted: bigint; inheritable: bigint; ambient: bigint; bounding: bigint; keepCaps: boolean };
  sigMask: bigint;
  pending: SigInfo[];
  altStack: { sp: number; flags: number; size: number };
  clearChildTid: number;
  robustList: number;
  rseq: { addr: number; len: number; sig: number } | null;
  comm: string;
  noNewPrivs: boolean;
  pdeathSig: number;
  /** PR_SET_TIMERSLACK's current and default slack (absent in older images: 50 µs each). */
  timerSlack?: { ns: number; defaultNs: number };
  regs: bigint[];
  fp: Span;
  /** Where it was: in a syscall that is re-issued, just past one with its result, or in guest code. */
  at: 'restart' | 'result' | 'user';
}

export interface MmImage {
  brkStart: number;
  brk: number;
  /** PR_GET_DUMPABLE of the mm (absent in older images: 1): a process that gave up root stays non-dumpable. */
  dumpable?: number;
  vmas: Vma[];
  /** Non-zero page runs of the readable mappings; `data` is in the image's page section (raw, page-aligned). */
  runs: Array<{ addr: number; data: Span }>;
}

export type FileImage =
  | { kind: 'stdio'; hostFd: number; flags: number }
  | { kind: 'pipe'; pipe: number; flags: number }
  | { kind: 'eventfd'; count: bigint; semaphore: boolean; flags: number }
  | { kind: 'timerfd'; clock: ClockImage; flags: number; ticks: bigint; value: bigint; interval: bigint }
  | SocketImage
  | { kind: 'path'; path: string; flags: number; pos: number }
  | { kind: 'epoll'; flags: number; items: EpollItemImage[] };

/** One watched description of an epoll set: the fd it was added as, its file (index in `files`), its state. */
export interface EpollItemImage {
  fd: number;
  file: number;
  events: number;
  /** epoll_data, 8 bytes in hex. */
  data: string;
  pending: number;
  disabled: boolean;
}

export interface HostFileCheck {
  path: string;
  size: number;
  mtimeSec: number;
  mtimeNsec: number;
  ino: number;
}

/** Seccomp filters, older first (`prev` indexes an earlier one, -1: none), and the states tasks share. */
export interface SeccompImage {
  filters: Array<{ prog: Span; prev: number; log: boolean; pathInsns: number }>;
  states: Array<{ mode: number; filter: number }>;
}
