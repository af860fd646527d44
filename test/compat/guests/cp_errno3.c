/* Errno paths, third batch (issue 15): the supported syscalls the first two batches did not
 * call. Files (creat, lchown, utime(s), futimesat, statfs, getdents, readahead, the *at
 * calls, preadv/pwritev(2), copy_file_range, openat2, faccessat2, vmsplice, inotify,
 * fanotify), events (epoll_pwait(2), signalfd, eventfd, sigsuspend, pause), processes and
 * ids (set*id, capset, robust lists, vfork, execveat, pidfds, process_vm_*, membarrier, rseq,
 * seccomp, bpf, ioprio, getcpu, unshare/setns), the system (acct, reboot, setdomainname,
 * pivot_root), memory policy and Linux AIO (message queues, keys and sockets: cp_errno4.c).
 * Each call prints "ok" or its errno, compared with Linux (natively in fresh IPC and pid
 * namespaces). */
#define _GNU_SOURCE
#include "common.h"
#include "errno_run.h"
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <time.h>
#include <utime.h>
#include <linux/aio_abi.h>
#include <linux/openat2.h>
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <sys/ptrace.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <netinet/in.h>

#define BAD ((void *)8)
#define R(expr) OKERR(#expr, (expr))
/* A call whose result (not an errno) is its answer: only that it did not fail. */
#define OK0(expr) do { long _r = (long)(expr); printf("%s: %s\n", #expr, _r < 0 ? "fails" : "ok"); } while (0)

static char longname[300];

