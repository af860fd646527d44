/**
 * The process-wide tables one sandbox fills (timers, host-fd readiness, futex queues,
 * unix names, inet ports, the host-fd cache, the tmpfs budget), emptied so the next
 * sandbox of the same process starts from none: a pool worker reused for another request
 * (src/server/retire.ts), an OCI pool member after its warm-up guest (src/oci/warm-guest.ts).
 */
import { timerQueue } from '../src/kernel/time/index';
import { hostPoller } from '../src/waiter/host-poller';
import { clearFutexQueues } from '../src/kernel/futex';
import { clearUnixNames } from '../src/net/unix-namespace';
import { clearInetPorts } from '../src/net/inet-socket';
import { tmpfsBudget } from '../fs/vfs/space-budget';
import { hostFdCache } from '../fs/fsimpl/hostfs/hostfs';

export function clearSandboxTables(): void {
  timerQueue.clear();
  hostPoller.clear();
  clearFutexQueues();
  clearUnixNames();
  clearInetPorts();
  hostFdCache.evictAll();
  tmpfsBudget.used = 0;
  tmpfsBudget.external = null;
  tmpfsBudget.onUsage = null;
  tmpfsBudget.onFull = null;
}
