import { describe, it, expect, beforeAll } from 'vitest';
import * as nfs from 'fs';
import type { Vfs } from '../../fs/vfs/vfs';
import { createVfs } from '../../fs/rootfs/create';
import * as rw from '../../syscalls/read-write';
import * as open from '../../syscalls/open';
import * as stat from '../../syscalls/stat';
import * as dirs from '../../syscalls/directories';
import * as attr from '../../syscalls/attributes';
import * as fdt from '../../syscalls/fd-table';
import * as pipe from '../../syscalls/pipe';
import * as eventfd from '../../syscalls/eventfd';
import * as memfd from '../../syscalls/memfd';
import * as splice from '../../syscalls/splice';
import * as sync from '../../syscalls/sync';
import * as xattr from '../../syscalls/xattr';
import * as poll from '../../syscalls/poll';
import * as epoll from '../../syscalls/epoll';
import * as mount from '../../syscalls/mount';
import * as inotify from '../../syscalls/inotify';
import { BLOCK } from '../../src/kernel/syscall-dispatch';
import { fakeTask } from './fake-task';
import { O_RDONLY, O_RDWR, O_CREAT, O_WRONLY, O_DIRECTORY, O_CLOEXEC, O_NONBLOCK, O_EXCL, AT_FDCWD } from '../../src/abi/fs';
import * as E from '../../src/abi/errno';

/** The file syscalls, one file per area in syscalls/, under one name. */
const sys = {
  ...rw, ...open, ...stat, ...dirs, ...attr, ...fdt, ...pipe, ...eventfd, ...memfd,
  ...splice, ...sync, ...xattr, ...poll, ...epoll, ...mount, ...inotify,
};

let vfs: Vfs;
beforeAll(() => {
  // A fresh tmpfs on /tmp: the host's /tmp (visible through the overlay) must not leak into results.
  vfs = createVfs({ root: '/', tmpfs: ['/tmp'] });
});

function setup() {
  const t = fakeTask(vfs);
  const m = t.mem;
  return { t, m };
}

