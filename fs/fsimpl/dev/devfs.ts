/**
 * /dev: a tmpfs populated with the standard nodes. Device behaviour comes from the node's
 * rdev (devices.ts), so a guest mknod of the same numbers elsewhere behaves the same.
 */
import { Credentials } from '../../../src/auth/credentials';
import { S_IFCHR } from '../../../src/abi/fs';
import { Tmpfs } from '../tmpfs/tmpfs';
import { DEV_NULL, DEV_ZERO, DEV_FULL, DEV_RANDOM, DEV_URANDOM, DEV_TTY, DEV_CONSOLE, DEV_PTS0, DEV_PTMX, setPtsRoot } from './devices';
import { setPtsNode } from '../host/host-file';

export function createDevFs(): Tmpfs {
  const fs = new Tmpfs({ type: 'devtmpfs', mode: 0o755, source: 'udev' });
  const root = fs.root();
  const creds = new Credentials();
  const nodes: Array<[string, number, number]> = [
    ['null', DEV_NULL, 0o666],
    ['zero', DEV_ZERO, 0o666],
    ['full', DEV_FULL, 0o666],
    ['random', DEV_RANDOM, 0o666],
    ['urandom', DEV_URANDOM, 0o666],
    ['tty', DEV_TTY, 0o666],
    ['console', DEV_CONSOLE, 0o600],
  ];
  for (const [name, rdev, mode] of nodes) root.mknod(name, S_IFCHR | mode, creds, rdev);
  root.mkdir('shm', 0o1777, creds);
  root.mkdir('pts', 0o755, creds);
  root.mknod('ptmx', S_IFCHR | 0o666, creds, DEV_PTMX);
  root.mkdir('mqueue', 0o1777, creds);
  root.symlink('fd', '/proc/self/fd', creds);
  root.symlink('stdin', '/proc/self/fd/0', creds);
  root.symlink('stdout', '/proc/self/fd/1', creds);
  root.symlink('stderr', '/proc/self/fd/2', creds);
  return fs;
}

/**
 * /dev/pts: not cached in dentries, since nodes appear and vanish as masters come and
 * go. /dev/pts/0 stands for the host terminal the sandbox was started on.
 */
export function createDevPts(): Tmpfs {
  const fs = new Tmpfs({ type: 'devpts', mode: 0o755, source: 'devpts' });
  fs.cacheable = false;
  const root = fs.root();
  const creds = new Credentials();
  root.mknod('ptmx', S_IFCHR | 0o666, creds, DEV_PTMX);
  const p0 = root.mknod('0', S_IFCHR | 0o620, creds, DEV_PTS0);
  if (typeof p0 !== 'number') setPtsNode(p0);
  setPtsRoot(root);
  return fs;
}
