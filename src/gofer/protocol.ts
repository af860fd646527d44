/**
 * Gofer protocol, version 2. One request and one reply per SOCK_SEQPACKET message;
 * at most one fd rides along (SCM_RIGHTS) with an OPEN reply, or with a CREATE_EXCL
 * reply (the new file, O_WRONLY).
 *
 * Request (little-endian):
 *   0  u32 magic 'GOF1'     4  u32 op        8  u32 mount index   12 u32 flags
 *   16 u32 mode / uid       20 u32 aux / gid 24 4 x f64 numbers (size, times)
 *   56 payload: path1 NUL [path2 NUL]   (paths relative to the mount root, '' = root,
 *      already split by the Sentry's own walk: no "..", no empty components)
 * Reply:
 *   0  i32 result (>= 0, or -errno)   4 u32 payload length   8 payload
 *   payloads: STAT = 18 x f64 (Stat fields, FIELDS order); OPEN = the opened file's
 *   STAT (the fd rides along); MKDIR, CREATE_EXCL, SYMLINK = the new node's STAT (and a
 *   CREATE_EXCL failing with EEXIST: the existing name's STAT); UNLINK = the removed
 *   node's STAT; READDIR (readdir-plus, from entry index `a` of the sorted
 *   listing) = [u32 next index][u32 total, bit 31 set: the directory has more names than
 *   the Gofer lists (~256 Ki): never a complete listing] then repeated [f64 ino][u32 mode][u16 name
 *   length][name][u8 has stat][STAT if has stat] (no stat: a mount the gofer does not
 *   serve, so only a LSTAT may answer); READDIR_BATCH (path1 a directory, path2 names
 *   of its children joined by '/') = records [u16 name length][name][i32 status][u32
 *   count][count READDIR entries], one whole listing each (-E2BIG: too big for the
 *   reply, list it alone), result = records (later names were not reached);
 *   READLINK = target; STATFS = 6 x f64.
 *   UTIMES numbers: atime sec, atime nsec, mtime sec, mtime nsec (nsec may be UTIME_NOW
 *   or UTIME_OMIT), exact as Linux takes them. MKDIR, CREATE_EXCL, SYMLINK with flags
 *   bit 0: numbers a, b are the new node's uid, gid (-1: as the host makes it).
 *   PROCFILE: no payload, the fd (only of a thread the Sentry traces; else EPERM).
 *   BATCH: see Op.Batch.
 *
 * The gofer resolves every path with openat2(root, p, RESOLVE_IN_ROOT |
 * RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS): the Sentry resolved symlinks itself, so
 * any symlink met on the host means the tree changed under us and fails with ELOOP.
 */
export const MAGIC = 0x31464f47; // "GOF1"
export const VERSION = 2;
export const HEADER = 56;
export const MAX_MSG = 1 << 20;

export const enum Op {
  Hello = 0,
  Lstat = 1,
  Open = 2,
  Readdir = 3,
  Readlink = 4,
  Mkdir = 5,
  CreateExcl = 6,
  Unlink = 7,
  Rmdir = 8,
  Rename = 9,
  Symlink = 10,
  Link = 11,
  Chmod = 12,
  Chown = 13,
  Truncate = 14,
  Utimes = 15,
  Statfs = 16,
  /** aux = host tid, flags = ProcFileKind: /proc/<tid>/<file> of a thread the Sentry traces (fd in the reply). */
  ProcFile = 17,
  /** flags ReaddirLite: attributes of directories only (READDIR_LITE_FILES). */
  ReaddirBatch = 18,
  /**
   * A host inotify watch on directory path1 (fs/fsimpl/hostfs/host-watch.ts): result = the
   * host wd; the first reply carries the Gofer's inotify fd, which the Sentry reads
   * events from. ENOSPC past the Gofer's bound.
   */
  Watch = 19,
  /** aux = a host wd WATCH returned: the watch removed. */
  Unwatch = 20,
  /**
   * Requests the Sentry deferred (write-behind), then the one it waits for, in one
   * message: payload [u32 length][request] each, served in order, each as if it came
   * alone. Reply: the last one's, its payload followed by [i32 result] of each other
   * and [u32 their count]. No HELLO or BATCH inside.
   */
  Batch = 21,
}

/** The /proc files of a stub thread PROCFILE opens. */
export const enum ProcFileKind {
  Stat = 0,
  Schedstat = 1,
  Status = 2,
  /** Pages mapped and resident (the Sentry's --memory accounting, src/kernel/memory-account.ts). */
  Statm = 3,
}

/** Order of Stat fields in a STAT payload. */
export const FIELDS = [
  'dev', 'ino', 'mode', 'nlink', 'uid', 'gid', 'rdev', 'size', 'blksize', 'blocks',
  'atimeSec', 'atimeNsec', 'mtimeSec', 'mtimeNsec', 'ctimeSec', 'ctimeNsec', 'btimeSec', 'btimeNsec',
] as const;
export const STAT_BYTES = FIELDS.length * 8;

/**
 * ReaddirBatch's flags bit: an entry that is not a directory (by getdents' d_type) comes
 * with its type and inode number only, flagged 2 (attributes not fetched: a lookup asks
 * Lstat); directories and DT_UNKNOWN entries with their attributes as ever.
 */
export const READDIR_LITE_FILES = 1;

/**
 * Readdir's and ReaddirBatch's flags bit: a symlink's entry (flagged 3) carries its
 * target after its attributes ([u16 length][target]).
 */
export const READDIR_WITH_TARGETS = 2;

/**
 * ReaddirBatch's flags bit: after the names asked, the listings of the subdirectories
 * those name, then theirs (breadth first), as many as fit whole, each a record named by
 * its path below the batch's directory ("a/b"): a walk's read-ahead in one round trip.
 */
export const READDIR_DEEP = 4;
