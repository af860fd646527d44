/**
 * /proc/net/{tcp,tcp6,udp,udp6,unix,dev,route,if_inet6,snmp,netstat}: the files procfs shows
 * under /proc/PID/net, in Linux's formats, from the sandbox's own network.
 */
import type { Stack } from './stack/stack';
import { stackOf, viewSourceOf } from './netns';
import { links, addrs, routes, type NetSource } from './netview';
import { isV4, isAny, type Addr } from './stack/addr';
import { TcpState } from './stack/tcp/state';
import { SockState } from './socket-file';
import { tcpRows, udpRows, type SockRow } from './sock-list';
import { liveUnix } from './unix-namespace';
import type { UnixSocket } from './unix-socket';

const hex = (n: number, w: number) => (n >>> 0).toString(16).toUpperCase().padStart(w, '0');

/** An address as /proc/net shows it: 32-bit words read in host (little-endian) order. */
function addrHex(a: Addr, v6: boolean): string {
  if (!v6) return hex(a.readUInt32LE(12), 8);
  let s = '';
  for (let i = 0; i < 16; i += 4) s += hex(a.readUInt32LE(i), 8);
  return s;
}

function sockTable(rows: SockRow[], v6: boolean, tcp: boolean): string {
  const head = v6
    ? '  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n'
    : '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n';
  let out = head;
  let i = 0;
  for (const r of rows) {
    // An AF_INET6 socket bound to :: is listed in tcp6 only; IPv4 addresses in tcp.
    const fam6 = !isV4(r.local) || (isAny(r.local) && !isV4(r.local));
    if (fam6 !== v6) continue;
    const rem = isAny(r.remote) ? Buffer.alloc(16, 0) : r.remote;
    out += `${String(i++).padStart(4)}: ${addrHex(r.local, v6)}:${hex(r.lport, 4)} ${addrHex(rem, v6)}:${hex(r.rport, 4)} ${hex(r.state, 2)} ${hex(r.txq, 8)}:${hex(r.rxq, 8)} 00:00000000 00000000 ${String(r.uid).padStart(5)} ${String(0).padStart(8)} ${r.ino} ${tcp ? '1 0000000000000000 20 4 30 10 -1' : '2 0000000000000000 0'}\n`;
  }
  return out;
}

function devText(stack: NetSource): string {
  let out = 'Inter-|   Receive                                                |  Transmit\n face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n';
  for (const l of links(stack)) {
    const s = l.stats;
    out += `${l.name.padStart(6)}: ${[s.rxBytes, s.rxPackets, s.rxErrors, s.rxDropped, 0, 0, 0, 0].map((v) => String(v).padStart(7)).join(' ')} ${[s.txBytes, s.txPackets, s.txErrors, s.txDropped, 0, 0, 0, 0].map((v) => String(v).padStart(7)).join(' ')}\n`;
  }
  return out;
}

function routeText(stack: NetSource): string {
  let out = 'Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT                                                       \n';
  for (const r of routes(stack)) {
    if (!isV4(r.dst)) continue;
    const mask = r.prefix === 0 ? 0 : (0xffffffff << (32 - r.prefix)) >>> 0;
    const m = Buffer.alloc(4);
    m.writeUInt32BE(mask, 0);
    const flags = 0x1 | (r.gateway ? 0x2 : 0);
    out += `${r.name}\t${hex(r.dst.readUInt32LE(12), 8)}\t${hex(r.gateway ? r.gateway.readUInt32LE(12) : 0, 8)}\t${hex(flags, 4)}\t0\t0\t${r.metric}\t${hex(m.readUInt32LE(0), 8)}\t0\t0\t0                                                                            \n`;
  }
  return out;
}

function ifInet6Text(stack: NetSource): string {
  let out = '';
  for (const a of addrs(stack)) {
    if (isV4(a.addr)) continue;
    const scope = a.scope === 254 ? 0x10 : a.scope === 253 ? 0x20 : 0;
    out += `${a.addr.toString('hex')} ${hex(a.index, 2).toLowerCase()} ${hex(a.prefix, 2).toLowerCase()} ${hex(scope, 2).toLowerCase()} 80 ${a.name.padStart(8)}\n`;
  }
  return out;
}

