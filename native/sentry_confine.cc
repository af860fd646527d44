// The Sentry confines itself once the sandbox is set up (src/cli/confine.ts calls
// sentryConfine from src/cli/run.ts): it gives up the capabilities it no longer needs,
// sets no_new_privs, and installs a seccomp filter on every thread of the process
// (SECCOMP_FILTER_FLAG_TSYNC: Node's main thread, libuv's pool, V8's workers), which
// allows only the host calls the Sentry makes (SentryFilter below, one group a line).
//
// Unexpected calls fail with EPERM (Node and libc handle that); calls only an attacker
// who took over the Sentry would make (exec, mounts, modules, kexec, raw I/O, new
// namespaces of the host's...) kill the whole process (SECCOMP_RET_KILL_PROCESS: the
// stubs and the gofer die with it). See SECURITY.md for what stays allowed and why.
#include "common.h"
#include "seccomp_bpf.h"
#include "keep_caps.h"
#include "kvm/kvm_vm.h"
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/if_ether.h>
#include <arpa/inet.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <sys/socket.h>
#include <unistd.h>

#ifndef SYS_fchmodat2
#define SYS_fchmodat2 452
#endif
#ifndef SYS_map_shadow_stack
#define SYS_map_shadow_stack 453
#endif
#ifndef SYS_futex_wake
#define SYS_futex_wake 454
#define SYS_futex_wait 455
#define SYS_futex_requeue 456
#endif
#ifndef SYS_mseal
#define SYS_mseal 462
#endif

