// The Gofer process itself, in C++: forked from the Sentry (no exec, no second Node
// start-up, ~1 ms instead of ~80), it serves protocol v1 of src/gofer/protocol.ts on a
// SOCK_SEQPACKET socket until the Sentry closes it. The child runs only this file's
// code: raw syscalls and static buffers, nothing of V8 or libuv (the parent is
// multi-threaded, so nothing that could hold a lock at fork time may be used).
//
// Every path is resolved under a mount root with openat2(RESOLVE_IN_ROOT |
// RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS): the Sentry walked symlinks itself, so
// neither "..", nor a symlink planted on the host, nor a rename race leads outside.
// Single-name operations then use the *at() calls on the parent directory's fd.
#include "common.h"
#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

namespace tss {
namespace {

constexpr uint32_t kMagic = 0x31464f47;  // "GOF1"
constexpr int kVersion = 1;
constexpr size_t kHeader = 56;
constexpr size_t kMaxMsg = 1 << 20;
constexpr size_t kReplyMax = 128 * 1024;
constexpr int kSock = 3;
constexpr int kMaxRoots = 64;
constexpr uint64_t kResolve = RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;

enum Op { Hello, Lstat, Open, Readdir, Readlink, Mkdir, CreateExcl, Unlink, Rmdir, Rename, Symlink, Link,
          Chmod, Chown, Truncate, Utimes, Statfs };

uint8_t g_in[kMaxMsg];
uint8_t g_out[kReplyMax + 64];
int g_roots[kMaxRoots];
int g_nroots = 0;

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
  return p->fd < 0 ? p->fd : 0;
}

size_t PutF64(size_t off, double v) {
  memcpy(g_out + off, &v, 8);
  return off + 8;
}

int StatInto(int dirfd, const char* name, size_t off) {
  struct statx sx;
  int flags = AT_SYMLINK_NOFOLLOW | (*name ? 0 : AT_EMPTY_PATH);
  if (syscall(SYS_statx, dirfd, name, flags, STATX_BASIC_STATS | STATX_BTIME, &sx) != 0) return -errno;
  double f[18] = {
      0, (double)sx.stx_ino, (double)sx.stx_mode, (double)sx.stx_nlink, (double)sx.stx_uid, (double)sx.stx_gid,
      (double)makedev(sx.stx_rdev_major, sx.stx_rdev_minor), (double)sx.stx_size, (double)sx.stx_blksize,
      (double)sx.stx_blocks, (double)sx.stx_atime.tv_sec, (double)sx.stx_atime.tv_nsec,
      (double)sx.stx_mtime.tv_sec, (double)sx.stx_mtime.tv_nsec, (double)sx.stx_ctime.tv_sec,
      (double)sx.stx_ctime.tv_nsec, (double)(sx.stx_mask & STATX_BTIME ? sx.stx_btime.tv_sec : 0),
      (double)(sx.stx_mask & STATX_BTIME ? sx.stx_btime.tv_nsec : 0)};
  for (int i = 0; i < 18; i++) off = PutF64(off, f[i]);
  return 0;
}

struct timespec Ts(double s) {
  struct timespec t;
  t.tv_sec = (time_t)s;
  t.tv_nsec = (long)((s - (double)t.tv_sec) * 1e9);
  if (t.tv_nsec < 0) t.tv_nsec = 0;
  return t;
}

// Serves one request in g_in[0, len); fills g_out; returns the reply length.
size_t Serve(size_t len, int* fdOut) {
  int32_t res = -EINVAL;
  size_t plen = 0;
  uint32_t magic, op, mount, flags, mode, aux;
  double a, b;
  memcpy(&magic, g_in, 4);
  if (len < kHeader || magic != kMagic) {
    res = -EPROTO;
    goto done;
  }
  memcpy(&op, g_in + 4, 4);
  memcpy(&mount, g_in + 8, 4);
  memcpy(&flags, g_in + 12, 4);
  memcpy(&mode, g_in + 16, 4);
  memcpy(&aux, g_in + 20, 4);
  memcpy(&a, g_in + 24, 8);
  memcpy(&b, g_in + 32, 8);
  {
    g_in[len < kMaxMsg ? len : kMaxMsg - 1] = 0;
    char* p1 = (char*)g_in + kHeader;
    char* z1 = (char*)memchr(p1, 0, len - kHeader);
    char* p2 = z1 ? z1 + 1 : nullptr;
    char* z2 = p2 && p2 < (char*)g_in + len ? (char*)memchr(p2, 0, (char*)g_in + len - p2) : nullptr;
    if (op == Hello) {
      uint32_t pid = (uint32_t)getpid();
      memcpy(g_out + 8, &pid, 4);
      plen = 4;
      res = kVersion;
      goto done;
    }
    int root = mount < (uint32_t)g_nroots ? g_roots[mount] : -1;
    if (root < 0 || !z2 || BadRel(p1) || (op != Symlink && BadRel(p2))) goto done;
    switch (op) {
      case Lstat: {
        Parent p;
        res = OpenParent(root, p1, &p);
        if (res == 0) res = StatInto(p.fd, p.name, 8);
        if (res == 0) plen = 18 * 8;
        break;
      }
      case Open: {
        int fd = Openat2(root, *p1 ? p1 : ".", flags | O_NOFOLLOW, mode, kResolve);
        if (fd >= 0) {
          *fdOut = fd;
          res = 0;
        } else {
          res = fd;
        }
        break;
      }
      case Readdir: {
        int dfd = Openat2(root, *p1 ? p1 : ".", O_RDONLY | O_DIRECTORY, 0, kResolve);
        if (dfd < 0) {
          res = dfd;
          break;
        }
        // All names, sorted (the order Node's readdir gives and the VFS pages by),
        // then from entry index a as many as fit in one reply.
        static char dents[4 << 20];
        static uint32_t names[1 << 16];
        size_t used = 0;
        int count = 0, total = 0;
        for (;;) {
          if (used + 64 * 1024 > sizeof dents) break;
          long n = syscall(SYS_getdents64, dfd, dents + used, 64 * 1024);
          if (n < 0) {
            res = -errno;
            close(dfd);
            goto done;
          }
          if (n == 0) break;
          for (long pos = 0; pos < n;) {
            struct dirent64* d = (struct dirent64*)(dents + used + pos);
            const char* nm = d->d_name;
            if (!(nm[0] == '.' && (nm[1] == 0 || (nm[1] == '.' && nm[2] == 0))) && total < (1 << 16))
              names[total++] = (uint32_t)(used + pos + offsetof(struct dirent64, d_name));
            pos += d->d_reclen;
          }
          used += (size_t)n;
        }
        std::sort(names, names + total, [](uint32_t x, uint32_t y) { return strcmp(dents + x, dents + y) < 0; });
        size_t off = 8;
        for (int i = (int)a; i < total; i++) {
          const char* nm = dents + names[i];
          size_t nb = strlen(nm);
          if (off + 14 + nb > kReplyMax) break;
          struct statx sx;
          if (syscall(SYS_statx, dfd, nm, AT_SYMLINK_NOFOLLOW, STATX_INO | STATX_TYPE | STATX_MODE, &sx) != 0) continue;
          off = PutF64(off, (double)sx.stx_ino);
          uint32_t m = sx.stx_mode;
          uint16_t l = (uint16_t)nb;
          memcpy(g_out + off, &m, 4);
          memcpy(g_out + off + 4, &l, 2);
          memcpy(g_out + off + 6, nm, nb);
          off += 6 + nb;
          count++;
        }
        close(dfd);
        plen = off - 8;
        res = count;
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
            int fd = openat(p.fd, nm, O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, mode);
            res = fd < 0 ? -errno : 0;
            if (fd >= 0) close(fd);
            break;
          }
          case Unlink: res = Err(unlinkat(p.fd, nm, 0)); break;
          case Rmdir: res = Err(unlinkat(p.fd, nm, AT_REMOVEDIR)); break;
          case Symlink: res = Err(symlinkat(p2, p.fd, nm)); break;
          case Chmod: {
            struct statx sx;
            if (syscall(SYS_statx, p.fd, nm, AT_SYMLINK_NOFOLLOW | atFlags, STATX_TYPE, &sx) != 0) res = -errno;
            else if (S_ISLNK(sx.stx_mode)) res = -EOPNOTSUPP;  // a symlink's own mode cannot change
            else {
              // fchmodat has no AT_EMPTY_PATH: go through an O_PATH fd of the file itself.
              int fd = openat(p.fd, *nm ? nm : ".", O_PATH | O_NOFOLLOW | O_CLOEXEC);
              if (fd < 0) res = -errno;
              else {
                char path[32] = "/proc/self/fd/";
                int v = fd, i = 14;
                char digits[12];
                int nd = 0;
                do digits[nd++] = (char)('0' + v % 10), v /= 10;
                while (v);
                while (nd) path[i++] = digits[--nd];
                path[i] = 0;
                res = Err(chmod(path, mode));
                close(fd);
              }
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
            struct timespec ts[2] = {Ts(a), Ts(b)};
            res = Err(utimensat(p.fd, *nm ? nm : nullptr, ts, *nm ? AT_SYMLINK_NOFOLLOW : 0));
            break;
          }
        }
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
        res = op == Rename ? Err(renameat(from.fd, from.name, to.fd, to.name))
                           : Err(linkat(from.fd, from.name, to.fd, to.name, 0));
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
    size_t len = Serve((size_t)n, &fdOut);
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

}  // namespace

// goferFork(roots): forks the gofer serving `roots` (mount index = position);
// returns the Sentry's end of its socket, or -errno.
static Napi::Value GoferFork(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Array arr = info[0].As<Napi::Array>();
  static char paths[kMaxRoots][4096];
  int n = (int)arr.Length();
  if (n > kMaxRoots) return Num(env, -E2BIG);
  for (int i = 0; i < n; i++) {
    std::string s = arr.Get((uint32_t)i).As<Napi::String>().Utf8Value();
    if (s.size() >= sizeof paths[i]) return Num(env, -ENAMETOOLONG);
    memcpy(paths[i], s.c_str(), s.size() + 1);
  }
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) return Num(env, -errno);
  pid_t pid = fork();
  if (pid < 0) {
    int e = errno;
    close(sv[0]);
    close(sv[1]);
    return Num(env, -e);
  }
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    setpgid(0, 0);  // keyboard signals are the Sentry's to pass on, not the gofer's
    ResetSignalsInChild();
    if (dup2(sv[1], kSock) != kSock) _exit(120);
    // Only stderr (diagnostics) and the socket stay open.
    syscall(SYS_close_range, 0, 1, 0);
    syscall(SYS_close_range, kSock + 1, ~0U, 0);
    for (int i = 0; i < n; i++) {
      int fd = Openat2(AT_FDCWD, paths[i], O_PATH | O_DIRECTORY, 0, 0);
      g_roots[i] = fd;
    }
    g_nroots = n;
    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    GoferMain();
  }
  close(sv[1]);
  return Num(env, sv[0]);
}

void InitGoferServer(Napi::Env env, Napi::Object exports) {
  exports.Set("goferFork", Napi::Function::New(env, GoferFork));
}

}  // namespace tss
