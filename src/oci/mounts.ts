/**
 * config.json's mounts other than binds, in config order, and the binds they cover.
 * createVfs (fs/rootfs) attaches every live bind first (the Gofer is started with all
 * their roots at once); runc mounts in config order, so a bind listed after a tmpfs
 * that covers its destination is inside that tmpfs. Each bind listed later than a
 * mount above it is detached and attached again on top (its mount point made in the
 * new filesystem, as runc makes it). Binds of devices and fifos become nodes (`node`).
 */
import * as fs from 'fs';
import * as path from 'path';
import { Tmpfs } from '../../fs/fsimpl/tmpfs/tmpfs';
import { Credentials } from '../auth/credentials';
import { S_IFMT, S_IFCHR, S_IFBLK, S_IFIFO, S_IFSOCK, makedev, devMajor, devMinor } from '../abi/fs';
import type { createVfs } from '../../fs/rootfs/create';
import type { Task } from '../kernel/task';
import { setupFail } from './process-setup';
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

  /**
   * A bind of a device or a fifo: a node of the sandbox's own at the destination (what
   * stood there goes, as a bind covers it). A device node is served by the Sentry's own
   * device of that number (fs/fsimpl/dev: /dev/null, /dev/zero, ... ; others ENXIO), never
   * by the host's; a fifo is a new one, not joined to the host's.
   */
  node(b: NodeBind): void {
    if (b.type === S_IFSOCK) setupFail(`mount source ${b.src}: a socket cannot be bound into the sandbox`);
    const vfs = this.vfs;
    // As root (pid 1 may be any user) and without its umask: the node keeps the source's mode.
    const c = { fsCtx: vfs.rootContext(), creds: new Credentials(0, 0), fdTable: this.init.fdTable };
    c.fsCtx.umask = 0;
    let dir = '';
    for (const part of path.posix.dirname(b.dst).split('/').filter(Boolean)) vfs.mkdir(c, -100, (dir += '/' + part), 0o755);
    const was = vfs.lookup(c, -100, b.dst, false);
    if (typeof was !== 'number') {
      const st = was.inode.stat();
      if (typeof st !== 'number' && (st.mode & S_IFMT) === b.type && st.rdev === b.rdev && b.type !== S_IFIFO) return;
      const r = vfs.unlink(c, -100, b.dst);
      if (r < 0) setupFail(`cannot bind ${b.src} over ${b.dst} (errno ${-r})`);
    }
    const r = vfs.mknod(c, -100, b.dst, b.type | b.perm, b.rdev);
    if (r < 0) setupFail(`cannot bind ${b.src} at ${b.dst} (errno ${-r})`);
  }
}

/** A bind whose source is neither a directory nor a regular file (sandbox.ts build). */
export interface NodeBind {
  src: string;
  dst: string;
  /** S_IFCHR, S_IFBLK, S_IFIFO or S_IFSOCK. */
  type: number;
  perm: number;
  /** The device number as the guest sees it (Linux's encoding), 0 but for devices. */
  rdev: number;
}

export function nodeBind(src: string, dst: string, st: fs.Stats): NodeBind {
  const type = st.mode & S_IFMT;
  const dev = type === S_IFCHR || type === S_IFBLK;
  // Node's rdev is glibc's dev_t: its low 32 bits are Linux's encoding for majors < 4096.
  return { src, dst: path.posix.normalize(dst), type, perm: st.mode & 0o7777, rdev: dev ? makedev(devMajor(st.rdev % 2 ** 32), devMinor(st.rdev % 2 ** 32)) : 0 };
}
