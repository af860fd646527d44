/**
 * The kernel's watcher (SandboxHooks) for a CI run: it counts and records what the guest
 * does into the audit recorder, asks the policy (and the library caller, over the API
 * channel) at exec, open and connect, and hands limits to the enforcer. In warn mode a
 * denial is recorded and the call goes on.
 */
import * as path from 'path';
import { createHash } from 'crypto';
import * as E from '../abi/errno';
import { O_ACCMODE, O_CREAT, O_RDONLY, O_WRONLY } from '../abi/fs';
import type { SandboxHooks, LimitName } from '../kernel/sandbox-hooks';
import type { Task } from '../kernel/task';
import type { ThreadGroup } from '../kernel/thread-group';
import { processCpu, processUsage } from '../kernel/time/cputime';
import { decodeInet, decodeUnix } from '../net/sockaddr';
import { NetPolicy } from '../net/policy';
import { fmt, isV4, parse as parseIp } from '../net/stack/addr';
import type { FileDescription } from '../../fs/vfs/file';
import type { Inode, Stat } from '../../fs/vfs/inode';
import { HostInode } from '../../fs/fsimpl/hostfs/hostfs';
import { AuditRecorder, guestText, type ConnectionRecord, type DenialRecord, type FileRecord } from '../audit/recorder';
import type { PolicyRules } from './rules';
import type { LimitEnforcer } from './enforcer';
import type { ApiChannel, Decision } from './channel';
import { syscallName } from '../../syscalls/table';

const AT_FDCWD = -100;
const ERRNO = E as unknown as Record<string, number>;

function errnoOf(d: Decision, fallback: number): number {
  if (d.deny === undefined) return 0;
  const n = ERRNO[d.deny];
  return typeof n === 'number' && /^E[A-Z0-9]+$/.test(d.deny) ? -n : -fallback;
}

export class Watcher implements SandboxHooks {
  readonly rec = new AuditRecorder();
  private readonly writing = new WeakMap<FileDescription, FileRecord>();
  /** Write entries whose file content is still to be hashed (the inode last opened for writing under each). */
  private readonly toHash = new Map<FileRecord, Inode>();
  private readonly reading = new WeakMap<FileDescription, FileRecord>();
  private readonly sockets = new WeakMap<FileDescription, ConnectionRecord>();
  private readonly execHashes = new Map<string, { sha256: string; bytes: number } | null>();
  private readonly net: NetPolicy | null;
  private readonly warn: boolean;
  private connectDenied = false;
  peakRssBytes = 0;

  constructor(
    private readonly rules: PolicyRules | null,
    mode: 'enforce' | 'warn',
    private readonly enforcer: LimitEnforcer,
    private readonly api: ApiChannel | null,
    private readonly startNs: number,
  ) {
    this.warn = mode === 'warn';
    this.net = rules !== null && (rules.netAllow.length > 0 || rules.netDeny.length > 0) ? new NetPolicy(rules.netAllow, rules.netDeny) : null;
  }

  private ms(t: Task): number {
    return Math.max(0, Math.round((t.kernel.nowNs() - this.startNs) / 1e6));
  }

  /** Records a denial; true if the call is to fail (enforce mode). */
  private denied(d: Omit<DenialRecord, 'action'>): boolean {
    this.rec.deny({ ...d, action: this.warn ? 'warned' : 'denied' });
    return !this.warn;
  }

  /** Absolute guest path of `p` as the task would resolve its start (not symlinks). */
  private abs(t: Task, dirfd: number, p: string): string {
    if (p.charCodeAt(0) === 47 && isNormal(p)) return p;
    if (p.startsWith('/')) return path.posix.normalize(p);
    const vfs = t.kernel.vfs;
    let base = '/';
    if (dirfd === AT_FDCWD) base = vfs.pathOf(t.fsCtx.root, t.fsCtx.cwd);
    else {
      const f = t.fdTable.get(dirfd);
      if (f?.dentry) base = vfs.pathOf(t.fsCtx.root, f.dentry);
    }
    return path.posix.normalize(path.posix.join(base, p));
  }

  // ---- processes ----