describe('fs syscalls: files', () => {
  it('open/read/lseek/close on a host file', () => {
    const { t, m } = setup();
    const fd = sys.open(t, m.str('/etc/passwd'), O_RDONLY, 0);
    expect(fd).toBe(0);
    const buf = m.alloc(65536);
    const n = sys.read(t, fd, buf, 65536);
    const host = nfs.readFileSync('/etc/passwd');
    expect(n).toBe(host.length);
    expect(m.get(buf, n).equals(host)).toBe(true);
    expect(sys.read(t, fd, buf, 10)).toBe(0);
    expect(sys.lseek(t, fd, 5, 0)).toBe(5);
    expect(sys.read(t, fd, buf, 3)).toBe(3);
    expect(m.get(buf, 3).equals(host.subarray(5, 8))).toBe(true);
    expect(sys.lseek(t, fd, 0, 2)).toBe(host.length);
    expect(sys.lseek(t, fd, -1, 0)).toBe(-E.EINVAL);
    expect(sys.close(t, fd)).toBe(0);
    expect(sys.close(t, fd)).toBe(-E.EBADF);
    expect(sys.read(t, fd, buf, 1)).toBe(-E.EBADF);
  });

  it('bad pointers give EFAULT', () => {
    const { t, m } = setup();
    expect(sys.open(t, 8, O_RDONLY, 0)).toBe(-E.EFAULT);
    const fd = sys.open(t, m.str('/etc/passwd'), O_RDONLY, 0);
    expect(sys.read(t, fd, 8, 100)).toBe(-E.EFAULT);
    expect(sys.fstat(t, fd, 8)).toBe(-E.EFAULT);
  });

  it('struct stat layout matches the host lstat', () => {
    const { t, m } = setup();
    const buf = m.alloc(144);
    expect(sys.stat(t, m.str('/etc/passwd'), buf)).toBe(0);
    const h = nfs.statSync('/etc/passwd', { bigint: true });
    const b = m.get(buf, 144);
    expect(b.readBigUInt64LE(8)).toBe(h.ino);
    expect(b.readBigUInt64LE(16)).toBe(h.nlink);
    expect(b.readUInt32LE(24)).toBe(Number(h.mode));
    expect(b.readUInt32LE(28)).toBe(Number(h.uid));
    expect(b.readBigInt64LE(48)).toBe(h.size);
    expect(b.readBigInt64LE(64)).toBe(h.blocks);
    expect(b.readBigInt64LE(88)).toBe(h.mtimeNs / 1000000000n);
    expect(b.readBigInt64LE(96)).toBe(h.mtimeNs % 1000000000n);
    // lstat of a symlink vs stat
    const l = nfs.readdirSync('/usr/bin').map((n) => '/usr/bin/' + n).find((p) => nfs.lstatSync(p).isSymbolicLink());
    if (l) {
      expect(sys.lstat(t, m.str(l), buf)).toBe(0);
      expect(m.get(buf, 144).readUInt32LE(24)).toBe(nfs.lstatSync(l).mode);
    }
  });

  it('statx fills the mask and sizes', () => {
    const { t, m } = setup();
    const buf = m.alloc(256);
    expect(sys.statx(t, AT_FDCWD, m.str('/etc/passwd'), 0, 0x7ff, buf)).toBe(0);
    const b = m.get(buf, 256);
    expect(b.readUInt32LE(0) & 0x7ff).toBe(0x7ff);
    expect(Number(b.readBigUInt64LE(40))).toBe(nfs.statSync('/etc/passwd').size);
    expect(b.readUInt16LE(28)).toBe(nfs.statSync('/etc/passwd').mode);
  });

  it('create, write, read back, O_EXCL, unlink', () => {
    const { t, m } = setup();
    const p = m.str('/tmp/a.txt');
    const fd = sys.open(t, p, O_CREAT | O_RDWR | O_EXCL, 0o644);
    expect(fd).toBeGreaterThanOrEqual(0);
    const data = m.str('hello world');
    expect(sys.write(t, fd, data, 11)).toBe(11);
    expect(sys.pread64(t, fd, m.alloc(16), 5, 6)).toBe(5);
    expect(sys.open(t, p, O_CREAT | O_RDWR | O_EXCL, 0o644)).toBe(-E.EEXIST);
    const st = m.alloc(144);
    expect(sys.fstat(t, fd, st)).toBe(0);
    expect(m.get(st, 144).readUInt32LE(24)).toBe(0o100644);
    expect(m.get(st, 144).readBigInt64LE(48)).toBe(11n);
    expect(sys.unlink(t, p)).toBe(0);
    expect(sys.stat(t, p, st)).toBe(-E.ENOENT);
    // still readable through the open fd
    expect(sys.pread64(t, fd, m.alloc(16), 5, 0)).toBe(5);
    expect(sys.ftruncate(t, fd, 3)).toBe(0);
    expect(sys.fstat(t, fd, st)).toBe(0);
    expect(m.get(st, 144).readBigInt64LE(48)).toBe(3n);
  });

  it('umask applies to creation', () => {
    const { t, m } = setup();
    expect(sys.umask(t, 0o077)).toBe(0o022);
    const fd = sys.open(t, m.str('/tmp/umasked'), O_CREAT | O_WRONLY, 0o666);
    const st = m.alloc(144);
    sys.fstat(t, fd, st);
    expect(m.get(st, 144).readUInt32LE(24) & 0o777).toBe(0o600);
  });

  it('writes never reach the host root', () => {
    const { t, m } = setup();
    const fd = sys.open(t, m.str('/etc/tssandbox-test-file'), O_CREAT | O_WRONLY, 0o644);
    expect(fd).toBeGreaterThanOrEqual(0);
    expect(sys.write(t, fd, m.str('x'), 1)).toBe(1);
    expect(nfs.existsSync('/etc/tssandbox-test-file')).toBe(false);
    expect(sys.mkdir(t, m.str('/usr/tssandbox-dir'), 0o755)).toBe(0);
    expect(nfs.existsSync('/usr/tssandbox-dir')).toBe(false);
  });
});

