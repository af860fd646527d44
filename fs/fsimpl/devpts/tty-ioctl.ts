/**
 * Terminal ioctls of the Sentry's ptys (tty_ioctl.c / tty_jobctrl.c / pty.c), plus
 * `jobIoctl`, the job-control subset any terminal (also the host console) shares.
 * Bad guest pointers give -EFAULT; unknown requests -ENOTTY.
 */
import * as E from '../../../src/abi/errno';
import type { Task } from '../../../src/kernel/task';
import * as jc from '../../../src/kernel/tty';
import type { FileDescription } from '../../vfs/file';
import type { Pty } from './pty';
import { TERMIOS_SIZE } from './tty-ldisc';
import {
  TCGETS, TCSETS, TCSETSW, TCSETSF, TIOCSCTTY, TIOCGPGRP, TIOCSPGRP, TIOCGWINSZ, TIOCSWINSZ, FIONREAD, TIOCNOTTY, TIOCGSID,
  TCGETA, TCSETA, TCSETAW, TCSETAF, TERMIO_SIZE, termioFrom, mergeTermio,
} from './tty-ioctls';

export const TCSBRK = 0x5409, TCXONC = 0x540a, TCFLSH = 0x540b, TIOCEXCL = 0x540c, TIOCNXCL = 0x540d,
  TIOCOUTQ = 0x5411, TIOCSTI = 0x5412, TIOCPKT = 0x5420, TIOCSETD = 0x5423, TIOCGETD = 0x5424,
  TCSBRKP = 0x5425, TIOCSBRK = 0x5427, TIOCCBRK = 0x5428, TIOCGPTPEER = 0x5441,
  TCGETS2 = 0x802c542a, TCSETS2 = 0x402c542b, TCSETSW2 = 0x402c542c, TCSETSF2 = 0x402c542d,
  TIOCGPTN = 0x80045430, TIOCSPTLCK = 0x40045431, TIOCGDEV = 0x80045432, TIOCGPKT = 0x80045438,
  TIOCGPTLCK = 0x80045439, TIOCGEXCL = 0x80045440;
const TCIFLUSH = 0, TCOFLUSH = 1, TCIOFLUSH = 2;

/**
 * TIOCSCTTY, TIOCNOTTY, TIOCGPGRP, TIOCSPGRP, TIOCGSID on terminal `tty`; undefined for
 * any other request. viaMaster: asked through a pty master (no ctty check for the getters).
 */
export function jobIoctl(t: Task, tty: jc.Ctty, cmd: number, arg: number, viaMaster: boolean): number | undefined {
  const mem = t.mem;
  switch (cmd) {
    case TIOCSCTTY:
      return jc.setCtty(t, tty, (arg | 0) === 1);
    case TIOCNOTTY:
      return jc.noCtty(t, tty);
    case TIOCGPGRP: {
      const r = jc.getPgrp(t, tty, viaMaster);
      if (r < 0) return r;
      return mem.writeI32(arg, r) ? 0 : -E.EFAULT;
    }
    case TIOCSPGRP: {
      const v = mem.readI32(arg);
      if (v === null) return -E.EFAULT;
      return jc.setPgrp(t, tty, v);
    }
    case TIOCGSID: {
      const r = jc.getSid(t, tty, viaMaster);
      if (r < 0) return r;
      return mem.writeI32(arg, r) ? 0 : -E.EFAULT;
    }
    default:
      return undefined;
  }
}

const termiosBuf = new Uint8Array(44);