static void files(void) {
  char buf[256];
  R(creat(BAD, 0644));
  R(creat("nodir/x", 0644));
  R(creat("d", 0644));
  R(creat(longname, 0644));
  R(creat("f/x", 0644));
  R(syscall(SYS_lchown, BAD, 0, 0));
  R(syscall(SYS_lchown, "missing", 0, 0));
  R(syscall(SYS_lchown, "f/x", 0, 0));
  R(syscall(SYS_lchown, "ls", 0, 0));
  R(syscall(SYS_utime, BAD, NULL));
  R(syscall(SYS_utime, "missing", NULL));
  R(syscall(SYS_utime, "f", BAD));
  R(syscall(SYS_utime, "f", NULL));
  struct timeval tv[2] = {{1, 0}, {2, 1000000}};
  R(syscall(SYS_utimes, "f", tv));
  tv[1].tv_usec = -1;
  R(syscall(SYS_utimes, "f", tv));
  tv[1].tv_usec = 5;
  R(syscall(SYS_utimes, "f", tv));
  R(syscall(SYS_utimes, "f", BAD));
  R(syscall(SYS_futimesat, 999, "f", NULL));
  R(syscall(SYS_futimesat, AT_FDCWD, "missing", NULL));
  R(syscall(SYS_futimesat, AT_FDCWD, "f", BAD));
  struct statfs sf;
  R(syscall(SYS_statfs, BAD, &sf));
  R(syscall(SYS_statfs, "missing", &sf));
  R(syscall(SYS_statfs, "f", BAD));
  R(syscall(SYS_statfs, "f/x", &sf));
  R(syscall(SYS_fstatfs, 999, &sf));
  int f = open("f", O_RDONLY);
  R(syscall(SYS_fstatfs, f, BAD));
  R(syscall(SYS_getdents, 999, buf, sizeof buf));
  R(syscall(SYS_getdents, f, buf, sizeof buf));
  int d = open("d", O_RDONLY | O_DIRECTORY);
  R(syscall(SYS_getdents, d, buf, 4));
  R(syscall(SYS_getdents, d, BAD, sizeof buf));
  R(syscall(SYS_readahead, 999, 0, 100));
  int p[2];
  pipe(p);
  R(syscall(SYS_readahead, p[0], 0, 100));
  R(syscall(SYS_readahead, f, 0, 100));
  R(syscall(SYS_readahead, d, 0, 100));
  R(syscall(SYS_mknodat, 999, "n", S_IFIFO | 0644, 0));
  R(syscall(SYS_mknodat, AT_FDCWD, "f", S_IFIFO | 0644, 0));
  R(syscall(SYS_mknodat, AT_FDCWD, "n1", S_IFDIR | 0644, 0));
  R(syscall(SYS_mknodat, AT_FDCWD, "n2", 0170000 | 0644, 0));
  R(syscall(SYS_mknodat, d, "fifo", S_IFIFO | 0644, 0));
  R(syscall(SYS_mknodat, f, "x", S_IFIFO | 0644, 0));
  R(syscall(SYS_fchownat, AT_FDCWD, "f", 0, 0, 0x1));
  R(syscall(SYS_fchownat, 999, "f", 0, 0, 0));
  R(syscall(SYS_fchownat, f, "", 0, 0, AT_EMPTY_PATH));
  R(syscall(SYS_fchownat, AT_FDCWD, "", 0, 0, 0));
  R(syscall(SYS_fchownat, AT_FDCWD, "ls", 0, 0, AT_SYMLINK_NOFOLLOW));
  R(syscall(SYS_renameat, 999, "f", AT_FDCWD, "g"));
  R(syscall(SYS_renameat, AT_FDCWD, "missing", AT_FDCWD, "g"));
  R(syscall(SYS_renameat, AT_FDCWD, "d", d, "sub"));
  R(syscall(SYS_renameat, AT_FDCWD, "f", AT_FDCWD, "d"));
  R(syscall(SYS_renameat, AT_FDCWD, "d", AT_FDCWD, "f"));
  R(syscall(SYS_renameat, AT_FDCWD, "f", AT_FDCWD, BAD));
  R(syscall(SYS_symlinkat, "t", AT_FDCWD, "f"));
  R(syscall(SYS_symlinkat, "t", 999, "s"));
  R(syscall(SYS_symlinkat, "", AT_FDCWD, "s"));
  R(syscall(SYS_symlinkat, BAD, AT_FDCWD, "s"));
  R(syscall(SYS_symlinkat, "t", d, "s"));
  R(syscall(SYS_fchmodat, AT_FDCWD, "missing", 0644));
  R(syscall(SYS_fchmodat, 999, "f", 0644));
  R(syscall(SYS_fchmodat, AT_FDCWD, BAD, 0644));
  R(syscall(SYS_fchmodat, AT_FDCWD, "f", 0644));
  R(syscall(SYS_faccessat2, AT_FDCWD, "f", R_OK, 0x1));
  R(syscall(SYS_faccessat2, AT_FDCWD, "f", 8, 0));
  R(syscall(SYS_faccessat2, 999, "f", R_OK, 0));
  R(syscall(SYS_faccessat2, AT_FDCWD, "missing", F_OK, AT_EACCESS));
  R(syscall(SYS_faccessat2, f, "", R_OK, AT_EMPTY_PATH));
  R(syscall(SYS_faccessat2, AT_FDCWD, "ls", F_OK, AT_SYMLINK_NOFOLLOW));
  struct open_how how = {O_RDONLY, 0, 0};
  R(syscall(SYS_openat2, AT_FDCWD, "f", &how, 8));
  R(syscall(SYS_openat2, AT_FDCWD, "f", BAD, sizeof how));
  struct { struct open_how h; uint64_t extra; } big = {{O_RDONLY, 0, 0}, 1};
  R(syscall(SYS_openat2, AT_FDCWD, "f", &big, sizeof big));
  big.extra = 0;
  R(syscall(SYS_openat2, AT_FDCWD, "f", &big, sizeof big));
  how.flags = 1ULL << 40;
  R(syscall(SYS_openat2, AT_FDCWD, "f", &how, sizeof how));
  how = (struct open_how){O_RDONLY, 0644, 0};
  R(syscall(SYS_openat2, AT_FDCWD, "f", &how, sizeof how));
  how = (struct open_how){O_RDONLY, 0, 0x100};
  R(syscall(SYS_openat2, AT_FDCWD, "f", &how, sizeof how));
  how = (struct open_how){O_RDONLY, 0, RESOLVE_BENEATH};
  R(syscall(SYS_openat2, AT_FDCWD, "/etc/passwd", &how, sizeof how));
  R(syscall(SYS_openat2, d, "../f", &how, sizeof how));
  how = (struct open_how){O_RDONLY, 0, RESOLVE_NO_SYMLINKS};
  R(syscall(SYS_openat2, AT_FDCWD, "ls", &how, sizeof how));
  how = (struct open_how){O_CREAT | O_WRONLY, 07777 + 1, 0};
  R(syscall(SYS_openat2, AT_FDCWD, "new", &how, sizeof how));
  close(d);
  close(f);
  close(p[0]);
  close(p[1]);
}

