/**
 * Host sockets for the network modes that use them ("host": the guest's sockets;
 * "user": the gateway's NAT flows and published ports): the native calls
 * (native/net_sock.cc), the socket broker (native/net_host.cc) that makes them (the confined Sentry may
 * create AF_UNIX sockets only), sockaddr encoding, and HostEdges, the one
 * edge-triggered host epoll set their readiness comes from.
 */
import { hostPoller } from '../waiter/host-poller';
import { WaitQueue } from '../waiter/waitqueue';
import { native } from '../platform/native';
import { POLLIN } from '../abi/fs';
import { AF_INET, AF_INET6 } from '../abi/socket';
import { isV4, type Addr } from './stack/addr';
import type { StackTimer } from './stack/timer';

export interface HostNetNative {
  netBrokerStart(): { fd: number; pid: number } | number;
  netBrokerSocket(ch: number, domain: number, type: number, protocol: number): number;
  netSockBind(fd: number, sa: Buffer): number;
  netSockConnect(fd: number, sa: Buffer): number;
  netSockListen(fd: number, backlog: number): number;
  netSockAccept(fd: number, name: Buffer, len: Int32Array): number;
  netSockSend(fd: number, b: Buffer, off: number, len: number, flags: number, to: Buffer | null, ctl?: Buffer): number;
  netSockRecv(fd: number, b: Uint8Array, off: number, len: number, flags: number, name: Buffer, ctl: Buffer, out: Int32Array): number;
  netSockRecvToGuest(fd: number, pid: number, addr: number, len: number, checked: boolean, spill: Buffer, spilled: Int32Array): number;
  netSockSendFromGuest(fd: number, pid: number, addr: number, len: number): number;
  netSockName(fd: number, peer: boolean, out: Buffer): number;
  netSockGetOpt(fd: number, level: number, name: number, out: Buffer): number;
  netSockSetOpt(fd: number, level: number, name: number, v: Buffer): number;
  netSockShutdown(fd: number, how: number): number;
  netSockIoctlInt(fd: number, cmd: number): number;
  netSockPoll(fd: number, events: number): number;
  netClose(fd: number): number;
  netEpollCreate(): number;
  netEpollAdd(ep: number, fd: number): number;
  netEpollDel(ep: number, fd: number): number;
  netEpollWait(ep: number, out: Int32Array): number;
}
export const hn = (): HostNetNative => native() as unknown as HostNetNative;

// ------------------------------------------------------------------ the broker

const brokers = new WeakMap<object, number>();

/** A new nonblocking host socket from the sandbox's broker, or -errno. */
export function brokerSocket(kernel: object, domain: number, type: number, protocol: number): number {
  const ch = brokers.get(kernel);
  if (ch === undefined) return -97; // EAFNOSUPPORT: no broker in this mode
  return hn().netBrokerSocket(ch, domain, type, protocol);
}

/** Starts the sandbox's socket broker (before the Sentry confines itself). */
export function startBroker(kernel: object): void {
  const r = hn().netBrokerStart();
  if (typeof r === 'number') throw new Error(`cannot start the socket broker: errno ${-r}`);
  brokers.set(kernel, r.fd);
}

// ------------------------------------------------------------------ readiness

/**
 * The host's edges for every host-mode socket: one edge-triggered host epoll set, whose
 * fd goes on the host poller while anyone waits on one of these sockets. An edge
 * notifies the socket's wait queue (guest epoll ET then sees the host's edges, and a
 * blocked call is re-run). Per process, as the host poller: host fds are the process's.
 */
class HostEdges {
  private ep = -1;
  private readonly socks = new Map<number, EdgeWatcher>();
  private readonly q = new WaitQueue();
  private readonly out = new Int32Array(256);
  private armed = false;

  add(fd: number, w: EdgeWatcher): void {
    const n = hn();
    if (this.ep < 0) {
      this.ep = n.netEpollCreate();
      if (this.ep < 0) throw new Error(`epoll_create1: errno ${-this.ep}`);
      this.q.add(0xffffffff, () => this.drain());
    }
    n.netEpollAdd(this.ep, fd);
    this.socks.set(fd, w);
    if (w.always) this.arm();
  }

  del(fd: number): void {
    if (this.socks.delete(fd)) hn().netEpollDel(this.ep, fd);
  }

  /** Someone is about to wait on a host-mode socket. */
  arm(): void {
    if (this.armed || this.ep < 0) return;
    this.armed = true;
    hostPoller.watch(this.ep, POLLIN, this.q);
  }

  private drain(): void {
    this.armed = false;
    const n = hn();
    const out = this.out;
    for (;;) {
      const k = n.netEpollWait(this.ep, out);
      if (k <= 0) break;
      for (let i = 0; i < k; i++) this.socks.get(out[2 * i])?.edge(out[2 * i + 1]);
      if (k < out.length / 2) break;
    }
    // Waiters on other sockets still need the watch (it is one-shot).
    for (const w of this.socks.values()) {
      if (w.always || w.waiting()) {
        this.arm();
        break;
      }
    }
  }
}
export const edges = new HostEdges();

/** Who hears a host fd's edges: `always` (NAT flows) keeps the host epoll set armed. */
export interface EdgeWatcher {
  edge(events: number): void;
  waiting(): boolean;
  always: boolean;
}

/** sockaddr_in / sockaddr_in6 for a 16-byte address (IPv4 v4-mapped). */
export function sockaddr(ip: Addr, port: number): Buffer {
  if (isV4(ip)) {
    const b = Buffer.alloc(16);
    b.writeUInt16LE(AF_INET, 0);
    b.writeUInt16BE(port, 2);
    b.set(ip.subarray(12, 16), 4);
    return b;
  }
  const b = Buffer.alloc(28);
  b.writeUInt16LE(AF_INET6, 0);
  b.writeUInt16BE(port, 2);
  b.set(ip.subarray(0, 16), 8);
  return b;
}


/** Scratch for host recv calls (the Sentry runs one at a time): data, sender name, no control, out words. */
export const rxScratch = { data: Buffer.allocUnsafe(65536), name: Buffer.alloc(128), noCtl: Buffer.alloc(0), out: new Int32Array(3) };

/** A NAT flow over one host socket, closed after an idle period (nat-udp.ts, nat-icmp.ts). */
export interface IdleFlow {
  key: string;
  fd: number;
  /** Traffic since the last check. */
  used: boolean;
  idle: StackTimer;
}

/** The idle timer fired: re-armed if the flow was used since, else the flow is closed and forgotten. */
export function expireIdle<F extends IdleFlow>(flows: Map<string, F>, f: F, ms: number): void {
  if (f.used) {
    f.used = false;
    f.idle.arm(ms);
    return;
  }
  flows.delete(f.key);
  edges.del(f.fd);
  hn().netClose(f.fd);
}