describe('fs syscalls: directories and names', () => {
  it('getdents64 lists what the host has', () => {
    const { t, m } = setup();
    const fd = sys.open(t, m.str('/usr/share'), O_RDONLY | O_DIRECTORY, 0);
    expect(fd).toBeGreaterThanOrEqual(0);
    const names: string[] = [];
    const buf = m.alloc(4096);
    for (;;) {
      const n = sys.getdents64(t, fd, buf, 4096);
      expect(n).toBeGreaterThanOrEqual(0);
      if (n === 0) break;
      const b = m.get(buf, n);
      for (let off = 0; off < n; ) {
        const reclen = b.readUInt16LE(off + 16);
        const end = b.indexOf(0, off + 19);
        names.push(b.toString('utf8', off + 19, end));
        expect(reclen % 8).toBe(0);
        off += reclen;
      }
    }
    expect(names.sort()).toEqual(['.', '..', ...nfs.readdirSync('/usr/share')].sort());
    expect(sys.getdents64(t, fd, buf, 10)).toBe(0);
    sys.lseek(t, fd, 0, 0);
    expect(sys.getdents64(t, fd, buf, 10)).toBe(-E.EINVAL);
  });

  it('getcwd, chdir, relative paths', () => {
    const { t, m } = setup();
    const buf = m.alloc(256);
    expect(sys.getcwd(t, buf, 256)).toBe(2);
    expect(sys.chdir(t, m.str('/usr/share/../lib'))).toBe(0);
    expect(sys.getcwd(t, buf, 256)).toBe('/usr/lib'.length + 1);
    expect(m.readCString(buf)).toBe('/usr/lib');
    expect(sys.getcwd(t, buf, 3)).toBe(-E.ERANGE);
    expect(sys.chdir(t, m.str('/etc/passwd'))).toBe(-E.ENOTDIR);
    expect(sys.chdir(t, m.str('../..'))).toBe(0);
    expect(sys.getcwd(t, buf, 256)).toBe(2);
  });

  it('mkdir, rename, rmdir with Linux errnos', () => {
    const { t, m } = setup();
    expect(sys.mkdir(t, m.str('/tmp/d1'), 0o755)).toBe(0);
    expect(sys.mkdir(t, m.str('/tmp/d1'), 0o755)).toBe(-E.EEXIST);
    expect(sys.mkdir(t, m.str('/tmp/nope/x'), 0o755)).toBe(-E.ENOENT);
    const fd = sys.open(t, m.str('/tmp/d1/f'), O_CREAT | O_WRONLY, 0o644);
    expect(fd).toBeGreaterThanOrEqual(0);
    expect(sys.rmdir(t, m.str('/tmp/d1'))).toBe(-E.ENOTEMPTY);
    expect(sys.rename(t, m.str('/tmp/d1'), m.str('/tmp/d1/sub'))).toBe(-E.EINVAL);
    expect(sys.rename(t, m.str('/tmp/d1/f'), m.str('/tmp/g'))).toBe(0);
    expect(sys.rmdir(t, m.str('/tmp/d1'))).toBe(0);
    expect(sys.unlink(t, m.str('/tmp'))).toBe(-E.EISDIR);
    expect(sys.rmdir(t, m.str('/tmp/g'))).toBe(-E.ENOTDIR);
    expect(sys.rename(t, m.str('/tmp/g'), m.str('/dev/shm/g'))).toBe(-E.EXDEV);
    expect(sys.rmdir(t, m.str('/proc'))).toBe(-E.EBUSY);
  });

  it('rename on the overlay with copy-up and whiteouts', () => {
    const { t, m } = setup();
    expect(sys.rename(t, m.str('/etc/hosts'), m.str('/etc/hosts.moved'))).toBe(0);
    const st = m.alloc(144);
    expect(sys.stat(t, m.str('/etc/hosts'), st)).toBe(-E.ENOENT);
    expect(sys.stat(t, m.str('/etc/hosts.moved'), st)).toBe(0);
    expect(Number(m.get(st, 144).readBigInt64LE(48))).toBe(nfs.statSync('/etc/hosts').size);
    expect(sys.rename(t, m.str('/etc/hosts.moved'), m.str('/etc/hosts'))).toBe(0);
    expect(sys.stat(t, m.str('/etc/hosts'), st)).toBe(0);
    expect(sys.rename(t, m.str('/usr'), m.str('/usr2'))).toBe(-E.EXDEV);
  });

  it('symlinks and readlink, ELOOP, O_NOFOLLOW', () => {
    const { t, m } = setup();
    expect(sys.symlink(t, m.str('/etc'), m.str('/tmp/etclink'))).toBe(0);
    const st = m.alloc(144);
    expect(sys.stat(t, m.str('/tmp/etclink/passwd'), st)).toBe(0);
    const buf = m.alloc(64);
    expect(sys.readlink(t, m.str('/tmp/etclink'), buf, 64)).toBe(4);
    expect(m.get(buf, 4).toString()).toBe('/etc');
    expect(sys.readlink(t, m.str('/tmp/etclink'), buf, 2)).toBe(2);
    expect(sys.readlink(t, m.str('/etc/passwd'), buf, 64)).toBe(-E.EINVAL);
    expect(sys.open(t, m.str('/tmp/etclink'), O_RDONLY | 0o400000, 0)).toBe(-E.ELOOP);
    expect(sys.symlink(t, m.str('self'), m.str('/tmp/self'))).toBe(0);
    expect(sys.stat(t, m.str('/tmp/self'), st)).toBe(-E.ELOOP);
  });

  it('.. never leaves the sandbox root, even through symlinks', () => {
    const vfs2 = createVfs({ root: '/usr', bare: true });
    const t = fakeTask(vfs2);
    const m = t.mem;
    const st = m.alloc(144);
    expect(sys.stat(t, m.str('/../../../etc/passwd'), st)).toBe(-E.ENOENT);
    expect(sys.stat(t, m.str('/../../bin'), st)).toBe(0);
    expect(sys.symlink(t, m.str('../../../../etc'), m.str('/esc'))).toBe(0);
    expect(sys.stat(t, m.str('/esc/passwd'), st)).toBe(-E.ENOENT);
    expect(sys.symlink(t, m.str('/etc'), m.str('/esc2'))).toBe(0);
    expect(sys.stat(t, m.str('/esc2/passwd'), st)).toBe(-E.ENOENT);
  });

  it('openat2 RESOLVE_BENEATH / IN_ROOT / NO_SYMLINKS', () => {
    const { t, m } = setup();
    const dfd = sys.open(t, m.str('/etc'), O_RDONLY | O_DIRECTORY, 0);
    const how = m.alloc(24);
    const setHow = (flags: number, resolve: number) => {
      const b = Buffer.alloc(24);
      b.writeBigUInt64LE(BigInt(flags), 0);
      b.writeBigUInt64LE(BigInt(resolve), 16);
      m.write(how, b);
    };
    setHow(O_RDONLY, 0x08);
    expect(sys.openat2(t, dfd, m.str('passwd'), how, 24)).toBeGreaterThanOrEqual(0);
    expect(sys.openat2(t, dfd, m.str('../etc/passwd'), how, 24)).toBe(-E.EXDEV);
    expect(sys.openat2(t, dfd, m.str('/etc/passwd'), how, 24)).toBe(-E.EXDEV);
    setHow(O_RDONLY, 0x10);
    expect(sys.openat2(t, dfd, m.str('/passwd'), how, 24)).toBeGreaterThanOrEqual(0);
    expect(sys.openat2(t, dfd, m.str('../../passwd'), how, 24)).toBeGreaterThanOrEqual(0);
    setHow(O_RDONLY, 0x04);
    sys.symlink(t, m.str('/etc/passwd'), m.str('/tmp/pw'));
    expect(sys.openat2(t, AT_FDCWD, m.str('/tmp/pw'), how, 24)).toBe(-E.ELOOP);
    setHow(O_RDONLY, 0x100);
    expect(sys.openat2(t, dfd, m.str('passwd'), how, 24)).toBe(-E.EINVAL);
    expect(sys.openat2(t, dfd, m.str('passwd'), how, 16)).toBe(-E.EINVAL);
  });

  it('access and faccessat', () => {
    const { t, m } = setup();
    expect(sys.access(t, m.str('/etc/passwd'), 4)).toBe(0);
    expect(sys.access(t, m.str('/etc/passwd'), 1)).toBe(-E.EACCES);
    expect(sys.access(t, m.str('/bin/sh'), 1)).toBe(0);
    expect(sys.access(t, m.str('/nonexistent'), 0)).toBe(-E.ENOENT);
    expect(sys.access(t, m.str('/etc/passwd'), 8)).toBe(-E.EINVAL);
  });
});