/** Every ioctl on a pty end; termios and window size act on the one shared state. */
export function ptyIoctl(t: Task, f: FileDescription, pty: Pty, master: boolean, cmd: number, arg: number): number {
  const mem = t.mem;
  const ld = pty.ldisc;
  const j = jobIoctl(t, pty, cmd, arg, master);
  if (j !== undefined) return j;
  switch (cmd) {
    case TCGETS:
    case TCGETS2: {
      termiosBuf.fill(0);
      ld.encode(termiosBuf);
      const size = cmd === TCGETS ? TERMIOS_SIZE : 44;
      if (cmd === TCGETS2) {
        const v = new DataView(termiosBuf.buffer);
        v.setUint32(36, 38400, true);
        v.setUint32(40, 38400, true);
      }
      return mem.write(arg, termiosBuf.subarray(0, size)) ? 0 : -E.EFAULT;
    }
    case TCGETA: {
      termiosBuf.fill(0);
      ld.encode(termiosBuf);
      return mem.write(arg, termioFrom(termiosBuf)) ? 0 : -E.EFAULT;
    }
    case TCSETS: case TCSETSW: case TCSETSF:
    case TCSETS2: case TCSETSW2: case TCSETSF2:
    case TCSETA: case TCSETAW: case TCSETAF: {
      if (!master) {
        const c = jc.checkChange(t, pty);
        if (c !== 0) return c;
      }
      const old = cmd === TCSETA || cmd === TCSETAW || cmd === TCSETAF;
      let b = mem.read(arg, old ? TERMIO_SIZE : TERMIOS_SIZE);
      if (b === null) return -E.EFAULT;
      if (old) {
        // struct termio sets only the low half of each flag word (SET_LOW_TERMIOS_BITS).
        const cur = Buffer.alloc(44);
        ld.encode(cur);
        mergeTermio(cur, b);
        b = cur.subarray(0, TERMIOS_SIZE);
      }
      if (cmd === TCSETSF || cmd === TCSETSF2 || cmd === TCSETAF) pty.flush(true, false);
      ld.decode(b);
      // ICANON may have changed what is readable.
      pty.slaveQ.notify(0x41);
      return 0;
    }
    case TIOCGWINSZ: {
      const out = new Uint8Array(8);
      const v = new DataView(out.buffer);
      for (let i = 0; i < 4; i++) v.setUint16(i * 2, pty.winsize[i], true);
      return mem.write(arg, out) ? 0 : -E.EFAULT;
    }
    case TIOCSWINSZ: {
      const b = mem.read(arg, 8);
      if (b === null) return -E.EFAULT;
      const v = new DataView(b.buffer, b.byteOffset, 8);
      pty.setWinsize([v.getUint16(0, true), v.getUint16(2, true), v.getUint16(4, true), v.getUint16(6, true)]);
      return 0;
    }
    case FIONREAD:
      return mem.writeI32(arg, f.available()) ? 0 : -E.EFAULT;
    case TIOCOUTQ:
      return mem.writeI32(arg, master ? 0 : ld.output.length) ? 0 : -E.EFAULT;
    case TCFLSH: {
      const which = arg | 0;
      if (which < TCIFLUSH || which > TCIOFLUSH) return -E.EINVAL;
      if (!master) {
        const c = jc.checkChange(t, pty);
        if (c !== 0) return c;
      }
      // The master's "input" is what the slave wrote: the queues swap sides.
      const inQ = which !== TCOFLUSH;
      const outQ = which !== TCIFLUSH;
      pty.flush(master ? outQ : inQ, master ? inQ : outQ);
      return 0;
    }
    case TCXONC: case TCSBRK: case TCSBRKP: case TIOCSBRK: case TIOCCBRK:
    case TIOCEXCL: case TIOCNXCL:
      return 0; // no flow control or line breaks on a pseudo-terminal
    case TIOCGETD:
      return mem.writeI32(arg, 0) ? 0 : -E.EFAULT; // N_TTY
    case TIOCSETD: {
      const v = mem.readI32(arg);
      if (v === null) return -E.EFAULT;
      return v === 0 ? 0 : -E.EINVAL;
    }
    case TIOCGEXCL:
    case TIOCGPKT:
      return mem.writeI32(arg, 0) ? 0 : -E.EFAULT;
    case TIOCPKT: {
      const v = mem.readI32(arg);
      if (v === null) return -E.EFAULT;
      return master && v === 0 ? 0 : master ? -E.EINVAL : -E.ENOTTY;
    }
    case TIOCGPTN:
      if (!master) return -E.ENOTTY;
      return mem.writeI32(arg, pty.index) ? 0 : -E.EFAULT;
    case TIOCSPTLCK: {
      if (!master) return -E.ENOTTY;
      const v = mem.readI32(arg);
      if (v === null) return -E.EFAULT;
      pty.locked = v !== 0;
      return 0;
    }
    case TIOCGPTLCK:
      if (!master) return -E.ENOTTY;
      return mem.writeI32(arg, pty.locked ? 1 : 0) ? 0 : -E.EFAULT;
    case TIOCGPTPEER:
      // glibc's openpty falls back to ptsname + open(2), which takes the normal path.
      return -E.ENOTTY;
    case TIOCSTI:
      return -E.EPERM;
    default:
      return -E.ENOTTY;
  }
}