static void vectors(void) {
  char a[8], b[8];
  struct iovec iv[2] = {{a, sizeof a}, {b, sizeof b}};
  int f = open("f", O_RDWR), p[2];
  pipe(p);
  R(syscall(SYS_preadv, 999, iv, 2, 0, 0));
  R(syscall(SYS_preadv, f, iv, 2, -1, -1));
  R(syscall(SYS_preadv, f, iv, 1025, 0, 0));
  R(syscall(SYS_preadv, f, iv, -1, 0, 0));
  R(syscall(SYS_preadv, f, BAD, 2, 0, 0));
  R(syscall(SYS_preadv, p[0], iv, 2, 0, 0));
  R(syscall(SYS_preadv, f, iv, 2, 0, 0));
  R(syscall(SYS_pwritev, 999, iv, 2, 0, 0));
  R(syscall(SYS_pwritev, f, iv, 2, -1, -1));
  R(syscall(SYS_pwritev, p[1], iv, 2, 0, 0));
  int ro = open("f", O_RDONLY);
  R(syscall(SYS_pwritev, ro, iv, 2, 0, 0));
  R(syscall(SYS_preadv2, f, iv, 2, 0, 0, 0x10000));
  R(syscall(SYS_preadv2, f, iv, 2, -1, -1, 0));
  R(syscall(SYS_preadv2, f, iv, 2, -2, -1, 0));
  R(syscall(SYS_preadv2, p[0], iv, 2, -1, -1, RWF_NOWAIT));
  R(syscall(SYS_pwritev2, f, iv, 2, 0, 0, 0x10000));
  R(syscall(SYS_pwritev2, ro, iv, 2, 0, 0, 0));
  R(syscall(SYS_pwritev2, f, iv, 2, 0, 0, RWF_APPEND));
  int g = open("g", O_CREAT | O_RDWR, 0644), ap = open("g", O_WRONLY | O_APPEND), d = open("d", O_RDONLY);
  loff_t o1 = 0, o2 = 0;
  R(syscall(SYS_copy_file_range, 999, NULL, g, NULL, 4, 0));
  R(syscall(SYS_copy_file_range, f, NULL, g, NULL, 4, 1));
  R(syscall(SYS_copy_file_range, f, NULL, ap, NULL, 4, 0));
  R(syscall(SYS_copy_file_range, d, NULL, g, NULL, 4, 0));
  R(syscall(SYS_copy_file_range, f, NULL, ro, NULL, 4, 0));
  R(syscall(SYS_copy_file_range, f, &o1, f, &o2, 4, 0));
  R(syscall(SYS_copy_file_range, f, BAD, g, NULL, 4, 0));
  R(syscall(SYS_copy_file_range, p[0], NULL, g, NULL, 4, 0));
  R(syscall(SYS_copy_file_range, f, NULL, g, NULL, 4, 0));
  R(syscall(SYS_vmsplice, 999, iv, 1, 0));
  R(syscall(SYS_vmsplice, f, iv, 1, 0));
  R(syscall(SYS_vmsplice, p[1], iv, 1, 0x10));
  R(syscall(SYS_vmsplice, p[1], iv, 1025, 0));
  R(syscall(SYS_vmsplice, p[1], BAD, 1, 0));
  R(syscall(SYS_vmsplice, p[1], iv, 1, 0));
  R(syscall(SYS_vmsplice, p[0], iv, 1, 0));
  close(f), close(ro), close(g), close(ap), close(d), close(p[0]), close(p[1]);
}

