/**
 * Ancillary data (struct cmsghdr) of sendmsg/recvmsg: SCM_RIGHTS and SCM_CREDENTIALS
 * for unix sockets. Parsing takes a reference on each passed file; building installs
 * received files in the receiver's fd table (dropping what does not fit: MSG_CTRUNC).
 */
import * as E from '../abi/errno';
import type { Task } from '../kernel/task';
import type { FileDescription } from '../../fs/vfs/file';
import { limitsOf, RLIMIT_NOFILE } from '../kernel/limits';
import { SOL_SOCKET, SCM_RIGHTS, SCM_CREDENTIALS, SCM_MAX_FD, MSG_CTRUNC, AF_UNIX } from '../abi/socket';
import type { Creds } from './packet';
import { ownCapable, CAP_SETGID, CAP_SETUID, CAP_SYS_ADMIN } from '../auth/capabilities';

const HDR = 16;
const align8 = (n: number) => (n + 7) & ~7;

export interface SendControl {
  rights: FileDescription[] | null;
  creds: Creds | null;
  /** IP-level cmsgs of an inet socket (level, type, payload), for whoever sends (host mode). */
  ip?: Array<[number, number, Buffer]> | null;
}

/** Drops the references parse() took. */
export function releaseControl(c: SendControl): void {
  if (c.rights !== null) for (const f of c.rights) f.decRef();
  c.rights = null;
}

/** Parses msg_control for a socket of `domain`; -errno on malformed or refused content. */
export function parseControl(t: Task, domain: number, buf: Buffer): SendControl | number {
  const out: SendControl = { rights: null, creds: null };
  let off = 0;
  while (off + HDR <= buf.length) {
    const len = Number(buf.readBigUInt64LE(off));
    const level = buf.readInt32LE(off + 8);
    const type = buf.readInt32LE(off + 12);
    if (len < HDR || off + len > buf.length) {
      releaseControl(out);
      return -E.EINVAL;
    }
    const data = buf.subarray(off + HDR, off + len);
    if (level === SOL_SOCKET) {
      if (domain !== AF_UNIX) {
        releaseControl(out);
        return -E.EINVAL;
      }
      if (type === SCM_RIGHTS) {
        const n = data.length >> 2;
        if (out.rights !== null || n > SCM_MAX_FD) {
          releaseControl(out);
          return -E.EINVAL;
        }
        const files: FileDescription[] = [];
        for (let i = 0; i < n; i++) {
          const f = t.fdTable.get(data.readInt32LE(i * 4));
          if (f === undefined) {
            for (const g of files) g.decRef();
            releaseControl(out);
            return -E.EBADF;
          }
          files.push(f.incRef());
        }
        out.rights = files.length > 0 ? files : null;
      } else if (type === SCM_CREDENTIALS) {
        if (data.length < 12) {
          releaseControl(out);
          return -E.EINVAL;
        }
        const c: Creds = { pid: data.readInt32LE(0), uid: data.readUInt32LE(4), gid: data.readUInt32LE(8) };
        // scm_check_creds: another identity needs CAP_SYS_ADMIN (pid), CAP_SETUID, CAP_SETGID.
        const cr = t.creds;
        const okPid = c.pid === t.tg.pid || ownCapable(cr, CAP_SYS_ADMIN);
        const okUid = c.uid === cr.uid || c.uid === cr.euid || c.uid === cr.suid || ownCapable(cr, CAP_SETUID);
        const okGid = c.gid === cr.gid || c.gid === cr.egid || c.gid === cr.sgid || ownCapable(cr, CAP_SETGID);
        if (!okPid || !okUid || !okGid) {
          releaseControl(out);
          return -E.EPERM;
        }
        out.creds = c;
      } else {
        releaseControl(out);
        return -E.EINVAL;
      }
    } else if (domain !== AF_UNIX) {
      (out.ip ??= []).push([level, type, Buffer.from(data)]);
    }
    off += align8(len);
  }
  return out;
}

/** What recvmsg writes back: the control bytes, and MSG_CTRUNC when something did not fit. */
export interface BuiltControl {
  bytes: Buffer;
  msgFlags: number;
}

function cmsg(level: number, type: number, data: Buffer, room: number): Buffer {
  const full = align8(HDR + data.length);
  const b = Buffer.alloc(Math.min(full, room));
  const h = Buffer.alloc(HDR + data.length);
  h.writeBigUInt64LE(BigInt(HDR + data.length), 0);
  h.writeInt32LE(level, 8);
  h.writeInt32LE(type, 12);
  data.copy(h, HDR);
  h.copy(b, 0, 0, b.length);
  return b;
}

/**
 * Builds the control data for a receive into a buffer of `room` bytes. Creds come first
 * (as Linux's scm_recv), then the fds, installed with O_CLOEXEC when asked.
 */
/** IP-level ancillary data a datagram carries: (level, type, payload) triples, in order. */
export type IpControl = Array<[number, number, Buffer]>;

export function buildControl(
  t: Task, room: number, creds: Creds | null, rights: FileDescription[] | null, cloexec: boolean, ip: IpControl | null = null,
): BuiltControl {
  const parts: Buffer[] = [];
  let flags = 0;
  if (ip !== null) {
    for (const [level, type, d] of ip) {
      if (room < HDR + d.length) {
        flags |= MSG_CTRUNC;
        break;
      }
      const c = cmsg(level, type, d, room);
      parts.push(c);
      room -= c.length;
    }
  }
  if (creds !== null) {
    if (room < HDR + 12) flags |= MSG_CTRUNC;
    else {
      const d = Buffer.alloc(12);
      d.writeInt32LE(creds.pid, 0);
      d.writeUInt32LE(creds.uid >>> 0, 4);
      d.writeUInt32LE(creds.gid >>> 0, 8);
      const c = cmsg(SOL_SOCKET, SCM_CREDENTIALS, d, room);
      parts.push(c);
      room -= c.length;
    }
  }
  if (rights !== null) {
    const fit = room >= HDR ? Math.min(rights.length, (room - HDR) >> 2) : 0;
    if (fit < rights.length) flags |= MSG_CTRUNC;
    const fds: number[] = [];
    t.fdTable.limit = Math.min(limitsOf(t.tg).soft(RLIMIT_NOFILE), 1 << 20);
    for (let i = 0; i < rights.length; i++) {
      if (i < fit) {
        const fd = t.fdTable.install(rights[i], cloexec);
        if (fd < 0) {
          flags |= MSG_CTRUNC;
          continue; // install dropped the reference
        }
        fds.push(fd);
      } else {
        rights[i].decRef();
      }
    }
    if (fds.length > 0) {
      const d = Buffer.alloc(fds.length * 4);
      fds.forEach((fd, i) => d.writeInt32LE(fd, i * 4));
      parts.push(cmsg(SOL_SOCKET, SCM_RIGHTS, d, room));
    }
  }
  return { bytes: parts.length === 0 ? Buffer.alloc(0) : Buffer.concat(parts), msgFlags: flags };
}
