/**
 * NETLINK_SOCK_DIAG against Linux: test/net/guests/net_ss.c opens TCP listeners (v4, a v6
 * wildcard), connections with unread bytes (one left in the accept queue, one v4-mapped),
 * UDP sockets and a unix listener, then runs ss (-tanp, -uanp, -tlnp, state filters, -4/-6,
 * -xlnp; a v6-only wildcard listener shows [::]:*, a dual-stack one *:*), natively in a fresh network namespace and inside under --network=sandbox (the
 * stack) and none (the loopback fast path). ss takes its netlink path in both, so a
 * listener's Recv-Q/Send-Q are its accept queue and backlog. Compared per ss call as sets
 * of lines, whitespace dropped (column widths follow the pids' widths), with pids, the
 * program's name (static and dynamic builds) and the unix inode replaced: the order is Linux's hash order, and those numbers are the host's.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as path from 'node:path';
import { existsSync } from 'node:fs';
import { compileGuest, LINKAGES } from '../helpers/build';
import { canMakeNetns, addNetns, cleanupNetns, runIn } from './netns';
import { runSandbox, explain, status } from '../helpers/run';

const ok = process.getuid?.() === 0 && canMakeNetns() && existsSync('/usr/bin/ss');
const bins: Record<string, string> = {};
let native = '';
let nativeRaw = '';

/** Each "== ss ARGS" section (pids and the guests' names made alike) as its sorted, normalised lines. */
function sections(out: string): Record<string, string[]> {
  const r: Record<string, string[]> = {};
  let cur = '';
  for (const line of out.split('\n')) {
    if (line.startsWith('=~ ')) {
      cur = ''; // checked by pattern (memInfo below)
      continue;
    }
    if (line.startsWith('== ')) {
      cur = line;
      r[cur] = [];
      continue;
    }
    if (cur === '') continue;
    const norm = line.replace(/\("net_ss[^"]*",pid=\d+/g, '("G",pid=P').replace(/(\/tmp\/net_ss\.1\.sock) +\d+/, '$1 INO').replace(/\s+/g, '');
    r[cur].push(norm);
  }
  for (const k of Object.keys(r)) r[k].sort();
  return r;
}

/**
 * ss -tnmi of one connection with 5 unread bytes: skmem with its SO_RCVBUF/SO_SNDBUF
 * (as getsockopt says) and unread bytes; with tcp_info, the congestion control, window
 * scales, RTO, RTT, MSS, cwnd and bytes_received (Linux's own values are its timing's).
 */
function memInfo(out: string): void {
  const bufs = /^=~ s1 rcvbuf (\d+) sndbuf (\d+)$/m.exec(out);
  expect(bufs, out).not.toBeNull();
  const sec = out.slice(out.indexOf('=~ ss -tnmi'));
  expect(sec).toMatch(/^5 +0 +127\.0\.0\.1:47301 +127\.0\.0\.1:47311/m);
  expect(sec).toMatch(new RegExp(`skmem:\\(r[1-9]\\d*,rb${bufs![1]},t\\d+,tb${bufs![2]},f\\d+,w0,o\\d+,bl0,d0\\)`));
  const info = /\b(reno|cubic|bbr) wscale:\d+,\d+ rto:\d+ rtt:[\d.]+\/[\d.]+ ato:\d+ mss:\d+ .*cwnd:\d+ .*bytes_received:5 /;
  expect(sec).toMatch(info);
}

beforeAll(async () => {
  if (!ok) return;
  const ns = addNetns('ss');
  for (const l of LINKAGES) bins[l] = compileGuest('net_ss', l, { srcDir: path.join(__dirname, 'guests') });
  native = await runIn(ns, [bins.dynamic], 60_000);
  nativeRaw = await runIn(ns, [bins.dynamic, 'raw'], 60_000);
}, 120_000);
afterAll(() => cleanupNetns());

describe.skipIf(!ok)('ss over NETLINK_SOCK_DIAG', () => {
  it('natively, the guest sees its sockets through ss', () => {
    expect(native).toMatch(/done\n$/);
    // What the sandbox must reproduce: a listener's backlog as Send-Q, its queue as Recv-Q.
    expect(native).toMatch(/^LISTEN +1 +7 +127\.0\.0\.1:47301 +0\.0\.0\.0:\*/m);
    memInfo(native);
  });
  for (const mode of ['sandbox', 'none']) {
    for (const l of LINKAGES) {
      it(`net_ss (${l}) under --network=${mode}: ss prints what it prints on Linux`, async () => {
        const r = await runSandbox(['--network', mode, '--', bins[l]], { timeoutMs: 60_000 });
        expect(status(r), explain(r)).toBe(0);
        expect(r.stdout).toMatch(/done\n$/);
        expect(sections(r.stdout)).toEqual(sections(native));
        expect(r.stdout).toMatch(/^LISTEN +0 +0 +\[::\]:47305 +\[::\]:\* /m);
        expect(r.stdout).toMatch(/^LISTEN +0 +5 +\*:47302 +\*:\* +users:\(\("net_ss[^"]*",pid=\d+,fd=4\)\)/m);
        // tcp_info: the stack's endpoint's, or the loopback fast path's (tcp-info.ts fastTcpInfo).
        memInfo(r.stdout);
      }, 90_000);
    }
  }
  // raw_diag: the stack's raw sockets (mode none has none to list).
  it('net_ss raw under --network=sandbox: ss -w lists raw sockets as Linux does', async () => {
    expect(nativeRaw).toMatch(/done\n$/);
    expect(nativeRaw).toMatch(/^UNCONN +0 +0 +\*:58 +\*:\*/m);
    const r = await runSandbox(['--network', 'sandbox', '--', bins.dynamic, 'raw'], { timeoutMs: 60_000 });
    expect(status(r), explain(r)).toBe(0);
    expect(sections(r.stdout)).toEqual(sections(nativeRaw));
  }, 90_000);
});