static void events(void) {
  struct epoll_event ev[4];
  sigset_t ss;
  sigemptyset(&ss);
  int ep = epoll_create1(0), f = open("f", O_RDONLY);
  R(syscall(SYS_epoll_pwait, 999, ev, 4, 0, NULL, 8));
  R(syscall(SYS_epoll_pwait, f, ev, 4, 0, NULL, 8));
  R(syscall(SYS_epoll_pwait, ep, ev, 0, 0, NULL, 8));
  R(syscall(SYS_epoll_pwait, ep, ev, -1, 0, NULL, 8));
  R(syscall(SYS_epoll_pwait, ep, ev, 4, 0, &ss, 4));
  R(syscall(SYS_epoll_pwait, ep, ev, 4, 0, BAD, 8));
  R(syscall(SYS_epoll_pwait, ep, ev, 4, 0, &ss, 8));
  struct timespec ts = {0, 1000000000};
  R(syscall(SYS_epoll_pwait2, ep, ev, 4, &ts, NULL, 8));
  ts.tv_nsec = -1;
  R(syscall(SYS_epoll_pwait2, ep, ev, 4, &ts, NULL, 8));
  ts = (struct timespec){-1, 0};
  R(syscall(SYS_epoll_pwait2, ep, ev, 4, &ts, NULL, 8));
  R(syscall(SYS_epoll_pwait2, ep, ev, 4, BAD, NULL, 8));
  ts = (struct timespec){0, 0};
  R(syscall(SYS_epoll_pwait2, ep, ev, 4, &ts, NULL, 8));
  R(syscall(SYS_epoll_pwait2, ep, ev, 4, &ts, &ss, 7));
  R(syscall(SYS_signalfd, -1, &ss, 4));
  R(syscall(SYS_signalfd, -1, BAD, 8));
  R(syscall(SYS_signalfd, 999, &ss, 8));
  R(syscall(SYS_signalfd, f, &ss, 8));
  int sfd = syscall(SYS_signalfd, -1, &ss, 8);
  R(sfd);
  R(syscall(SYS_signalfd, sfd, &ss, 8));
  R(syscall(SYS_eventfd, 0));
  R(syscall(SYS_rt_sigsuspend, &ss, 4));
  R(syscall(SYS_rt_sigsuspend, BAD, 8));
  R(syscall(SYS_inotify_init));
  int in = syscall(SYS_inotify_init1, 0);
  R(syscall(SYS_inotify_rm_watch, 999, 1));
  R(syscall(SYS_inotify_rm_watch, f, 1));
  R(syscall(SYS_inotify_rm_watch, in, 1));
  int wd = syscall(SYS_inotify_add_watch, in, "f", IN_MODIFY);
  R(syscall(SYS_inotify_rm_watch, in, wd));
  R(syscall(SYS_inotify_rm_watch, in, wd));
  R(syscall(SYS_inotify_rm_watch, in, -1));
  R(syscall(SYS_fanotify_init, 0x80000000, O_RDONLY));
  R(syscall(SYS_fanotify_init, 0, 0x400000));
  int fa = syscall(SYS_fanotify_init, 0, O_RDONLY);
  R(fa);
  R(syscall(SYS_fanotify_mark, 999, 1, 2, AT_FDCWD, "f"));
  R(syscall(SYS_fanotify_mark, f, 1, 2, AT_FDCWD, "f"));
  R(syscall(SYS_fanotify_mark, fa, 0, 2, AT_FDCWD, "f"));
  R(syscall(SYS_fanotify_mark, fa, 1 | 2, 2, AT_FDCWD, "f"));
  R(syscall(SYS_fanotify_mark, fa, 1, 0, AT_FDCWD, "f"));
  R(syscall(SYS_fanotify_mark, fa, 1, 2, AT_FDCWD, "missing"));
  R(syscall(SYS_fanotify_mark, fa, 1, 1ULL << 40, AT_FDCWD, "f"));
  R(syscall(SYS_fanotify_mark, fa, 1, 2, AT_FDCWD, "f"));
  R(syscall(SYS_fanotify_mark, fa, 2, 2, AT_FDCWD, "f"));
  R(syscall(SYS_fanotify_mark, fa, 2, 2, AT_FDCWD, "f"));
}