  syscall(t: Task, nr: number): number {
    this.rec.syscalls[nr]++;
    const r = this.rules;
    if (r !== null && r.denySyscalls && nr >= 0 && nr < 512 && r.syscallDeny[nr] !== 0) {
      const errno = r.syscallDeny[nr];
      if (this.denied({ pid: t.tg.pid, kind: 'syscall', target: syscallName(nr), errno: E.errnoName(-errno) })) return errno;
    }
    return 0;
  }

  fork(parent: ThreadGroup, child: ThreadGroup): void {
    const p = this.rec.processes.get(parent.pid);
    this.rec.processes.set(child.pid, {
      pid: child.pid, ppid: parent.pid, argv: p?.argv ?? child.argv.map(guestText), exe: p?.exe ?? guestText(child.exePath),
      exitCode: null, signal: null, cpuMs: 0, startMs: Math.round((child.startTimeNs - this.startNs) / 1e6), endMs: null,
    });
  }

  exec(t: Task, exe: string, argv: readonly string[], scripts: readonly string[]): number {
    let errno = 0;
    if (this.rules !== null) {
      // Every file of the chain is checked: a #! script as well as its interpreter.
      for (const p of scripts.length === 0 ? [exe] : [...scripts.map((s) => this.abs(t, AT_FDCWD, s)), exe]) {
        const e = this.rules.execErrno(p);
        if (e !== 0 && this.denied({ pid: t.tg.pid, kind: 'exec', target: guestText(p), errno: E.errnoName(-e) })) {
          errno = e;
          break;
        }
      }
    }
    if (errno === 0 && this.api !== null && this.api.hooked.has('exec')) {
      const d = this.api.ask({ ev: 'exec', pid: t.tg.pid, path: guestText(exe), argv: argv.map(guestText) });
      const e = errnoOf(d, E.EACCES);
      if (e !== 0 && this.denied({ pid: t.tg.pid, kind: 'exec', target: guestText(exe), errno: E.errnoName(-e) })) errno = e;
    } else if (this.api !== null) {
      this.api.send({ ev: 'exec', pid: t.tg.pid, path: guestText(exe), argv: argv.map(guestText), result: errno });
    }
    return errno;
  }

  execDone(t: Task, exe: string, scripts: readonly string[]): void {
    const tg = t.tg;
    let p = this.rec.processes.get(tg.pid);
    if (p === undefined) {
      p = { pid: tg.pid, ppid: tg.parent?.pid ?? 0, argv: [], exe: '', exitCode: null, signal: null, cpuMs: 0, startMs: this.ms(t), endMs: null };
      this.rec.processes.set(tg.pid, p);
    }
    p.argv = tg.argv.map(guestText);
    p.exe = guestText(exe);
    // Hashed again whenever the file changed (a guest may replace a binary between two
    // execs of one path): the cache is keyed by the file's identity and version.
    for (const p of [...scripts, exe]) {
      const h = this.execHash(t, p);
      const f = this.rec.file(this.abs(t, AT_FDCWD, p), 'exec', h?.sha256 ?? '');
      f.count++;
      if (h !== null) {
        f.sha256 = h.sha256;
        f.bytes = h.bytes;
      }
    }
  }

  private execHash(t: Task, exe: string): { sha256: string; bytes: number } | null {
    const f = t.kernel.vfs.open(t, AT_FDCWD, exe, O_RDONLY, 0);
    if (typeof f === 'number') return null;
    try {
      const st = f.stat();
      if (typeof st === 'number') return null;
      const key = `${st.dev}:${st.ino}:${st.size}:${st.mtimeSec}.${st.mtimeNsec}:${exe}`;
      let h = this.execHashes.get(key);
      if (h === undefined) {
        const hostKey = hostFileKey(f.inode, st);
        h = hostKey === null ? undefined : hostExecHashes.get(hostKey);
        if (h === undefined) {
          h = st.size <= MAX_HASHED ? hashFile(f) : null;
          if (hostKey !== null) rememberHostHash(hostKey, h);
        }
        this.execHashes.set(key, h);
      }
      return h;
    } finally {
      f.decRef();
    }
  }

