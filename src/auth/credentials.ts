import type { UserNamespace } from './userns';

/**
 * Guest credentials. Entirely virtual: a guest may be uid 0 inside without any
 * host privilege; the host stub process runs as whatever the Sentry runs as, in its
 * own user namespace, and never acts on a file itself.
 */
export class Credentials {
  /** The user namespace these ids are seen through (src/auth/userns.ts); null: the initial one. */
  userns: UserNamespace | null = null;

  constructor(
    public uid = 0,
    public gid = 0,
    public euid = uid,
    public egid = gid,
    public suid = uid,
    public sgid = gid,
    public fsuid = uid,
    public fsgid = gid,
    public groups: number[] = [],
  ) {}

  clone(): Credentials {
    const c = new Credentials(
      this.uid, this.gid, this.euid, this.egid, this.suid, this.sgid, this.fsuid, this.fsgid,
      this.groups.slice(),
    );
    c.userns = this.userns;
    return c;
  }

  /** True when the guest holds every capability (euid 0), as Linux grants root. */
  get isRoot(): boolean {
    return this.euid === 0 && this.userns === null;
  }

  inGroup(gid: number): boolean {
    return gid === this.fsgid || this.groups.includes(gid);
  }
}