describe('fs syscalls: fds, pipes, polling', () => {
  it('dup, dup2, dup3, fcntl', () => {
    const { t, m } = setup();
    const fd = sys.open(t, m.str('/etc/passwd'), O_RDONLY | O_CLOEXEC, 0);
    expect(sys.fcntl(t, fd, 1, 0)).toBe(1);
    const d = sys.dup(t, fd);
    expect(d).toBe(fd + 1);
    expect(sys.fcntl(t, d, 1, 0)).toBe(0);
    expect(sys.dup2(t, fd, 10)).toBe(10);
    expect(sys.dup2(t, fd, fd)).toBe(fd);
    expect(sys.dup3(t, fd, fd, 0)).toBe(-E.EINVAL);
    expect(sys.dup3(t, fd, 11, O_CLOEXEC)).toBe(11);
    expect(sys.fcntl(t, 11, 1, 0)).toBe(1);
    // shared offset
    sys.read(t, fd, m.alloc(10), 10);
    expect(sys.lseek(t, 10, 0, 1)).toBe(10);
    expect(sys.fcntl(t, fd, 0, 20)).toBe(20);
    expect(sys.fcntl(t, fd, 3, 0) & 3).toBe(O_RDONLY);
    expect(sys.fcntl(t, fd, 3, 0) & 0o100000).toBe(0o100000);
    expect(sys.fcntl(t, fd, 4, O_NONBLOCK)).toBe(0);
    expect(sys.fcntl(t, fd, 3, 0) & O_NONBLOCK).toBe(O_NONBLOCK);
    expect(sys.fcntl(t, 99, 1, 0)).toBe(-E.EBADF);
    expect(sys.close_range(t, 10, 20, 0)).toBe(0);
    expect(sys.fcntl(t, 10, 1, 0)).toBe(-E.EBADF);
  });

  it('pipe: data, EOF, EPIPE, blocking read, PIPE_BUF atomicity, F_GETPIPE_SZ', () => {
    const { t, m } = setup();
    const fds = m.alloc(8);
    expect(sys.pipe2(t, fds, 0)).toBe(0);
    const r = m.readI32(fds)!;
    const w = m.readI32(fds + 4)!;
    const buf = m.alloc(70000);
    // empty pipe, writer open: blocks
    expect(sys.read(t, r, buf, 10)).toBe(BLOCK);
    t.blocked.length = 0;
    expect(sys.write(t, w, m.str('abc'), 3)).toBe(3);
    expect(sys.read(t, r, buf, 10)).toBe(3);
    expect(sys.fcntl(t, w, 1032, 0)).toBe(65536);
    // fill the pipe: the blocking write writes what fits, then blocks
    t.sysState = undefined;
    expect(sys.write(t, w, buf, 70000)).toBe(BLOCK);
    expect((t.sysState as { done: number }).done).toBe(65536);
    t.sysState = undefined;
    // non-blocking small write on a full pipe: EAGAIN
    sys.fcntl(t, w, 4, O_NONBLOCK);
    expect(sys.write(t, w, buf, 10)).toBe(-E.EAGAIN);
    expect(sys.read(t, r, buf, 65530)).toBe(65530);
    // 6 bytes left; 4096-byte write needs atomic room: fits (65530 free)
    expect(sys.write(t, w, buf, 4096)).toBe(4096);
    expect(sys.close(t, w)).toBe(0);
    expect(sys.read(t, r, buf, 70000)).toBe(4102);
    expect(sys.read(t, r, buf, 10)).toBe(0);
    // EPIPE when readers are gone
    sys.pipe2(t, fds, 0);
    const r2 = m.readI32(fds)!;
    const w2 = m.readI32(fds + 4)!;
    sys.close(t, r2);
    expect(sys.write(t, w2, buf, 1)).toBe(-E.EPIPE);
    expect(t.signals).toEqual([13]);
    expect(sys.pipe2(t, fds, 0x1)).toBe(-E.EINVAL);
  });

  it('poll on pipes', () => {
    const { t, m } = setup();
    const fds = m.alloc(8);
    sys.pipe(t, fds);
    const r = m.readI32(fds)!;
    const w = m.readI32(fds + 4)!;
    const pfd = m.alloc(16);
    const b = Buffer.alloc(16);
    b.writeInt32LE(r, 0);
    b.writeInt16LE(1, 4);
    b.writeInt32LE(w, 8);
    b.writeInt16LE(4, 12);
    m.write(pfd, b);
    expect(sys.poll(t, pfd, 2, 0)).toBe(1);
    expect(m.get(pfd, 16).readInt16LE(6)).toBe(0);
    expect(m.get(pfd, 16).readInt16LE(14)).toBe(4);
    // only the reader, infinite timeout: blocks
    t.sysState = undefined;
    expect(sys.poll(t, pfd, 1, -1)).toBe(BLOCK);
    t.sysState = undefined;
    sys.write(t, w, m.str('x'), 1);
    expect(sys.poll(t, pfd, 1, -1)).toBe(1);
    expect(m.get(pfd, 16).readInt16LE(6)).toBe(1);
    sys.close(t, w);
    sys.read(t, r, m.alloc(4), 4);
    expect(sys.poll(t, pfd, 1, 0)).toBe(1);
    expect(m.get(pfd, 16).readInt16LE(6)).toBe(0x10);
  });

  it('select on a pipe', () => {
    const { t, m } = setup();
    const fds = m.alloc(8);
    sys.pipe(t, fds);
    const r = m.readI32(fds)!;
    const w = m.readI32(fds + 4)!;
    const rs = m.alloc(8);
    const ws = m.alloc(8);
    const tv = m.alloc(16);
    m.write(tv, Buffer.alloc(16));
    const set = (a: number, fd: number) => {
      const b = Buffer.alloc(8);
      b[fd >> 3] |= 1 << (fd & 7);
      m.write(a, b);
    };
    set(rs, r);
    set(ws, w);
    expect(sys.select(t, w + 1, rs, ws, 0, tv)).toBe(1);
    expect(m.get(rs, 8).readBigUInt64LE(0)).toBe(0n);
    expect(m.get(ws, 8)[w >> 3] & (1 << (w & 7))).toBeTruthy();
    set(rs, 60);
    expect(sys.select(t, 61, rs, 0, 0, tv)).toBe(-E.EBADF);
  });

  it('epoll level, edge, oneshot', () => {
    const { t, m } = setup();
    const fds = m.alloc(8);
    sys.pipe(t, fds);
    const r = m.readI32(fds)!;
    const w = m.readI32(fds + 4)!;
    const ep = sys.epoll_create1(t, O_CLOEXEC);
    expect(ep).toBeGreaterThanOrEqual(0);
    const ev = m.alloc(12);
    const e = Buffer.alloc(12);
    e.writeUInt32LE(1, 0);
    e.writeBigUInt64LE(0x1122334455667788n, 4);
    m.write(ev, e);
    expect(sys.epoll_ctl(t, ep, 1, r, ev)).toBe(0);
    expect(sys.epoll_ctl(t, ep, 1, r, ev)).toBe(-E.EEXIST);
    const file = sys.open(t, m.str('/etc/passwd'), O_RDONLY, 0);
    expect(sys.epoll_ctl(t, ep, 1, file, ev)).toBe(-E.EPERM);
    const out = m.alloc(120);
    expect(sys.epoll_wait(t, ep, out, 10, 0)).toBe(0);
    t.sysState = undefined;
    expect(sys.epoll_wait(t, ep, out, 10, -1)).toBe(BLOCK);
    t.sysState = undefined;
    sys.write(t, w, m.str('ab'), 2);
    expect(sys.epoll_wait(t, ep, out, 10, 0)).toBe(1);
    expect(m.get(out, 12).readUInt32LE(0)).toBe(1);
    expect(m.get(out, 12).readBigUInt64LE(4)).toBe(0x1122334455667788n);
    // level-triggered: still ready
    expect(sys.epoll_wait(t, ep, out, 10, 0)).toBe(1);
    // edge-triggered: reported once until new data
    e.writeUInt32LE((1 | (1 << 31)) >>> 0, 0);
    m.write(ev, e);
    expect(sys.epoll_ctl(t, ep, 3, r, ev)).toBe(0);
    expect(sys.epoll_wait(t, ep, out, 10, 0)).toBe(1);
    expect(sys.epoll_wait(t, ep, out, 10, 0)).toBe(0);
    sys.write(t, w, m.str('c'), 1);
    expect(sys.epoll_wait(t, ep, out, 10, 0)).toBe(1);
    // oneshot
    e.writeUInt32LE((1 | (1 << 30)) >>> 0, 0);
    m.write(ev, e);
    expect(sys.epoll_ctl(t, ep, 3, r, ev)).toBe(0);
    expect(sys.epoll_wait(t, ep, out, 10, 0)).toBe(1);
    expect(sys.epoll_wait(t, ep, out, 10, 0)).toBe(0);
    expect(sys.epoll_ctl(t, ep, 2, r, 0)).toBe(0);
    expect(sys.epoll_ctl(t, ep, 2, r, 0)).toBe(-E.ENOENT);
    expect(sys.epoll_wait(t, ep, out, 0, 0)).toBe(-E.EINVAL);
  });

  it('eventfd counter and semaphore', () => {
    const { t, m } = setup();
    const fd = sys.eventfd2(t, 3, O_NONBLOCK);
    const b = m.alloc(8);
    expect(sys.read(t, fd, b, 8)).toBe(8);
    expect(m.get(b, 8).readBigUInt64LE(0)).toBe(3n);
    expect(sys.read(t, fd, b, 8)).toBe(-E.EAGAIN);
    expect(sys.read(t, fd, b, 4)).toBe(-E.EINVAL);
    const s = sys.eventfd2(t, 2, 1 | O_NONBLOCK);
    expect(sys.read(t, s, b, 8)).toBe(8);
    expect(m.get(b, 8).readBigUInt64LE(0)).toBe(1n);
    m.write(b, Buffer.from('0500000000000000', 'hex'));
    expect(sys.write(t, fd, b, 8)).toBe(8);
    expect(sys.read(t, fd, b, 8)).toBe(8);
    expect(m.get(b, 8).readBigUInt64LE(0)).toBe(5n);
  });

  it('memfd with seals', () => {
    const { t, m } = setup();
    const fd = sys.memfd_create(t, m.str('buf'), 2);
    expect(fd).toBeGreaterThanOrEqual(0);
    expect(sys.ftruncate(t, fd, 4096)).toBe(0);
    expect(sys.fcntl(t, fd, 1033, 4 | 2)).toBe(0);
    expect(sys.ftruncate(t, fd, 8192)).toBe(-E.EPERM);
    expect(sys.fcntl(t, fd, 1034, 0)).toBe(6);
    const link = m.alloc(64);
    const n = sys.readlink(t, m.str(`/proc/self/fd/${fd}`), link, 64);
    expect(m.get(link, n).toString()).toBe('/memfd:buf (deleted)');
  });

  it('/proc/self/fd reopens a pipe; /dev/null and /dev/zero', () => {
    const { t, m } = setup();
    const fds = m.alloc(8);
    sys.pipe(t, fds);
    const w = m.readI32(fds + 4)!;
    const w2 = sys.open(t, m.str(`/proc/self/fd/${w}`), O_WRONLY, 0);
    expect(w2).toBeGreaterThanOrEqual(0);
    expect(sys.write(t, w2, m.str('hi'), 2)).toBe(2);
    const r = m.readI32(fds)!;
    expect(sys.read(t, r, m.alloc(4), 4)).toBe(2);
    const nul = sys.open(t, m.str('/dev/null'), O_RDWR, 0);
    expect(sys.write(t, nul, m.str('zzz'), 3)).toBe(3);
    expect(sys.read(t, nul, m.alloc(4), 4)).toBe(0);
    const z = sys.open(t, m.str('/dev/zero'), O_RDONLY, 0);
    const zb = m.alloc(16);
    m.write(zb, Buffer.alloc(16, 7));
    expect(sys.read(t, z, zb, 16)).toBe(16);
    expect(m.get(zb, 16).equals(Buffer.alloc(16))).toBe(true);
    const full = sys.open(t, m.str('/dev/full'), O_WRONLY, 0);
    expect(sys.write(t, full, zb, 1)).toBe(-E.ENOSPC);
    expect(sys.open(t, m.str('/dev/tty'), O_RDWR, 0)).toBe(-E.ENXIO);
  });

  it('flock and fcntl record locks', () => {
    const { t, m } = setup();
    const a = sys.open(t, m.str('/tmp/lockf'), O_CREAT | O_RDWR, 0o644);
    const b = sys.open(t, m.str('/tmp/lockf'), O_RDWR, 0);
    expect(sys.flock(t, a, 2)).toBe(0);
    expect(sys.flock(t, b, 2 | 4)).toBe(-E.EWOULDBLOCK);
    expect(sys.flock(t, b, 2)).toBe(BLOCK);
    expect(sys.flock(t, a, 8)).toBe(0);
    expect(sys.flock(t, b, 2 | 4)).toBe(0);
    sys.close(t, b);
    expect(sys.flock(t, a, 1 | 4)).toBe(0);
    // OFD locks conflict between descriptions
    const c = sys.open(t, m.str('/tmp/lockf'), O_RDWR, 0);
    const fl = m.alloc(32);
    const lk = Buffer.alloc(32);
    lk.writeInt16LE(1, 0); // F_WRLCK
    m.write(fl, lk);
    expect(sys.fcntl(t, a, 37, fl)).toBe(0);
    expect(sys.fcntl(t, c, 37, fl)).toBe(-E.EAGAIN);
    expect(sys.fcntl(t, c, 36, fl)).toBe(0);
    expect(m.get(fl, 32).readInt16LE(0)).toBe(1);
    expect(m.get(fl, 32).readInt32LE(24)).toBe(-1);
  });

  it('splice and sendfile move data', () => {
    const { t, m } = setup();
    const fds = m.alloc(8);
    sys.pipe(t, fds);
    const r = m.readI32(fds)!;
    const w = m.readI32(fds + 4)!;
    const src = sys.open(t, m.str('/etc/passwd'), O_RDONLY, 0);
    const size = nfs.statSync('/etc/passwd').size;
    const n = sys.splice(t, src, 0, w, 0, 100, 0);
    expect(n).toBe(Math.min(100, size));
    const dst = sys.open(t, m.str('/tmp/spliced'), O_CREAT | O_RDWR, 0o644);
    expect(sys.splice(t, r, 0, dst, 0, 1000, 0)).toBe(n);
    const out = sys.open(t, m.str('/tmp/sent'), O_CREAT | O_RDWR, 0o644);
    const off = m.alloc(8);
    m.writeU64(off, 0);
    expect(sys.sendfile(t, out, src, off, 1 << 20)).toBe(size);
    expect(m.readU64(off)).toBe(size);
    expect(sys.lseek(t, src, 0, 1)).toBe(n);
    const cp = sys.open(t, m.str('/tmp/copied'), O_CREAT | O_RDWR, 0o644);
    sys.lseek(t, src, 0, 0);
    expect(sys.copy_file_range(t, src, 0, cp, 0, 1 << 20, 0)).toBe(size);
  });

  it('xattrs: real on tmpfs, EOPNOTSUPP on host files', () => {
    const { t, m } = setup();
    sys.open(t, m.str('/tmp/x'), O_CREAT | O_RDWR, 0o644);
    const name = m.str('user.k');
    const val = m.str('v1');
    expect(sys.setxattr(t, m.str('/tmp/x'), name, val, 2, 0)).toBe(0);
    expect(sys.getxattr(t, m.str('/tmp/x'), name, 0, 0)).toBe(2);
    const out = m.alloc(8);
    expect(sys.getxattr(t, m.str('/tmp/x'), name, out, 8)).toBe(2);
    expect(sys.getxattr(t, m.str('/tmp/x'), name, out, 1)).toBe(-E.ERANGE);
    expect(sys.listxattr(t, m.str('/tmp/x'), out, 8)).toBe(7);
    expect(sys.getxattr(t, m.str('/tmp/x'), m.str('user.none'), out, 8)).toBe(-E.ENODATA);
    expect(sys.getxattr(t, m.str('/etc/passwd'), name, out, 8)).toBe(-E.EOPNOTSUPP);
  });

  it('/proc files reflect the sandbox', () => {
    const { t, m } = setup();
    const buf = m.alloc(64);
    const n = sys.readlink(t, m.str('/proc/self'), buf, 64);
    expect(m.get(buf, n).toString()).toBe('1');
    const fd = sys.open(t, m.str('/proc/sys/kernel/osrelease'), O_RDONLY, 0);
    const k = sys.read(t, fd, buf, 64);
    expect(m.get(buf, k).toString()).toBe(t.kernel.release + '\n');
    const st = m.alloc(144);
    expect(sys.stat(t, m.str('/sys/devices/system/cpu/online'), st)).toBe(0);
    const mounts = sys.open(t, m.str('/proc/mounts'), O_RDONLY, 0);
    const mb = m.alloc(4096);
    const mn = sys.read(t, mounts, mb, 4096);
    const text = m.get(mb, mn).toString();
    expect(text).toContain(' / overlay ');
    expect(text).toContain(' /proc proc ');
    expect(text).toContain(' /dev/shm tmpfs ');
  });
});

