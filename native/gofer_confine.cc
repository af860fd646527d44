// The Gofer's confinement, before it serves its first request (see gofer_server.cc's
// opening comment and SECURITY.md): its name, its own mount namespace pivoted into a
// tmpfs holding only the served roots (each a nodev,nosuid,nosymfollow clone), the
// capabilities it keeps, no_new_privs and its seccomp filter (GoferFilter).
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

// The calls of the serve loop, and nothing else. Calls that only an attacker who took
// over the gofer would make (exec, ptrace, mounts, namespaces, new sockets, handles,
// modules) kill it; anything else unexpected fails with EPERM.
size_t GoferFilter(struct sock_filter* buf, size_t cap) {
  BpfProg b(buf, cap);
  const uint32_t A = SECCOMP_RET_ALLOW, K = SECCOMP_RET_KILL_PROCESS;
  b.Prologue();
  // The socket to the Sentry (fd 3) is the only one spoken on.
  b.RuleArgEq(SYS_recvmsg, 0, kSock, A, K);
  b.RuleArgEq(SYS_sendmsg, 0, kSock, A, K);
  static const int allow[] = {
      SYS_openat2, SYS_openat, SYS_close, SYS_fcntl,                 // resolve and open
      SYS_statx, SYS_fstatfs, SYS_getdents64, SYS_readlinkat,        // read metadata
      SYS_mkdirat, SYS_unlinkat, SYS_symlinkat, SYS_linkat,          // rw binds
      SYS_renameat, SYS_renameat2, SYS_fchmodat, SYS_fchmodat2, SYS_fchownat,
      SYS_ftruncate, SYS_utimensat,
      SYS_read,                                                      // PROCFILE's status check
      SYS_inotify_init1, SYS_inotify_add_watch, SYS_inotify_rm_watch, SYS_fchdir,  // WATCH
      SYS_getpid, SYS_geteuid, SYS_getegid, SYS_exit, SYS_exit_group, SYS_rt_sigreturn, SYS_restart_syscall,
  };
  for (int nr : allow) b.Rule((uint32_t)nr, A);
  static const int kill[] = {
      SYS_execve, SYS_execveat, SYS_ptrace, SYS_process_vm_readv, SYS_process_vm_writev,
      SYS_mount, SYS_umount2, SYS_pivot_root, SYS_chroot, SYS_open_tree, SYS_move_mount,
      SYS_fsopen, SYS_fsmount, SYS_fspick, SYS_mount_setattr, SYS_unshare, SYS_setns,
      SYS_clone, SYS_clone3, SYS_fork, SYS_vfork, SYS_socket, SYS_socketpair, SYS_connect,
      SYS_bind, SYS_listen, SYS_accept, SYS_accept4, SYS_open, SYS_creat, SYS_mknod, SYS_mknodat,
      SYS_name_to_handle_at, SYS_open_by_handle_at, SYS_bpf, SYS_perf_event_open,
      SYS_init_module, SYS_finit_module, SYS_delete_module, SYS_kexec_load, SYS_kexec_file_load,
      SYS_keyctl, SYS_add_key, SYS_request_key, SYS_userfaultfd, SYS_io_uring_setup,
      SYS_setuid, SYS_setgid, SYS_setreuid, SYS_setregid, SYS_setresuid, SYS_setresgid,
      SYS_capset, SYS_prctl, SYS_seccomp, SYS_ioctl, SYS_kill, SYS_tkill, SYS_tgkill,
      SYS_pidfd_open, SYS_pidfd_getfd, SYS_memfd_create, SYS_mmap, SYS_mprotect,
  };
  for (int nr : kill) b.Rule((uint32_t)nr, K);
  b.Ret(RetErrno(EPERM));
  return b.overflow ? 0 : b.n;
}

// Reads a whole small file (before the pivot: /proc is gone after). Returns its length.
size_t ReadSmall(const char* path, char* buf, size_t cap) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  size_t n = 0;
  while (n + 1 < cap) {
    ssize_t r = read(fd, buf + n, cap - 1 - n);
    if (r <= 0) break;
    n += (size_t)r;
  }
  close(fd);
  buf[n] = 0;
  return n;
}