namespace tss {
namespace {

constexpr uint32_t kAllow = SECCOMP_RET_ALLOW;
constexpr uint32_t kKill = SECCOMP_RET_KILL_PROCESS;

// ---- ioctl: the requests the Sentry makes (the number is the low 32 bits of arg 1, as
// the kernel takes it), found by tracing it over the tty, console, network and kvm tests
// (SECURITY.md); anything else gets `deny` (EPERM), as any call not listed. Not there:
// TIOCSTI/TIOCLINUX (pushing input into the host terminal the sandbox runs on),
// TIOCSCTTY/TIOCCONS/TIOCSETD/TIOCSPGRP (taking it over), TUNSETIFF and the SIOCSIF*
// family (the host's interfaces: the front or set-up did what the run needs, before
// confinement), FS_IOC_* of host files, KVM_* outside a kvm run.
void IoctlRule(BpfProg& b, bool kvm, uint32_t deny) {
  static const uint32_t common[] = {
      // Node/libuv on its own fds: non-blocking and close-on-exec flags, isatty and the
      // tty's check (TIOCGPTN), fs.copyFile's clone.
      FIONBIO, FIOCLEX, FIONCLEX, TCGETS, TIOCGPTN, FICLONE,
      // the host terminal of `run --tty` (src/cli/console.ts, native/host.cc): its mode, size
      // and foreground group read; an OCI console's pty size (native/oci_console.cc)
      TCSETS, TCSETSW, TCSETSF, TIOCGWINSZ, TIOCSWINSZ, TIOCGPGRP,
      // host sockets of --network host/user (native/net_host.cc SockIoctlInt): queue sizes
      FIONREAD, TIOCOUTQ, 0x894B /* SIOCOUTQNSD */,
  };
  static const uint32_t kvmOnly[] = {
      KVM_RUN, KVM_GET_REGS, KVM_SET_REGS, KVM_GET_SREGS, KVM_SET_SREGS, TSS_KVM_GET_XSAVE, TSS_KVM_SET_XSAVE,
      KVM_SET_XCRS, TSS_KVM_SET_MSRS, KVM_SET_DEVICE_ATTR, TSS_KVM_SET_CPUID2,   // vCPUs
      KVM_CREATE_VM, KVM_CREATE_VCPU, KVM_SET_USER_MEMORY_REGION, KVM_SET_TSS_ADDR,  // VMs (a fork's)
      KVM_GET_API_VERSION, KVM_CHECK_EXTENSION, KVM_GET_VCPU_MMAP_SIZE, TSS_KVM_GET_SUPPORTED_CPUID,
  };
  const size_t nc = sizeof common / sizeof common[0], nk = kvm ? sizeof kvmOnly / sizeof kvmOnly[0] : 0;
  const size_t n = nc + nk;
  // nr == ioctl ? (load arg 1; one JEQ per request to the allow; deny) : the next rule.
  b.Put(BPF_JMP | BPF_JEQ | BPF_K, SYS_ioctl, 0, (uint8_t)(n + 3));
  b.Put(BPF_LD | BPF_W | BPF_ABS, (uint32_t)(offsetof(struct seccomp_data, args) + 8));
  for (size_t i = 0; i < n; i++)
    b.Put(BPF_JMP | BPF_JEQ | BPF_K, i < nk ? kvmOnly[i] : common[i - nk], (uint8_t)(n - i), 0);
  b.Ret(deny);
  b.Ret(kAllow);
  // The BPF jump is 8 bits: the lists stay far below.
  static_assert(sizeof common / sizeof common[0] + sizeof kvmOnly / sizeof kvmOnly[0] + 3 < 256, "ioctl list too long");
}

// Options: gofer = host trees are reached through the gofer, so the Sentry changes no
// host path itself (path-modifying calls are refused); log = unexpected calls are
// allowed and logged by the kernel (SECCOMP_RET_LOG, dmesg) instead of EPERM: for
// finding what a new Node version needs, never for production; kvm = the platform is kvm
// (its KVM_* ioctls allowed).
size_t SentryFilter(struct sock_filter* buf, size_t cap, bool gofer, bool log, bool kvm) {
  BpfProg b(buf, cap);
  const uint32_t deny = log ? SECCOMP_RET_LOG : RetErrno(EPERM);
  b.Prologue();

  // ---- the hot path first (each syscall of the guest costs these): ptrace stops,
  // waits, guest memory. PTRACE_ATTACH/SEIZE/TRACEME would reach host processes that
  // are not our stubs (which were traced from birth): refused.
  // kvm: KVM_RUN is the hot call (one per guest syscall), so its rule comes first.
  if (kvm) IoctlRule(b, true, deny);
  b.Put(BPF_JMP | BPF_JEQ | BPF_K, SYS_ptrace, 0, 6);
  b.Put(BPF_LD | BPF_W | BPF_ABS, (uint32_t)offsetof(struct seccomp_data, args));
  b.Put(BPF_JMP | BPF_JEQ | BPF_K, PTRACE_ATTACH, 3, 0);
  b.Put(BPF_JMP | BPF_JEQ | BPF_K, PTRACE_SEIZE, 2, 0);
  b.Put(BPF_JMP | BPF_JEQ | BPF_K, PTRACE_TRACEME, 1, 0);
  b.Ret(kAllow);
  b.Ret(deny);
  static const int hot[] = {SYS_wait4, SYS_waitid, SYS_process_vm_readv, SYS_process_vm_writev, SYS_read,
                            SYS_write, SYS_pread64, SYS_pwrite64, SYS_futex, SYS_epoll_wait, SYS_epoll_pwait,
                            SYS_clock_gettime, SYS_sendmsg, SYS_recvmsg};
  for (int nr : hot) b.Rule((uint32_t)nr, kAllow);

  // ---- threads: only threads may be created (the stubs were forked before
  // confinement; new address spaces are forked inside the stub). clone3 hides its
  // flags in memory: ENOSYS makes glibc fall back to clone, whose flags are checked.
  b.Put(BPF_JMP | BPF_JEQ | BPF_K, SYS_clone, 0, 4);
  b.Put(BPF_LD | BPF_W | BPF_ABS, (uint32_t)offsetof(struct seccomp_data, args));
  b.Put(BPF_JMP | BPF_JSET | BPF_K, CLONE_THREAD, 0, 1);
  b.Ret(kAllow);
  b.Ret(deny);
  b.Rule(SYS_clone3, RetErrno(ENOSYS));

  if (!kvm) IoctlRule(b, false, deny);

  // ---- sockets: AF_UNIX only (the gofer's and the stubs' socket pairs, control
  // sockets); the guest's network stack is the Sentry's own, no host socket needed.
  b.Put(BPF_JMP | BPF_JEQ | BPF_K, SYS_socket, 0, 4);
  b.Put(BPF_LD | BPF_W | BPF_ABS, (uint32_t)offsetof(struct seccomp_data, args));
  b.Put(BPF_JMP | BPF_JEQ | BPF_K, 1 /* AF_UNIX */, 0, 1);
  b.Ret(kAllow);
  b.Ret(deny);

  // ---- opening: with the gofer, no host path at all. Host files come from the gofer
  // (fds over its socket); the few host files the Sentry reads itself (/proc/meminfo,
  // /proc/stat, the memory cgroup, the vDSO image) were opened at start-up and are read
  // through their fds; the stub threads' /proc files are opened by the gofer; tmpfs
  // pages are memfds. The Sentry is also chrooted into an empty directory (EnterEmptyRoot),
  // so what a path could still name (stat, access, readlink...) is nothing of the host.
  if (gofer) {
    // [directfs allowance: openat on dir fds the gofer donated, flags pinned, goes here,
    //  before the refusal below.]
    b.Rule(SYS_open, deny);
    b.Rule(SYS_openat, deny);
    // futimens (fd, NULL path) only; a path would name a host file.
    b.Put(BPF_JMP | BPF_JEQ | BPF_K, SYS_utimensat, 0, 6);
    b.Put(BPF_LD | BPF_W | BPF_ABS, (uint32_t)(offsetof(struct seccomp_data, args) + 8));
    b.Put(BPF_JMP | BPF_JEQ | BPF_K, 0, 0, 3);
    b.Put(BPF_LD | BPF_W | BPF_ABS, (uint32_t)(offsetof(struct seccomp_data, args) + 12));
    b.Put(BPF_JMP | BPF_JEQ | BPF_K, 0, 0, 1);
    b.Ret(kAllow);
    b.Ret(deny);
    static const int paths[] = {SYS_creat, SYS_mkdir, SYS_mkdirat, SYS_rmdir, SYS_unlink, SYS_unlinkat,
                                SYS_rename, SYS_renameat, SYS_renameat2, SYS_link, SYS_linkat, SYS_symlink,
                                SYS_symlinkat, SYS_chmod, SYS_fchmodat, SYS_fchmodat2, SYS_chown, SYS_lchown,
                                SYS_fchownat, SYS_truncate, SYS_utime, SYS_utimes, SYS_futimesat, SYS_setxattr,
                                SYS_lsetxattr, SYS_removexattr, SYS_lremovexattr};
    for (int nr : paths) b.Rule((uint32_t)nr, deny);
  }
  // openat2 hides its flags in memory (and the Sentry has no use for it).
  b.Rule(SYS_openat2, deny);

  // ---- never: what only a Sentry taken over would do. Kills the process.
  static const int kill[] = {
      SYS_execve, SYS_execveat,                                           // run host programs
      SYS_mount, SYS_umount2, SYS_pivot_root, SYS_chroot, SYS_open_tree,  // host mounts
      SYS_move_mount, SYS_fsopen, SYS_fsconfig, SYS_fsmount, SYS_fspick, SYS_mount_setattr,
      SYS_init_module, SYS_finit_module, SYS_delete_module,               // kernel modules
      SYS_kexec_load, SYS_kexec_file_load, SYS_reboot,                    // another kernel
      SYS_iopl, SYS_ioperm, SYS_swapon, SYS_swapoff, SYS_acct, SYS_syslog, // the machine
      SYS_settimeofday, SYS_clock_settime, SYS_adjtimex, SYS_clock_adjtime,
      SYS_sethostname, SYS_setdomainname, SYS_quotactl, SYS_quotactl_fd, SYS_lookup_dcookie,
      SYS_mknod, SYS_mknodat,                                             // device nodes
      SYS_name_to_handle_at, SYS_open_by_handle_at,                       // file handles (shocker)
      SYS_bpf, SYS_perf_event_open, SYS_userfaultfd,                      // kernel attack surface
      SYS_keyctl, SYS_add_key, SYS_request_key, SYS_uselib, SYS_vhangup,
  };
  for (int nr : kill) b.Rule((uint32_t)nr, kKill);

  // ---- refused, without killing: calls Node or libc may probe and do without.
  static const int refused[] = {
      SYS_fork, SYS_vfork,                               // no new processes
      SYS_io_uring_setup, SYS_io_uring_enter, SYS_io_uring_register,  // I/O unseen by seccomp (libuv falls back)
      SYS_unshare, SYS_setns,                            // the host's namespaces stay as they are
      SYS_setuid, SYS_setgid, SYS_setreuid, SYS_setregid, SYS_setresuid, SYS_setresgid,
      SYS_setfsuid, SYS_setfsgid, SYS_setgroups, SYS_capset,
      SYS_pidfd_getfd, SYS_process_madvise, SYS_move_pages, SYS_migrate_pages, SYS_kcmp,
      SYS_personality, SYS_modify_ldt, SYS_seccomp, SYS_sync, SYS_syncfs,
  };
  for (int nr : refused) b.Rule((uint32_t)nr, deny);

  // ---- everything the Sentry (Node, libuv, V8, the addon) does, by group.
  static const int allow[] = {
      // files through fds (host fds the gofer handed over, stdio, pipes, memfds)
      SYS_close, SYS_close_range, SYS_lseek, SYS_readv, SYS_writev, SYS_preadv, SYS_pwritev, SYS_preadv2,
      SYS_pwritev2, SYS_fstat, SYS_newfstatat, SYS_statx, SYS_stat, SYS_lstat, SYS_fstatfs, SYS_statfs,
      SYS_getdents64, SYS_getdents, SYS_readlink, SYS_readlinkat, SYS_access, SYS_faccessat, SYS_faccessat2,
      SYS_fcntl, SYS_flock, SYS_dup, SYS_dup2, SYS_dup3, SYS_fsync, SYS_fdatasync, SYS_ftruncate,
      SYS_fallocate, SYS_fadvise64, SYS_readahead, SYS_sendfile, SYS_copy_file_range, SYS_splice, SYS_tee,
      SYS_vmsplice, SYS_sync_file_range, SYS_fchmod, SYS_fchown, SYS_getxattr, SYS_lgetxattr, SYS_fgetxattr,
      SYS_listxattr, SYS_llistxattr, SYS_flistxattr, SYS_fsetxattr, SYS_fremovexattr, SYS_memfd_create,
      SYS_getcwd, SYS_chdir, SYS_fchdir, SYS_umask, SYS_openat, SYS_open, SYS_utimensat,
      SYS_inotify_init1, SYS_inotify_add_watch, SYS_inotify_rm_watch,
      // the Direct backend's path calls (refused above when the gofer serves)
      SYS_creat, SYS_mkdir, SYS_mkdirat, SYS_rmdir, SYS_unlink, SYS_unlinkat, SYS_rename, SYS_renameat,
      SYS_renameat2, SYS_link, SYS_linkat, SYS_symlink, SYS_symlinkat, SYS_chmod, SYS_fchmodat, SYS_fchmodat2,
      SYS_chown, SYS_lchown, SYS_fchownat, SYS_truncate, SYS_utime, SYS_utimes, SYS_futimesat, SYS_setxattr,
      SYS_lsetxattr, SYS_removexattr, SYS_lremovexattr,
      // memory (V8's heaps and JIT, the event buffer, guest memory views)
      SYS_mmap, SYS_munmap, SYS_mprotect, SYS_mremap, SYS_madvise, SYS_brk, SYS_msync, SYS_mincore,
      SYS_mlock, SYS_mlock2, SYS_munlock, SYS_mlockall, SYS_munlockall, SYS_membarrier, SYS_pkey_alloc,
      SYS_pkey_free, SYS_pkey_mprotect, SYS_mbind, SYS_get_mempolicy, SYS_set_mempolicy, SYS_map_shadow_stack,
      SYS_mseal,
      // polling and the event loop
      SYS_poll, SYS_ppoll, SYS_select, SYS_pselect6, SYS_epoll_create, SYS_epoll_create1, SYS_epoll_ctl,
      SYS_epoll_pwait2, SYS_eventfd, SYS_eventfd2, SYS_pipe, SYS_pipe2, SYS_timerfd_create,
      SYS_timerfd_settime, SYS_timerfd_gettime, SYS_signalfd, SYS_signalfd4,
      // threads and synchronisation
      SYS_set_robust_list, SYS_get_robust_list, SYS_rseq, SYS_set_tid_address, SYS_futex_waitv,
      SYS_futex_wake, SYS_futex_wait, SYS_futex_requeue, SYS_sched_yield, SYS_sched_getaffinity,
      SYS_sched_setaffinity, SYS_sched_getparam, SYS_sched_setparam, SYS_sched_getscheduler,
      SYS_sched_setscheduler, SYS_sched_get_priority_max, SYS_sched_get_priority_min, SYS_sched_getattr,
      SYS_sched_setattr, SYS_sched_rr_get_interval, SYS_getpriority, SYS_setpriority, SYS_getcpu,
      SYS_arch_prctl, SYS_prctl, SYS_exit, SYS_exit_group, SYS_gettid,
      // signals (host signals to the Sentry, SIGKILL/SIGSTOP to stubs, tgkill to interrupt)
      SYS_rt_sigaction, SYS_rt_sigprocmask, SYS_rt_sigreturn, SYS_rt_sigpending, SYS_rt_sigtimedwait,
      SYS_rt_sigqueueinfo, SYS_rt_tgsigqueueinfo, SYS_rt_sigsuspend, SYS_sigaltstack, SYS_kill, SYS_tkill,
      SYS_tgkill, SYS_pidfd_open, SYS_pidfd_send_signal, SYS_pause, SYS_restart_syscall,
      // time
      SYS_clock_getres, SYS_clock_nanosleep, SYS_nanosleep, SYS_gettimeofday, SYS_time, SYS_times,
      SYS_getitimer, SYS_setitimer, SYS_alarm, SYS_timer_create, SYS_timer_settime, SYS_timer_gettime,
      SYS_timer_getoverrun, SYS_timer_delete,
      // identity and limits
      SYS_getpid, SYS_getppid, SYS_getuid, SYS_geteuid, SYS_getgid, SYS_getegid, SYS_getresuid, SYS_getresgid,
      SYS_getgroups, SYS_getpgrp, SYS_getpgid, SYS_setpgid, SYS_getsid, SYS_setsid, SYS_capget, SYS_uname,
      SYS_sysinfo, SYS_getrlimit, SYS_setrlimit, SYS_prlimit64, SYS_getrusage, SYS_getrandom,
      // sockets: the gofer's and the stubs' socket pairs, host networking, control sockets
      SYS_socketpair, SYS_connect, SYS_bind, SYS_listen, SYS_accept, SYS_accept4, SYS_sendto,
      SYS_recvfrom, SYS_sendmmsg, SYS_recvmmsg, SYS_shutdown, SYS_getsockname, SYS_getpeername,
      SYS_setsockopt, SYS_getsockopt,
  };
  for (int nr : allow) b.Rule((uint32_t)nr, kAllow);
  b.Ret(deny);
  return b.overflow ? 0 : b.n;
}

bool g_confined = false;

// chroot into an empty directory that no longer exists (made, entered, removed, then
// made the root): absolute and relative paths of the Sentry name nothing of the host
// (ENOENT), and nothing can be created there. Needs CAP_SYS_CHROOT (dropped right
// after, and chroot is a killing rule of the filter, so it cannot be undone). A mount
// namespace of its own is out of reach: unshare(CLONE_NEWNS) refuses a multi-threaded
// process, and Node runs threads from its first instruction.
bool EnterEmptyRoot() {
  const char* bases[] = {getenv("TMPDIR"), "/tmp", "/dev/shm", "/run"};
  for (const char* base : bases) {
    if (!base || !*base) continue;
    char dir[4096];
    if (snprintf(dir, sizeof dir, "%s/tssandbox-root-XXXXXX", base) >= (int)sizeof dir) continue;
    if (!mkdtemp(dir)) continue;
    int d = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
    bool ok = d >= 0 && fchdir(d) == 0;
    rmdir(dir);
    ok = ok && chroot(".") == 0 && chdir("/") == 0;
    if (d >= 0) close(d);
    if (ok) return true;
  }
  return false;
}

// Is the stub `pid` in a user namespace other than ours? (false when unknown)
bool StubHasOwnUserNs(int pid) {
  if (pid <= 0) return false;
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/ns/user", pid);
  struct stat a, b;
  if (stat(path, &a) != 0 || stat("/proc/self/ns/user", &b) != 0) return false;
  return a.st_ino != b.st_ino || a.st_dev != b.st_dev;
}

// sentryConfine({ gofer, log, keepFileCaps, stubPid, chroot }): chroots into an empty
// directory (chroot: true), becomes non-dumpable, drops capabilities (all of them,
// or keeps the file-access ones root needs when the Sentry reaches host trees itself,
// and CAP_SYS_PTRACE when the stubs share its user namespace), sets
// no_new_privs and installs the filter on every thread. Returns a bit mask (1 filter,
// 2 capabilities, 4 no_new_privs, 8 empty root, 16 not dumpable) or -errno when the
// filter could not be installed.
Napi::Value SentryConfine(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsObject()) return Num(env, -EINVAL);
  Napi::Object o = info[0].As<Napi::Object>();
  bool gofer = o.Get("gofer").ToBoolean().Value();
  bool log = o.Get("log").ToBoolean().Value();
  bool keepFileCaps = o.Get("keepFileCaps").ToBoolean().Value();
  bool wantRoot = o.Has("chroot") && o.Get("chroot").ToBoolean().Value();
  int stubPid = o.Has("stubPid") && o.Get("stubPid").IsNumber() ? o.Get("stubPid").As<Napi::Number>().Int32Value() : 0;
  if (g_confined) return Num(env, -EALREADY);
  int got = 0;
  uint64_t keep = keepFileCaps ? (1ull << CAP_CHOWN) | (1ull << CAP_DAC_OVERRIDE) | (1ull << CAP_DAC_READ_SEARCH) |
                                     (1ull << CAP_FOWNER) | (1ull << CAP_FSETID)
                               : 0;
  // Guest memory (process_vm_readv/writev, /proc/<stub>/maps) of a non-dumpable stub
  // needs CAP_SYS_PTRACE in the stub's user namespace. In a user namespace of its own
  // (owned by our uid) the Sentry has it there without any capability here; when the
  // stub shares our user namespace (the host refused a new one), it is kept.
  // kvm names the Sentry itself (src/platform/kvm/kvm.ts start): its guests are vCPUs of
  // this process, in memory it maps itself, so no stub to reach and no CAP_SYS_PTRACE.
  if (stubPid != getpid() && !StubHasOwnUserNs(stubPid)) keep |= 1ull << CAP_SYS_PTRACE;
  if (wantRoot && EnterEmptyRoot()) got |= 8;
  // Not dumpable: no other process of our uid (another sandbox's Sentry, a guest that
  // got out of its own) may read our memory or fds through /proc or process_vm_*; the
  // Sentry's own access to its tracees is not affected.
  if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == 0) got |= 16;
  if (KeepOnlyCaps(keep)) got |= 2;
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0) got |= 4;
  static struct sock_filter filt[1024];
  size_t len = SentryFilter(filt, 1024, gofer, log, stubPid == getpid());
  if (!len) return Num(env, -E2BIG);
  struct sock_fprog prog = {(unsigned short)len, filt};
  long r = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC, &prog);
  if (r != 0) return Num(env, r > 0 ? -ESRCH : -errno);  // r > 0: a thread could not be synced
  g_confined = true;
  got |= 1;
  return Num(env, got);
}