/** A group of /proc/net/snmp: the names line, then the values line. */
const group = (name: string, fields: string[], values: number[]) => `${name}: ${fields.join(' ')}\n${name}: ${values.join(' ')}\n`;

const IP_FIELDS = ['Forwarding', 'DefaultTTL', 'InReceives', 'InHdrErrors', 'InAddrErrors', 'ForwDatagrams', 'InUnknownProtos', 'InDiscards', 'InDelivers', 'OutRequests', 'OutDiscards', 'OutNoRoutes', 'ReasmTimeout', 'ReasmReqds', 'ReasmOKs', 'ReasmFails', 'FragOKs', 'FragFails', 'FragCreates'];
/** Icmp's per-type fields (Linux 6.1's order), as [name, ICMP type]. */
const ICMP_TYPES: Array<[string, number]> = [['DestUnreachs', 3], ['TimeExcds', 11], ['ParmProbs', 12], ['SrcQuenchs', 4], ['Redirects', 5], ['Echos', 8], ['EchoReps', 0], ['Timestamps', 13], ['TimestampReps', 14], ['AddrMasks', 17], ['AddrMaskReps', 18]];
const UDP_FIELDS = ['InDatagrams', 'NoPorts', 'InErrors', 'OutDatagrams', 'RcvbufErrors', 'SndbufErrors', 'InCsumErrors', 'IgnoredMulti', 'MemErrors'];

