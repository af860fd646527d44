/**
 * The container's network namespace handed to the Sentry's stack: a namespace and a
 * veth pair the test makes (198.51.100.0/24, 2001:db8::/32), the bundle naming the
 * namespace's path. The container gets the veth's addresses and serves TCP that a client
 * in the peer namespace reaches; `--network none` keeps loopback only; sandbox mode
 * without a namespace of the container's own is refused. Namespaces are removed after.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, cli, makeBundle, makeRootfs, tmp, waitFor, type Cli, spawnAsync } from './helpers';
import { canMakeNetns, cleanupNetns, sh as netSh, vethPair, SANDBOX_V4, PEER_V4, type Pair } from '../net/netns';

const ok = process.getuid?.() === 0 && canMakeNetns();

describe.skipIf(!ok)('OCI network: the container netns in the Sentry\'s stack', () => {
  let dir = '';
  let rootfs = '';
  let t: Cli;
  let pair: Pair;
  let n = 0;

  beforeAll(async () => {
    dir = tmp('net');
    rootfs = await makeRootfs(path.join(dir, 'rootfs'));
    t = cli(path.join(dir, 'state'));
    pair = vethPair();
  });

  afterAll(async () => {
    for (const id of (await t.run(['list', '-q'])).stdout.split('\n').filter(Boolean)) await t.run(['delete', '--force', id]);
    cleanupNetns();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const bundle = (args: string[], netns: string | null) => makeBundle(path.join(dir, `b${++n}`), (c) => {
    c.process.args = args;
    c.linux.namespaces = c.linux.namespaces.filter((x: any) => x.type !== 'network');
    if (netns !== null) c.linux.namespaces.push({ type: 'network', path: netns });
  }, rootfs);

  it('the container has the veth\'s address and serves TCP to the peer namespace', async () => {
    const b = await bundle(['sh', '-c', 'ip -4 addr show > /dev/shm/addrs; while true; do echo served-by-the-sandbox | nc -l -p 7777; done'], `/run/netns/${pair.sandboxNs}`);
    const cr = await t.detached(['create', '--bundle', b, 'n-serve'], b);
    expect(cr.status, cr.stderr).toBe(0);
    const st = await t.run(['start', 'n-serve']);
    expect(st.status, st.stderr).toBe(0);
    const got = await waitFor(async () => {
      const r = await spawnAsync('ip', ['netns', 'exec', pair.peerNs, 'busybox', 'nc', '-w', '2', SANDBOX_V4, '7777'], { input: '', timeout: 10_000 });
      return r.stdout.includes('served-by-the-sandbox') ? r.stdout : null;
    }, 100);
    expect(got).toContain('served-by-the-sandbox');
    expect((await t.run(['exec', 'n-serve', 'cat', '/dev/shm/addrs'])).stdout).toContain(`${SANDBOX_V4}/24`);
    // The guest reaches a server in the peer namespace too.
    const srv = spawn('ip', ['netns', 'exec', pair.peerNs, 'busybox', 'nc', '-l', '-p', '7778'], { stdio: ['ignore', 'pipe', 'ignore'] });
    let heard = '';
    srv.stdout.on('data', (d: Buffer) => (heard += d.toString()));
    try {
      await waitFor(async () => {
        await t.run(['exec', 'n-serve', 'sh', '-c', `echo from-the-guest | nc -w 2 ${PEER_V4} 7778`]);
        return heard.includes('from-the-guest');
      }, 50);
    } finally {
      srv.kill('SIGKILL');
    }
    expect(heard).toContain('from-the-guest');
    // The namespace's kernel no longer answers for the address: the Sentry owns it.
    expect(netSh(['ip', '-n', pair.sandboxNs, '-4', 'addr', 'show'])).not.toContain(SANDBOX_V4);
    expect((await t.run(['delete', '--force', 'n-serve'])).status).toBe(0);
  });

  it('--network none: loopback only, whatever the namespace holds', async () => {
    const b = await bundle(['sh', '-c', 'ip -o link show | cut -d: -f2'], null);
    const r = await spawnAsync(BIN, ['--root', t.root, '--network', 'none', 'run', '--bundle', b, 'n-none'], { input: '', timeout: 60_000 });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe('lo');
  });

  it('sandbox mode without a network namespace of the container\'s own is refused, nothing left', async () => {
    const b = await bundle(['true'], null);
    const r = await spawnAsync(BIN, ['--root', t.root, '--network', 'sandbox', 'create', '--bundle', b, 'n-bad'], { input: '', timeout: 60_000 });
    expect(r.status).not.toBe(0);
    expect(r.stderr.trim().split('\n')).toEqual([expect.stringMatching(/needs a network namespace/)]);
    expect(fs.existsSync(path.join(t.root, 'n-bad'))).toBe(false);
  });
});
