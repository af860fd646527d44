/** The network flags of `tssandbox run`: mode names, and what an unknown one says. */
import { describe, expect, it } from 'vitest';
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
});
