/**
 * config.json honoured inside the sandbox: linux.maskedPaths, linux.seccomp (compiled
 * to classic BPF for the Sentry's guest seccomp: errno, arguments, kill, default
 * action), and the process's noNewPrivileges, umask, additionalGids, rlimits and
 * capabilities as the guest sees them. Each container is run to its end with `run`.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, makeBundle, makeRootfs, tmp, spawnAsync } from './helpers';

let dir = '';
let rootfs = '';
let n = 0;

beforeAll(async () => {
  dir = tmp('config');
  rootfs = await makeRootfs(path.join(dir, 'rootfs'));
  fs.mkdirSync(path.join(rootfs, 'secret'));
  fs.writeFileSync(path.join(rootfs, 'secret', 'key'), 'hidden\n');
  fs.writeFileSync(path.join(rootfs, 'etc', 'token'), 'hidden too\n');
});

afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

/** Runs a container of `script` (sh -c) with the config changed by edit; stdout, stderr, status. */
async function runIn(script: string, edit: (c: any) => void = () => undefined) {
  const b = await makeBundle(path.join(dir, `b${++n}`), (c) => {
    c.process.args = ['sh', '-c', script];
    edit(c);
  }, rootfs);
  const r = await spawnAsync(BIN, ['--root', path.join(dir, 'state'), 'run', '--bundle', b, `cfg${n}`], { input: '', timeout: 60_000 });
  return { out: r.stdout, err: r.stderr, status: r.status };
}

describe('linux.maskedPaths', () => {
  it('a masked directory is empty and read-only, a masked file reads empty, a missing path is skipped', async () => {
    const r = await runIn('ls -A /secret | wc -l; touch /secret/x 2>/dev/null || echo dir-ro; cat /etc/token | wc -c; ' +
      'echo x > /etc/token && echo file-write-ok; cat /etc/token | wc -c; umount /secret 2>/dev/null || echo locked; cat /secret/key 2>&1 | head -c 40',
    (c) => (c.linux.maskedPaths = ['/secret', '/etc/token', '/no/such/path']));
    expect(r.status, r.err).toBe(0);
    const lines = r.out.split('\n');
    expect(lines.slice(0, 6)).toEqual(['0', 'dir-ro', '0', 'file-write-ok', '0', 'locked']);
    expect(r.out).not.toContain('hidden');
  });

  it('without the masks the same paths show the rootfs', async () => {
    const r = await runIn('cat /secret/key /etc/token');
    expect(r.out).toBe('hidden\nhidden too\n');
  });
});

describe('linux.readonlyPaths', () => {
  it('/proc/sys read-only: writes refused with EROFS, reads as before; without it the write works', async () => {
    const script = 'cat /proc/sys/kernel/osrelease; echo renamed > /proc/sys/kernel/hostname && hostname';
    const ro = await runIn(script, (c) => (c.linux.readonlyPaths = ['/proc/sys', '/proc/no-such-dir', '/proc/sysrq-trigger']));
    expect(ro.status, ro.err).not.toBe(0);
    expect(ro.out).toBe('6.1.0-tssandbox\n');
    expect(ro.err).toContain('Read-only file system');
    // `tssandbox spec` lists /proc/sys as runc's does: without any read-only path.
    const rw = await runIn(script, (c) => (c.linux.readonlyPaths = []));
    expect(rw.out).toBe('6.1.0-tssandbox\nrenamed\n');
  });

  it('a rootfs directory is read-only (masks.test.ts compares more with runc); a node inside the /dev tmpfs too', async () => {
    const ro = await runIn('touch /tmp/x 2>&1; echo rc=$?; touch /root/x && echo root-ok', (c) => {
      c.root.readonly = false;
      c.linux.readonlyPaths = ['/tmp'];
    });
    expect(ro.out).toBe('touch: /tmp/x: Read-only file system\nrc=1\nroot-ok\n');
    // As a read-only bind of a device under Linux: its data is the device's (writes go
    // to it), its attributes are the mount's (EROFS).
    const r = await runIn('echo x > /dev/null && echo null-ok; touch /dev/null 2>&1; echo rc=$?; touch /dev/new && echo dev-ok', (c) => (c.linux.readonlyPaths = ['/dev/null']));
    expect(r.out).toBe('null-ok\ntouch: /dev/null: Read-only file system\nrc=1\ndev-ok\n');
  });
});

