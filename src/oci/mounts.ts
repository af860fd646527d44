/**
 * config.json's mounts other than binds, in config order, and the binds they cover.
 * createVfs (fs/rootfs) attaches every live bind first (the Gofer is started with all
 * their roots at once); runc mounts in config order, so a bind listed after a tmpfs
 * that covers its destination is inside that tmpfs. Each bind listed later than a
 * mount above it is detached and attached again on top (its mount point made in the
 * new filesystem, as runc makes it).
 */
import * as fs from 'fs';
import * as path from 'path';
import { Tmpfs } from '../../fs/fsimpl/tmpfs/tmpfs';
import { writeAll } from '../../fs/vfs/file';
import type { createVfs } from '../../fs/rootfs/create';
import type { Task } from '../kernel/task';
import { setupFail, mkdirp } from './process-setup';
import type { Mount } from './spec-types';

type Vfs = ReturnType<typeof createVfs>;

export class ContainerMounts {
  constructor(
    private readonly vfs: Vfs,
    private readonly init: Task,
    /** Config index of each bind, by its (normalised) destination. */
    private readonly bindIndex: Map<string, number>,
    private readonly log: (m: string) => void,
  ) {}

  /** Mounts m (config index `index`) at its destination. */
  mountOne(m: Mount, index: number): void {
    const vfs = this.vfs;
    const type = m.type ?? '';
    const dst = path.posix.normalize(m.destination);
    const opts = m.options ?? [];
    // What the Sentry provides already at its usual place.
    const provided: Record<string, string> = { proc: '/proc', sysfs: '/sys', devpts: '/dev/pts', tmpfs: '/dev' };
    if (provided[type] === dst) return;
    if (type === 'tmpfs') {
      const modeOpt = opts.find((o) => o.startsWith('mode='));
      const mode = modeOpt ? parseInt(modeOpt.slice(5), 8) : 0o1777;
      const fsys = new Tmpfs({ mode });
      if (opts.includes('ro')) fsys.readonly = true;
      const r = vfs.mountAt(dst, fsys, opts.filter((o) => o !== 'ro' && o !== 'rw').join(','));
      if (r < 0) setupFail(`cannot mount tmpfs at ${dst} (errno ${-r})`);
      this.bindsAbove(dst, index);
      return;
    }
    const make = vfs.fsTypes.get(type);
    if (!make) {
      this.log(`mount type ${type} at ${dst} not supported: skipped`);
      return;
    }
    const fsys = make(m.source ?? type);
    if (typeof fsys === 'number') setupFail(`cannot make a ${type} filesystem for ${dst} (errno ${-fsys})`);
    if (opts.includes('ro')) fsys.readonly = true;
    const r = vfs.mountAt(dst, fsys, '');
    if (r < 0) setupFail(`cannot mount ${type} at ${dst} (errno ${-r})`);
    this.bindsAbove(dst, index);
  }

  /** The binds below dst that config.json lists after the mount at dst: on top again. */
  private bindsAbove(dst: string, index: number): void {
    const vfs = this.vfs;
    const prefix = dst === '/' ? '/' : `${dst}/`;
    for (const b of vfs.mounts.filter((x) => x.path.startsWith(prefix) && (this.bindIndex.get(x.path) ?? -1) > index)) {
      if (vfs.detach(b.root) < 0) continue;
      const r = vfs.mountAt(b.path, b.fs, b.options, b.root.inode);
      if (r < 0) setupFail(`cannot mount the bind at ${b.path} inside ${dst} (errno ${-r})`);
      vfs.mounts[vfs.mounts.length - 1].locked = b.locked;
    }
  }

  /** A bind of something that is neither a directory nor a regular file: its content, copied at create time. */
  copyFile(src: string, dst: string): void {
    let data: Buffer;
    try {
      data = fs.readFileSync(src);
    } catch (e) {
      setupFail(`mount source ${src}: ${(e as Error).message}`);
    }
    const vfs = this.vfs;
    mkdirp(vfs, this.init, path.posix.dirname(dst));
    const f = vfs.open(this.init, -100, dst, 0o1 | 0o100 | 0o1000 /* O_WRONLY|O_CREAT|O_TRUNC */, 0o644);
    if (typeof f === 'number') {
      this.log(`cannot write ${dst} (errno ${-f}): bind of ${src} skipped`);
      return;
    }
    writeAll(f, data);
    f.decRef();
  }
}