// sentryTryForbidden(kind, arg): the test hook (TSSANDBOX_TEST_FORBIDDEN_SYSCALL, see
// src/cli/confine.ts): makes one call the filter forbids, undoing it if it worked.
// Returns 0 or -errno (a killing rule does not return).
Napi::Value SentryTryForbidden(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string kind = info[0].As<Napi::String>().Utf8Value();
  long arg = info.Length() > 1 ? (long)info[1].As<Napi::Number>().Int64Value() : 0;
  long r;
  if (kind == "ptrace-attach") {
    r = syscall(SYS_ptrace, PTRACE_ATTACH, (pid_t)arg, 0, 0);
    if (r == 0) {
      int st;
      waitpid((pid_t)arg, &st, __WALL);
      syscall(SYS_ptrace, PTRACE_DETACH, (pid_t)arg, 0, 0);
    }
  } else if (kind == "kexec") {
    // Flags no kernel accepts: EINVAL when allowed, so nothing is ever loaded.
    r = syscall(SYS_kexec_load, 0, 0, nullptr, 0xfff00000UL);
  } else if (kind == "inet-socket") {
    // Network mode "host" included: the guest's host sockets come from the broker.
    r = syscall(SYS_socket, AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (r >= 0) close((int)r), r = 0;
  } else if (kind == "packet-socket") {
    // A raw socket on the host's own network (sniffing it): CAP_NET_RAW over the user
    // namespace owning the host's network namespace, which a launched Sentry lacks.
    r = syscall(SYS_socket, AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL));
    if (r >= 0) close((int)r), r = 0;
  } else if (kind == "setns-net") {
    // Into the network namespace of host pid `arg` (another one than the sandbox's): CAP_SYS_ADMIN
    // over the user namespace owning it.
    long fd = syscall(SYS_pidfd_open, (pid_t)arg, 0);
    if (fd < 0) {
      r = -1;
    } else {
      r = syscall(SYS_setns, (int)fd, CLONE_NEWNET);
      int e = errno;
      close((int)fd);
      errno = e;
    }
  } else if (kind == "ioctl") {
    // Request `arg` on a pipe of its own (an int 0 as the argument): what the request does
    // to a pipe (FIOASYNC 0: nothing; a tty's or KVM's: ENOTTY) is only reached if allowed.
    int p[2];
    if (pipe2(p, O_CLOEXEC) != 0) return Num(env, -errno);
    int zero = 0;
    r = syscall(SYS_ioctl, p[0], (unsigned long)arg, &zero);
    int e = errno;
    close(p[0]);
    close(p[1]);
    errno = e;
  } else if (kind == "unshare") {
    r = syscall(SYS_unshare, 0);  // flags 0: a no-op when allowed
  } else if (kind == "signal0") {
    // May it signal host pid `arg` (signal 0: the permission check alone)? Same uid, or
    // CAP_KILL over the target's user namespace.
    r = syscall(SYS_kill, (pid_t)arg, 0);
  } else if (kind == "setns-user") {
    // Back into the user namespace of host pid `arg` (the host's, for a Sentry the front
    // put in its own): refused by the filter, and by the kernel (no CAP_SYS_ADMIN there).
    long fd = syscall(SYS_pidfd_open, (pid_t)arg, 0);
    if (fd < 0) {
      r = -1;
    } else {
      r = syscall(SYS_setns, (int)fd, CLONE_NEWUSER);
      int e = errno;
      close((int)fd);
      errno = e;
    }
  } else if (kind == "open-read") {
    // Any open by path, even read-only: refused with the gofer (EPERM).
    std::string p = info[2].As<Napi::String>().Utf8Value();
    r = syscall(SYS_openat, AT_FDCWD, p.c_str(), O_RDONLY | O_CLOEXEC);
    if (r >= 0) close((int)r), r = 0;
  } else if (kind == "stat") {
    // Allowed by the filter; the empty root makes any host path ENOENT.
    std::string p = info[2].As<Napi::String>().Utf8Value();
    struct stat st;
    r = stat(p.c_str(), &st);
  } else if (kind == "open-write") {
    // O_WRONLY|O_APPEND of a path the test names (its own file): appends nothing.
    std::string p = info[2].As<Napi::String>().Utf8Value();
    r = syscall(SYS_openat, AT_FDCWD, p.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
    if (r >= 0) close((int)r), r = 0;
  } else {
    return Num(env, -EINVAL);
  }
  return Num(env, r < 0 ? -errno : 0);
}

}  // namespace

void InitSentryConfine(Napi::Env env, Napi::Object exports) {
  exports.Set("sentryConfine", Napi::Function::New(env, SentryConfine));
  exports.Set("sentryTryForbidden", Napi::Function::New(env, SentryTryForbidden));
}

}  // namespace tss
