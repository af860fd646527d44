/**
 * Send-side IP-level ancillary data (IP_TTL, IP_TOS, IP_PKTINFO; IPV6_HOPLIMIT,
 * IPV6_TCLASS, IPV6_PKTINFO). Stack sockets (`stackSendControl`): the values, checked as
 * Linux's ip_cmsg_send / ip6_datagram_send_ctl check them. Host-mode sockets
 * (`hostSendControl`): the guest's cmsgs are checked against an allow list and copied
 * into a control buffer of the Sentry's own, which
 * native/net_sock.cc hands to sendmsg on the host socket. The host kernel then judges
 * the values as Linux does (it is Linux). A type unknown at the socket's own level
 * (SOL_IP for AF_INET, SOL_IPV6 for AF_INET6) is EINVAL, as ip_cmsg_send /
 * ip6_datagram_send_ctl answer; other levels' unknown types are left out (Linux skips them).
 */
import * as E from '../abi/errno';
import type { Addr } from './stack/addr';
import { v4 } from './stack/addr';
import { AF_INET6, SOL_IP, SOL_IPV6, SOL_UDP, UDP_SEGMENT, IP_TOS, IP_TTL, IP_PKTINFO, IPV6_PKTINFO, IPV6_HOPLIMIT, IPV6_TCLASS } from '../abi/socket';

/** (level, type) -> the largest payload passed on. */
const ALLOWED = new Map<string, number>([
  [`${SOL_IP}:${IP_TTL}`, 4],
  [`${SOL_IP}:${IP_TOS}`, 4],
  [`${SOL_IP}:${IP_PKTINFO}`, 12],
  [`${SOL_IPV6}:${IPV6_HOPLIMIT}`, 4],
  [`${SOL_IPV6}:${IPV6_TCLASS}`, 4],
  [`${SOL_IPV6}:${IPV6_PKTINFO}`, 20],
  [`${SOL_UDP}:${UDP_SEGMENT}`, 2], // GSO: the host cuts the datagram (udp_cmsg_send)
]);


const HDR = 16;
const align8 = (n: number) => (n + 7) & ~7;

/** The control buffer for the host's sendmsg, null when there is nothing to pass, or -errno. */
export function hostSendControl(domain: number, cmsgs: ReadonlyArray<readonly [number, number, Buffer]> | null | undefined): Buffer | null | number {
  if (cmsgs === null || cmsgs === undefined || cmsgs.length === 0) return null;
  const parts: Buffer[] = [];
  for (const [level, type, data] of cmsgs) {
    if (level !== SOL_IP && level !== SOL_IPV6 && level !== SOL_UDP) continue;
    const max = ALLOWED.get(`${level}:${type}`);
    if (max === undefined) {
      if (level === (domain === AF_INET6 ? SOL_IPV6 : SOL_IP)) return -E.EINVAL;
      continue;
    }
    if (data.length > max) return -E.EINVAL;
    const c = Buffer.alloc(align8(HDR + data.length));
    c.writeBigUInt64LE(BigInt(HDR + data.length), 0);
    c.writeInt32LE(level, 8);
    c.writeInt32LE(type, 12);
    data.copy(c, HDR);
    parts.push(c);
  }
  return parts.length > 0 ? Buffer.concat(parts) : null;
}

/** What one send's cmsgs ask of a stack socket (null: the socket's own setting). */
export interface SendIpControl {
  ttl: number | null;
  tos: number | null;
  /** Source address (ipi_spec_dst / ipi6_addr; any: none), and interface (0: any). */
  src: Addr | null;
  ifindex: number;
  /** UDP_SEGMENT (GSO): the send is cut into datagrams of this many bytes (null: the option's). */
  gso: number | null;
}

const INT = 4;

/** Parses the IP-level cmsgs of a send on a stack socket; -EINVAL as Linux for bad ones. */
export function stackSendControl(domain: number, cmsgs: ReadonlyArray<readonly [number, number, Buffer]> | null | undefined): SendIpControl | number | null {
  if (cmsgs === null || cmsgs === undefined || cmsgs.length === 0) return null;
  const c: SendIpControl = { ttl: null, tos: null, src: null, ifindex: 0, gso: null };
  const own = domain === AF_INET6 ? SOL_IPV6 : SOL_IP;
  for (const [level, type, d] of cmsgs) {
    if (level === SOL_UDP) {
      // udp_cmsg_send: UDP_SEGMENT is exactly a u16; other types are EINVAL.
      if (type !== UDP_SEGMENT || d.length !== 2) return -E.EINVAL;
      c.gso = d.readUInt16LE(0);
      continue;
    }
    if (level !== own) continue; // the other family's level is skipped, as Linux does
    if (level === SOL_IP) {
      if (type === IP_TTL) {
        if (d.length !== INT) return -E.EINVAL;
        const v = d.readInt32LE(0);
        if (v < 1 || v > 255) return -E.EINVAL;
        c.ttl = v;
      } else if (type === IP_TOS) {
        // An int, or (as Linux also takes) one byte.
        if (d.length !== INT && d.length !== 1) return -E.EINVAL;
        const v = d.length === 1 ? d[0] : d.readInt32LE(0);
        if (v < 0 || v > 255) return -E.EINVAL;
        c.tos = v;
      } else if (type === IP_PKTINFO) {
        if (d.length !== 12) return -E.EINVAL;
        c.ifindex = d.readInt32LE(0);
        const a = v4(d[4], d[5], d[6], d[7]);
        c.src = d.readUInt32BE(4) === 0 ? null : a;
      } else return -E.EINVAL;
    } else {
      if (type === IPV6_HOPLIMIT || type === IPV6_TCLASS) {
        if (d.length !== INT) return -E.EINVAL;
        const v = d.readInt32LE(0);
        if (v < -1 || v > 255) return -E.EINVAL;
        if (v === -1) continue; // the default
        if (type === IPV6_HOPLIMIT) c.ttl = v;
        else c.tos = v;
      } else if (type === IPV6_PKTINFO) {
        if (d.length < 20) return -E.EINVAL;
        c.ifindex = d.readInt32LE(16);
        const a = Buffer.from(d.subarray(0, 16));
        c.src = a.every((x) => x === 0) ? null : a;
      } else return -E.EINVAL;
    }
  }
  return c;
}