// ps shows comm (PR_SET_NAME) in `-o comm` and the argument area (/proc/pid/cmdline) in
// `-ef`: the forked child still has the Sentry's node argv there, rewritten in place
// (our copy-on-write copy of the stack) as setproctitle does.
void SetName() {
  prctl(PR_SET_NAME, "tssandbox-gofer", 0, 0, 0);
  static char st[4096];
  if (!ReadSmall("/proc/self/stat", st, sizeof st)) return;
  char* c = strrchr(st, ')');
  if (!c) return;
  // Fields after comm start at 3; arg_start is 48, arg_end 49.
  int field = 2;
  unsigned long long v[2] = {0, 0};
  for (char* q = c + 1; *q; q++) {
    if (*q != ' ') continue;
    field++;
    if (field == 48 || field == 49) v[field - 48] = strtoull(q + 1, nullptr, 10);
  }
  char* as = (char*)(uintptr_t)v[0];
  size_t len = v[1] > v[0] ? (size_t)(v[1] - v[0]) : 0;
  static const char name[] = "tssandbox-gofer";
  if (!as || len < 2) return;
  size_t nl = sizeof name < len ? sizeof name : len;
  memset(as, 0, len);
  memcpy(as, name, nl - 1);
}

struct MountAttr {
  uint64_t attr_set, attr_clr, propagation, userns_fd;
};

