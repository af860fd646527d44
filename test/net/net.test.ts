/**
 * Sockets: guest C programs in test/net/guests, built static and dynamic, must print
 * exactly what they print natively; then real programs (node, python3) that need
 * socketpair, TCP loopback and netlink.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import * as path from 'node:path';
import { existsSync } from 'node:fs';
import { compileGuest, LINKAGES, type Linkage } from '../helpers/build';
import { explain, expectSameAsNative, runSandbox, status } from '../helpers/run';

const SRC = path.join(__dirname, 'guests');
const COMPARED = ['net_unix', 'net_inet'];
const bins: Record<string, string> = {};

beforeAll(() => {
  for (const name of COMPARED) {
    for (const l of LINKAGES) bins[`${name}.${l}`] = compileGuest(name, l, { srcDir: SRC, flags: ['-I', path.join(__dirname, '../guests')] });
  }
});

for (const name of COMPARED) {
  describe(name, () => {
    for (const l of LINKAGES as Linkage[]) {
      it(`${l}: output equals native`, async () => {
        const { sandbox } = await expectSameAsNative([bins[`${name}.${l}`]], { timeoutMs: 40_000 });
        expect(sandbox.stdout).toMatch(/done\n$/);
      }, 60_000);
    }
  });
}

const PY = '/usr/bin/python3';
const NODE = process.execPath;

describe('real programs', () => {
  it('node child_process.execSync (socketpair stdio)', async () => {
    const r = await runSandbox([NODE, '-e', 'process.stdout.write(require("child_process").execSync("echo hi").toString())'], { timeoutMs: 40_000 });
    expect(status(r), explain(r)).toBe(0);
    expect(r.stdout, explain(r)).toBe('hi\n');
  }, 60_000);

  it.skipIf(!existsSync(PY))('python3 socket.socketpair', async () => {
    const code = 'import socket\na,b=socket.socketpair()\na.sendall(b"ping")\nprint(b.recv(10).decode())';
    const r = await runSandbox([PY, '-c', code], { timeoutMs: 40_000 });
    expect(status(r), explain(r)).toBe(0);
    expect(r.stdout).toBe('ping\n');
  }, 60_000);

  it.skipIf(!existsSync(PY))('python3 TCP echo between two processes over 127.0.0.1', async () => {
    const code = [
      'import socket, os',
      's=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)',
      's.bind(("127.0.0.1", 0)); s.listen(); port=s.getsockname()[1]',
      'pid=os.fork()',
      'if pid==0:',
      '    c=socket.create_connection(("127.0.0.1", port)); c.sendall(b"hello tcp"); c.shutdown(socket.SHUT_WR)',
      '    print("child got", c.recv(100).decode(), flush=True); os._exit(0)',
      'conn,addr=s.accept(); data=b""',
      'while True:',
      '    d=conn.recv(100)',
      '    if not d: break',
      '    data+=d',
      'conn.sendall(data.upper()); conn.close(); os.waitpid(pid,0); print("server got", data.decode())',
    ].join('\n');
    const r = await runSandbox([PY, '-c', code], { timeoutMs: 40_000 });
    expect(status(r), explain(r)).toBe(0);
    expect(r.stdout).toBe('child got HELLO TCP\nserver got hello tcp\n');
  }, 60_000);

  it.skipIf(!existsSync(PY))('python3 multiprocessing Pipe and getifaddrs-based calls', async () => {
    const code = [
      'import multiprocessing as mp, socket',
      'def f(c): c.send(["ok", 42]); c.close()',
      'if __name__ == "__main__":',
      '    a,b = mp.Pipe(); p = mp.Process(target=f, args=(b,)); p.start(); print(a.recv()); p.join()',
      '    print([n for i,n in socket.if_nameindex()])',
    ].join('\n');
    const r = await runSandbox([PY, '-c', code], { timeoutMs: 50_000 });
    expect(status(r), explain(r)).toBe(0);
    expect(r.stdout).toBe("['ok', 42]\n['lo']\n");
  }, 70_000);
});
