/**
 * After the guest's last process exited, Linux's kernel still delivers what its closed
 * sockets hold: an orphaned connection stays in FIN_WAIT1/LAST_ACK, retransmitting,
 * until its data and FIN are acknowledged. The Sentry's stack is that kernel, so the run
 * loop goes on (kernel.lingerers) while a connection is closing, or the user-mode NAT
 * still has guest bytes for a host socket, as long as they progress: LINGER_IDLE_MS with
 * nothing acknowledged and nothing passed to the host (a peer gone, or one that no longer
 * reads: zero-window probes are answered, yet nothing moves) ends it, as does the
 * Sentry's own bound. Connections of processes that outlive init count at the first
 * ask: the run loop then kills those processes (as when a pid namespace's init dies),
 * their sockets close, and their data and FIN are delivered like init's.
 */
import type { Stack } from './stack/stack';
import type { NatTcp } from './nat-tcp';

/** No progress for this long: the closing connections are given up. */
export const LINGER_IDLE_MS = 10_000;

export function stackLingerer(stack: Stack, nat: NatTcp | null): () => boolean {
  let seen = -1;
  let since = 0;
  let first = true;
  return () => {
    // Only at the first ask: a socket the kill did not close (one in flight in an
    // SCM_RIGHTS message, say) must not keep the loop going.
    if (first) {
      first = false;
      if (stack.tcp.heldConnections() > 0) return true;
    }
    const n = stack.tcp.closingOrphans();
    if (n === 0 && (nat === null || !nat.pendingToHost())) return false;
    const now = performance.now();
    const progress = n + stack.tcp.closingAcked + (nat?.sentToHost ?? 0);
    if (progress !== seen) {
      seen = progress;
      since = now;
    }
    return now - since < LINGER_IDLE_MS;
  };
}