describe('linux.sysctl', () => {
  it('the keys the Sentry has are set in its /proc/sys and take effect', async () => {
    const r = await runIn('cat /proc/sys/net/ipv4/ip_unprivileged_port_start /proc/sys/net/ipv4/ping_group_range; nc -l -p 1500 2>&1; echo rc=$?', (c) => {
      c.process.user = { uid: 65534, gid: 65534 };
      // No CAP_NET_BIND_SERVICE (the default spec gives it, ambient too, as runc's: then
      // the bind below 2000 is allowed, as on Linux).
      c.process.capabilities = { bounding: [], effective: [], permitted: [], ambient: [] };
      c.linux.sysctl = { 'net.ipv4.ip_unprivileged_port_start': '2000', 'net.ipv4.ping_group_range': '0 2147483647' };
    });
    expect(r.out).toMatch(/^2000\n0\t2147483647\n.*Permission denied\nrc=1\n$/s);
    expect((await runIn('cat /proc/sys/net/ipv4/ip_unprivileged_port_start')).out).toBe('1024\n');
  });

  it('an unknown key, a key that cannot change, or a bad value is refused, one line, nothing left', async () => {
    for (const [sysctl, msg] of [
      [{ 'kernel.no_such_knob': '1' }, /linux.sysctl: "kernel.no_such_knob" is not supported in this sandbox/],
      [{ 'kernel.ostype': 'x' }, /linux.sysctl: "kernel.ostype" cannot be set in this sandbox/],
      [{ 'net.ipv4.ip_unprivileged_port_start': 'many' }, /linux.sysctl: "net.ipv4.ip_unprivileged_port_start" = "many": invalid value/],
      [{ 'kernel/../x': '1' }, /linux.sysctl: invalid key/],
    ] as const) {
      const r = await runIn('true', (c) => (c.linux.sysctl = sysctl));
      expect(r.status).not.toBe(0);
      expect(r.err.trim().split('\n')).toEqual([expect.stringMatching(msg)]);
    }
    expect(fs.readdirSync(path.join(dir, 'state')).filter((d) => !d.startsWith('.'))).toEqual([]);
  });
});