static void onalarm(int s) { (void)s; }

static void interrupted(void) {
  struct sigaction sa = {0};
  sa.sa_handler = onalarm;
  sigaction(SIGALRM, &sa, NULL);
  struct itimerval it = {{0, 0}, {0, 20000}};
  setitimer(ITIMER_REAL, &it, NULL);
  R(pause());
  sigset_t ss;
  sigemptyset(&ss);
  setitimer(ITIMER_REAL, &it, NULL);
  R(syscall(SYS_rt_sigsuspend, &ss, 8));
  R(syscall(SYS_restart_syscall));
  OK0(sched_yield());
  OK0(syscall(SYS_brk, 0));
  OK0(syscall(SYS_set_tid_address, NULL));
  OK0(getuid() + getgid() + geteuid() + getegid() + getpgrp());
  sync();
  printf("sync: ok\n");
}

static void ids(void) {
  OK0(setreuid(-1, -1));
  OK0(setregid(-1, -1));
  R(syscall(SYS_getresgid, BAD, BAD, BAD));
  gid_t r, e, s;
  R(syscall(SYS_getresgid, &r, &e, &s));
  printf("setfsuid(-1) = %d, setfsgid(-1) = %d\n", (int)syscall(SYS_setfsuid, -1), (int)syscall(SYS_setfsgid, -1));
  struct { uint32_t version; int pid; } hdr = {0x12345678, 0};
  struct { uint32_t eff, perm, inh; } data[2];
  R(syscall(SYS_capset, &hdr, data));
  printf("capset wrote version %#x\n", hdr.version);
  R(syscall(SYS_capset, BAD, data));
  hdr.version = 0x20080522;
  R(syscall(SYS_capset, &hdr, BAD));
  hdr.pid = 1;
  syscall(SYS_capget, &hdr, data);
  hdr.pid = getppid();
  R(syscall(SYS_capset, &hdr, data));
  pid_t c = fork();
  if (c == 0) {
    setresgid(65534, 65534, 65534);
    setresuid(65534, 65534, 65534);
    R(setreuid(0, -1));
    R(setregid(-1, 0));
    R(setresgid(0, -1, -1));
    R(syscall(SYS_setfsuid, 0));
    printf("setfsuid(0) as nobody: fsuid still %d\n", (int)syscall(SYS_setfsuid, -1));
    R(syscall(SYS_get_robust_list, 1, &r, &e));
    struct { uint32_t version; int pid; } h = {0x20080522, 0};
    struct { uint32_t eff, perm, inh; } dd[2] = {{1, 1, 0}, {0, 0, 0}};
    R(syscall(SYS_capset, &h, dd));
    R(syscall(SYS_setdomainname, "x", 1));
    R(syscall(SYS_acct, NULL));
    _exit(0);
  }
  int st;
  waitpid(c, &st, 0);
  void *head;
  size_t len;
  R(syscall(SYS_get_robust_list, 0, &head, &len));
  R(syscall(SYS_get_robust_list, 999999, &head, &len));
  R(syscall(SYS_get_robust_list, 0, BAD, &len));
  R(syscall(SYS_get_robust_list, 0, &head, BAD));
  c = vfork();
  if (c == 0) _exit(3);
  waitpid(c, &st, 0);
  printf("vfork child: %d\n", WEXITSTATUS(st));
}