// Fills g_roots (O_PATH fds of the served roots) and confines the process; returns the
// kConf* bits achieved. Confinement steps that fail leave the gofer less confined, never
// unserved: the per-result checks and the ro enforcement above hold in every case.
uint32_t ConfineGofer(int n, char (*paths)[4096], const bool* ro, bool tryNs) {
  uint32_t got = 0;
  SetName();
  g_proc = open("/proc", O_PATH | O_DIRECTORY | O_CLOEXEC);
  static char mi[1 << 20];
  bool ns = tryNs && unshare(CLONE_NEWNS) == 0 && mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) == 0;
  if (ns) got |= kConfMountNs;
  // The mount table: special mounts are detached (in our namespace), or when we have
  // none of our own, their ids (and their descendants') refused by MountOk.
  size_t milen = ReadSmall("/proc/self/mountinfo", mi, sizeof mi);
  static uint64_t ids[4096], parents[4096];
  static char* points[4096];
  static bool special[4096];
  int nm = 0;
  for (char* line = mi; line < mi + milen && nm < 4096;) {
    char* end = strchr(line, '\n');
    if (!end) end = mi + milen;
    *end = 0;
    // id parent maj:min root mountpoint opts... - type source superopts
    char* f[5] = {};
    char* q = line;
    for (int i = 0; i < 5 && q; i++) {
      f[i] = q;
      q = strchr(q, ' ');
      if (q) *q++ = 0;
    }
    char* dash = q ? strstr(q, " - ") : nullptr;
    if (f[4] && dash) {
      char* type = dash + 3;
      char* sp = strchr(type, ' ');
      if (sp) *sp = 0;
      // Unescape the mount point (\040 for space etc.) in place.
      char* w = f[4];
      for (char* r = f[4]; *r;) {
        if (r[0] == '\\' && r[1] >= '0' && r[1] <= '7' && r[2] && r[3]) {
          *w++ = (char)((r[1] - '0') * 64 + (r[2] - '0') * 8 + (r[3] - '0'));
          r += 4;
        } else {
          *w++ = *r++;
        }
      }
      *w = 0;
      ids[nm] = strtoull(f[0], nullptr, 10);
      parents[nm] = strtoull(f[1], nullptr, 10);
      points[nm] = f[4];
      special[nm] = SpecialName(type);
      nm++;
    }
    line = end + 1;
  }
  if (ns) {
    // Children first (they follow their parents in mountinfo); a detached parent takes
    // its children along anyway.
    for (int i = nm - 1; i >= 0; i--)
      if (special[i]) umount2(points[i], MNT_DETACH);
  } else {
    for (bool more = true; more;) {
      more = false;
      for (int i = 0; i < nm; i++) {
        if (special[i]) continue;
        for (int j = 0; j < nm; j++)
          if (special[j] && ids[j] == parents[i]) special[i] = more = true;
      }
    }
    for (int i = 0; i < nm && g_ndenied < (int)(sizeof g_denied / sizeof g_denied[0]); i++)
      if (special[i]) g_denied[g_ndenied++] = ids[i];
  }
  for (int i = 0; i < n; i++) {
    g_roots[i] = Openat2(AT_FDCWD, paths[i], O_PATH | O_DIRECTORY, 0, 0);
    g_ro[i] = ro[i];
  }
  g_nroots = n;
  if (ns) {
    // Each root becomes a private recursive clone with nodev, nosuid, nosymfollow (and
    // rdonly for a read-only root), attached under a fresh tmpfs that becomes "/".
    bool attrs = true;
    for (int i = 0; i < n; i++) {
      if (g_roots[i] < 0) continue;
      int t = (int)syscall(SYS_open_tree, g_roots[i], "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE | AT_EMPTY_PATH);
      if (t < 0) {
        attrs = false;
        continue;
      }
      MountAttr a = {MOUNT_ATTR_NODEV | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOSYMFOLLOW | (ro[i] ? MOUNT_ATTR_RDONLY : 0u), 0, 0, 0};
      if (syscall(SYS_mount_setattr, t, "", AT_EMPTY_PATH | AT_RECURSIVE, &a, sizeof a) != 0) attrs = false;
      close(g_roots[i]);
      g_roots[i] = t;
    }
    const char* dirs[] = {"/tmp", "/mnt", "/run", "/var/tmp", "/opt", "/srv", "/home", "/root"};
    const char* base = nullptr;
    for (const char* d : dirs) {
      if (mount("tssandbox-gofer", d, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=64k,nr_inodes=256,mode=0555") == 0) {
        base = d;
        break;
      }
    }
    bool placed = base != nullptr;
    for (int i = 0; base && i < n; i++) {
      if (g_roots[i] < 0) continue;
      char dir[64];
      snprintf(dir, sizeof dir, "%s/%d", base, i);
      if (mkdir(dir, 0555) != 0 ||
          syscall(SYS_move_mount, g_roots[i], "", AT_FDCWD, dir, MOVE_MOUNT_F_EMPTY_PATH) != 0)
        placed = false;
    }
    if (attrs && placed) got |= kConfMountAttrs;
    if (base && chdir(base) == 0 && syscall(SYS_pivot_root, ".", ".") == 0 && umount2(".", MNT_DETACH) == 0 &&
        chdir("/") == 0) {
      MountAttr a = {MOUNT_ATTR_RDONLY, 0, 0, 0};
      syscall(SYS_mount_setattr, AT_FDCWD, "/", 0, &a, sizeof a);
      got |= kConfPivot;
    } else if (base && chroot(".") == 0 && chdir("/") == 0) {
      // pivot_root refused (e.g. the Sentry itself runs chrooted): at least chroot.
    }
  }
  // Capabilities: root's file access over the served trees, nothing else.
  const uint64_t keep = (1ull << CAP_CHOWN) | (1ull << CAP_DAC_OVERRIDE) | (1ull << CAP_FOWNER) | (1ull << CAP_FSETID);
  if (KeepOnlyCaps(keep)) got |= kConfCaps;
  {
    struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct cd[2];
    const uint32_t need = (1u << CAP_CHOWN) | (1u << CAP_FOWNER) | (1u << CAP_FSETID);
    if (syscall(SYS_capget, &h, cd) == 0 && (cd[0].effective & need) == need) got |= kConfFileCaps;
  }
  prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
  static struct sock_filter filt[256];
  size_t len = GoferFilter(filt, 256);
  struct sock_fprog prog = {(unsigned short)len, filt};
  if (len && syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) == 0) got |= kConfSeccomp;
  return got;
}

}  // namespace gofer
}  // namespace tss