  exit(tg: ThreadGroup, status: number): void {
    this.enforcer.processExited(tg);
    const p = this.rec.processes.get(tg.pid);
    const c = processCpu(tg);
    const u = processUsage(tg);
    this.peakRssBytes = Math.max(this.peakRssBytes, u.maxRssKb * 1024);
    if (p === undefined) return;
    const sig = status & 0x7f;
    p.exitCode = sig === 0 ? (status >> 8) & 0xff : null;
    p.signal = sig === 0 ? null : sig;
    p.cpuMs = Math.round((c.userNs + c.sysNs) / 1e6);
    p.endMs = Math.round((tg.kernel.nowNs() - this.startNs) / 1e6);
  }

  // ---- files ----

  open(t: Task, dirfd: number, p: string, flags: number): number | string {
    const r = this.rules;
    let abs: string | null = null;
    if (r !== null && r.hide.length > 0) {
      abs = this.abs(t, dirfd, p);
      if (r.hidden(abs) && this.denied({ pid: t.tg.pid, kind: 'open', target: guestText(abs), errno: 'ENOENT' })) return -E.ENOENT;
    }
    let out: number | string = 0;
    if (this.api !== null && this.api.hooked.has('open')) {
      abs ??= this.abs(t, dirfd, p);
      const d = this.api.ask({ ev: 'open', pid: t.tg.pid, path: guestText(abs), flags });
      const e = errnoOf(d, E.EACCES);
      if (e !== 0) {
        if (this.denied({ pid: t.tg.pid, kind: 'open', target: guestText(abs), errno: E.errnoName(-e) })) return e;
      } else if (typeof d.path === 'string' && d.path.startsWith('/')) {
        out = Buffer.from(d.path, 'utf8').toString('latin1');
      }
    }
    return out;
  }

  opened(t: Task, dirfd: number, p: string, flags: number, result: number): void {
    const created = (flags & O_CREAT) !== 0 && t.kernel.vfs.lastOpenCreated;
    if (this.api !== null && !this.api.hooked.has('open')) {
      this.api.send({ ev: 'open', pid: t.tg.pid, path: guestText(this.abs(t, dirfd, p)), flags, result });
    }
    if (result < 0) return;
    const f = t.fdTable.get(result);
    const where = f?.dentry ? t.kernel.vfs.pathOf(t.fsCtx.root, f.dentry) : this.abs(t, dirfd, p);
    if (created) this.rec.file(where, 'create').count++;
    const acc = flags & O_ACCMODE;
    if (acc !== O_WRONLY && f !== undefined) {
      const rd = this.rec.file(where, 'read');
      rd.count++;
      this.reading.set(f, rd);
    }
    if (acc !== O_RDONLY && f !== undefined) {
      const w = this.rec.file(where, 'write');
      w.count++;
      this.writing.set(f, w);
      this.toHash.set(w, f.inode);
    }
  }

  read(_t: Task, f: FileDescription, n: number): void {
    const r = this.reading.get(f);
    if (r !== undefined) r.bytes += n;
  }

  wrote(_t: Task, f: FileDescription, n: number): void {
    const w = this.writing.get(f);
    if (w !== undefined) {
      w.bytes += n;
      return;
    }
    const c = this.sockets.get(f);
    if (c !== undefined) c.bytesSent += n;
  }

  mappedShared(_t: Task, f: FileDescription): void {
    const w = this.writing.get(f);
    if (w !== undefined) this.toHash.set(w, f.inode);
  }

  /**
   * A file is about to be removed (unlink, or renamed onto): if the guest wrote it, its
   * content is taken now, while it still exists (small files are kept and hashed at the
   * end, so a loop that writes and removes one path pays a copy, not a hash, each time).
   */
  removing(t: Task, dirfd: number, p: string): void {
    if (this.toHash.size === 0) return;
    const w = this.rec.written(this.abs(t, dirfd, p));
    if (w === undefined) return;
    const inode = this.toHash.get(w);
    if (inode === undefined) return;
    this.toHash.delete(w);
    const c = contentOf(inode, KEEP_MAX);
    if (c === null) return;
    if (c.data !== null) this.kept.set(w, c.data);
    else {
      this.kept.delete(w);
      w.sha256 = c.sha256;
    }
  }
  /** Content of removed small files, hashed when the report is made. */
  private readonly kept = new Map<FileRecord, Buffer>();

