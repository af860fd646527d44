/**
 * Path resolution, done by the VFS itself one component at a time (never by the host):
 * ".." stops at the caller's root, symlinks are read and resolved inside the sandbox
 * (absolute targets restart at the caller's root), ELOOP after 40 links, ENOTDIR,
 * ENAMETOOLONG, search permission on every directory, mount crossings, and the openat2
 * RESOLVE_* restrictions.
 */
import { mountNsInUse, visibleTop } from './mount-ns';
import * as E from '../../src/abi/errno';
import type { Credentials } from '../../src/auth/credentials';
import {
  PATH_MAX, MAX_SYMLINKS, RESOLVE_BENEATH, RESOLVE_IN_ROOT, RESOLVE_NO_MAGICLINKS, RESOLVE_NO_SYMLINKS,
  RESOLVE_NO_XDEV,
} from '../../src/abi/fs';
import type { Dentry } from './dentry';
import { mayExec } from './perm';
import type { Inode } from './inode';

/** Magic links (/proc/pid/fd/N, exe, cwd, root) jump straight to a dentry instead of a path. */
export interface MagicLink {
  resolveMagic(): Dentry | number;
}
export function isMagic(i: Inode): i is Inode & MagicLink {
  return typeof (i as Partial<MagicLink>).resolveMagic === 'function';
}

export interface ParentResult {
  dir: Dentry;
  /** Last component ("." for a path made only of slashes). */
  name: string;
  trailingSlash: boolean;
}

function nameTooLong(name: string): boolean {
  return name.length > 255;
}

/**
 * Resolves path from start (relative) or root (absolute).
 * parent=false: returns the final dentry (following a final symlink when follow is set or
 * the path ends in "/"). parent=true: resolves all but the last component.
 */
export function walk(
  root: Dentry, creds: Credentials, start: Dentry, path: string, follow: boolean, parent: false, rflags?: number,
): Dentry | number;
export function walk(
  root: Dentry, creds: Credentials, start: Dentry, path: string, follow: boolean, parent: true, rflags?: number,
): ParentResult | number;
export function walk(
  root: Dentry, creds: Credentials, start: Dentry, path: string, follow: boolean, parent: boolean, rflags = 0,
): Dentry | ParentResult | number {
  const len = path.length;
  if (len === 0) return -E.ENOENT;
  if (len >= PATH_MAX) return -E.ENAMETOOLONG;
  if (rflags & RESOLVE_IN_ROOT) root = start;
  const beneath = (rflags & RESOLVE_BENEATH) !== 0;
  let cur: Dentry;
  if (path.charCodeAt(0) === 47 /* / */) {
    if (beneath) return -E.EXDEV;
    cur = root;
  } else {
    cur = start;
  }
  const trailingSlash = path.charCodeAt(len - 1) === 47;
  // Components are read from path[pos, end) in place (no array per walk); a symlink's
  // target components go on `pending` (last one first) and come before the rest.
  let pos = 0;
  let end = len;
  let pending: string[] | null = null;
  let lastName = '.';
  if (parent) {
    let e = len;
    while (e > 0 && path.charCodeAt(e - 1) === 47) e--;
    if (e > 0) {
      let b = e;
      while (b > 0 && path.charCodeAt(b - 1) !== 47) b--;
      lastName = path.slice(b, e);
      end = b;
    }
    if (nameTooLong(lastName)) return -E.ENAMETOOLONG;
  }
  while (pos < end && path.charCodeAt(pos) === 47) pos++;
  let links = 0;
  // Depth below start, for RESOLVE_BENEATH's ".." check.
  let depth = 0;
  for (;;) {
    let name: string;
    if (pending !== null && pending.length > 0) {
      name = pending.pop()!;
    } else if (pos < end) {
      let j = pos;
      while (j < end && path.charCodeAt(j) !== 47) j++;
      name = path.slice(pos, j);
      pos = j;
      while (pos < end && path.charCodeAt(pos) === 47) pos++;
    } else {
      break;
    }
    const dir = cur.inode;
    if (!dir.isDir) return -E.ENOTDIR;
    if (!mayExec(dir, creds)) return -E.EACCES;
    if (name === '.') continue;
    if (name === '..') {
      if (beneath) {
        if (depth === 0) return -E.EXDEV;
        depth--;
      }
      const up = cur.up(root);
      if (rflags & RESOLVE_NO_XDEV && up.inode.fs !== cur.inode.fs) return -E.EXDEV;
      cur = up;
      continue;
    }
    if (nameTooLong(name)) return -E.ENAMETOOLONG;
    let next = cur.child(name);
    if (typeof next === 'number') return next;
    if (next.mounted !== null) {
      if (rflags & RESOLVE_NO_XDEV) return -E.EXDEV;
      next = mountNsInUse() ? visibleTop(next) : next.top();
    }
    const ino = next.inode;
    const more = pos < end || (pending !== null && pending.length > 0);
    if (ino.isSymlink && (more || parent || follow || trailingSlash)) {
      if (rflags & RESOLVE_NO_SYMLINKS) return -E.ELOOP;
      if (++links > MAX_SYMLINKS) return -E.ELOOP;
      if (isMagic(ino)) {
        if (rflags & (RESOLVE_NO_MAGICLINKS | RESOLVE_BENEATH | RESOLVE_IN_ROOT)) return -E.ELOOP;
        const m = ino.resolveMagic();
        if (typeof m === 'number') return m;
        cur = m;
        continue;
      }
      const target = ino.readlink();
      if (typeof target === 'number') return target;
      if (target.length === 0) return -E.ENOENT;
      if (target.charCodeAt(0) === 47) {
        if (beneath) return -E.EXDEV;
        cur = root;
        depth = 0;
      }
      const parts = target.split('/');
      pending ??= [];
      for (let i = parts.length - 1; i >= 0; i--) if (parts[i].length > 0) pending.push(parts[i]);
      continue;
    }
    cur = next;
    depth++;
  }
  if (parent) {
    if (!cur.inode.isDir) return -E.ENOTDIR;
    if (!mayExec(cur.inode, creds)) return -E.EACCES;
    return { dir: cur, name: lastName, trailingSlash };
  }
  if (trailingSlash && !cur.inode.isDir) return -E.ENOTDIR;
  return cur;
}