static void procs(void) {
  int f = open("f", O_RDONLY), d = open("d", O_RDONLY);
  char *argv[] = {"true", NULL}, *envp[] = {NULL};
  R(syscall(SYS_execveat, 999, "x", argv, envp, 0));
  R(syscall(SYS_execveat, AT_FDCWD, "f", argv, envp, 0x4));
  R(syscall(SYS_execveat, AT_FDCWD, "missing", argv, envp, 0));
  R(syscall(SYS_execveat, d, "", argv, envp, AT_EMPTY_PATH));
  R(syscall(SYS_execveat, f, "", argv, envp, AT_EMPTY_PATH));
  R(syscall(SYS_execveat, AT_FDCWD, "ls", argv, envp, AT_SYMLINK_NOFOLLOW));
  R(syscall(SYS_execveat, AT_FDCWD, BAD, argv, envp, 0));
  R(syscall(SYS_execveat, AT_FDCWD, "d", argv, envp, 0));
  pid_t c = fork();
  if (c == 0) { pause(); _exit(0); }
  int pfd = syscall(SYS_pidfd_open, c, 0);
  R(syscall(SYS_pidfd_send_signal, 999, SIGTERM, NULL, 0));
  R(syscall(SYS_pidfd_send_signal, f, SIGTERM, NULL, 0));
  R(syscall(SYS_pidfd_send_signal, pfd, 0, NULL, 1));
  R(syscall(SYS_pidfd_send_signal, pfd, 0, NULL, 3));
  R(syscall(SYS_pidfd_send_signal, pfd, 0, NULL, 8));
  R(syscall(SYS_pidfd_send_signal, pfd, 65, NULL, 0));
  R(syscall(SYS_pidfd_send_signal, pfd, 0, NULL, 0));
  R(syscall(SYS_pidfd_send_signal, pfd, SIGTERM, BAD, 0));
  R(syscall(SYS_pidfd_getfd, 999, 0, 0));
  R(syscall(SYS_pidfd_getfd, f, 0, 0));
  R(syscall(SYS_pidfd_getfd, pfd, 0, 1));
  R(syscall(SYS_pidfd_getfd, pfd, 999, 0));
  R(syscall(SYS_pidfd_getfd, pfd, 0, 0) >= 0);
  char buf[8];
  struct iovec l = {buf, sizeof buf}, rv = {buf, sizeof buf};
  R(syscall(SYS_process_vm_readv, 999999, &l, 1, &rv, 1, 0));
  R(syscall(SYS_process_vm_readv, c, &l, 1, &rv, 1, 1));
  R(syscall(SYS_process_vm_readv, c, BAD, 1, &rv, 1, 0));
  R(syscall(SYS_process_vm_readv, c, &l, 1025, &rv, 1, 0));
  R(syscall(SYS_process_vm_readv, c, &l, 1, &rv, 1, 0));
  struct iovec bad = {BAD, 8};
  R(syscall(SYS_process_vm_readv, c, &l, 1, &bad, 1, 0));
  R(syscall(SYS_process_vm_writev, 999999, &l, 1, &rv, 1, 0));
  R(syscall(SYS_process_vm_writev, c, &l, 1, &rv, 1, 1));
  R(syscall(SYS_process_vm_writev, c, &l, 1, &bad, 1, 0));
  R(syscall(SYS_pidfd_send_signal, pfd, SIGKILL, NULL, 0));
  siginfo_t si;
  waitid(P_PID, c, &si, WEXITED | WNOWAIT);
  R(syscall(SYS_pidfd_send_signal, pfd, 0, NULL, 0));
  R(syscall(SYS_pidfd_send_signal, pfd, SIGKILL, NULL, 0));
  int st;
  waitpid(c, &st, 0);
  R(syscall(SYS_pidfd_send_signal, pfd, SIGKILL, NULL, 0));
  R(syscall(SYS_membarrier, 0, 0));
  R(syscall(SYS_membarrier, 0, 1));
  R(syscall(SYS_membarrier, 1 << 30, 0));
  R(syscall(SYS_membarrier, 8, 0));
  R(syscall(SYS_membarrier, 16, 0));
  R(syscall(SYS_membarrier, 8, 0));
  R(syscall(SYS_rseq, NULL, 32, 0, 0));
  R(syscall(SYS_rseq, BAD, 31, 0, 0));
  R(syscall(SYS_rseq, NULL, 32, 2, 0));
  R(syscall(SYS_seccomp, 99, 0, NULL));
  R(syscall(SYS_seccomp, 0, 1, NULL));
  R(syscall(SYS_seccomp, 2, 0, BAD));
  uint32_t act = 0x7fff0000U;
  R(syscall(SYS_seccomp, 2, 0, &act));
  act = 0x12340000U;
  R(syscall(SYS_seccomp, 2, 0, &act));
  R(syscall(SYS_seccomp, 2, 1, &act));
  R(syscall(SYS_seccomp, 1, 0x100, NULL));
  R(syscall(SYS_seccomp, 1, 0, BAD));
  R(syscall(SYS_bpf, 999, NULL, 0));
  R(syscall(SYS_bpf, 5, BAD, 128));
  R(syscall(SYS_ioprio_set, 9, 0, 0));
  R(syscall(SYS_ioprio_set, 1, 999999, 0));
  R(syscall(SYS_ioprio_set, 1, 0, 5 << 13));
  R(syscall(SYS_ioprio_set, 1, 0, (2 << 13) | 4));
  R(syscall(SYS_ioprio_get, 9, 0));
  R(syscall(SYS_ioprio_get, 1, 999999));
  unsigned cpu;
  R(syscall(SYS_getcpu, BAD, NULL, NULL));
  R(syscall(SYS_getcpu, &cpu, BAD, NULL));
  R(syscall(SYS_getcpu, NULL, NULL, NULL));
  R(syscall(SYS_unshare, 0x1));
  R(syscall(SYS_unshare, 0));
  R(syscall(SYS_unshare, CLONE_THREAD));
  R(syscall(SYS_setns, 999, 0));
  R(syscall(SYS_setns, f, 0));
  int ns = open("/proc/self/ns/uts", O_RDONLY);
  R(syscall(SYS_setns, ns, CLONE_NEWNET));
  R(syscall(SYS_setns, ns, CLONE_NEWUTS));
  R(syscall(SYS_setns, ns, 0));
  close(ns);
  R(syscall(SYS_ptrace, PTRACE_PEEKDATA, 999999, 0, 0));
  R(syscall(SYS_ptrace, PTRACE_PEEKDATA, getppid(), 0, 0));
  R(syscall(SYS_ptrace, PTRACE_ATTACH, getpid(), 0, 0));
  R(syscall(SYS_ptrace, PTRACE_ATTACH, 999999, 0, 0));
  R(syscall(SYS_ptrace, 12345, getppid(), 0, 0));
}

