/**
 * The gofer process: the only process that opens host paths once the sandbox runs.
 * Started by the Sentry with its socket as fd 3 and the host roots as arguments
 * (mount index = argument position). Serves one request at a time until the Sentry
 * closes the socket. Every path is resolved with openat2 under the mount's root fd with
 * RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS, so neither ".." nor a
 * symlink (planted by anyone on the host) can lead outside the root. Operations on a
 * single name then go through /proc/self/fd/<parent fd>/<name>, which names exactly the
 * directory openat2 resolved.
 */
import * as nfs from 'fs';
import { goferNative } from './native';
import { HEADER, MAGIC, MAX_MSG, VERSION, Op, FIELDS } from './protocol';
import { REPLY_MAX } from './client';
import { DirectBackend } from '../../fs/host-backend';
import type { Stat } from '../../fs/inode';

const EINVAL = 22;
const EPROTO = 71;
const O_PATH = 0o10000000;
const O_DIRECTORY = 0o200000;
const O_NOFOLLOW = 0o400000;
const RESOLVE = 0x10 | 0x04 | 0x02; // IN_ROOT | NO_SYMLINKS | NO_MAGICLINKS

function main(): void {
  const n = goferNative();
  if (n === null) process.exit(2);
  const sock = 3;
  const roots = process.argv.slice(2).map((r) => n.openat2(-100, r, O_PATH | O_DIRECTORY, 0, 0));
  const inBuf = Buffer.alloc(MAX_MSG);
  const out = Buffer.alloc(REPLY_MAX + 64);
  const fdIn = new Int32Array(1);

  const dirFd = (root: number, rel: string): number => n.openat2(root, rel === '' ? '.' : rel, O_PATH | O_DIRECTORY, 0, RESOLVE);
  const badRel = (rel: string): boolean => rel.split('/').some((c) => c === '' || c === '.' || c === '..') && rel !== '';

  /** Runs f on a backend rooted at rel's parent directory, with rel's last name. */
  const inParent = <T>(root: number, rel: string, f: (be: DirectBackend, name: string) => T): T | number => {
    if (rel === '') return f(new DirectBackend(`/proc/self/fd/${root}/.`), '');
    const i = rel.lastIndexOf('/');
    const pfd = dirFd(root, i < 0 ? '' : rel.slice(0, i));
    if (pfd < 0) return pfd;
    try {
      return f(new DirectBackend(`/proc/self/fd/${pfd}`), rel.slice(i + 1));
    } finally {
      nfs.closeSync(pfd);
    }
  };

  let plen = 0;
  const putStat = (st: Stat): void => {
    FIELDS.forEach((k, i) => out.writeDoubleLE(st[k], 8 + i * 8));
    plen = FIELDS.length * 8;
  };

  for (;;) {
    const len = n.goferRecv(sock, inBuf, fdIn);
    if (len <= 0) process.exit(0);
    if (fdIn[0] >= 0) nfs.closeSync(fdIn[0]);
    plen = 0;
    let fdOut = -1;
    let res: number;
    if (len < HEADER || inBuf.readUInt32LE(0) !== MAGIC) {
      res = -EPROTO;
    } else {
      const op = inBuf.readUInt32LE(4);
      const root = roots[inBuf.readUInt32LE(8)] ?? -1;
      const flags = inBuf.readUInt32LE(12);
      const mode = inBuf.readUInt32LE(16);
      const aux = inBuf.readUInt32LE(20);
      const a = inBuf.readDoubleLE(24);
      const b = inBuf.readDoubleLE(32);
      const z1 = inBuf.indexOf(0, HEADER);
      const z2 = z1 < 0 ? -1 : inBuf.indexOf(0, z1 + 1);
      const p1 = z1 < 0 ? '' : inBuf.toString('utf8', HEADER, z1);
      const p2 = z2 < 0 ? '' : inBuf.toString('utf8', z1 + 1, z2);
      if (op !== Op.Hello && (root < 0 || z2 < 0 || badRel(p1) || (op !== Op.Symlink && badRel(p2)))) {
        res = root < 0 ? -EINVAL : -EINVAL;
      } else {
        switch (op) {
          case Op.Hello:
            out.writeUInt32LE(process.pid, 8);
            plen = 4;
            res = VERSION;
            break;
          case Op.Lstat: {
            const st = inParent(root, p1, (be, nm) => be.lstat(nm));
            if (typeof st === 'number') res = st;
            else {
              putStat(st);
              res = 0;
            }
            break;
          }
          case Op.Open:
            res = n.openat2(root, p1 === '' ? '.' : p1, flags | O_NOFOLLOW, mode, RESOLVE);
            if (res >= 0) {
              fdOut = res;
              res = 0;
            }
            break;
          case Op.Readdir: {
            const dfd = n.openat2(root, p1 === '' ? '.' : p1, O_PATH | O_DIRECTORY, 0, RESOLVE);
            if (dfd < 0) {
              res = dfd;
              break;
            }
            const list = new DirectBackend(`/proc/self/fd/${dfd}`).readdir('');
            nfs.closeSync(dfd);
            if (typeof list === 'number') {
              res = list;
              break;
            }
            // Page from entry index `a`: as many as fit in one reply.
            let off = 8;
            let count = 0;
            for (let i = a; i < list.length; i++) {
              const e = list[i];
              const nb = Buffer.byteLength(e.name);
              if (off + 14 + nb > REPLY_MAX) break;
              out.writeDoubleLE(e.ino, off);
              out.writeUInt32LE(e.mode, off + 8);
              out.writeUInt16LE(nb, off + 12);
              out.write(e.name, off + 14, 'utf8');
              off += 14 + nb;
              count++;
            }
            plen = off - 8;
            res = count;
            break;
          }
          case Op.Readlink: {
            const t = inParent(root, p1, (be, nm) => be.readlink(nm));
            if (typeof t === 'number') res = t;
            else {
              plen = out.write(t, 8, 'utf8');
              res = 0;
            }
            break;
          }
          case Op.Mkdir:
            res = inParent(root, p1, (be, nm) => be.mkdir(nm, mode));
            break;
          case Op.CreateExcl:
            res = inParent(root, p1, (be, nm) => be.createExcl(nm, mode));
            break;
          case Op.Unlink:
            res = inParent(root, p1, (be, nm) => be.unlink(nm));
            break;
          case Op.Rmdir:
            res = inParent(root, p1, (be, nm) => be.rmdir(nm));
            break;
          case Op.Rename:
            res = inParent(root, p1, (be1, n1) => inParent(root, p2, (be2, n2) => {
              try {
                nfs.renameSync(be1.path(n1), be2.path(n2));
                return 0;
              } catch (e) {
                return (e as { errno?: number }).errno ?? -EINVAL;
              }
            }));
            break;
          case Op.Symlink: // p1 = link path, p2 = target text (never resolved)
            res = inParent(root, p1, (be, nm) => be.symlink(p2, nm));
            break;
          case Op.Link:
            res = inParent(root, p1, (be1, n1) => inParent(root, p2, (be2, n2) => {
              try {
                nfs.linkSync(be1.path(n1), be2.path(n2));
                return 0;
              } catch (e) {
                return (e as { errno?: number }).errno ?? -EINVAL;
              }
            }));
            break;
          case Op.Chmod:
            res = inParent(root, p1, (be, nm) => be.chmod(nm, mode));
            break;
          case Op.Chown:
            res = inParent(root, p1, (be, nm) => be.lchown(nm, mode | 0, aux | 0));
            break;
          case Op.Truncate:
            res = inParent(root, p1, (be, nm) => be.truncate(nm, a));
            break;
          case Op.Utimes:
            res = inParent(root, p1, (be, nm) => be.lutimes(nm, a, b));
            break;
          case Op.Statfs: {
            const s = new DirectBackend(`/proc/self/fd/${root}/.`).statfs();
            if (typeof s === 'number') res = s;
            else {
              s.forEach((v, i) => out.writeDoubleLE(v, 8 + i * 8));
              plen = 48;
              res = 0;
            }
            break;
          }
          default:
            res = -EINVAL;
        }
      }
    }
    out.writeInt32LE(res, 0);
    out.writeUInt32LE(plen, 4);
    n.goferSend(sock, out, 8 + plen, fdOut);
    if (fdOut >= 0) nfs.closeSync(fdOut);
  }
}

main();