  /** Before the report: every written file's sha256 from its content (now, or as it was when removed). */
  hashWritten(): void {
    for (const [w, data] of this.kept) w.sha256 = createHash('sha256').update(data).digest('hex');
    this.kept.clear();
    for (const [w, inode] of this.toHash) {
      const c = contentOf(inode, 0);
      if (c !== null) w.sha256 = c.sha256;
    }
    this.toHash.clear();
  }

  removed(t: Task, dirfd: number, p: string, result: number): void {
    if (result === 0) this.rec.file(this.abs(t, dirfd, p), 'delete').count++;
  }

  // ---- network ----

  connect(t: Task, addr: Uint8Array): number | Uint8Array {
    this.connectDenied = false;
    const a = describeAddr(Buffer.from(addr));
    if (a === null) return 0;
    if (this.net !== null && a.family !== 'unix') {
      const ip = decodeInet(Buffer.from(addr));
      if (typeof ip !== 'number' && !this.net.permits(ip.ip, ip.port)) {
        this.connectDenied = true;
        if (this.denied({ pid: t.tg.pid, kind: 'connect', target: `${a.address}:${a.port}`, errno: 'ECONNREFUSED' })) return -E.ECONNREFUSED;
      }
    }
    if (this.api !== null && this.api.hooked.has('connect')) {
      const d = this.api.ask({ ev: 'connect', pid: t.tg.pid, ...a });
      const e = errnoOf(d, E.ECONNREFUSED);
      if (e !== 0) {
        this.connectDenied = true;
        if (this.denied({ pid: t.tg.pid, kind: 'connect', target: `${a.address}:${a.port}`, errno: E.errnoName(-e) })) return e;
      } else if (a.family !== 'unix' && (d.address !== undefined || d.port !== undefined)) {
        const to = rewriteInet(Buffer.from(addr), d.address, d.port);
        if (to !== null) return to;
      }
    }
    return 0;
  }

  connected(t: Task, sock: FileDescription, addr: Uint8Array, result: number): void {
    const a = describeAddr(Buffer.from(addr));
    if (a === null) return;
    const denied = this.connectDenied && !this.warn;
    this.connectDenied = false;
    const ok = result === 0 || result === -E.EINPROGRESS;
    const c: ConnectionRecord = {
      pid: t.tg.pid, ...a, outcome: denied ? 'denied' : ok ? 'allowed' : 'failed', bytesSent: 0,
      ...(ok ? {} : { errno: E.errnoName(-result) }),
    };
    this.rec.connections.push(c);
    if (ok) this.sockets.set(sock, c);
    if (this.api !== null && !this.api.hooked.has('connect')) this.api.send({ ev: 'connect', pid: t.tg.pid, ...a, result });
  }

  // ---- limits ----

  limit(name: LimitName): void {
    this.enforcer.reached(name);
  }
}

function describeAddr(b: Buffer): { family: ConnectionRecord['family']; address: string; port: number } | null {
  if (b.length < 2) return null;
  const fam = b.readUInt16LE(0);
  if (fam === 1) {
    const u = decodeUnix(b);
    if (typeof u === 'number' || u === 'autobind') return null;
    const address = u.kind === 'path' ? guestText(u.path) : u.kind === 'abstract' ? '@' + u.name.toString('latin1') : '';
    return { family: 'unix', address, port: 0 };
  }
  if (fam !== 2 && fam !== 10) return null;
  const a = decodeInet(b);
  if (typeof a === 'number') return null;
  return { family: isV4(a.ip) ? 'ipv4' : 'ipv6', address: fmt(a.ip), port: a.port };
}