/** /proc/net/snmp as Linux 6.1 writes it (the kernel the sandbox reports): the IPv4 groups, TCP and UDP. */
function snmpText(stack: Stack | null): string {
  const m = stack?.mib;
  const r = stack?.frags.v4;
  const ip = [2, 64, m?.ipInReceives ?? 0, m?.ipInHdrErrors ?? 0, 0, 0, 0, 0, m?.ipInDelivers ?? 0, m?.ipOutRequests ?? 0, 0, 0,
    r?.timeouts ?? 0, r?.reqds ?? 0, r?.oks ?? 0, r?.fails ?? 0, m?.ipFragOKs ?? 0, m?.ipFragFails ?? 0, m?.ipFragCreates ?? 0];
  const inT = m?.icmpIn ?? new Array<number>(256).fill(0);
  const outT = m?.icmpOut ?? inT;
  const sum = (a: number[]) => a.reduce((x, y) => x + y, 0);
  const icmpFields = ['InMsgs', 'InErrors', 'InCsumErrors', ...ICMP_TYPES.map(([n]) => `In${n}`), 'OutMsgs', 'OutErrors', ...ICMP_TYPES.map(([n]) => `Out${n}`)];
  const icmp = [sum(inT) + (m?.icmpInErrors ?? 0), m?.icmpInErrors ?? 0, m?.icmpInCsumErrors ?? 0, ...ICMP_TYPES.map(([, t]) => inT[t]), sum(outT), 0, ...ICMP_TYPES.map(([, t]) => outT[t])];
  // IcmpMsg: only the types seen, In then Out (icmpmsg_put); no lines when none.
  const msgNames: string[] = [];
  const msgVals: number[] = [];
  for (const [dir, counts] of [['In', inT], ['Out', outT]] as const) {
    counts.forEach((n, t) => {
      if (n > 0) {
        msgNames.push(`${dir}Type${t}`);
        msgVals.push(n);
      }
    });
  }
  // CurrEstab: connections in ESTABLISHED or CLOSE_WAIT (Linux's TCP_MIB_CURRESTAB).
  let estab = 0;
  if (stack !== null) for (const ep of stack.tcp.allConns()) if (ep.state === TcpState.ESTABLISHED || ep.state === TcpState.CLOSE_WAIT) estab++;
  const tcp = m ? [1, 200, 120000, -1, m.tcpActiveOpens, m.tcpPassiveOpens, 0, 0, estab, m.tcpInSegs, m.tcpOutSegs, m.tcpRetransSegs, 0, m.tcpOutRsts, 0] : [1, 200, 120000, -1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
  const udp = m ? [m.udpInDatagrams, m.udpNoPorts, 0, m.udpOutDatagrams, 0, 0, 0, 0, 0] : [0, 0, 0, 0, 0, 0, 0, 0, 0];
  return group('Ip', IP_FIELDS, ip) + group('Icmp', icmpFields, icmp) + (msgNames.length ? group('IcmpMsg', msgNames, msgVals) : '') +
    group('Tcp', ['RtoAlgorithm', 'RtoMin', 'RtoMax', 'MaxConn', 'ActiveOpens', 'PassiveOpens', 'AttemptFails', 'EstabResets', 'CurrEstab', 'InSegs', 'OutSegs', 'RetransSegs', 'InErrs', 'OutRsts', 'InCsumErrors'], tcp) +
    group('Udp', UDP_FIELDS, udp) + group('UdpLite', UDP_FIELDS, [0, 0, 0, 0, 0, 0, 0, 0, 0]);
}

/** ICMPv6 types snmp6 names (icmp6type2name): printed always, In then Out, before the by-number lines. */
const ICMP6_NAMES: Array<[number, string]> = [[1, 'DestUnreachs'], [2, 'PktTooBigs'], [3, 'TimeExcds'], [4, 'ParmProblems'], [128, 'Echos'], [129, 'EchoReplies'], [130, 'GroupMembQueries'], [131, 'GroupMembResponses'], [132, 'GroupMembReductions'], [133, 'RouterSolicits'], [134, 'RouterAdvertisements'], [135, 'NeighborSolicits'], [136, 'NeighborAdvertisements'], [137, 'Redirects'], [143, 'MLDv2Reports']];

/**
 * /proc/net/snmp6 as Linux 6.1 writes it (snmp6_seq_show): one "name<pad to 32>\tvalue"
 * line per counter, the Ip6 group (RFC 4293), Icmp6 (its totals, every named type In and
 * Out, then each type seen by number), Udp6 and UdpLite6. Ip6OutRequests counts datagrams,
 * as later kernels do (6.1 counted each fragment: the sandbox does not reproduce that).
 */
function snmp6Text(stack: Stack | null): string {
  const m = stack?.mib;
  const r = stack?.frags.v6;
  const z = new Array<number>(256).fill(0);
  const inT = m?.icmp6In ?? z;
  const outT = m?.icmp6Out ?? z;
  const ecn = m?.ip6InEcn ?? [0, 0, 0, 0];
  const sum = (a: number[]) => a.reduce((x, y) => x + y, 0);
  const rows: Array<[string, number]> = [
    ['Ip6InReceives', m?.ip6InReceives ?? 0], ['Ip6InHdrErrors', m?.ip6InHdrErrors ?? 0], ['Ip6InTooBigErrors', 0], ['Ip6InNoRoutes', 0],
    ['Ip6InAddrErrors', 0], ['Ip6InUnknownProtos', 0], ['Ip6InTruncatedPkts', 0], ['Ip6InDiscards', 0], ['Ip6InDelivers', m?.ip6InDelivers ?? 0],
    ['Ip6OutForwDatagrams', 0], ['Ip6OutRequests', m?.ip6OutRequests ?? 0], ['Ip6OutDiscards', 0], ['Ip6OutNoRoutes', 0],
    ['Ip6ReasmTimeout', r?.timeouts ?? 0], ['Ip6ReasmReqds', r?.reqds ?? 0], ['Ip6ReasmOKs', r?.oks ?? 0], ['Ip6ReasmFails', r?.fails ?? 0],
    ['Ip6FragOKs', m?.ip6FragOKs ?? 0], ['Ip6FragFails', m?.ip6FragFails ?? 0], ['Ip6FragCreates', m?.ip6FragCreates ?? 0],
    ['Ip6InMcastPkts', m?.ip6InMcastPkts ?? 0], ['Ip6OutMcastPkts', m?.ip6OutMcastPkts ?? 0], ['Ip6InOctets', m?.ip6InOctets ?? 0],
    ['Ip6OutOctets', m?.ip6OutOctets ?? 0], ['Ip6InMcastOctets', m?.ip6InMcastOctets ?? 0], ['Ip6OutMcastOctets', m?.ip6OutMcastOctets ?? 0],
    ['Ip6InBcastOctets', 0], ['Ip6OutBcastOctets', 0], ['Ip6InNoECTPkts', ecn[0]], ['Ip6InECT1Pkts', ecn[1]], ['Ip6InECT0Pkts', ecn[2]], ['Ip6InCEPkts', ecn[3]],
    ['Icmp6InMsgs', sum(inT) + (m?.icmp6InErrors ?? 0)], ['Icmp6InErrors', m?.icmp6InErrors ?? 0], ['Icmp6OutMsgs', sum(outT)], ['Icmp6OutErrors', 0],
    ['Icmp6InCsumErrors', m?.icmp6InCsumErrors ?? 0],
  ];
  for (const [dir, t] of [['In', inT], ['Out', outT]] as const) for (const [n, name] of ICMP6_NAMES) rows.push([`Icmp6${dir}${name}`, t[n]]);
  for (const [dir, t] of [['In', inT], ['Out', outT]] as const) t.forEach((v, n) => v > 0 && rows.push([`Icmp6${dir}Type${n}`, v]));
  const udp = m ? [m.udp6InDatagrams, m.udp6NoPorts, 0, m.udp6OutDatagrams, 0, 0, 0, 0, 0] : [0, 0, 0, 0, 0, 0, 0, 0, 0];
  UDP_FIELDS.forEach((f, i) => rows.push([`Udp6${f}`, udp[i]]));
  // snmp6_udplite6_list has no IgnoredMulti.
  UDP_FIELDS.filter((f) => f !== 'IgnoredMulti').forEach((f) => rows.push([`UdpLite6${f}`, 0]));
  return rows.map(([k, v]) => `${k.padEnd(32)}\t${v}\n`).join('');
}

/** /proc/net/unix (unix_seq_show): every open unix socket; kernel addresses shown as zeros (kptr_restrict). */
function unixText(): string {
  let out = 'Num       RefCount Protocol Flags    Type St Inode Path\n';
  for (const b of liveUnix) {
    const s = b as UnixSocket;
    const st = s.state === SockState.Connected ? 3 : 1; // SS_CONNECTED, else SS_UNCONNECTED
    const flags = s.state === SockState.Listening ? 0x10000 : 0; // __SO_ACCEPTCON
    const n = s.name;
    const path = n.kind === 'path' ? ` ${n.path}` : n.kind === 'abstract' ? ` @${n.name.toString('latin1').replace(/\0/g, '@')}` : '';
    out += `0000000000000000: ${hex(st === 3 ? 3 : 2, 8)} 00000000 ${hex(flags, 8)} ${hex(s.type, 4)} ${hex(st, 2)} ${String(s.inode.ino).padStart(5)}${path}\n`;
  }
  return out;
}

/** TcpExt of /proc/net/netstat: the counters the stack keeps, in Linux's order (nstat reads them by name). */
function netstatText(stack: Stack | null): string {
  const m = stack?.mib;
  return 'TcpExt: TCPSackRecovery TCPTimeouts TCPLossProbes\n' +
    `TcpExt: ${m ? [m.tcpSackRecovery, m.tcpTimeouts, m.tcpLossProbes].join(' ') : '0 0 0'}\n`;
}

/** The files of /proc/net for the sandbox of `kernel`. */
export function procNetFiles(kernel: object): Array<[string, () => string]> {
  const st = () => stackOf(kernel);
  const view = () => viewSourceOf(kernel);
  return [
    ['tcp', () => sockTable(tcpRows(st()), false, true)],
    ['tcp6', () => sockTable(tcpRows(st()), true, true)],
    ['udp', () => sockTable(udpRows(st()), false, false)],
    ['udp6', () => sockTable(udpRows(st()), true, false)],
    ['unix', unixText],
    ['dev', () => devText(view())],
    ['route', () => routeText(view())],
    ['if_inet6', () => ifInet6Text(view())],
    ['snmp', () => snmpText(st())],
    ['snmp6', () => snmp6Text(st())],
    ['netstat', () => netstatText(st())],
  ];
}
