/**
 * The fd table (struct files_struct): fd number -> open file description + close-on-exec.
 * install()/installAt() take over the one reference the caller holds on the description
 * (a new file comes with one; dup passes file.incRef()). close() drops it.
 */
import * as E from '../../src/abi/errno';
import type { FileDescription } from './file';
import { releaseProcessLocks } from './locks';

export class FdTable {
  private files: Array<FileDescription | undefined> = [];
  private cloexec: boolean[] = [];
  /** Lowest fd that may be free (allocation hint). */
  private hint = 0;
  private count = 0;
  /** RLIMIT_NOFILE soft limit: fds must be below it (set by setrlimit). */
  limit = 1024;

  get(fd: number): FileDescription | undefined {
    return fd >= 0 ? this.files[fd] : undefined;
  }
  isCloexec(fd: number): boolean {
    return this.cloexec[fd] === true;
  }
  setCloexec(fd: number, on: boolean): void {
    if (this.files[fd] !== undefined) this.cloexec[fd] = on;
  }
  /** Number of open fds. */
  get size(): number {
    return this.count;
  }
  /** One past the highest fd in use. */
  get highest(): number {
    return this.files.length;
  }

  /** Installs at the lowest free fd >= minFd; -EMFILE when none is below the limit. */
  install(file: FileDescription, cloexec: boolean, minFd = 0): number {
    let fd = Math.max(minFd, minFd === 0 ? this.hint : minFd);
    while (fd < this.files.length && this.files[fd] !== undefined) fd++;
    if (fd >= this.limit) {
      file.decRef();
      return -E.EMFILE;
    }
    if (minFd === 0) this.hint = fd + 1;
    this.files[fd] = file;
    this.cloexec[fd] = cloexec;
    this.count++;
    return fd;
  }

  /** Installs at exactly fd, closing what was there (dup2 semantics). */
  installAt(fd: number, file: FileDescription, cloexec: boolean): number {
    if (fd < 0 || fd >= this.limit) {
      file.decRef();
      return -E.EBADF;
    }
    const old = this.files[fd];
    while (this.files.length < fd) {
      this.files.push(undefined);
      this.cloexec.push(false);
    }
    this.files[fd] = file;
    this.cloexec[fd] = cloexec;
    if (old !== undefined) old.decRef();
    else this.count++;
    return fd;
  }

  /** Removes fd without dropping its reference (the caller takes it). */
  take(fd: number): FileDescription | undefined {
    const f = this.get(fd);
    if (f === undefined) return undefined;
    this.files[fd] = undefined;
    this.cloexec[fd] = false;
    this.count--;
    if (fd < this.hint) this.hint = fd;
    while (this.files.length > 0 && this.files[this.files.length - 1] === undefined) {
      this.files.pop();
      this.cloexec.pop();
    }
    return f;
  }

  close(fd: number): number {
    const f = this.take(fd);
    if (f === undefined) return -E.EBADF;
    f.decRef();
    return 0;
  }

  /** Copy for fork: descriptions are shared (one more reference each), so offsets are shared. */
  fork(): FdTable {
    const t = new FdTable();
    t.files = this.files.slice();
    t.cloexec = this.cloexec.slice();
    t.count = this.count;
    t.hint = this.hint;
    t.limit = this.limit;
    for (const f of t.files) f?.incRef();
    return t;
  }

  closeOnExec(): void {
    for (let fd = 0; fd < this.files.length; fd++) {
      if (this.files[fd] !== undefined && this.cloexec[fd]) this.close(fd);
    }
  }

  /**
   * Closes everything (process exit). Pass the exiting process (its ThreadGroup) so its
   * POSIX record locks go and lockers waiting on them wake, as close(2) does.
   */
  closeAll(owner?: object): void {
    for (let fd = this.files.length - 1; fd >= 0; fd--) {
      const f = this.files[fd];
      if (f === undefined) continue;
      if (owner !== undefined) releaseProcessLocks(f, owner);
      this.close(fd);
    }
    this.hint = 0;
  }

  /** Open fds in ascending order (for /proc/pid/fd, close_range, poll checks). */
  *entries(): IterableIterator<[number, FileDescription]> {
    for (let fd = 0; fd < this.files.length; fd++) {
      const f = this.files[fd];
      if (f !== undefined) yield [fd, f];
    }
  }
}
