/**
 * HostBackend over the gofer: the Sentry asks, the gofer process opens and answers
 * (src/gofer/). A dead gofer makes every call fail with EIO. No failure of the gofer
 * or of its transport surfaces as an exception: every call goes through `call`, which
 * turns anything thrown into EIO, and every reply's payload is checked before it is
 * parsed (a short or garbled reply is EIO, never a RangeError).
 */
import * as nfs from 'fs';
import * as E from '../../../src/abi/errno';
import { GoferClient } from '../../../src/gofer/client';
import { Op, FIELDS } from '../../../src/gofer/protocol';
import { emptyStat, type Stat } from '../../vfs/inode';
import type { HostBackend, HostDirent } from './host-backend';

export class GoferBackend implements HostBackend {
  constructor(
    private readonly c: GoferClient,
    /** Index of this root in the gofer's mount list. */
    private readonly mount: number,
    readonly root: string,
  ) {}

  get dead(): boolean {
    return this.c.dead;
  }

  /** Room for the two NUL-terminated paths in one request (the client's buffer). */
  private static readonly PATHS_MAX = 2 * 4096 + 16 - 2;

  /**
   * One request: -ENAMETOOLONG when the paths do not fit a request (they would be cut
   * short, naming another file), -EIO for anything the transport throws.
   */
  private call(op: Op, p1: string, p2 = '', flags = 0, mode = 0, aux = 0, a = 0, b = 0): number {
    if (p1.length + p2.length > GoferBackend.PATHS_MAX) return -E.ENAMETOOLONG; // latin1: a char a byte
    try {
      const r = this.c.call(op, this.mount, p1, p2, flags, mode, aux, a, b);
      // An fd only rides with a successful Open: any other is closed, not leaked.
      if (this.c.fd >= 0 && (op !== Op.Open || r < 0)) {
        try { nfs.closeSync(this.c.fd); } catch { /* gone */ }
        this.c.fd = -1;
      }
      return Number.isInteger(r) ? r : -E.EIO;
    } catch {
      return -E.EIO;
    }
  }

  private simple(op: Op, rel: string, p2 = '', mode = 0, aux = 0, a = 0, b = 0): number {
    const r = this.call(op, rel, p2, 0, mode, aux, a, b);
    return r < 0 ? r : 0;
  }

  lstat(rel: string): Stat | number {
    const r = this.call(Op.Lstat, rel);
    if (r < 0) return r;
    const p = this.c.payload;
    if (p.length < FIELDS.length * 8) return -E.EIO;
    const st = emptyStat();
    FIELDS.forEach((k, i) => (st[k] = p.readDoubleLE(i * 8)));
    return st;
  }
  readdir(rel: string): HostDirent[] | number {
    const out: HostDirent[] = [];
    for (;;) {
      const r = this.call(Op.Readdir, rel, '', 0, 0, 0, out.length);
      if (r < 0) return r;
      if (r === 0) return out;
      const p = this.c.payload;
      const before = out.length;
      for (let off = 0; off + 14 <= p.length; ) {
        const nb = p.readUInt16LE(off + 12);
        if (off + 14 + nb > p.length) return -E.EIO; // a garbled reply
        out.push({ ino: p.readDoubleLE(off), mode: p.readUInt32LE(off + 8), name: p.toString('latin1', off + 14, off + 14 + nb) });
        off += 14 + nb;
      }
      if (out.length === before) return -E.EIO; // "more to come" with nothing in it: would loop
    }
  }
  readlink(rel: string): string | number {
    const r = this.call(Op.Readlink, rel);
    return r < 0 ? r : this.c.payload.toString('latin1');
  }
  open(rel: string, flags: number, mode: number): number {
    const r = this.call(Op.Open, rel, '', flags, mode);
    if (r < 0) return r;
    return this.c.fd >= 0 ? this.c.fd : -E.EIO;
  }
  mkdir(rel: string, mode: number): number {
    return this.simple(Op.Mkdir, rel, '', mode);
  }
  createExcl(rel: string, mode: number): number {
    return this.simple(Op.CreateExcl, rel, '', mode);
  }
  symlink(target: string, rel: string): number {
    return this.simple(Op.Symlink, rel, target);
  }
  link(oldRel: string, newRel: string): number {
    return this.simple(Op.Link, oldRel, newRel);
  }
  unlink(rel: string): number {
    return this.simple(Op.Unlink, rel);
  }
  rmdir(rel: string): number {
    return this.simple(Op.Rmdir, rel);
  }
  rename(oldRel: string, newRel: string): number {
    return this.simple(Op.Rename, oldRel, newRel);
  }
  chmod(rel: string, mode: number): number {
    return this.simple(Op.Chmod, rel, '', mode);
  }
  lchown(rel: string, uid: number, gid: number): number {
    return this.simple(Op.Chown, rel, '', uid, gid);
  }
  truncate(rel: string, size: number): number {
    return this.simple(Op.Truncate, rel, '', 0, 0, size);
  }
  lutimes(rel: string, atime: number, mtime: number): number {
    return this.simple(Op.Utimes, rel, '', 0, 0, atime, mtime);
  }
  statfs(): number[] | number {
    const r = this.call(Op.Statfs, '');
    if (r < 0) return r;
    const p = this.c.payload;
    if (p.length < 6 * 8) return -E.EIO;
    return [0, 1, 2, 3, 4, 5].map((i) => p.readDoubleLE(i * 8));
  }
}
