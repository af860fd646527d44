/** The network flags of `tssandbox run`: mode names, and what an unknown one says. */
import { describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../helpers/run';

/** The TCP segments of a libpcap file (Ethernet, IPv4 and IPv6): "src>dst flags len" each. */
function pcapSegments(f: Buffer): string[] {
  expect(f.readUInt32LE(0)).toBe(0xa1b2c3d4);
  expect(f.readUInt32LE(20)).toBe(1); // LINKTYPE_ETHERNET
  const out: string[] = [];
  for (let o = 24; o + 16 <= f.length;) {
    const cap = f.readUInt32LE(o + 8);
    expect(f.readUInt32LE(o + 12)).toBe(cap);
    const fr = f.subarray(o + 16, o + 16 + cap);
    o += 16 + cap;
    const type = fr.readUInt16BE(12);
    let l4 = 0;
    let proto = 0;
    let end = 0;
    if (type === 0x0800) {
      l4 = 14 + (fr[14] & 15) * 4;
      proto = fr[23];
      end = 14 + fr.readUInt16BE(16);
    } else if (type === 0x86dd) {
      l4 = 54;
      proto = fr[20];
      end = 54 + fr.readUInt16BE(18);
    }
    if (proto !== 6) continue;
    const flags = fr[l4 + 13];
    const names = [[2, 'S'], [1, 'F'], [4, 'R'], [8, 'P'], [16, '.']].filter(([b]) => flags & (b as number)).map(([, n]) => n).join('');
    const len = end - l4 - (fr[l4 + 12] >> 4) * 4;
    out.push(`${fr.readUInt16BE(l4)}>${fr.readUInt16BE(l4 + 2)} ${names} ${len}`);
  }
  return out;
}

describe('--network', () => {
  it('an unknown mode is one error line listing the modes', async () => {
    const r = await runCli(['run', '--network=bogus', '/bin/true']);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain("unknown mode 'bogus'");
    for (const m of ['none', 'sandbox', 'host', 'user']) expect(r.stderr).toContain(m);
  });

  it('a bad --allow-net rule is refused before the guest runs', async () => {
    const r = await runCli(['run', '--allow-net', '300.1.2.3/8', '/bin/true']);
    expect(r.code).toBe(125);
    expect(r.stderr).toContain("bad network rule '300.1.2.3/8'");
  });

  it('--network=sandbox without a namespace: loopback through the stack works', async () => {
    const code = 'import socket\nl=socket.socket(); l.bind(("127.0.0.1",0)); l.listen()\nc=socket.create_connection(l.getsockname()); a,_=l.accept(); c.sendall(b"ok"); print(a.recv(2).decode())';
    const r = await runCli(['run', '--network=sandbox', '--', '/usr/bin/python3', '-c', code], { timeoutMs: 60_000 });
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('ok\n');
  }, 90_000);

  it('--pcap: every frame of a connection through the stack, in a file tcpdump reads', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tss-pcap-'));
    try {
      const file = join(dir, 'lo.pcap');
      const code = 'import socket\nl=socket.socket(socket.AF_INET6); l.bind(("::1",5555)); l.listen()\nc=socket.create_connection(("::1",5555)); a,_=l.accept(); c.sendall(b"hello"); print(a.recv(5).decode()); a.sendall(b"hi"); print(c.recv(2).decode()); c.close(); a.close()\n'
        + 'l=socket.socket(); l.bind(("127.0.0.1",5556)); l.listen()\nc=socket.create_connection(("127.0.0.1",5556)); a,_=l.accept(); c.sendall(b"x"*3000); print(len(a.recv(5000, socket.MSG_WAITALL))); c.close(); a.close()';
      const r = await runCli(['run', '--network=sandbox', '--pcap', file, '--', '/usr/bin/python3', '-c', code], { timeoutMs: 60_000 });
      expect(r.stderr).toBe('');
      expect(r.stdout).toBe('hello\nhi\n3000\n');
      const segs = pcapSegments(readFileSync(file));
      const v6 = segs.filter((x) => x.includes('5555'));
      // Each segment is seen once (as Linux's lo shows it): handshake, data both ways, both FINs.
      expect(v6.filter((x) => / S\.? 0$/.test(x))).toHaveLength(2);
      expect(v6.filter((x) => x.endsWith(' 5'))).toHaveLength(1);
      expect(v6.filter((x) => x.endsWith(' 2'))).toHaveLength(1);
      expect(v6.filter((x) => x.includes('F'))).toHaveLength(2);
      const v4 = segs.filter((x) => x.includes('5556'));
      const data = v4.map((x) => Number(x.split(' ')[2])).reduce((a, b) => a + b, 0);
      expect(data).toBe(3000);
      if (existsSync('/usr/bin/tcpdump') || existsSync('/usr/sbin/tcpdump')) {
        const t = execFileSync('tcpdump', ['-nn', '-r', file], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
        expect(t).toMatch(/::1\.\d+ > ::1\.5555: Flags \[S\]/);
        expect(t).toMatch(/127\.0\.0\.1\.5556 > 127\.0\.0\.1\.\d+: Flags \[F?\.?\]/);
        expect(t).toContain('length 5');
        expect(t.trim().split('\n').length).toBe(segs.length);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 90_000);

  it('/proc/net/{tcp6,udp,udp6,unix,dev,snmp} (Ip, Icmp, IcmpMsg after a ping) and ss -tanp inside show the sandbox\'s sockets as Linux formats them', async () => {
    const code = [
      'import socket, subprocess',
      't4 = socket.socket(); t4.bind(("127.0.0.1", 8081)); t4.listen()',
      't6 = socket.socket(socket.AF_INET6); t6.bind(("::1", 8082)); t6.listen()',
      'u4 = socket.socket(type=socket.SOCK_DGRAM); u4.bind(("127.0.0.1", 8083))',
      'u6 = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM); u6.bind(("::1", 8084))',
      'ux = socket.socket(socket.AF_UNIX); ux.bind("/tmp/intro.sock"); ux.listen()',
      'ud = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); ud.bind(b"\\0intro")',
      'c = socket.create_connection(("127.0.0.1", 8081)); a, _ = t4.accept(); c.sendall(b"x" * 10)',
      'subprocess.run(["/usr/bin/busybox", "ping", "-c", "1", "127.0.0.1"], capture_output=True)',
      'for f in ["tcp6", "udp", "udp6", "unix", "dev", "snmp"]: print("==", f); print(open("/proc/net/" + f).read())',
      'print("== ss"); print(subprocess.run(["ss", "-tanpH"], capture_output=True, text=True).stdout)',
    ].join('\n');
    const r = await runCli(['run', '--network=sandbox', '--', '/usr/bin/python3', '-c', code], { timeoutMs: 60_000 });
    expect(r.stderr).toBe('');
    const part = (name: string) => r.stdout.split(`== ${name}\n`)[1].split('\n==')[0];
    expect(part('tcp6')).toMatch(/^ +0: 0{24}01000000:1F92 0{32}:0000 0A /m);
    expect(part('udp')).toMatch(/^ +0: 0100007F:1F93 00000000:0000 07 /m);
    expect(part('udp6')).toMatch(/^ +0: 0{24}01000000:1F94 0{32}:0000 07 /m);
    const unix = part('unix');
    expect(unix).toMatch(/^Num {7}RefCount Protocol Flags {4}Type St Inode Path\n/);
    expect(unix).toMatch(/^0{16}: 00000002 00000000 00010000 0001 01 +\d+ \/tmp\/intro\.sock$/m);
    expect(unix).toMatch(/^0{16}: 00000002 00000000 00000000 0002 01 +\d+ @intro$/m);
    expect(part('dev')).toMatch(/^ +lo: +\d+ +\d+ /m);
    const snmp = part('snmp').trim().split('\n');
    const grp = (g: string) => {
      const [names, vals] = snmp.filter((l) => l.startsWith(`${g}:`)).map((l) => l.split(' ').slice(1));
      return Object.fromEntries(names.map((n, i) => [n, vals[i]]));
    };
    // Linux 6.1's groups and fields (the kernel the sandbox reports), in its order.
    expect(snmp.map((l) => l.split(':')[0])).toEqual(['Ip', 'Ip', 'Icmp', 'Icmp', 'IcmpMsg', 'IcmpMsg', 'Tcp', 'Tcp', 'Udp', 'Udp', 'UdpLite', 'UdpLite']);
    expect(snmp[0]).toBe('Ip: Forwarding DefaultTTL InReceives InHdrErrors InAddrErrors ForwDatagrams InUnknownProtos InDiscards InDelivers OutRequests OutDiscards OutNoRoutes ReasmTimeout ReasmReqds ReasmOKs ReasmFails FragOKs FragFails FragCreates');
    expect(snmp[2]).toBe('Icmp: InMsgs InErrors InCsumErrors InDestUnreachs InTimeExcds InParmProbs InSrcQuenchs InRedirects InEchos InEchoReps InTimestamps InTimestampReps InAddrMasks InAddrMaskReps OutMsgs OutErrors OutDestUnreachs OutTimeExcds OutParmProbs OutSrcQuenchs OutRedirects OutEchos OutEchoReps OutTimestamps OutTimestampReps OutAddrMasks OutAddrMaskReps');
    // One ping of 127.0.0.1: an echo and its reply, each sent and received.
    expect(grp('Icmp')).toMatchObject({ InMsgs: '2', OutMsgs: '2', InEchos: '1', InEchoReps: '1', OutEchos: '1', OutEchoReps: '1' });
    expect(grp('IcmpMsg')).toEqual({ InType0: '1', InType8: '1', OutType0: '1', OutType8: '1' });
    expect(Number(grp('Ip').InReceives)).toBeGreaterThanOrEqual(Number(grp('Ip').InDelivers));
    expect(Number(grp('Ip').InDelivers)).toBeGreaterThan(0);
    expect(grp('Tcp').CurrEstab).toBe('2');
    const ss = part('ss');
    expect(ss, ss).toMatch(/^LISTEN +0 +\d+ +127\.0\.0\.1:8081 +0\.0\.0\.0:\* +users:\(\("python3",pid=1,fd=\d+\)\) *$/m);
    expect(ss, ss).toMatch(/^ESTAB +10 +0 +127\.0\.0\.1:8081 +127\.0\.0\.1:\d+ +users:\(\("python3",pid=1,fd=\d+\)\) *$/m);
    expect(ss, ss).toMatch(/^LISTEN +0 +\d+ +\[::1\]:8082 /m);
  }, 90_000);

  it('--dns and --hostname: resolv.conf and hosts inside, the host\'s files untouched', async () => {
    const before = [readFileSync('/etc/resolv.conf', 'utf8'), readFileSync('/etc/hosts', 'utf8')];
    const r = await runCli(['run', '--dns', '192.0.2.53', '--dns', '2001:db8::53', '--hostname', 'box1', '--', '/bin/cat', '/etc/resolv.conf', '/etc/hosts'], { timeoutMs: 60_000 });
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('nameserver 192.0.2.53\nnameserver 2001:db8::53\n127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n127.0.1.1\tbox1\n');
    const u = await runCli(['run', '--network=user', '--', '/bin/cat', '/etc/resolv.conf', '/etc/hosts'], { timeoutMs: 60_000 });
    expect(u.stdout).toBe('nameserver 10.0.2.3\n127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n10.0.2.100\ttssandbox\n');
    expect([readFileSync('/etc/resolv.conf', 'utf8'), readFileSync('/etc/hosts', 'utf8')]).toEqual(before);
  }, 90_000);

  it('bad --dns and --publish without a stack are one error line each', async () => {
    const d = await runCli(['run', '--dns', 'bogus', '/bin/true']);
    expect(d.code).toBe(125);
    expect(d.stderr).toBe("tssandbox: cannot set up the network: --dns wants an IP address, got 'bogus'\n");
    const p = await runCli(['run', '--publish', '8080:80', '/bin/true']);
    expect(p.code).toBe(125);
    expect(p.stderr).toBe('tssandbox: cannot set up the network: --publish needs --network=user or --network=sandbox\n');
    const q = await runCli(['run', '--publish', '8080:80/sctp', '/bin/true']);
    expect(q.code).toBe(2);
    expect(q.stderr.trim().split('\n')).toHaveLength(1);
  }, 60_000);
});