/** A sockaddr_in/in6 with another address and/or port (the API's onConnect rewrite); null if the address does not parse. */
function rewriteInet(orig: Buffer, address: string | undefined, port: number | undefined): Buffer | null {
  const out = Buffer.from(orig);
  const fam = out.readUInt16LE(0);
  if (port !== undefined) {
    if (!(Number.isInteger(port) && port > 0 && port < 65536)) return null;
    out.writeUInt16BE(port, 2);
  }
  if (address !== undefined) {
    const ip = parseIp(address);
    if (ip === null) return null;
    if (fam === 2) {
      if (!isV4(ip)) return null;
      ip.copy(out, 4, 12, 16);
    } else {
      ip.copy(out, 8, 0, 16);
    }
  }
  return out;
}

/**
 * Executables' hashes kept across the sandboxes of one process (a `serve --reuse` worker:
 * /bin/true's ld.so, libc and binary were hashed at every request). Only files of a host
 * tree given read-only, by the host's identity and ctime, which no guest can set back: a
 * sandbox's own files (tmpfs, the overlay's upper layer, a writable bind) may repeat an
 * identity in the next sandbox, and stay in the per-sandbox cache above.
 */
const hostExecHashes = new Map<string, { sha256: string; bytes: number } | null>();
const HOST_HASHES_MAX = 512;

function hostFileKey(inode: Inode, st: Stat): string | null {
  if (!(inode instanceof HostInode) || !inode.fs.hostReadonly || inode.hostIno < 0) return null;
  return `${inode.hostDev}:${inode.hostIno}:${st.size}:${st.mtimeSec}.${st.mtimeNsec}:${st.ctimeSec}.${st.ctimeNsec}`;
}

function rememberHostHash(key: string, h: { sha256: string; bytes: number } | null): void {
  if (hostExecHashes.size >= HOST_HASHES_MAX) hostExecHashes.delete(hostExecHashes.keys().next().value as string);
  hostExecHashes.set(key, h);
}

/** Executables larger than this are recorded without a hash (reading them would stall the Sentry). */
const MAX_HASHED = 1 << 30;

/** Removed files up to this size are copied and hashed at the end; larger ones are hashed at once. */
const KEEP_MAX = 64 * 1024;
const keepScratch = Buffer.alloc(KEEP_MAX + 1);

/** An absolute path with no empty, '.' or '..' component and no trailing slash (normalize would return it as is). */
function isNormal(p: string): boolean {
  const n = p.length;
  if (n > 1 && p.charCodeAt(n - 1) === 47) return false;
  for (let i = 0; i < n; i++) {
    if (p.charCodeAt(i) !== 47) continue;
    const c = p.charCodeAt(i + 1);
    if (c === 47) return false;
    if (c === 46) {
      const d = p.charCodeAt(i + 2);
      if (d === 47 || Number.isNaN(d) || (d === 46 && (i + 3 === n || p.charCodeAt(i + 3) === 47))) return false;
    }
  }
  return true;
}

/**
 * A file's content, read through a fresh read-only description of its inode: a copy if
 * it is at most `keep` bytes, else its sha256. Null if it cannot be read (gone, not a file).
 */
function contentOf(inode: Inode, keep: number): { data: Buffer | null; sha256: string } | null {
  if ((inode.mode & 0o170000) !== 0o100000) return null;
  const f = inode.open(O_RDONLY);
  if (typeof f === 'number') return null;
  try {
    if (keep > 0) {
      const b = keepScratch.subarray(0, keep + 1);
      const n = f.pread(b, 0);
      if (n >= 0 && n <= keep) {
        const data = Buffer.allocUnsafe(n);
        b.copy(data, 0, 0, n);
        return { data, sha256: '' };
      }
    }
    const h = hashFile(f);
    return h === null ? null : { data: null, sha256: h.sha256 };
  } finally {
    f.decRef();
  }
}

/** sha256 and size of an open guest file (null if it cannot be read). */
function hashFile(f: FileDescription): { sha256: string; bytes: number } | null {
  const h = createHash('sha256');
  const buf = Buffer.alloc(1 << 16);
  let pos = 0;
  for (;;) {
    const n = f.pread(buf, pos);
    if (n < 0) return null;
    if (n === 0) break;
    h.update(buf.subarray(0, n));
    pos += n;
  }
  return { sha256: h.digest('hex'), bytes: pos };
}