describe('fs syscalls: mount namespace', () => {
  it('mount tmpfs and bind, umount, EPERM for non-root', () => {
    const { t, m } = setup();
    expect(sys.mkdir(t, m.str('/tmp/tss-mnt-test'), 0o755)).toBe(0);
    expect(sys.mount(t, m.str('none'), m.str('/tmp/tss-mnt-test'), m.str('tmpfs'), 0)).toBe(0);
    const fd = sys.open(t, m.str('/tmp/tss-mnt-test/f'), O_CREAT | O_WRONLY, 0o644);
    expect(fd).toBeGreaterThanOrEqual(0);
    const sf = m.alloc(120);
    expect(sys.statfs(t, m.str('/tmp/tss-mnt-test'), sf)).toBe(0);
    expect(Number(m.get(sf, 8).readBigInt64LE(0))).toBe(0x01021994);
    expect(sys.mkdir(t, m.str('/tmp/tss-b-test'), 0o755)).toBe(0);
    expect(sys.mount(t, m.str('/tmp/tss-mnt-test'), m.str('/tmp/tss-b-test'), 0, 4096)).toBe(0);
    const st = m.alloc(144);
    expect(sys.stat(t, m.str('/tmp/tss-b-test/f'), st)).toBe(0);
    expect(sys.umount2(t, m.str('/tmp/tss-b-test'), 0)).toBe(0);
    expect(sys.stat(t, m.str('/tmp/tss-b-test/f'), st)).toBe(-E.ENOENT);
    expect(sys.umount2(t, m.str('/tmp/tss-mnt-test'), 0)).toBe(0);
    expect(sys.stat(t, m.str('/tmp/tss-mnt-test/f'), st)).toBe(-E.ENOENT);
    expect(sys.umount2(t, m.str('/tmp/tss-mnt-test'), 0)).toBe(-E.EINVAL);
    expect(sys.mount(t, m.str('x'), m.str('/tmp/tss-mnt-test'), m.str('nosuchfs'), 0)).toBe(-E.ENODEV);
    expect(sys.mount(t, 0, m.str('/'), 0, (1 << 18) | 16384)).toBe(0);
    t.creds.euid = 1000;
    expect(sys.mount(t, m.str('none'), m.str('/tmp/tss-mnt-test'), m.str('tmpfs'), 0)).toBe(-E.EPERM);
    t.creds.euid = 0;
  });
});