static void sys(void) {
  R(syscall(SYS_acct, BAD));
  R(syscall(SYS_acct, "missing/x"));
  R(syscall(SYS_acct, "d"));
  R(syscall(SYS_acct, "ls"));
  R(syscall(SYS_acct, longname));
  R(syscall(SYS_acct, NULL));
  R(syscall(SYS_reboot, 1, 2, 0x1234567, NULL));
  R(syscall(SYS_reboot, 0xfee1dead, 672274793, 0x12345, NULL));
  char dn[70];
  memset(dn, 'a', sizeof dn);
  R(syscall(SYS_setdomainname, dn, 65));
  R(syscall(SYS_setdomainname, BAD, 4));
  R(syscall(SYS_setdomainname, dn, -1));
  R(syscall(SYS_pivot_root, BAD, "."));
  R(syscall(SYS_pivot_root, "missing", "."));
  R(syscall(SYS_pivot_root, "f", "."));
  R(syscall(SYS_pivot_root, ".", BAD));
}

static void mempol(void) {
  char *m = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  unsigned long node = 1, node5 = 1UL << 5;
  R(syscall(SYS_mbind, m, 8192, 9, &node, 2, 0));
  R(syscall(SYS_mbind, m + 1, 4096, 0, NULL, 0, 0));
  R(syscall(SYS_mbind, m, 8192, 1, &node5, 64, 0));
  R(syscall(SYS_mbind, m, 8192, 1, BAD, 64, 0));
  R(syscall(SYS_mbind, m, 8192, 0, NULL, 0, 1 << 10));
  R(syscall(SYS_mbind, m, 8192, 2, &node, 64, 0));
  R(syscall(SYS_mbind, m, 8192, 0, &node, 64, 0));
  R(syscall(SYS_set_mempolicy, 9, &node, 64));
  R(syscall(SYS_set_mempolicy, 1, &node5, 64));
  R(syscall(SYS_set_mempolicy, 1, BAD, 64));
  R(syscall(SYS_set_mempolicy, 0, &node, 64));
  R(syscall(SYS_set_mempolicy, 0, NULL, 0));
  int mode;
  R(syscall(SYS_get_mempolicy, &mode, NULL, 0, NULL, 1 << 5));
  R(syscall(SYS_get_mempolicy, &mode, NULL, 0, m, 0));
  R(syscall(SYS_get_mempolicy, &mode, NULL, 0, m, 2 | 4));
  R(syscall(SYS_get_mempolicy, BAD, NULL, 0, NULL, 0));
  R(syscall(SYS_get_mempolicy, &mode, &node, 1, NULL, 0));
  R(syscall(SYS_get_mempolicy, &mode, NULL, 0, NULL, 0));
  munmap(m, 8192);
}