describe('linux.seccomp', () => {
  const profile = (syscalls: any[], defaultAction = 'SCMP_ACT_ALLOW') => (c: any) => {
    c.linux.seccomp = { defaultAction, architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32'], syscalls };
  };

  it('a denied syscall gets the profile\'s errno', async () => {
    const r = await runIn('mkdir /tmp/d; echo rc=$?; echo still-running',
      profile([{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO', errnoRet: 28 }]));
    expect(r.err).toContain('No space left on device');
    expect(r.out).toBe('rc=1\nstill-running\n');
  });

  it('argument conditions: write to fd 2 refused, to fd 1 allowed', async () => {
    // ls's complaint goes to fd 2 itself (a `>&2` would make it fd 1, a copy).
    const script = 'echo out; ls /no-such-file; echo rc=$?';
    const r = await runIn(script,
      profile([{ names: ['write'], action: 'SCMP_ACT_ERRNO', errnoRet: 1, args: [{ index: 0, value: 2, op: 'SCMP_CMP_EQ' }] }]));
    expect(r.out).toBe('out\nrc=1\n');
    expect(r.err).toBe('');
    expect((await runIn(script)).err).toContain('No such file or directory');
  });

  it('masked and ordered comparisons on 64-bit arguments', async () => {
    // umask(0o077) matches MASKED_EQ 0o070 == 0o070: refused; umask(0o002) passes (umask never fails).
    const r = await runIn('umask 077; umask; umask 002; umask; kill -0 $$ && echo kill-small; kill -0 99999999 2>/dev/null; echo rc=$?',
      profile([
        { names: ['umask'], action: 'SCMP_ACT_ERRNO', errnoRet: 1, args: [{ index: 0, value: 0o070, valueTwo: 0o070, op: 'SCMP_CMP_MASKED_EQ' }] },
        { names: ['kill'], action: 'SCMP_ACT_ERRNO', errnoRet: 13, args: [{ index: 0, value: 4294967296, op: 'SCMP_CMP_GE' }] },
      ]));
    // umask(2) "failing" returns -1 to the shell's umask, which then reports the old value.
    expect(r.out.split('\n')[1]).toBe('0002');
    expect(r.out).toContain('kill-small\n');
    expect(r.status, r.err).toBe(0);
  });

  it('SCMP_ACT_KILL_PROCESS ends the process with SIGSYS; the default action applies to the rest', async () => {
    // sync(2) is not one the shell makes itself (it calls uname, for one).
    const r = await runIn('(sync); echo status=$?',
      profile([{ names: ['sync'], action: 'SCMP_ACT_KILL_PROCESS' }]));
    expect(r.out).toBe('status=159\n');
    // The default action: every syscall the table names allowed but mkdir/mkdirat (a
    // program of more than one run of jeq's), which get defaultErrnoRet.
    const names = (await spawnAsync(BIN, ['syscalls'])).stdout.split('\n')
      .map((l) => /^\s*\d+\s+(\S+)/.exec(l)?.[1]).filter((x): x is string => !!x && x !== 'mkdir' && x !== 'mkdirat');
    expect(names.length).toBeGreaterThan(300);
    const d = await runIn('echo hi; mkdir /tmp/d', (c) => {
      profile([{ names, action: 'SCMP_ACT_ALLOW' }], 'SCMP_ACT_ERRNO')(c);
      c.linux.seccomp.defaultErrnoRet = 13;
    });
    expect(d.out).toBe('hi\n');
    expect(d.err).toContain('Permission denied');
  });

  it('a bad profile is one clear error', async () => {
    const bogus = await runIn('true', profile([{ names: ['mkdir'], action: 'SCMP_ACT_BOGUS' }]));
    expect(bogus.status).not.toBe(0);
    expect(bogus.err.trim().split('\n')).toHaveLength(1);
    expect(bogus.err).toMatch(/linux.seccomp.syscalls\[0\].action: must be one of/);
    // Valid for the schema, not for this sandbox: no seccomp listener.
    const r = await runIn('true', profile([{ names: ['mkdir'], action: 'SCMP_ACT_NOTIFY' }]));
    expect(r.status).not.toBe(0);
    expect(r.err.trim().split('\n')).toHaveLength(1);
    expect(r.err).toMatch(/linux.seccomp: syscalls\[0\]: SCMP_ACT_NOTIFY is not supported/);
  });
});

describe('mounts: a bind of one file is live', () => {
  it('the host rewriting the file is seen inside; a rw bind writes through, a ro one refuses', async () => {
    const hosts = path.join(dir, 'hosts');
    const resolv = path.join(dir, 'resolv.conf');
    fs.writeFileSync(hosts, '127.0.0.1 first\n');
    fs.writeFileSync(resolv, 'nameserver 198.51.100.53\n');
    const b = await makeBundle(path.join(dir, `b${++n}`), (c) => {
      c.process.args = ['sh', '-c', 'cat /etc/hosts; echo ready; ' +
        'while ! grep -q second /etc/hosts; do sleep 0.1; done; cat /etc/hosts; ' +
        'echo "search example.org" >> /etc/resolv.conf && echo wrote-ro; echo "198.51.100.9 guest" >> /etc/hosts && echo wrote-rw'];
      c.mounts.push({ destination: '/etc/hosts', type: 'bind', source: hosts, options: ['rbind', 'rw'] });
      c.mounts.push({ destination: '/etc/resolv.conf', type: 'bind', source: resolv, options: ['rbind', 'ro'] });
    }, rootfs);
    const root = path.join(dir, 'state');
    const out = path.join(b, 'out');
    const o = fs.openSync(out, 'w');
    const r = await spawnAsync(BIN, ['--root', root, 'run', '--detach', '--bundle', b, 'livebind'], { stdio: ['ignore', o, o], timeout: 60_000 });
    fs.closeSync(o);
    expect(r.status).toBe(0);
    const until = async (f: () => boolean) => {
      for (let i = 0; i < 1500 && !f(); i++) await new Promise((res) => setTimeout(res, 20));
    };
    // cat is done (a rewrite while it reads would show it the new bytes past its offset).
    await until(() => fs.readFileSync(out, 'utf8').includes('ready\n'));
    // Rewritten in place, as engines update /etc/hosts.
    fs.writeFileSync(hosts, '127.0.0.1 second\n');
    await until(() => fs.readFileSync(out, 'utf8').includes('wrote-rw') || fs.readFileSync(hosts, 'utf8').includes('guest'));
    await until(() => fs.readFileSync(out, 'utf8').includes('wrote-rw'));
    const text = fs.readFileSync(out, 'utf8');
    expect(text).toContain('127.0.0.1 first\nready\n127.0.0.1 second\n');
    expect(text).not.toContain('wrote-ro');
    expect(text).toContain('wrote-rw');
    expect(fs.readFileSync(hosts, 'utf8')).toBe('127.0.0.1 second\n198.51.100.9 guest\n');
    expect(fs.readFileSync(resolv, 'utf8')).toBe('nameserver 198.51.100.53\n');
    await spawnAsync(BIN, ['--root', root, 'delete', '--force', 'livebind']);
  });
});

describe('mounts: a bind of a device or a fifo', () => {
  it('/dev/zero and /dev/null bound elsewhere are the sandbox\'s devices (create never reads them); a fifo is one; a socket is refused', async () => {
    const fifo = path.join(dir, 'fifo');
    if (!fs.existsSync(fifo)) await spawnAsync('mkfifo', [fifo]);
    const r = await runIn('head -c 5 /mnt/zero | od -An -tx1; echo gone > /mnt/null && wc -c < /mnt/null; ' +
      'ls -l /mnt/zero /mnt/null /dev/zero | cut -c1-10; stat -c %t:%T /mnt/zero /mnt/null; stat -c %F /run/fifo; ' +
      'echo user-ok > /dev/null && echo null-ok', (c) => {
      c.mounts.push({ destination: '/mnt/zero', type: 'bind', source: '/dev/zero', options: ['rbind', 'rw'] });
      c.mounts.push({ destination: '/mnt/null', type: 'bind', source: '/dev/null', options: ['rbind', 'rw'] });
      c.mounts.push({ destination: '/dev/zero', type: 'bind', source: '/dev/zero', options: ['rbind', 'rw'] });
      c.mounts.push({ destination: '/run/fifo', type: 'bind', source: fifo, options: ['rbind'] });
      c.process.user = { uid: 1000, gid: 1000 };
    });
    expect(r.status, r.err).toBe(0);
    expect(r.out).toBe(' 00 00 00 00 00\n0\ncrw-rw-rw-\ncrw-rw-rw-\ncrw-rw-rw-\n1:5\n1:3\nfifo\nnull-ok\n');
    const sock = path.join(dir, 'sock');
    const srv = require('node:net').createServer().listen(sock);
    await new Promise((res) => srv.once('listening', res));
    try {
      const bad = await runIn('true', (c) => c.mounts.push({ destination: '/run/sock', type: 'bind', source: sock, options: ['rbind'] }));
      expect(bad.status).not.toBe(0);
      expect(bad.err).toContain(`mount source ${sock}: a socket cannot be bound into the sandbox`);
      expect(bad.err.trim().split('\n')).toHaveLength(1);
    } finally {
      srv.close();
    }
  });
});

describe('process', () => {
  it('noNewPrivileges, umask, additionalGids, rlimits and capabilities as the guest sees them', async () => {
    const r = await runIn('grep -E "^(CapEff|NoNewPrivs)" /proc/self/status; umask; id -G; ulimit -n; ulimit -Hn', (c) => {
      c.process.noNewPrivileges = true;
      c.process.user = { uid: 0, gid: 0, umask: 0o027, additionalGids: [10, 20] };
      c.process.rlimits = [{ type: 'RLIMIT_NOFILE', soft: 123, hard: 456 }];
      c.process.capabilities = { bounding: ['CAP_CHOWN', 'CAP_KILL'], effective: ['CAP_CHOWN', 'CAP_KILL'], permitted: ['CAP_CHOWN', 'CAP_KILL'] };
    });
    expect(r.status, r.err).toBe(0);
    expect(r.out).toBe('CapEff:\t0000000000000021\nNoNewPrivs:\t1\n0027\n0 10 20\n123\n456\n');
  });
});
