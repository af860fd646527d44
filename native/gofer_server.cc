// The Gofer process itself, in C++: forked from the Sentry (no exec, no second Node
// start-up, ~1 ms instead of ~80), it serves protocol v1 of src/gofer/protocol.ts on a
// SOCK_SEQPACKET socket until the Sentry closes it. The child runs only the Gofer's
// files' code (this one, gofer_list.cc, gofer_confine.cc, gofer_internal.h): raw syscalls and static
// buffers, nothing of V8 or libuv (the parent is multi-threaded, so nothing that could
// hold a lock at fork time may be used).
//
// Every path is resolved under a mount root with openat2(RESOLVE_IN_ROOT |
// RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS): the Sentry walked symlinks itself, so
// neither "..", nor a symlink planted on the host, nor a rename race leads outside.
// Single-name operations then use the *at() calls on the parent directory's fd.
//
// Confinement (ConfineGofer in gofer_confine.cc, before the first request; see SECURITY.md):
// - named tssandbox-gofer (comm and cmdline), so `ps` tells it from the Sentry;
// - its own mount namespace: the host's special filesystems (proc, sysfs, cgroup,
//   devtmpfs, ...) are detached, each served root is a recursive clone with nodev,
//   nosuid, nosymfollow (and rdonly for a read-only root), attached under an empty
//   tmpfs that becomes its root (pivot_root; the old root is detached);
// - a special-filesystem check on every result (mount id -> cached fstatfs verdict):
//   anything on proc/sysfs/debugfs/... is answered ENOENT, as if absent;
// - read-only roots are enforced here too (EROFS), whatever the Sentry asks;
// - only CAP_CHOWN, CAP_DAC_OVERRIDE, CAP_FOWNER, CAP_FSETID kept (file ownership and
//   modes in rw binds as root), the bounding set emptied of the rest, no_new_privs;
// - a seccomp filter allowing the calls of the serve loop only (GoferFilter).
#include "gofer_internal.h"
#include "seccomp_bpf.h"
#include "keep_caps.h"
#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/mount.h>
#include <linux/openat2.h>
#include <sched.h>
#include <sys/inotify.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

