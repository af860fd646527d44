// hostfs identity and the bounded host fd cache, in process (DirectBackend): one inode
// per host file, one host fd per file and access mode, eviction past the capacity with
// re-open by path, pinning of unlinked files, ESTALE when the host replaced a file.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import * as nfs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { HostFs, HostInode, HostFsFile, hostFdCache } from '../../fs/fsimpl/hostfs/hostfs';
import { DirectBackend } from '../../fs/fsimpl/hostfs/host-backend';
import { O_RDONLY, O_RDWR } from '../../src/abi/fs';
import * as E from '../../src/abi/errno';

let dir = '';
let saved = 0;
beforeEach(() => {
  dir = nfs.mkdtempSync(path.join(os.tmpdir(), 'tss-fdcache-'));
  saved = hostFdCache.capacity;
});
afterEach(() => {
  hostFdCache.capacity = saved;
  nfs.rmSync(dir, { recursive: true, force: true });
});

function openFd(f: HostFsFile): number {
  return f.slot.fd;
}
function read(f: HostFsFile): string | number {
  const b = Buffer.alloc(64);
  const n = f.pread(b, 0);
  return n < 0 ? n : b.toString('utf8', 0, n);
}

describe('hostfs identity', () => {
  it('every lookup and hard link of one file is one inode; another file is another', () => {
    nfs.writeFileSync(path.join(dir, 'a'), 'A');
    nfs.linkSync(path.join(dir, 'a'), path.join(dir, 'b'));
    nfs.writeFileSync(path.join(dir, 'c'), 'C');
    const fs = new HostFs(new DirectBackend(dir), false);
    const a1 = fs.root().lookup('a');
    const a2 = fs.root().lookup('a');
    const b = fs.root().lookup('b');
    const c = fs.root().lookup('c');
    expect(a1).toBeInstanceOf(HostInode);
    expect(a2).toBe(a1);
    expect(b).toBe(a1);
    expect(c).not.toBe(a1);
  });

  it('descriptions of one file and access mode share one host fd; the last close closes it', () => {
    nfs.writeFileSync(path.join(dir, 'a'), 'hello');
    const fs = new HostFs(new DirectBackend(dir), false);
    const ino = fs.root().lookup('a') as HostInode;
    const f1 = ino.open(O_RDONLY) as HostFsFile;
    const f2 = (fs.root().lookup('a') as HostInode).open(O_RDONLY) as HostFsFile;
    const w = ino.open(O_RDWR) as HostFsFile;
    expect(openFd(f1)).toBeGreaterThan(2);
    expect(openFd(f2)).toBe(openFd(f1));
    expect(openFd(w)).not.toBe(openFd(f1));
    const fd = openFd(f1);
    f1.decRef();
    expect(read(f2)).toBe('hello');
    f2.decRef();
    expect(() => nfs.fstatSync(fd)).toThrow(); // closed
    w.decRef();
  });
});

describe('host fd cache', () => {
  it('past its capacity fds are closed and re-opened on use; every file still reads right', () => {
    hostFdCache.capacity = 4;
    const fs = new HostFs(new DirectBackend(dir), false);
    const files: HostFsFile[] = [];
    for (let i = 0; i < 20; i++) {
      nfs.writeFileSync(path.join(dir, String(i)), `file ${i}`);
      files.push((fs.root().lookup(String(i)) as HostInode).open(O_RDONLY) as HostFsFile);
    }
    const open = () => files.filter((f) => openFd(f) >= 0).length;
    expect(open()).toBeLessThanOrEqual(4);
    for (let i = 0; i < 20; i++) expect(read(files[i])).toBe(`file ${i}`);
    expect(open()).toBeLessThanOrEqual(4);
    for (const f of files) f.decRef();
  });

  it('a file unlinked through the sandbox is pinned: still readable after heavy eviction', () => {
    hostFdCache.capacity = 2;
    nfs.writeFileSync(path.join(dir, 'victim'), 'still here');
    const fs = new HostFs(new DirectBackend(dir), false);
    const v = (fs.root().lookup('victim') as HostInode).open(O_RDONLY) as HostFsFile;
    expect(fs.root().unlink('victim')).toBe(0);
    const others: HostFsFile[] = [];
    for (let i = 0; i < 10; i++) {
      nfs.writeFileSync(path.join(dir, String(i)), 'x');
      others.push((fs.root().lookup(String(i)) as HostInode).open(O_RDONLY) as HostFsFile);
    }
    expect(read(v)).toBe('still here');
    // fstat through the open fd, though the name is gone.
    const st = v.stat();
    expect(typeof st === 'number' ? st : st.size).toBe(10);
    for (const f of [v, ...others]) f.decRef();
  });

  it('a file the host replaced behind an evicted fd gives ESTALE, never the other file\'s bytes', () => {
    hostFdCache.capacity = 1;
    nfs.writeFileSync(path.join(dir, 'a'), 'original');
    const fs = new HostFs(new DirectBackend(dir), false);
    const f = (fs.root().lookup('a') as HostInode).open(O_RDONLY) as HostFsFile;
    nfs.writeFileSync(path.join(dir, 'b'), 'other');
    const g = (fs.root().lookup('b') as HostInode).open(O_RDONLY) as HostFsFile; // evicts a's fd
    expect(openFd(f)).toBe(-1);
    // The host (not the sandbox) replaces a.
    nfs.writeFileSync(path.join(dir, 'a.new'), 'replaced');
    nfs.renameSync(path.join(dir, 'a.new'), path.join(dir, 'a'));
    expect(read(f)).toBe(-E.ESTALE);
    expect(read(g)).toBe('other');
    f.decRef();
    g.decRef();
  });
});
