/**
 * Lines of --strace and --debug on the host's stderr, written before the call returns:
 * process.stderr queues writes to a slow pipe and loses them when the process exits.
 * A full pipe holds the Sentry until the reader catches up, as strace holds its tracee.
 */
import * as fs from 'fs';
import { POLLOUT } from '../abi/fs';
import { native } from '../platform/native';

const pollFd = new Int32Array([2]);
const pollEv = new Int32Array([POLLOUT]);
const pollRev = new Int32Array(1);

export function writeDiagnostic(text: string): void {
  const b = Buffer.from(text);
  for (let off = 0; off < b.length; ) {
    try {
      off += fs.writeSync(2, b, off);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') return; // stderr gone: nothing to tell
      native().hostPoll(pollFd, pollEv, pollRev, 1, -1);
    }
  }
}