static void aio(void) {
  aio_context_t ctx = 0;
  R(syscall(SYS_io_setup, 0, &ctx));
  R(syscall(SYS_io_setup, 4, BAD));
  ctx = 1;
  R(syscall(SYS_io_setup, 4, &ctx));
  ctx = 0;
  R(syscall(SYS_io_setup, -1, &ctx));
  R(syscall(SYS_io_setup, 4, &ctx));
  struct io_event ev[2];
  struct timespec ts = {0, 0};
  R(syscall(SYS_io_destroy, 12345));
  R(syscall(SYS_io_getevents, 12345, 0, 1, ev, &ts));
  R(syscall(SYS_io_getevents, ctx, 2, 1, ev, &ts));
  R(syscall(SYS_io_getevents, ctx, -1, 1, ev, &ts));
  R(syscall(SYS_io_getevents, ctx, 0, 1, ev, BAD));
  R(syscall(SYS_io_getevents, ctx, 0, 1, ev, &ts));
  R(syscall(SYS_io_pgetevents, ctx, 2, 1, ev, &ts, NULL));
  R(syscall(SYS_io_pgetevents, 12345, 0, 1, ev, &ts, NULL));
  R(syscall(SYS_io_submit, 12345, 1, NULL));
  R(syscall(SYS_io_submit, ctx, -1, NULL));
  R(syscall(SYS_io_submit, ctx, 0, NULL));
  R(syscall(SYS_io_submit, ctx, 1, BAD));
  struct iocb cb = {0}, *cbs[1] = {&cb};
  cb.aio_fildes = 999;
  cb.aio_lio_opcode = IOCB_CMD_PREAD;
  R(syscall(SYS_io_submit, ctx, 1, cbs));
  cb.aio_fildes = 0;
  cb.aio_lio_opcode = 99;
  R(syscall(SYS_io_submit, ctx, 1, cbs));
  cb.aio_lio_opcode = IOCB_CMD_PREAD;
  cb.aio_reserved2 = 1;
  R(syscall(SYS_io_submit, ctx, 1, cbs));
  struct io_event out;
  R(syscall(SYS_io_cancel, 12345, &cb, &out));
  R(syscall(SYS_io_cancel, ctx, &cb, &out));
  R(syscall(SYS_io_cancel, ctx, BAD, &out));
  R(syscall(SYS_io_destroy, ctx));
  R(syscall(SYS_io_destroy, ctx));
}

int main(void) {
  sweep_start(longname, sizeof longname);
  MUST(mkdir("d", 0755));
  MUST(symlink("f", "ls"));
  run("files", files);
  run("vectors", vectors);
  run("events", events);
  run("interrupted", interrupted);
  run("ids", ids);
  run("processes", procs);
  run("system", sys);
  run("memory policy", mempol);
  run("aio", aio);
  leave_tmpdir();
  return 0;
}
