/**
 * Socket behaviour against Linux's: test/net/guests/net_sockets.c (error cases,
 * nonblocking connect and SO_ERROR, poll/epoll readiness, resets, EPIPE/SIGPIPE, recv
 * flags, options, UDP ancillary data), net_inet.c, net_sendcmsg.c (send-side IP
 * ancillary data), net_hoststream.c (a 4 MiB stream, bad buffers) and net_urgent.c (TCP
 * urgent data: MSG_OOB, SIOCATMARK, POLLPRI, SO_OOBINLINE) and net_sigurg.c (SIGURG to a
 * socket's owner by F_SETOWN/F_SETOWN_EX/FIOSETOWN/SIOCSPGRP, SIGIO and F_SETSIG) and net_disconnect.c
 * (connect with AF_UNSPEC: TCP reset and unconnected, a listener stopped, UDP dissolved) and net_tcpinfo.c
 * (TCP_INFO of loopback connections: options, advmss, path MTU, bytes acked and received) and
 * net_frag.c (lo's MTU lowered: a UDP datagram fragmented and reassembled, /proc/net/snmp's
 * Frag and Reasm counters) and net_snmp6.c (/proc/net/snmp6 after echo, UDP, a closed port
 * and a fragmented datagram over ::1) run natively in a fresh network
 * namespace (its lo has 127.0.0.1 and ::1) and in the sandbox, where they must print the
 * same thing: under --network=sandbox (every segment through the Sentry's stack over its
 * loopback interface) and under the default mode (the loopback fast path).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as path from 'node:path';
import { compileGuest, LINKAGES } from '../helpers/build';
import { canMakeNetns, addNetns, cleanupNetns, runIn } from './netns';
import { runSandbox, explain, status } from '../helpers/run';

const ok = process.getuid?.() === 0 && canMakeNetns();
const SRC = path.join(__dirname, 'guests');
const NAMES = ['net_sockets', 'net_inet', 'net_sendcmsg', 'net_hoststream', 'net_urgent', 'net_sigurg', 'net_disconnect', 'net_tcpinfo', 'net_frag', 'net_snmp6'];
/** Modes a guest runs under when not both (the fast path has no MTU, so no fragments). */
const MODES: Record<string, string[]> = { net_frag: ['sandbox'], net_snmp6: ['sandbox'] };
/**
 * What the host kernel prints that the sandbox's kernel (6.1) does not: counters added
 * later (Ip6OutTransmits in 6.3, Icmp6OutRateLimitHost in 6.6), left out of Linux's side.
 */
const NEWER: Record<string, RegExp> = { net_snmp6: /^.*(Ip6OutTransmits|Icmp6OutRateLimitHost).*\n/gm };
const bins: Record<string, string> = {};
const native: Record<string, string> = {};

beforeAll(async () => {
  if (!ok) return;
  const ns = addNetns('cmp');
  for (const name of NAMES) {
    for (const l of LINKAGES) bins[`${name}.${l}`] = compileGuest(name, l, { srcDir: SRC, flags: ['-I', path.join(__dirname, '../guests')] });
    native[name] = (await runIn(ns, [bins[`${name}.dynamic`]], 60_000)).replace(NEWER[name] ?? /$^/, '');
  }
  bins.udpgso = compileGuest('net_udpgso', 'dynamic', { srcDir: SRC });
  native.udpgso = await runIn(ns, [bins.udpgso, 'nogro'], 60_000);
}, 120_000);
afterAll(() => cleanupNetns());

describe.skipIf(!ok)('sockets as Linux has them', () => {
  for (const name of NAMES) {
    for (const mode of MODES[name] ?? ['sandbox', 'none']) {
      for (const l of LINKAGES) {
        it(`${name} (${l}) under --network=${mode} prints what Linux prints`, async () => {
          const r = await runSandbox(['--network', mode, '--', bins[`${name}.${l}`]] as string[], { timeoutMs: 60_000 });
          expect(status(r), explain(r)).toBe(0);
          expect(r.stdout).toBe(native[name]);
          expect(r.stdout).toMatch(/done\n$/);
        }, 90_000);
      }
    }
  }

  // UDP_SEGMENT cuts a send into datagrams on the stack too (no coalescing for UDP_GRO:
  // the guest leaves that part out).
  it('net_udpgso (UDP GSO, option and cmsg, v4 and v6) under --network=sandbox prints what Linux prints', async () => {
    const r = await runSandbox(['--network', 'sandbox', '--', bins.udpgso, 'nogro'], { timeoutMs: 60_000 });
    expect(status(r), explain(r)).toBe(0);
    expect(r.stdout).toBe(native.udpgso);
    expect(r.stdout).toContain('got: 700 700 600');
  }, 90_000);
});
