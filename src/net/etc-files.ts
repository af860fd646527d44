/**
 * /etc/resolv.conf and /etc/hosts inside the sandbox, consistent with its network:
 *  - resolv.conf: the --dns addresses; in mode "user" without --dns, the gateway's
 *    resolver (10.0.2.3, forwarded to the host's). Otherwise the root's own file stays.
 *  - hosts: localhost, and the sandbox's host name (--hostname, or the kernel's) on its
 *    first address (eth0's in modes "user"/"sandbox", 127.0.1.1 otherwise); written in
 *    modes "user" and "sandbox", and in any mode given --hostname.
 * They are written into the root's writable layer before the first guest runs (the host's
 * files are never touched).
 */
import type { FsCaller } from '../../fs/vfs/caller';
import type { Vfs } from '../../fs/vfs/vfs';
import { writeAll } from '../../fs/vfs/file';
import { isLoopback, isV4, fmt, parse } from './stack/addr';
import { stackOf, networkModeOf } from './netns';
import { USER_NET } from './user-net';

export interface EtcOptions {
  dns: string[];
  /** --hostname was given. */
  hostname: string | null;
}

/** The files to write for this sandbox (path -> content); bad --dns addresses are an Error. */
export function netEtcFiles(kernel: { hostname: string }, o: EtcOptions): Map<string, string> {
  const out = new Map<string, string>();
  const mode = networkModeOf(kernel);
  for (const d of o.dns) if (parse(d) === null) throw new Error(`--dns wants an IP address, got '${d}'`);
  const servers = o.dns.length > 0 ? o.dns : mode === 'user' ? [fmt(USER_NET.dns4)] : [];
  if (servers.length > 0) out.set('/etc/resolv.conf', servers.map((s) => `nameserver ${s}\n`).join(''));
  if (mode === 'user' || mode === 'sandbox' || o.hostname !== null) {
    const stack = stackOf(kernel);
    let addr = '127.0.1.1';
    for (const nic of stack?.nics ?? []) {
      const a = nic.addrs.find((x) => isV4(x.addr) && !isLoopback(x.addr));
      if (!nic.loopback && a !== undefined) {
        addr = fmt(a.addr);
        break;
      }
    }
    out.set('/etc/hosts', `127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n${addr}\t${kernel.hostname}\n`);
  }
  return out;
}

/** Writes the files through the VFS as `c` (the sandbox's init, before it runs). */
export function writeNetFiles(vfs: Vfs, c: FsCaller, files: Map<string, string>, log: (m: string) => void): void {
  for (const [p, text] of files) {
    vfs.mkdir(c, -100, '/etc', 0o755);
    // Only into the sandbox's own layers (overlay, tmpfs): never through a bind of a host tree.
    const d = vfs.lookup(c, -100, p, true);
    const target = typeof d === 'number' ? vfs.lookup(c, -100, '/etc', true) : d;
    if (typeof target !== 'number' && !['overlay', 'tmpfs'].includes(target.inode.fs.type)) {
      log(`net: ${p} is on ${target.inode.fs.type}: not written`);
      continue;
    }
    const f = vfs.open(c, -100, p, 0o1 | 0o100 | 0o1000 /* O_WRONLY|O_CREAT|O_TRUNC */, 0o644);
    if (typeof f === 'number') {
      log(`net: cannot write ${p} (errno ${-f})`);
      continue;
    }
    writeAll(f, Buffer.from(text));
    f.decRef();
  }
}
