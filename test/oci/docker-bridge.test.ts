/**
 * Docker with a bridge network: a dockerd of the test's own, run inside a network
 * namespace the test makes (so nothing of the host's network changes), on a bridge the
 * test makes there with 198.51.100.1/24 (`--bridge`, `--iptables=false`: the published
 * port goes through docker-proxy). The container's namespace, with its end of Docker's
 * veth on that bridge, is handed to the Sentry's stack at start. A busybox httpd in a
 * tssandbox container serves a page, fetched with curl from the host side of the
 * bridge (the namespace dockerd runs in): by the container's address and by the published port; a
 * second container reaches the first over the bridge (ping and HTTP). All removed after.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, have, makeRootfs, rootfsTar, tmp, waitFor, stopDockerd, spawnAsync, procStatus, descendants } from './helpers';
import { addNetns, canMakeNetns, cleanupNetns, sh as netSh } from '../net/netns';

const DOCKER = fs.existsSync('/usr/bin/docker') ? '/usr/bin/docker' : 'docker';
const ok = process.getuid?.() === 0 && have('dockerd') && have('docker-proxy') && have('nsenter') && have('curl') && canMakeNetns();
const IMAGE = 'tssandbox-busybox:bridge';
const BRIDGE_V4 = '198.51.100.1';

describe.skipIf(!ok)('docker --runtime=tssandbox on a bridge network', () => {
  let dir = '';
  let host = '';
  let ns = '';
  let daemon: ChildProcess | null = null;

  const docker = (args: string[], opts: { timeout?: number } = {}) =>
    spawnAsync(DOCKER, ['-H', host, ...args], { timeout: opts.timeout ?? 120_000, input: '' });
  /** A command on dockerd's side of the bridge (the namespace it runs in). */
  const inNs = (args: string[]) =>
    spawnAsync('nsenter', [`--net=/run/netns/${ns}`, '--', ...args], { timeout: 20_000, input: '' });
  const fetch = (url: string) => inNs(['curl', '-s', '-m', '5', url]);

  beforeAll(async () => {
    dir = tmp('bridge');
    host = `unix://${dir}/docker.sock`;
    ns = addNetns('dock');
    const br = `${ns}b`.slice(-15);
    netSh(['ip', '-n', ns, 'link', 'add', br, 'type', 'bridge']);
    netSh(['ip', '-n', ns, 'addr', 'add', `${BRIDGE_V4}/24`, 'dev', br]);
    netSh(['ip', '-n', ns, 'link', 'set', br, 'up']);
    const conf = path.join(dir, 'daemon.json');
    fs.writeFileSync(conf, JSON.stringify({ 'log-level': 'warn' }));
    const inst = await spawnAsync(BIN, ['install', '--config', conf]);
    expect(inst.status, inst.stderr).toBe(0);
    const log = fs.openSync(path.join(dir, 'dockerd.log'), 'w');
    daemon = spawn('nsenter', [`--net=/run/netns/${ns}`, '--', 'dockerd',
      '--config-file', conf, '--iptables=false', '--ip6tables=false', '--ip-masq=false', `--bridge=${br}`, '--storage-driver=vfs',
      '--data-root', path.join(dir, 'data'), '--exec-root', path.join(dir, 'exec'), '-H', host,
      '--pidfile', path.join(dir, 'docker.pid'),
    ], { stdio: ['ignore', log, log] });
    await waitFor(async () => (await docker(['version'])).status === 0, 3000);
    const rootfs = await makeRootfs(path.join(dir, 'rootfs'));
    fs.mkdirSync(path.join(rootfs, 'www'));
    fs.writeFileSync(path.join(rootfs, 'www', 'index.html'), 'served by tssandbox over the bridge\n');
    const r = await docker(['import', '--change', 'CMD ["sh"]', await rootfsTar(rootfs, path.join(dir, 'rootfs.tar')), IMAGE]);
    expect(r.status, r.stderr).toBe(0);
  }, 240_000);

  afterAll(async () => {
    await stopDockerd(daemon, docker, dir);
    cleanupNetns();
  }, 120_000);

  it('a published port and the container\'s address serve the page; a second container reaches the first', async () => {
    const r = await docker(['run', '-d', '--runtime=tssandbox', '--name', 'web', '-p', '8080:80', IMAGE, 'httpd', '-f', '-p', '80', '-h', '/www']);
    expect(r.status, r.stderr).toBe(0);
    const ip = (await docker(['inspect', '-f', '{{.NetworkSettings.IPAddress}}', 'web'])).stdout.trim();
    expect(ip).toMatch(/^198\.51\.100\.\d+$/);
    // The Sentry is confined (before it read the image: test/oci/confine.test.ts), and its
    // network was taken over after Docker's prestart hook by the helper, which is gone.
    const id = (await docker(['inspect', '-f', '{{.Id}}', 'web'])).stdout.trim();
    const st = JSON.parse(fs.readFileSync(path.join(dir, 'exec', 'runtime-runc', 'moby', id, 'state.json'), 'utf8'));
    const sentry = Number(st.sentryPid ?? st.pid);
    const s = procStatus(sentry);
    expect([s.Seccomp, s.NoNewPrivs, s.CapEff]).toEqual(['2', '1', '0000000000000000']);
    expect(fs.readlinkSync(`/proc/${sentry}/root`)).not.toBe('/');
    expect(descendants(sentry).filter((p) => procStatus(p).Name === 'tss-net-helper')).toEqual([]);
    // The container's address is the Sentry's now: from the bridge's side, straight to it.
    const direct = await waitFor(async () => {
      const f = await fetch(`http://${ip}/`);
      return f.status === 0 ? f.stdout : null;
    }, 250);
    expect(direct).toBe('served by tssandbox over the bridge\n');
    // The published port (docker-proxy, on dockerd's side).
    const published = await waitFor(async () => {
      const f = await fetch(`http://127.0.0.1:8080/`);
      return f.status === 0 ? f.stdout : null;
    }, 250);
    expect(published).toBe('served by tssandbox over the bridge\n');
    // Inside: the address on eth0, the route to the bridge.
    const a = await docker(['exec', 'web', 'sh', '-c', 'ip -4 addr show eth0; ip route']);
    expect(a.stdout, a.stderr).toContain(`${ip}/24`);
    expect(a.stdout).toContain(`default via ${BRIDGE_V4}`);
    // Container to container over the bridge.
    // (busybox wget crashes on this page on Linux too: nc speaks the HTTP here.)
    const get = `printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 3 ${ip} 80 | tail -1`;
    const c = await docker(['run', '--rm', '--runtime=tssandbox', IMAGE, 'sh', '-c', `ping -c 1 -W 3 ${ip} >/dev/null && echo ping-ok; ${get}`]);
    expect(c.stdout, c.stderr).toBe('ping-ok\nserved by tssandbox over the bridge\n');
    expect((await docker(['rm', '-f', 'web'])).status).toBe(0);
  });
});