namespace tss {
namespace gofer {

uint8_t g_in[kMaxMsg];
uint8_t g_out[kReplyMax + 64 + 4 * kMaxBatch + 4];
uint8_t g_sub[kSubMax + 1];
int g_roots[kMaxRoots];
bool g_ro[kMaxRoots];
int g_nroots = 0;
uint32_t g_confined = 0;
int g_proc = -1;
pid_t g_sentry = 0;
int g_inotify = -1;
int g_nwatches = 0;

// ---------------------------------------------------------------- special filesystems

// Filesystems the gofer never serves: the host's kernel interfaces, not files.
bool SpecialMagic(unsigned long t) {
  switch (t) {
    case 0x9fa0:      // proc
    case 0x62656572:  // sysfs
    case 0x64626720:  // debugfs
    case 0x74726163:  // tracefs
    case 0x73636673:  // securityfs
    case 0x27e0eb:    // cgroup
    case 0x63677270:  // cgroup2
    case 0xcafe4a11:  // bpf
    case 0x1cd1:      // devpts
    case 0x62656570:  // configfs
    case 0x65735543:  // fusectl
    case 0x6165676c:  // pstore
    case 0xde5e81e4:  // efivarfs
    case 0x19800202:  // mqueue
    case 0x958458f6:  // hugetlbfs
    case 0x42494e4d:  // binfmt_misc
    case 0xf97cff8c:  // selinuxfs
    case 0x43415d53:  // smackfs
    case 0x6e736673:  // nsfs
    case 0x50495045:  // pipefs
    case 0x534f434b:  // sockfs
    case 0x0187:      // autofs
    case 0x09041934:  // anon_inodefs
    case 0x67596969:  // rpc_pipefs
    case 0x6e667364:  // nfsd
    case 0x7655821:   // resctrl
    case 0xabba1974:  // xenfs
    case 0x444d4142:  // dma-buf
    case 0x6c6f6f70:  // binderfs
      return true;
    default:
      return false;
  }
}

// By mountinfo type name: the same, plus devtmpfs (whose f_type is tmpfs's).
bool SpecialName(const char* t) {
  static const char* const names[] = {
      "proc", "sysfs", "debugfs", "tracefs", "securityfs", "cgroup", "cgroup2", "bpf", "devpts", "devtmpfs",
      "configfs", "fusectl", "pstore", "efivarfs", "mqueue", "hugetlbfs", "binfmt_misc", "selinuxfs", "smackfs",
      "nsfs", "autofs", "rpc_pipefs", "nfsd", "resctrl", "xenfs", "binder"};
  for (const char* n : names)
    if (strcmp(n, t) == 0) return true;
  return false;
}

// Mount id -> verdict, decided once per mount (the first time a result lies on it).
struct MountVerdict {
  uint64_t id;
  bool ok;
};
MountVerdict g_verdicts[1024];
int g_nverdicts = 0;
// Mounts refused by name when no private mount namespace could be had (the special
// mounts of the host's table and everything mounted below them).
uint64_t g_denied[1024];
int g_ndenied = 0;

// Is mount `id` one the gofer may serve? fd (+ name, when not "") names an object on it,
// for the one fstatfs that decides an unknown mount.
bool MountOk(uint64_t id, int fd, const char* name) {
  for (int i = 0; i < g_nverdicts; i++)
    if (g_verdicts[i].id == id) return g_verdicts[i].ok;
  bool ok = true;
  for (int i = 0; i < g_ndenied; i++)
    if (g_denied[i] == id) ok = false;
  if (ok) {
    int tfd = name && *name ? openat(fd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC) : fd;
    struct statfs s;
    if (tfd < 0 || fstatfs(tfd, &s) != 0) return false;  // not cached: undecided
    ok = !SpecialMagic((unsigned long)s.f_type);
    if (tfd != fd) close(tfd);
  }
  if (g_nverdicts < (int)(sizeof g_verdicts / sizeof g_verdicts[0])) g_verdicts[g_nverdicts++] = {id, ok};
  return ok;
}

// The object fd refers to lies on a servable mount.
bool FdOk(int fd) {
  struct statx sx;
  if (syscall(SYS_statx, fd, "", AT_EMPTY_PATH, STATX_MNT_ID, &sx) != 0) return false;
  if (!(sx.stx_mask & STATX_MNT_ID)) return true;  // (kernels before 5.8: mount ids unknown)
  return MountOk(sx.stx_mnt_id, fd, nullptr);
}

// name under dirfd (if it exists) lies on a servable mount.
bool NameOk(int dirfd, const char* name) {
  struct statx sx;
  int fl = AT_SYMLINK_NOFOLLOW | (*name ? 0 : AT_EMPTY_PATH);
  if (syscall(SYS_statx, dirfd, name, fl, STATX_MNT_ID, &sx) != 0) return true;  // absent: the op reports it
  if (!(sx.stx_mask & STATX_MNT_ID)) return true;
  return MountOk(sx.stx_mnt_id, dirfd, name);
}

int Openat2(int dirfd, const char* path, uint64_t flags, uint64_t mode, uint64_t resolve) {
  struct open_how how;
  memset(&how, 0, sizeof how);
  how.flags = flags | O_CLOEXEC;
  how.mode = mode;
  how.resolve = resolve;
  long r;
  do r = syscall(SYS_openat2, dirfd, path, &how, sizeof how);
  while (r < 0 && errno == EAGAIN);
  return r < 0 ? -errno : (int)r;
}

int Err(long r) { return r < 0 ? -errno : 0; }

// "" or a relative path whose components are all real names.
bool BadRel(const char* rel) {
  if (!*rel) return false;
  const char* c = rel;
  for (;;) {
    const char* e = strchr(c, '/');
    size_t n = e ? (size_t)(e - c) : strlen(c);
    if (n == 0 || (n == 1 && c[0] == '.') || (n == 2 && c[0] == '.' && c[1] == '.')) return true;
    if (!e) return false;
    c = e + 1;
  }
}

// The directory holding rel's last name: an O_PATH fd (caller closes), and that name.
// For rel == "" the root itself is named by ("", root fd) and *pfd is a dup.
struct Parent {
  int fd = -1;
  const char* name = "";
  ~Parent() {
    if (fd >= 0) close(fd);
  }
};

int OpenParent(int root, char* rel, Parent* p) {
  if (!*rel) {
    p->fd = fcntl(root, F_DUPFD_CLOEXEC, 0);
    p->name = "";
    return p->fd < 0 ? -errno : 0;
  }
  char* slash = strrchr(rel, '/');
  if (!slash) {
    p->fd = Openat2(root, ".", O_PATH | O_DIRECTORY, 0, kResolve);
    p->name = rel;
  } else {
    *slash = 0;
    p->fd = Openat2(root, rel, O_PATH | O_DIRECTORY, 0, kResolve);
    *slash = '/';
    p->name = slash + 1;
  }
  if (p->fd < 0) return p->fd;
  // In its own mount namespace no special mount is left to reach: the checks on
  // results suffice. Without one, every directory on the way is checked too.
  if (!(g_confined & kConfMountNs) && (!FdOk(p->fd) || !NameOk(p->fd, p->name))) return -ENOENT;
  return 0;
}

size_t PutF64(size_t off, double v) {
  memcpy(g_out + off, &v, 8);
  return off + 8;
}


// A STAT payload (18 f64, FIELDS order of src/gofer/protocol.ts) at g_out + off.
size_t PutStat(const struct statx& sx, size_t off) {
  double f[18] = {
      (double)makedev(sx.stx_dev_major, sx.stx_dev_minor), (double)sx.stx_ino, (double)sx.stx_mode, (double)sx.stx_nlink, (double)sx.stx_uid, (double)sx.stx_gid,
      (double)makedev(sx.stx_rdev_major, sx.stx_rdev_minor), (double)sx.stx_size, (double)sx.stx_blksize,
      (double)sx.stx_blocks, (double)sx.stx_atime.tv_sec, (double)sx.stx_atime.tv_nsec,
      (double)sx.stx_mtime.tv_sec, (double)sx.stx_mtime.tv_nsec, (double)sx.stx_ctime.tv_sec,
      (double)sx.stx_ctime.tv_nsec, (double)(sx.stx_mask & STATX_BTIME ? sx.stx_btime.tv_sec : 0),
      (double)(sx.stx_mask & STATX_BTIME ? sx.stx_btime.tv_nsec : 0)};
  for (int i = 0; i < 18; i++) off = PutF64(off, f[i]);
  return off;
}

int StatInto(int dirfd, const char* name, size_t off) {
  struct statx sx;
  int flags = AT_SYMLINK_NOFOLLOW | (*name ? 0 : AT_EMPTY_PATH);
  if (syscall(SYS_statx, dirfd, name, flags, kStatMask, &sx) != 0) return -errno;
  if ((sx.stx_mask & STATX_MNT_ID) && !MountOk(sx.stx_mnt_id, dirfd, name)) return -ENOENT;
  PutStat(sx, off);
  return 0;
}

bool TargetsOk(uint32_t mount, uint32_t flags) {
  return (flags & kWithTargets) && mount < (uint32_t)g_nroots && g_ro[mount] && (g_confined & kConfMountAttrs);
}

// A (sec, nsec) pair from the request; numbers out of range make an nsec utimensat
// refuses (EINVAL), never an undefined conversion.
struct timespec Ts(double s, double ns) {
  struct timespec t = {0, -1};
  if (s >= -9.2e18 && s <= 9.2e18 && ns >= 0 && ns < 2e9) {
    t.tv_sec = (time_t)s;
    t.tv_nsec = (long)ns;
  }
  return t;
}

// TracerPid of process tgid (0 if unreadable).
long LeaderTracer(long tgid) {
  char dir[24];
  snprintf(dir, sizeof dir, "%ld/status", tgid);
  int fd = Openat2(g_proc, dir, O_RDONLY, 0, RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV);
  if (fd < 0) return 0;
  static char lbuf[4096];
  ssize_t n = read(fd, lbuf, sizeof lbuf - 1);
  close(fd);
  lbuf[n > 0 ? n : 0] = 0;
  const char* tp = strstr(lbuf, "\nTracerPid:");
  return tp ? strtol(tp + 12, nullptr, 10) : 0;
}

// PROCFILE (aux = host tid, flags = 0 stat, 1 schedstat, 2 status, 3 statm): the file of a
// thread the Sentry traces (or of a thread whose process leader it traces), and of no
// other process (EPERM). The tid's directory is
// opened first (it pins that very task), then its TracerPid checked through it.
int32_t OpenProcFile(uint32_t tid, uint32_t which, int* fdOut) {
  static const char* const names[] = {"stat", "schedstat", "status", "statm"};
  if (g_proc < 0) return -ENOSYS;
  if (tid == 0 || tid > (1u << 22) || which > 3) return -EINVAL;
  char dir[16];
  snprintf(dir, sizeof dir, "%u", tid);
  int d = Openat2(g_proc, dir, O_PATH | O_DIRECTORY, 0,
                  RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV);
  if (d < 0) return d;
  int st = Openat2(d, "status", O_RDONLY, 0, RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS);
  if (st < 0) {
    close(d);
    return st;
  }
  static char buf[4096];
  ssize_t n = read(st, buf, sizeof buf - 1);
  buf[n > 0 ? n : 0] = 0;
  const char* tp = strstr(buf, "\nTracerPid:");
  long tracer = tp ? strtol(tp + 12, nullptr, 10) : 0;
  // An untraced thread (systrap's guest threads) counts when its process's leader is
  // the Sentry's tracee (the injector); the leader's pid stays the group's while any
  // thread of it lives.
  const char* tg = strstr(buf, "\nTgid:");
  long tgid = tg ? strtol(tg + 6, nullptr, 10) : 0;
  if (tracer == 0 && tgid > 0 && tgid != (long)tid) tracer = LeaderTracer(tgid);
  int32_t res = 0;
  if (tracer != (long)g_sentry || g_sentry <= 0) {
    res = -EPERM;
  } else if (which == 2) {
    *fdOut = st;
    st = -1;
  } else {
    int fd = Openat2(d, names[which], O_RDONLY, 0, RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS);
    if (fd < 0) res = fd;
    else *fdOut = fd;
  }
  if (st >= 0) close(st);
  close(d);
  return res;
}

// CREATE_EXCL/MKDIR/SYMLINK flag: numbers a, b are the new node's owner.
constexpr uint32_t kOwnerGiven = 1;

// Gives the node just made the owner asked for (uid/gid -1: as made; the gofer's own
// ids need no call). chown clears a regular file's setuid/setgid: a mode that had them
// gets them back (a directory keeps its own, inherited setgid included: mode 0 here).
void SetOwner(int dirfd, const char* name, double uidD, double gidD, uint32_t mode) {
  auto id = [](double v, long self) -> long {
    if (!(v >= 0 && v < 4294967295.0)) return -1;
    long x = (long)v;
    return x == self ? -1 : x;
  };
  long uid = id(uidD, (long)geteuid()), gid = id(gidD, (long)getegid());
  if (uid < 0 && gid < 0) return;
  if (fchownat(dirfd, name, (uid_t)uid, (gid_t)gid, AT_SYMLINK_NOFOLLOW) != 0) return;
  if (mode & 06000) fchmodat(dirfd, name, mode & 07777, 0);
}

size_t Serve(uint8_t* in, size_t len, size_t cap, int* fdOut, bool batched);

// BATCH (payload: requests, each [u32 length][request]): the requests the Sentry deferred
// (write-behind: setting the owner, mode or times of a file it made), then the one it
// waits for, served in order, each exactly as if it came alone (every check of Serve).
// Reply: the last request's, its payload followed by the results of the others
// ([i32] each) and their count ([u32]).
size_t ServeBatch(const uint8_t* p, size_t n, int* fdOut) {
  static int32_t results[kMaxBatch];
  int k = 0;
  size_t off = 0;
  for (;;) {
    uint32_t l = 0;
    if (off + 4 > n) break;
    memcpy(&l, p + off, 4);
    off += 4;
    if (l > kSubMax || off + l > n) break;
    memcpy(g_sub, p + off, l);
    off += l;
    bool last = off >= n;
    int fd = -1;
    size_t rlen = Serve(g_sub, l, sizeof g_sub, &fd, true);
    if (last) {
      *fdOut = fd;
      uint32_t plen;
      memcpy(&plen, g_out + 4, 4);
      memcpy(g_out + rlen, results, 4 * (size_t)k);
      uint32_t kk = (uint32_t)k;
      memcpy(g_out + rlen + 4 * (size_t)k, &kk, 4);
      plen += 4 * (uint32_t)k + 4;
      memcpy(g_out + 4, &plen, 4);
      return rlen + 4 * (size_t)k + 4;
    }
    if (fd >= 0) close(fd);  // (no deferred request opens anything)
    if (k == kMaxBatch) break;
    memcpy(&results[k++], g_out, 4);
  }
  // Garbled, or more deferred requests than a batch holds: refused whole (those served
  // were served; the Sentry takes a transport-level error as the Gofer's loss).
  int32_t res = -EPROTO;
  memcpy(g_out, &res, 4);
  memset(g_out + 4, 0, 4);
  return 8;
}

// Serves one request in in[0, len) (in has room for a NUL at in[len], cap bytes in
// all); fills g_out; returns the reply length. batched: a request of a BATCH (no HELLO,
// no BATCH inside).
size_t Serve(uint8_t* in, size_t len, size_t cap, int* fdOut, bool batched) {
  int32_t res = -EINVAL;
  size_t plen = 0;
  uint32_t magic = 0, op, mount, flags, mode, aux;
  double a, b, c, d;
  if (len >= 4) memcpy(&magic, in, 4);
  if (len < kHeader || magic != kMagic) {
    res = -EPROTO;
    goto done;
  }
  memcpy(&op, in + 4, 4);
  memcpy(&mount, in + 8, 4);
  memcpy(&flags, in + 12, 4);
  memcpy(&mode, in + 16, 4);
  memcpy(&aux, in + 20, 4);
  memcpy(&a, in + 24, 8);
  memcpy(&b, in + 32, 8);
  memcpy(&c, in + 40, 8);
  memcpy(&d, in + 48, 8);
  {
    if (len >= cap) len = cap - 1;
    in[len] = 0;
    char* p1 = (char*)in + kHeader;
    char* z1 = (char*)memchr(p1, 0, len - kHeader);
    char* p2 = z1 ? z1 + 1 : nullptr;
    char* z2 = p2 && p2 < (char*)in + len ? (char*)memchr(p2, 0, (char*)in + len - p2) : nullptr;
    if (batched && (op == Hello || op == Batch)) goto done;
    if (op == Hello) {
      uint32_t pid = (uint32_t)getpid();
      memcpy(g_out + 8, &pid, 4);
      memcpy(g_out + 12, &g_confined, 4);
      plen = 8;
      res = kVersion;
      goto done;
    }
    if (op == ProcFile) {
      res = OpenProcFile(aux, flags, fdOut);
      goto done;
    }
    if (op == Batch) return ServeBatch(in + kHeader, len - kHeader, fdOut);
    int root = mount < (uint32_t)g_nroots ? g_roots[mount] : -1;
    if (root < 0 || !z2 || BadRel(p1) || (op != Symlink && op != ReaddirBatch && BadRel(p2))) goto done;
    // Read-only roots stay read-only whatever the Sentry asks (its own EROFS checks
    // are the first line; this is the second; the mount's rdonly flag the third).
    if (g_ro[mount]) {
      bool writes = false;
      switch (op) {
        case Open:
          writes = (flags & O_ACCMODE) != O_RDONLY || (flags & (O_CREAT | O_TRUNC | __O_TMPFILE)) != 0;
          break;
        case Mkdir: case CreateExcl: case Unlink: case Rmdir: case Rename: case Symlink: case Link:
        case Chmod: case Chown: case Truncate: case Utimes:
          writes = true;
          break;
        default:
          break;
      }
      if (writes) {
        res = -EROFS;
        goto done;
      }
    }
    switch (op) {
      case Lstat: {
        Parent p;
        res = OpenParent(root, p1, &p);
        if (res == 0) res = StatInto(p.fd, p.name, 8);
        if (res == 0) plen = 18 * 8;
        break;
      }
      case Open: {
        // O_NONBLOCK: a FIFO planted on the host must not block the gofer; it is
        // refused below with sockets and devices (nodev already stops device opens).
        int fd = Openat2(root, *p1 ? p1 : ".", (flags | O_NOFOLLOW | O_NONBLOCK) & ~O_PATH, mode, kResolve);
        if (fd < 0) {
          res = fd;
          break;
        }
        struct statx sx;
        if (syscall(SYS_statx, fd, "", AT_EMPTY_PATH, kStatMask, &sx) != 0) res = -errno;
        else if (!S_ISREG(sx.stx_mode) && !S_ISDIR(sx.stx_mode)) res = -ENXIO;
        else if ((sx.stx_mask & STATX_MNT_ID) && !MountOk(sx.stx_mnt_id, fd, nullptr)) res = -ENOENT;
        // Back to the flags asked for (F_SETFL sets exactly these status bits).
        else if (!(flags & O_NONBLOCK) && fcntl(fd, F_SETFL, flags & (O_APPEND | O_DIRECT | O_NOATIME)) != 0) res = -errno;
        else res = 0;
        if (res == 0) {
          *fdOut = fd;
          PutStat(sx, 8);  // the opened file's attributes ride along (no second lstat)
          plen = 18 * 8;
        } else {
          close(fd);
        }
        break;
      }
      case Readdir: {
        int dfd = Openat2(root, *p1 ? p1 : ".", O_RDONLY | O_DIRECTORY, 0, kResolve);
        if (dfd < 0) {
          res = dfd;
          break;
        }
        if (!FdOk(dfd)) {
          close(dfd);
          res = -ENOENT;
          break;
        }
        // Payload: [u32 index of the next entry][u32 total], then the entries: the
        // Sentry asks again from `next` until it reaches `total` (no empty last page).
        size_t off = 16;
        uint32_t next = 0, all = 0;
        res = ListInto(dfd, a > 0 ? (int)a : 0, &off, &next, &all, (int)mount, false, TargetsOk(mount, flags));
        close(dfd);
        if (res < 0) break;
        memcpy(g_out + 8, &next, 4);
        memcpy(g_out + 12, &all, 4);
        plen = off - 8;
        break;
      }
      case ReaddirBatch: {
        // Whole listings of several children of directory p1 (names in p2, '/'-separated)
        // in one reply: records [u16 name length][name][i32 status][u32 count][entries],
        // entries as READDIR's. A listing that does not fit whole is status -E2BIG (the
        // Sentry reads it alone); the result is the number of records (names after the
        // last one were not reached: asked again). flags kLiteFiles: the listings
        // carry attributes of directories only (ListInto).
        static char path[8192];
        size_t off = 8;
        int recs = 0;
        // p1 resolved once (as any path, under the root); each child is then one
        // component beneath it (no "/", "." or "..": BadRel below), not a walk from the
        // root per child.
        int pfd = Openat2(root, *p1 ? p1 : ".", O_PATH | O_DIRECTORY, 0, kResolve);
        bool deep = (flags & kDeep) && pfd >= 0;
        for (char* nm = p2; nm && *nm;) {
          char* sep = strchr(nm, '/');
          if (sep) *sep = 0;
          size_t nb = strlen(nm);
          if (off + 10 + nb > kReplyMax) break;
          int n = snprintf(path, sizeof path, "%s%s%s", p1, *p1 ? "/" : "", nm);
          int status = 0;
          uint32_t count = 0;
          size_t rec = off;
          size_t body = off + 10 + nb;
          if (n <= 0 || (size_t)n >= sizeof path || BadRel(path)) {
            status = -EINVAL;
          } else {
            int dfd = pfd >= 0 ? Openat2(pfd, nm, O_RDONLY | O_DIRECTORY, 0, kResolveChild) : pfd;
            if (dfd < 0) {
              status = dfd;
            } else if (!FdOk(dfd)) {
              status = -ENOENT;
              close(dfd);
            } else {
              size_t e = body;
              uint32_t next = 0, all = 0;
              int c = ListInto(dfd, 0, &e, &next, &all, -1, (flags & kLiteFiles) != 0, TargetsOk(mount, flags));
              close(dfd);
              if (c < 0) status = c;
              else if (next < all && deep && recs > 0) break;  // (the reply is full: asked again)
              else if (next < all) status = -E2BIG;  // (a truncated listing too: kTruncated)
              else {
                count = (uint32_t)c;
                body = e;
              }
            }
          }
          uint16_t l = (uint16_t)nb;
          memcpy(g_out + rec, &l, 2);
          memmove(g_out + rec + 2, nm, nb);
          memcpy(g_out + rec + 2 + nb, &status, 4);
          memcpy(g_out + rec + 6 + nb, &count, 4);
          off = body;
          recs++;
          nm = sep ? sep + 1 : nullptr;
          if (deep && !ListBelow(pfd, rec, &recs, &off, (flags & kLiteFiles) != 0, TargetsOk(mount, flags), 0)) break;
        }
        if (pfd >= 0) close(pfd);
        res = recs;
        plen = off - 8;
        break;
      }
      case Readlink: {
        Parent p;
        res = OpenParent(root, p1, &p);
        if (res != 0) break;
        ssize_t n = readlinkat(p.fd, p.name, (char*)g_out + 8, kReplyMax);
        if (n < 0) res = -errno;
        else plen = (size_t)n;
        break;
      }
      case Mkdir:
      case CreateExcl:
      case Unlink:
      case Rmdir:
      case Symlink:
      case Chmod:
      case Chown:
      case Truncate:
      case Utimes: {
        Parent p;
        res = OpenParent(root, p1, &p);
        if (res != 0) break;
        if (!*p.name && op != Chmod && op != Chown && op != Utimes) {
          res = op == Mkdir ? -EEXIST : -EBUSY;
          break;
        }
        const char* nm = *p.name ? p.name : "";
        int atFlags = *p.name ? 0 : AT_EMPTY_PATH;
        switch (op) {
          case Mkdir: res = Err(mkdirat(p.fd, nm, mode)); break;
          case CreateExcl: {
            // The new file's O_WRONLY fd rides along: the open that follows a create
            // (open(O_CREAT), creat) then needs no round trip of its own.
            int fd = openat(p.fd, nm, O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, mode);
            res = fd < 0 ? -errno : 0;
            if (fd >= 0) *fdOut = fd;
            break;
          }
          case Unlink: {
            // What is removed comes back with the reply: the Sentry's lookup of its victim
            // (which open files it pins) needs no Lstat of its own.
            bool had = StatInto(p.fd, nm, 8) == 0;
            res = Err(unlinkat(p.fd, nm, 0));
            if (res == 0 && had) plen = 18 * 8;
            break;
          }
          case Rmdir: res = Err(unlinkat(p.fd, nm, AT_REMOVEDIR)); break;
          case Symlink: res = Err(symlinkat(p2, p.fd, nm)); break;
          case Chmod: {
            struct statx sx;
            if (syscall(SYS_statx, p.fd, nm, AT_SYMLINK_NOFOLLOW | atFlags, STATX_TYPE, &sx) != 0) res = -errno;
            else if (S_ISLNK(sx.stx_mode)) res = -EOPNOTSUPP;  // a symlink's own mode cannot change
            else {
              // fchmodat2 (Linux 6.6) takes AT_EMPTY_PATH: no /proc/self/fd detour
              // (the gofer has no /proc).
              res = Err(syscall(SYS_fchmodat2, p.fd, nm, mode, atFlags));
              // Older kernels: the name is no symlink (checked above), "." is the root.
              if (res == -ENOSYS) res = Err(fchmodat(p.fd, *nm ? nm : ".", mode, 0));
            }
            break;
          }
          case Chown: res = Err(fchownat(p.fd, nm, (uid_t)(int32_t)mode, (gid_t)(int32_t)aux, AT_SYMLINK_NOFOLLOW | atFlags)); break;
          case Truncate: {
            int fd = openat(p.fd, nm, O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
            if (fd < 0) {
              res = -errno;
              break;
            }
            res = Err(ftruncate(fd, (off_t)a));
            close(fd);
            break;
          }
          case Utimes: {
            // (sec, nsec) pairs, exact; UTIME_NOW/UTIME_OMIT pass through.
            struct timespec ts[2] = {Ts(a, b), Ts(c, d)};
            res = Err(utimensat(p.fd, *nm ? nm : nullptr, ts, *nm ? AT_SYMLINK_NOFOLLOW : 0));
            break;
          }
        }
        // Its owner, when the Sentry names one (flags & kOwnerGiven: a = uid, b = gid, -1 =
        // as made): the guest's creator, as Linux makes it, in the same request. Best
        // effort: a gofer without CAP_CHOWN over that uid (run unprivileged) leaves it.
        if (res == 0 && (op == Mkdir || op == CreateExcl || op == Symlink) && (flags & kOwnerGiven)) SetOwner(p.fd, nm, a, b, op == CreateExcl ? mode : 0);
        // What was made comes back with its attributes (the Sentry's lookup of it), and
        // so does what stood in a CreateExcl's way (open(O_CREAT) of an existing name).
        if ((res == 0 && (op == Mkdir || op == CreateExcl || op == Symlink)) || (res == -EEXIST && op == CreateExcl))
          if (StatInto(p.fd, nm, 8) == 0) plen = 18 * 8;
        break;
      }
      case Rename:
      case Link: {
        Parent from, to;
        res = OpenParent(root, p1, &from);
        if (res == 0) res = OpenParent(root, p2, &to);
        if (res != 0) break;
        if (!*from.name || !*to.name) {
          res = -EBUSY;
          break;
        }
        res = op == Rename ? Err(syscall(SYS_renameat2, from.fd, from.name, to.fd, to.name, 0))
                           : Err(linkat(from.fd, from.name, to.fd, to.name, 0));
        break;
      }
      case Watch: {
        // A directory under the root, resolved as every path here; the watch is added on
        // "." after fchdir to it (inotify takes no fd), so no path of the Sentry's is
        // walked by the host. Result: the watch descriptor.
        if (g_nwatches >= kMaxWatches) {
          res = -ENOSPC;
          break;
        }
        int dfd = Openat2(root, *p1 ? p1 : ".", O_PATH | O_DIRECTORY, 0, kResolve);
        if (dfd < 0) {
          res = dfd;
          break;
        }
        bool first = g_inotify < 0;
        if (!FdOk(dfd)) res = -ENOENT;
        else if (first && (g_inotify = inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) < 0) res = -errno;
        else if (fchdir(dfd) != 0) res = -errno;
        else {
          int wd = inotify_add_watch(g_inotify, ".", kWatchMask);
          res = wd < 0 ? -errno : wd;
        }
        if (res > 0) {
          g_nwatches++;  // (a directory watched again gets its wd again: counted twice, bound kept)
          if (first) *fdOut = fcntl(g_inotify, F_DUPFD_CLOEXEC, 0);
        }
        close(dfd);
        break;
      }
      case Unwatch: {
        if (g_inotify < 0) {
          res = -EINVAL;
          break;
        }
        res = Err(inotify_rm_watch(g_inotify, (int)aux));
        if (res == 0 && g_nwatches > 0) g_nwatches--;
        break;
      }
      case Statfs: {
        struct statfs s;
        if (fstatfs(root, &s) != 0) {
          res = -errno;
          break;
        }
        size_t off = 8;
        off = PutF64(off, (double)s.f_bsize);
        off = PutF64(off, (double)s.f_blocks);
        off = PutF64(off, (double)s.f_bfree);
        off = PutF64(off, (double)s.f_bavail);
        off = PutF64(off, (double)s.f_files);
        off = PutF64(off, (double)s.f_ffree);
        plen = 48;
        res = 0;
        break;
      }
      default:
        res = -EINVAL;
    }
  }
done:
  memcpy(g_out, &res, 4);
  uint32_t pl = (uint32_t)plen;
  memcpy(g_out + 4, &pl, 4);
  return 8 + plen;
}


[[noreturn]] void GoferMain() {
  for (;;) {
    struct iovec iov = {g_in, kMaxMsg - 1};
    char ctrl[CMSG_SPACE(sizeof(int))];
    struct msghdr m = {};
    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    m.msg_control = ctrl;
    m.msg_controllen = sizeof ctrl;
    ssize_t n = recvmsg(kSock, &m, MSG_CMSG_CLOEXEC);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) _exit(0);
    struct cmsghdr* c = CMSG_FIRSTHDR(&m);
    if (c && c->cmsg_type == SCM_RIGHTS) {  // requests carry no fd: drop any
      int stray;
      memcpy(&stray, CMSG_DATA(c), sizeof stray);
      close(stray);
    }
    int fdOut = -1;
    size_t len = Serve(g_in, (size_t)n, kMaxMsg, &fdOut, false);
    struct iovec oiov = {g_out, len};
    struct msghdr om = {};
    char octrl[CMSG_SPACE(sizeof(int))] = {};
    om.msg_iov = &oiov;
    om.msg_iovlen = 1;
    if (fdOut >= 0) {
      om.msg_control = octrl;
      om.msg_controllen = sizeof octrl;
      struct cmsghdr* oc = CMSG_FIRSTHDR(&om);
      oc->cmsg_level = SOL_SOCKET;
      oc->cmsg_type = SCM_RIGHTS;
      oc->cmsg_len = CMSG_LEN(sizeof(int));
      memcpy(CMSG_DATA(oc), &fdOut, sizeof(int));
    }
    while (sendmsg(kSock, &om, MSG_NOSIGNAL) < 0 && errno == EINTR) {
    }
    if (fdOut >= 0) close(fdOut);
  }
}

// The gofer's start once it is its own process (forked by goferFork, or the launcher's
// gofer-to-be, native/sentry_launch.cc): socket at kSock, nothing else open but stderr,
// confined, then serving until the Sentry goes.
[[noreturn]] void GoferRun(int sock, int n, char (*paths)[4096], const bool* ro, bool tryNs) {
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  setpgid(0, 0);  // keyboard signals are the Sentry's to pass on, not the gofer's
  ResetSignalsInChild();
  if (sock != kSock && dup2(sock, kSock) != kSock) _exit(120);
  // Only stderr (diagnostics) and the socket stay open.
  syscall(SYS_close_range, 0, 1, 0);
  syscall(SYS_close_range, kSock + 1, ~0U, 0);
  g_confined = ConfineGofer(n, paths, ro, tryNs);
  GoferMain();
}

}  // namespace gofer

using namespace gofer;

// Tests only: without a mount namespace of its own (as when unprivileged), the
// per-result special-filesystem check must hold by itself.
static bool GoferTryMountNs() {
  const char* noNs = getenv("TSSANDBOX_GOFER_NO_MOUNTNS");
  return !(noNs && *noNs == '1');
}

// The launcher's gofer-to-be (native/sentry_launch.cc) waits outside the Sentry's user
// namespace, as the host user, for one request on `sock`: its roots, one message each
// (a byte: 1 read-only; then the path), then an empty message. It then becomes that
// gofer, serving on the same socket. Only the first request, made while the Sentry sets
// up and before any guest code runs, is ever served. Returns only on a bad request.
void GoferAwaitRequest(int sock) {
  static char paths[kMaxRoots][4096];
  static bool ro[kMaxRoots];
  int n = 0;
  for (;;) {
    char buf[4097];
    ssize_t k = recv(sock, buf, sizeof buf, 0);
    if (k < 0 && errno == EINTR) continue;
    if (k <= 0 || (size_t)k > 4096) return;  // the Sentry went (or never used us)
    if (k == 1 && buf[0] == 0) break;
    if (k < 2 || n == kMaxRoots) return;
    ro[n] = buf[0] == 1;
    memcpy(paths[n], buf + 1, (size_t)k - 1);
    paths[n][k - 1] = 0;
    n++;
  }
  g_sentry = getppid();
  // The CPU(s) of the Sentry's main thread, as a gofer it forked would inherit: forked
  // before the Sentry pinned itself, every round trip would otherwise cross CPUs.
  cpu_set_t cpus;
  if (sched_getaffinity(g_sentry, sizeof cpus, &cpus) == 0) sched_setaffinity(0, sizeof cpus, &cpus);
  GoferRun(sock, n, paths, ro, GoferTryMountNs());
}

#ifndef TSS_LAUNCHER
// goferFork(roots, readonly?, launchFd?): forks the gofer serving `roots` (mount index =
// position; readonly[i] true makes root i read-only, enforced by the gofer); returns the
// Sentry's end of its socket, or -errno. With launchFd (the launcher's gofer socket), the
// gofer waiting outside the Sentry's user namespace is asked instead of forking one.
static Napi::Value GoferFork(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsArray()) return Num(env, -EINVAL);
  Napi::Array arr = info[0].As<Napi::Array>();
  static char paths[kMaxRoots][4096];
  static bool ro[kMaxRoots];
  int n = (int)arr.Length();
  if (n > kMaxRoots) return Num(env, -E2BIG);
  Napi::Array roArr = info.Length() > 1 && info[1].IsArray() ? info[1].As<Napi::Array>() : Napi::Array::New(env, 0);
  for (int i = 0; i < n; i++) {
    Napi::Value v = arr.Get((uint32_t)i);
    if (!v.IsString()) return Num(env, -EINVAL);
    std::string s = v.As<Napi::String>().Utf8Value();
    if (s.size() >= sizeof paths[i]) return Num(env, -ENAMETOOLONG);
    memcpy(paths[i], s.c_str(), s.size() + 1);
    ro[i] = (uint32_t)i < roArr.Length() && roArr.Get((uint32_t)i).ToBoolean().Value();
  }
  int launchFd = info.Length() > 2 && info[2].IsNumber() ? info[2].As<Napi::Number>().Int32Value() : -1;
  if (launchFd >= 0) {
    char buf[4097];
    for (int i = 0; i <= n; i++) {
      size_t len = i < n ? strlen(paths[i]) + 1 : 1;
      buf[0] = i < n ? (ro[i] ? 1 : 2) : 0;
      if (i < n) memcpy(buf + 1, paths[i], len - 1);
      if (send(launchFd, buf, len, MSG_NOSIGNAL) != (ssize_t)len) return Num(env, -errno);
    }
    fcntl(launchFd, F_SETFD, FD_CLOEXEC);
    return Num(env, launchFd);
  }
  bool tryNs = GoferTryMountNs();
  int sv[2];
  pid_t pid = ForkWithSeqpacket(sv);
  if (pid < 0) return Num(env, pid);
  if (pid == 0) {
    g_sentry = getppid();
    GoferRun(sv[1], n, paths, ro, tryNs);
  }
  close(sv[1]);
  return Num(env, sv[0]);
}

void InitGoferServer(Napi::Env env, Napi::Object exports) {
  exports.Set("goferFork", Napi::Function::New(env, GoferFork));
}
#endif

}  // namespace tss