describe('fs syscalls: inotify', () => {
  function events(m: ReturnType<typeof setup>['m'], buf: number, n: number): Array<[number, number, string]> {
    const b = m.get(buf, n);
    const out: Array<[number, number, string]> = [];
    for (let off = 0; off < n; ) {
      const len = b.readUInt32LE(off + 12);
      const name = len ? b.toString('utf8', off + 16, b.indexOf(0, off + 16)) : '';
      out.push([b.readInt32LE(off), b.readUInt32LE(off + 4), name]);
      off += 16 + len;
    }
    return out;
  }
  it('reports create, modify, close, move and delete in a watched directory', () => {
    const { t, m } = setup();
    sys.mkdir(t, m.str('/tmp/w'), 0o755);
    const ino = sys.inotify_init1(t, O_NONBLOCK);
    const wd = sys.inotify_add_watch(t, ino, m.str('/tmp/w'), 0xfff);
    expect(wd).toBe(1);
    const buf = m.alloc(4096);
    expect(sys.read(t, ino, buf, 4096)).toBe(-E.EAGAIN);
    const fd = sys.open(t, m.str('/tmp/w/a'), O_CREAT | O_WRONLY, 0o644);
    sys.write(t, fd, m.str('x'), 1);
    sys.close(t, fd);
    sys.rename(t, m.str('/tmp/w/a'), m.str('/tmp/w/b'));
    sys.unlink(t, m.str('/tmp/w/b'));
    sys.mkdir(t, m.str('/tmp/w/d'), 0o755);
    const n = sys.read(t, ino, buf, 4096);
    const ev = events(m, buf, n);
    expect(ev.map((e) => [e[1] & 0xffff, e[2]])).toEqual([
      [0x100, 'a'], [0x20, 'a'], [0x2, 'a'], [0x8, 'a'], [0x40, 'a'], [0x80, 'b'], [0x200, 'b'], [0x100, 'd'],
    ]);
    expect(ev[7][1] & 0x40000000).toBeTruthy();
    expect(ev[4][0]).toBe(wd);
    expect(sys.inotify_rm_watch(t, ino, wd)).toBe(0);
    expect(sys.inotify_rm_watch(t, ino, wd)).toBe(-E.EINVAL);
    const k = sys.read(t, ino, buf, 4096);
    expect(events(m, buf, k)[0][1]).toBe(0x8000);
    expect(sys.read(t, ino, buf, 8)).toBe(-E.EAGAIN);
  });
});

describe('fs syscalls: O_CREAT through symlinks', () => {
  it('creates the target of a dangling symlink; O_EXCL refuses; O_NOFOLLOW gives ELOOP', () => {
    const { t, m } = setup();
    expect(sys.symlink(t, m.str('target-file'), m.str('/tmp/dangling'))).toBe(0);
    expect(sys.open(t, m.str('/tmp/dangling'), O_CREAT | O_EXCL | O_WRONLY, 0o644)).toBe(-E.EEXIST);
    expect(sys.open(t, m.str('/tmp/dangling'), O_CREAT | O_WRONLY | 0o400000, 0o644)).toBe(-E.ELOOP);
    const fd = sys.open(t, m.str('/tmp/dangling'), O_CREAT | O_WRONLY, 0o644);
    expect(fd).toBeGreaterThanOrEqual(0);
    const st = m.alloc(144);
    expect(sys.lstat(t, m.str('/tmp/target-file'), st)).toBe(0);
    expect(m.get(st, 144).readUInt32LE(24) & 0o170000).toBe(0o100000);
  });
});
