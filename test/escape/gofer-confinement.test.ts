// Issue 7: the Gofer as its own line of defence, checked without trusting the Sentry.
// Requests are forged on the protocol (src/gofer/protocol.ts) to a gofer the test
// forks, as a Sentry taken over by the guest would send them; and a running sandbox's
// gofer is inspected from the host. Every host file touched is the test's own.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, execFileSync } from 'child_process';
import * as nfs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { goferNative } from '../../src/gofer/native';
import { spawnGofer, goferProcFile, Confined, type GoferClient } from '../../src/gofer/client';
import { HEADER, MAGIC, Op, ProcFileKind } from '../../src/gofer/protocol';
import * as E from '../../src/abi/errno';
import { BASE_ENV } from '../helpers/run';
import { BIN } from '../helpers/paths';

const have = goferNative() !== null;
const O_WRONLY = 1, O_RDWR = 2, O_CREAT = 0o100, O_TRUNC = 0o1000, O_APPEND = 0o2000, O_TMPFILE = 0o20200000;
const isRoot = process.getuid?.() === 0;

/** One request built byte by byte (not through GoferClient.call): [result, payload, fd]. */
function raw(sock: number, op: number, mount: number, p1: string, p2 = '', flags = 0, mode = 0): [number, Buffer, number] {
  const n = goferNative()!;
  const q = Buffer.alloc(HEADER + 4096);
  q.writeUInt32LE(MAGIC, 0);
  q.writeUInt32LE(op, 4);
  q.writeUInt32LE(mount, 8);
  q.writeUInt32LE(flags >>> 0, 12);
  q.writeUInt32LE(mode >>> 0, 16);
  let off = HEADER + q.write(p1, HEADER);
  q[off++] = 0;
  off += q.write(p2, off);
  q[off++] = 0;
  const resp = Buffer.alloc(200 * 1024);
  const fdOut = new Int32Array(1);
  const r = n.goferCall(sock, q, off, -1, resp, fdOut);
  expect(r).toBeGreaterThanOrEqual(8);
  return [resp.readInt32LE(0), resp.subarray(8, 8 + resp.readUInt32LE(4)), fdOut[0]];
}

function sockOf(c: GoferClient): number {
  return (c as unknown as { sock: number }).sock;
}

function snapshot(dir: string): string {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of nfs.readdirSync(d).sort()) {
      const p = path.join(d, e);
      const st = nfs.lstatSync(p);
      out.push(`${path.relative(dir, p)} ${st.mode.toString(8)} ${st.uid}:${st.gid} ${st.size} ${st.mtimeMs}`);
      if (st.isDirectory()) walk(p);
      else if (st.isFile()) out.push(nfs.readFileSync(p, 'utf8'));
    }
  };
  walk(dir);
  return out.join('\n');
}

