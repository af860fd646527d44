/** The network flags of `tssandbox run`: mode names, and what an unknown one says. */
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { runCli } from '../helpers/run';

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
