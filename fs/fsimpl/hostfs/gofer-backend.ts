/**
 * HostBackend over the gofer: the Sentry asks, the gofer process opens and answers
 * (src/gofer/). A dead gofer makes every call fail with EIO.
 */
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

  private simple(op: Op, rel: string, p2 = '', mode = 0, aux = 0, a = 0, b = 0): number {
    const r = this.c.call(op, this.mount, rel, p2, 0, mode, aux, a, b);
    return r < 0 ? r : 0;
  }

  lstat(rel: string): Stat | number {
    const r = this.c.call(Op.Lstat, this.mount, rel);
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
      const r = this.c.call(Op.Readdir, this.mount, rel, '', 0, 0, 0, out.length);
      if (r < 0) return r;
      if (r === 0) return out;
      const p = this.c.payload;
      for (let off = 0; off + 14 <= p.length; ) {
        const nb = p.readUInt16LE(off + 12);
        out.push({ ino: p.readDoubleLE(off), mode: p.readUInt32LE(off + 8), name: p.toString('latin1', off + 14, off + 14 + nb) });
        off += 14 + nb;
      }
    }
  }
  readlink(rel: string): string | number {
    const r = this.c.call(Op.Readlink, this.mount, rel);
    return r < 0 ? r : this.c.payload.toString('latin1');
  }
  open(rel: string, flags: number, mode: number): number {
    const r = this.c.call(Op.Open, this.mount, rel, '', flags, mode);
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
    const r = this.c.call(Op.Statfs, this.mount, '');
    if (r < 0) return r;
    const p = this.c.payload;
    return [0, 1, 2, 3, 4, 5].map((i) => p.readDoubleLE(i * 8));
  }
}