describe.skipIf(!have)('a gofer asked to write to a read-only root', () => {
  let ro: string, rw: string, c: GoferClient;
  beforeAll(() => {
    ro = nfs.mkdtempSync(path.join(os.tmpdir(), 'tss-gofer-ro-'));
    rw = nfs.mkdtempSync(path.join(os.tmpdir(), 'tss-gofer-rw-'));
    for (const d of [ro, rw]) {
      nfs.mkdirSync(path.join(d, 'dir'));
      nfs.writeFileSync(path.join(d, 'file'), 'original');
      nfs.writeFileSync(path.join(d, 'dir', 'inner'), 'inner');
    }
    c = spawnGofer([{ path: ro, readonly: true }, { path: rw, readonly: false }])!;
    expect(c).not.toBeNull();
  });
  afterAll(() => {
    if (c) try { process.kill(c.pid, 'SIGKILL'); } catch { /* gone */ }
    nfs.rmSync(ro, { recursive: true, force: true });
    nfs.rmSync(rw, { recursive: true, force: true });
  });

  it('refuses every write with EROFS and leaves the host tree unchanged', () => {
    const before = snapshot(ro);
    const s = sockOf(c);
    const writes: Array<[string, number, string, string, number, number]> = [
      ['open O_WRONLY', Op.Open, 'file', '', O_WRONLY, 0],
      ['open O_RDWR', Op.Open, 'file', '', O_RDWR, 0],
      ['open O_TRUNC', Op.Open, 'file', '', O_TRUNC, 0],
      ['open O_WRONLY|O_APPEND', Op.Open, 'file', '', O_WRONLY | O_APPEND, 0],
      ['open O_CREAT', Op.Open, 'new', '', O_CREAT | O_WRONLY, 0o644],
      ['open O_TMPFILE', Op.Open, 'dir', '', O_TMPFILE | O_RDWR, 0o600],
      ['mkdir', Op.Mkdir, 'newdir', '', 0, 0o755],
      ['create', Op.CreateExcl, 'newfile', '', 0, 0o644],
      ['unlink', Op.Unlink, 'file', '', 0, 0],
      ['rmdir', Op.Rmdir, 'dir', '', 0, 0],
      ['rename', Op.Rename, 'file', 'moved', 0, 0],
      ['symlink', Op.Symlink, 'link', '/etc/passwd', 0, 0],
      ['link', Op.Link, 'file', 'hard', 0, 0],
      ['chmod', Op.Chmod, 'file', '', 0, 0o4777],
      ['chown', Op.Chown, 'file', '', 0, 65534],
      ['truncate', Op.Truncate, 'file', '', 0, 0],
      ['utimes', Op.Utimes, 'file', '', 0, 0],
    ];
    const got = writes.map(([name, op, p1, p2, flags, mode]) => {
      const [res, , fd] = raw(s, op, 0, p1, p2, flags, mode);
      if (fd >= 0) nfs.closeSync(fd);
      return `${name}: ${res}`;
    });
    expect(got).toEqual(writes.map(([name]) => `${name}: ${-E.EROFS}`));
    expect(snapshot(ro)).toBe(before);
    // Reading stays allowed.
    const [res, , fd] = raw(s, Op.Open, 0, 'file', '', 0, 0);
    expect(res).toBe(0);
    // (opened non-blocking first, then given back the flags asked for: no O_NONBLOCK)
    const fl = parseInt(/^flags:\s*(\d+)/m.exec(nfs.readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'))![1], 8);
    expect(fl & 0o4000).toBe(0);
    expect(nfs.readFileSync(fd, 'utf8')).toBe('original');
    nfs.closeSync(fd);
  });

  it('still writes to a read-write root (the refusal is the read-only flag)', () => {
    const s = sockOf(c);
    const [res, , fd] = raw(s, Op.Open, 1, 'file', '', O_WRONLY | O_TRUNC, 0);
    expect(res).toBe(0);
    nfs.writeSync(fd, 'changed');
    nfs.closeSync(fd);
    expect(nfs.readFileSync(path.join(rw, 'file'), 'utf8')).toBe('changed');
    expect(raw(s, Op.Mkdir, 1, 'newdir', '', 0, 0o755)[0]).toBe(0);
    expect(raw(s, Op.Rename, 1, 'dir/inner', 'newdir/inner')[0]).toBe(0);
    expect(raw(s, Op.Chmod, 1, 'file', '', 0, 0o600)[0]).toBe(0);
    expect(nfs.statSync(path.join(rw, 'file')).mode & 0o7777).toBe(0o600);
    expect(nfs.readFileSync(path.join(rw, 'newdir', 'inner'), 'utf8')).toBe('inner');
  });

  it('opens only regular files and directories: a FIFO cannot hang it, a device node is not opened', () => {
    const s = sockOf(c);
    execFileSync('mkfifo', [path.join(rw, 'fifo')]);
    // First with the FIFO held open by the test (so that a gofer without the type check
    // returns at once and fails here, rather than hanging)...
    const holder = nfs.openSync(path.join(rw, 'fifo'), nfs.constants.O_RDWR | nfs.constants.O_NONBLOCK);
    const [held, , hfd] = raw(s, Op.Open, 1, 'fifo');
    if (hfd >= 0) nfs.closeSync(hfd);
    nfs.closeSync(holder);
    expect(held).toBe(-E.ENXIO);
    // ...then without any writer, where a blocking open would never return.
    const [fifo, , ffd] = raw(s, Op.Open, 1, 'fifo');
    if (ffd >= 0) nfs.closeSync(ffd);
    expect(fifo).toBe(-E.ENXIO);
    if (isRoot) {
      // A character device like /dev/null (1:3), planted in a read-write bind.
      execFileSync('mknod', [path.join(rw, 'null'), 'c', '1', '3']);
      const [dev, , dfd] = raw(s, Op.Open, 1, 'null', '', O_RDWR);
      if (dfd >= 0) nfs.closeSync(dfd);
      expect(dev).toBeLessThan(0);
    }
    // Still serving.
    expect(raw(s, Op.Lstat, 1, 'file')[0]).toBe(0);
  });

  it.skipIf(!isRoot)('hands out descriptors the host kernel keeps read-only too', () => {
    const [res, , fd] = raw(sockOf(c), Op.Open, 0, 'file', '', 0, 0);
    expect(res).toBe(0);
    // The fd's mount is the gofer's rdonly clone: even its own host path is not writable
    // through it (/proc/self/fd reopen for writing).
    expect(() => nfs.openSync(`/proc/self/fd/${fd}`, 'r+')).toThrow(/EROFS/);
    nfs.closeSync(fd);
  });
});

// The host's special filesystems, asked for by name on a gofer serving the host's /.
function specialFsRefused(noNs: boolean) {
  const saved = process.env.TSSANDBOX_GOFER_NO_MOUNTNS;
  if (noNs) process.env.TSSANDBOX_GOFER_NO_MOUNTNS = '1';
  let c: GoferClient | null;
  try {
    c = spawnGofer([{ path: '/', readonly: true }]);
  } finally {
    if (saved === undefined) delete process.env.TSSANDBOX_GOFER_NO_MOUNTNS;
    else process.env.TSSANDBOX_GOFER_NO_MOUNTNS = saved;
  }
  expect(c).not.toBeNull();
  let shm: string | null = null;
  try {
    if (isRoot) expect(!!(c!.confined & Confined.MountNs)).toBe(!noNs);
    const s = sockOf(c!);
    const asked = [
      'proc/self/environ', 'proc/1/environ', 'proc/self/status', 'proc/self/maps', 'proc/self/mem', 'proc/kallsyms',
      'proc/sys/kernel/core_pattern', 'sys/kernel/notes', 'sys/module', 'sys/fs/cgroup', 'dev/null', 'dev/mem',
    ].filter((p) => nfs.existsSync('/' + p)); // each one exists on this host
    // A file of the test's own on the host's /dev/shm (a tmpfs reached through devtmpfs).
    shm = nfs.existsSync('/dev/shm') ? `dev/shm/tss-gofer-probe-${process.pid}-${Date.now()}` : null;
    if (shm) {
      nfs.writeFileSync('/' + shm, 'host shm');
      asked.push(shm);
    }
    expect(asked.length).toBeGreaterThan(5);
    const opened = asked.map((p) => {
      const [res, , fd] = raw(s, Op.Open, 0, p);
      if (fd >= 0) nfs.closeSync(fd);
      return `${p}: ${res < 0 ? 'refused' : 'OPENED'}`;
    });
    expect(opened).toEqual(asked.map((p) => `${p}: refused`));
    const statted = asked.map((p) => `${p}: ${raw(s, Op.Lstat, 0, p)[0] < 0 ? 'refused' : 'SERVED'}`);
    expect(statted).toEqual(asked.map((p) => `${p}: refused`));
    // The mount points themselves: at most the empty directory under them.
    for (const d of ['proc', 'sys', 'sys/kernel', 'dev', 'dev/shm']) {
      const [res, payload] = raw(s, Op.Readdir, 0, d);
      if (res >= 0) {
        const names: string[] = [];
        for (let off = 0; off + 14 <= payload.length; ) {
          const nb = payload.readUInt16LE(off + 12);
          names.push(payload.toString('utf8', off + 14, off + 14 + nb));
          off += 14 + nb;
        }
        expect(names.filter((n) => /^\d+$/.test(n) || n === 'kallsyms' || n === 'null' || n === 'notes' || n.startsWith('tss-gofer-probe-')), d).toEqual([]);
      }
    }
    // Ordinary host files are still served.
    const [res, , fd] = raw(s, Op.Open, 0, 'etc/passwd');
    expect(res).toBe(0);
    expect(nfs.readFileSync(fd, 'utf8')).toBe(nfs.readFileSync('/etc/passwd', 'utf8'));
    nfs.closeSync(fd);
  } finally {
    try { process.kill(c!.pid, 'SIGKILL'); } catch { /* gone */ }
    if (shm) nfs.rmSync('/' + shm, { force: true });
  }
}

describe.skipIf(!have)("the host's special filesystems", () => {
  it('are not served by a gofer in its own mount namespace', () => specialFsRefused(false));
  it('are not served without one either (the per-result check alone)', () => specialFsRefused(true));
});

describe.skipIf(!have)('the gofer of a running sandbox, seen from the host', () => {
  it('is tssandbox-gofer, in its own mount namespace, under seccomp, with few capabilities', async () => {
    const child = spawn(process.execPath, [BIN, 'run', '/bin/sh', '-c', 'echo ready; read x; echo bye'], {
      env: BASE_ENV,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    try {
      let out = '';
      await new Promise<void>((resolve, reject) => {
        const t = setTimeout(() => reject(new Error('sandbox did not start')), 30_000);
        child.stdout!.on('data', (d: Buffer) => {
          out += d.toString();
          if (out.includes('ready')) {
            clearTimeout(t);
            resolve();
          }
        });
        child.on('exit', () => reject(new Error(`sandbox exited early: ${out}`)));
      });
      // The Sentry's children: one is the gofer.
      const kids = nfs.readdirSync('/proc').filter((p) => /^\d+$/.test(p)).filter((p) => {
        try {
          return / (\d+) /.exec(nfs.readFileSync(`/proc/${p}/stat`, 'utf8').split(') ')[1])?.[1] === String(child.pid);
        } catch {
          return false;
        }
      });
      const gofer = kids.find((p) => nfs.readFileSync(`/proc/${p}/comm`, 'utf8').trim() === 'tssandbox-gofer');
      expect(gofer, `children of ${child.pid}: ${kids.map((p) => nfs.readFileSync(`/proc/${p}/comm`, 'utf8').trim())}`).toBeDefined();
      expect(nfs.readFileSync(`/proc/${gofer}/cmdline`, 'utf8').replace(/\0+$/, '')).toBe('tssandbox-gofer');
      try {
        expect(execFileSync('ps', ['-o', 'comm=', '-p', gofer!]).toString().trim()).toBe('tssandbox-gofer');
        expect(execFileSync('ps', ['-o', 'args=', '-p', gofer!]).toString().trim()).toBe('tssandbox-gofer');
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e; // no ps on this host
      }
      const status = nfs.readFileSync(`/proc/${gofer}/status`, 'utf8');
      const field = (k: string) => new RegExp(`^${k}:\\s*(\\S+)`, 'm').exec(status)?.[1];
      expect(field('Seccomp')).toBe('2');
      expect(field('NoNewPrivs')).toBe('1');
      const capEff = BigInt('0x' + field('CapEff'));
      const CAP_SYS_ADMIN = 21n, CAP_SYS_PTRACE = 19n, CAP_NET_ADMIN = 12n, CAP_DAC_READ_SEARCH = 2n, CAP_SETUID = 7n;
      for (const cap of [CAP_SYS_ADMIN, CAP_SYS_PTRACE, CAP_NET_ADMIN, CAP_DAC_READ_SEARCH, CAP_SETUID])
        expect((capEff >> cap) & 1n, `CapEff ${field('CapEff')} has cap ${cap}`).toBe(0n);
      expect(BigInt('0x' + field('CapBnd')) & ~0x1bn).toBe(0n);
      if (isRoot) {
        expect(nfs.readlinkSync(`/proc/${gofer}/ns/mnt`)).not.toBe(nfs.readlinkSync('/proc/self/ns/mnt'));
        // Its mount table: a tmpfs root and the served root(s), nothing of proc, sysfs...
        const mi = nfs.readFileSync(`/proc/${gofer}/mountinfo`, 'utf8');
        expect(mi).toMatch(/ \/ \S+ - tmpfs tssandbox-gofer /);
        expect(mi).not.toMatch(/ - (proc|sysfs|cgroup2?|devtmpfs|debugfs|tracefs|securityfs|bpf|devpts) /);
      }
      child.stdin!.end('\n');
      const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
      expect(code).toBe(0);
      expect(out).toContain('bye');
    } finally {
      child.kill('SIGKILL');
    }
  });
});

describe.skipIf(!have)('the gofer opens /proc files only of threads the Sentry traces', () => {
  let c: GoferClient;
  let victim: ReturnType<typeof spawn>;
  beforeAll(() => {
    c = spawnGofer([os.tmpdir()])!;
    victim = spawn('sleep', ['60'], { stdio: 'ignore' });
  });
  afterAll(() => victim.kill('SIGKILL'));

  it('refuses PROCFILE for a host process that is not its Sentry\'s tracee (EPERM), bad tids and kinds (EINVAL)', () => {
    // This test's process forked the gofer and traces nothing: to the gofer, no host
    // process is a stub. A Sentry taken over would ask for these.
    for (const pid of [1, process.pid, victim.pid!]) {
      for (const kind of [ProcFileKind.Stat, ProcFileKind.Schedstat, ProcFileKind.Status]) {
        const r = goferProcFile(c, pid, kind);
        expect(r, `pid ${pid} kind ${kind}`).toBe(-E.EPERM);
      }
    }
    expect(goferProcFile(c, 0, ProcFileKind.Stat)).toBe(-E.EINVAL);
    expect(goferProcFile(c, 1 << 30, ProcFileKind.Stat)).toBe(-E.EINVAL);
    expect(goferProcFile(c, process.pid, 99 as ProcFileKind)).toBe(-E.EINVAL);
    // A path can never be asked for: the request carries a number, the gofer builds the name.
    const [res, , fd] = raw(sockOf(c), Op.ProcFile, 0, '../../etc/passwd', '', ProcFileKind.Status);
    expect(fd).toBe(-1);
    expect(res).toBeLessThan(0);
  });
});
