/**
 * A container's state directory, `<root>/<id>/` (root: --root, default
 * /run/tssandbox): state.json (what `state` prints, kept by the CLI and the Sentry),
 * ctl.sock (the Sentry's control socket) and lock (flock: one command at a time on a
 * container). It outlives every CLI process; `delete` removes it.
 */
import * as fs from 'fs';
import * as path from 'path';
import { fail } from './errors';
import { ociNative, LOCK_EX, type HostCgroup } from './native';

export const OCI_VERSION = '1.0.2';
export const DEFAULT_ROOT = '/run/tssandbox';

export type Status = 'creating' | 'created' | 'running' | 'paused' | 'stopped';

export interface SavedState {
  ociVersion: string;
  id: string;
  /** Host pid of the container's process: its Sentry, or a pool Sentry's front (0 while creating). */
  pid: number;
  /** /proc/<pid>/stat start time of that pid, so a reused pid is not taken for it. */
  pidStart: string;
  status: Status;
  /** A pool Sentry (pool.ts): its own pid and start time; `pid` is then its front's. */
  sentryPid?: number;
  sentryStart?: string;
  /** The sandbox's host cgroup for linux.resources (src/oci/resources.ts), when one was made. */
  cgroup?: HostCgroup;
  bundle: string;
  rootfs: string;
  created: string;
  owner: string;
  annotations?: Record<string, string>;
}

export function validateId(id: string | undefined): string {
  if (!id) fail('container id cannot be empty');
  if (!/^[\w+\-.]+$/.test(id) || id === '.' || id === '..') fail(`invalid container id '${id}'`);
  return id;
}

export class StateDir {
  readonly dir: string;
  private lockFd = -1;

  constructor(readonly root: string, readonly id: string) {
    this.dir = path.join(root, id);
  }

  get statePath(): string {
    return path.join(this.dir, 'state.json');
  }

  get sockPath(): string {
    return path.join(this.dir, 'ctl.sock');
  }

  get exists(): boolean {
    return fs.existsSync(this.statePath);
  }

  /** Makes the directory; fails when the id is taken. */
  create(): void {
    fs.mkdirSync(this.root, { recursive: true, mode: 0o711 });
    try {
      fs.mkdirSync(this.dir, { mode: 0o711 });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') fail(`container with id '${this.id}' already exists`);
      throw e;
    }
  }

  /** Exclusive lock for the rest of this command (released when the process exits). */
  lock(): void {
    if (this.lockFd >= 0) return;
    let fd: number;
    try {
      fd = fs.openSync(path.join(this.dir, 'lock'), fs.constants.O_RDWR | fs.constants.O_CREAT, 0o600);
    } catch {
      fail(`container '${this.id}' does not exist`);
    }
    const r = ociNative().ociFlock(fd, LOCK_EX);
    if (r < 0) fail(`cannot lock container '${this.id}' (errno ${-r})`);
    this.lockFd = fd;
  }

  unlock(): void {
    if (this.lockFd < 0) return;
    fs.closeSync(this.lockFd);
    this.lockFd = -1;
  }

  read(): SavedState {
    let text: string;
    try {
      text = fs.readFileSync(this.statePath, 'utf8');
    } catch {
      fail(`container '${this.id}' does not exist`);
    }
    return JSON.parse(text) as SavedState;
  }

  write(s: SavedState): void {
    const tmp = `${this.statePath}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, JSON.stringify(s));
    fs.renameSync(tmp, this.statePath);
  }

  remove(): void {
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

/** The start time field of /proc/<pid>/stat, or null if there is no such process (or a zombie). */
export function procStart(pid: number): string | null {
  if (!(pid > 0)) return null;
  let stat: string;
  try {
    stat = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
  } catch {
    return null;
  }
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  if (rest[0] === 'Z' || rest[0] === 'X') return null;
  return rest[19] ?? null;
}

/** True while the Sentry recorded in the state is alive (the same process, not a reused pid). */
export function sentryAlive(s: SavedState): boolean {
  return s.pid > 0 && procStart(s.pid) === s.pidStart;
}

/** The status as of now: what the Sentry last recorded, or stopped once it is gone. */
export function currentStatus(s: SavedState): Status {
  if (s.status === 'creating') return s.pid > 0 && !sentryAlive(s) ? 'stopped' : 'creating';
  if (!sentryAlive(s)) return 'stopped';
  return s.status;
}

/** The OCI state JSON (runtime-spec "State"), as `state` prints it. */
export function publicState(s: SavedState): Record<string, unknown> {
  const status = currentStatus(s);
  const out: Record<string, unknown> = {
    ociVersion: s.ociVersion,
    id: s.id,
    pid: status === 'stopped' ? 0 : s.pid,
    status,
    bundle: s.bundle,
    rootfs: s.rootfs,
    created: s.created,
    owner: s.owner,
  };
  if (s.annotations && Object.keys(s.annotations).length) out.annotations = s.annotations;
  return out;
}

/** Every container under root, in directory order. */
export function listContainers(root: string): SavedState[] {
  let names: string[];
  try {
    names = fs.readdirSync(root);
  } catch {
    return [];
  }
  const out: SavedState[] = [];
  for (const n of names.sort()) {
    try {
      out.push(JSON.parse(fs.readFileSync(path.join(root, n, 'state.json'), 'utf8')) as SavedState);
    } catch {
      // not a container directory (or mid-creation)
    }
  }
  return out;
}
