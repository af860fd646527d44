/* Errno paths, second batch (issue 15): processes (wait4/waitid options, kill/tgkill ranges,
 * prctl, pgids, scheduling, clone flags), memory (mmap/munmap/mprotect/mremap/madvise/mlock/
 * msync/mincore), timers (POSIX timers, timerfd, itimers, clocks), SysV IPC (msg, sem, shm
 * flags and limits) and xattrs (names, sizes, flags, namespaces). Each call prints "ok" or
 * its errno and is compared with Linux (natively in a fresh IPC namespace). Nothing may
 * block: IPC calls carry IPC_NOWAIT and every section runs under an alarm. */
#include "common.h"
#include "errno_run.h"
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <time.h>
#include <linux/sched.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/msg.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <sys/uio.h>

#define BAD ((void *)8)
#define R(expr) OKERR(#expr, (expr))
#define PG 4096L
#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif
#ifndef MREMAP_DONTUNMAP
#define MREMAP_DONTUNMAP 4
#endif
#ifndef MSG_COPY
#define MSG_COPY 040000
#endif

static int zombie(void) {
  pid_t c = fork();
  if (c == 0) _exit(7);
  /* A zombie once it has exited: waitid WNOWAIT waits without reaping. */
  siginfo_t si;
  waitid(P_PID, c, &si, WEXITED | WNOWAIT);
  return c;
}

static void processes(void) {
  siginfo_t si;
  int st;
  R(syscall(SYS_wait4, -1, NULL, 0x1000000, NULL));
  R(syscall(SYS_wait4, -1, NULL, WNOHANG, NULL));
  R(syscall(SYS_wait4, INT_MIN, NULL, WNOHANG, NULL));
  R(syscall(SYS_wait4, -1, NULL, WNOHANG | __WALL | __WCLONE, NULL));
  R(syscall(SYS_wait4, -1, NULL, WEXITED, NULL));
  R(syscall(SYS_waitid, P_ALL, 0, &si, 0, NULL));
  R(syscall(SYS_waitid, P_ALL, 0, &si, WEXITED | 0x100000, NULL));
  R(syscall(SYS_waitid, 9, 0, &si, WEXITED, NULL));
  R(syscall(SYS_waitid, P_PID, 0, &si, WEXITED | WNOHANG, NULL));
  R(syscall(SYS_waitid, P_PID, -3, &si, WEXITED | WNOHANG, NULL));
  R(syscall(SYS_waitid, P_PGID, -1, &si, WEXITED | WNOHANG, NULL));
  R(syscall(SYS_waitid, P_PIDFD, -1, &si, WEXITED | WNOHANG, NULL));
  R(syscall(SYS_waitid, P_PIDFD, 0, &si, WEXITED | WNOHANG, NULL));
  R(syscall(SYS_waitid, P_ALL, 0, NULL, WEXITED | WNOHANG, NULL));
  R(syscall(SYS_waitid, P_ALL, 0, &si, WSTOPPED | WNOHANG, NULL));
  R(syscall(SYS_waitid, P_ALL, 0, &si, WCONTINUED | WNOHANG, NULL));
  int z = zombie();
  R(syscall(SYS_wait4, z, BAD, WNOHANG, NULL));
  z = zombie();
  R(syscall(SYS_wait4, z, &st, WNOHANG, BAD));
  z = zombie();
  R(syscall(SYS_waitid, P_PID, z, BAD, WEXITED | WNOHANG, NULL));
  z = zombie();
  R(syscall(SYS_waitid, P_PID, z, &si, WEXITED | WNOHANG, BAD));
  while (waitpid(-1, NULL, WNOHANG) > 0) {}
  z = zombie();
  R(syscall(SYS_wait4, z, &st, WNOHANG | WNOWAIT, NULL));
  R(syscall(SYS_wait4, z, &st, WNOHANG, NULL));
  printf("status %d exit %d\n", WIFEXITED(st), WEXITSTATUS(st));

  R(syscall(SYS_kill, INT_MIN, 0));
  R(syscall(SYS_kill, getpid(), 65));
  R(syscall(SYS_kill, getpid(), -1));
  R(syscall(SYS_kill, 99999999, 0));
  R(syscall(SYS_kill, -99999999, 0));
  R(syscall(SYS_kill, 0, 0));
  R(syscall(SYS_tgkill, 0, gettid(), 0));
  R(syscall(SYS_tgkill, getpid(), 0, 0));
  R(syscall(SYS_tgkill, -1, gettid(), 0));
  R(syscall(SYS_tgkill, getpid(), -5, 0));
  R(syscall(SYS_tgkill, getpid(), gettid(), 65));
  R(syscall(SYS_tgkill, getpid(), 99999999, 0));
  R(syscall(SYS_tgkill, getppid(), gettid(), 0));
  R(syscall(SYS_tgkill, getpid(), gettid(), 0));
  R(syscall(SYS_tkill, -1, 0));
  R(syscall(SYS_tkill, 0, 0));
  R(syscall(SYS_tkill, gettid(), 65));
  R(syscall(SYS_tkill, 99999999, 0));
  R(syscall(SYS_rt_sigqueueinfo, getpid(), 65, &si));
  R(syscall(SYS_rt_sigqueueinfo, getpid(), SIGUSR1, BAD));
  R(syscall(SYS_rt_tgsigqueueinfo, getpid(), 0, SIGUSR1, &si));

  char name[32];
  R(syscall(SYS_prctl, PR_SET_PDEATHSIG, 65, 0, 0, 0));
  R(syscall(SYS_prctl, PR_SET_PDEATHSIG, -1, 0, 0, 0));
  R(syscall(SYS_prctl, PR_GET_PDEATHSIG, BAD, 0, 0, 0));
  R(syscall(SYS_prctl, PR_SET_DUMPABLE, 2, 0, 0, 0));
  R(syscall(SYS_prctl, PR_SET_DUMPABLE, 1, 0, 0, 0));
  R(syscall(SYS_prctl, PR_GET_NAME, BAD, 0, 0, 0));
  R(syscall(SYS_prctl, PR_GET_NAME, name, 0, 0, 0));
  R(syscall(SYS_prctl, 9999, 0, 0, 0, 0));
  R(syscall(SYS_prctl, PR_SET_NO_NEW_PRIVS, 2, 0, 0, 0));
  R(syscall(SYS_prctl, PR_SET_NO_NEW_PRIVS, 1, 1, 0, 0));
  R(syscall(SYS_prctl, PR_GET_NO_NEW_PRIVS, 1, 0, 0, 0));
  R(syscall(SYS_prctl, PR_CAPBSET_READ, 99, 0, 0, 0));
  R(syscall(SYS_prctl, PR_CAPBSET_READ, -1, 0, 0, 0));
  R(syscall(SYS_prctl, PR_CAPBSET_DROP, 99, 0, 0, 0));
  R(syscall(SYS_prctl, PR_SET_KEEPCAPS, 2, 0, 0, 0));
  R(syscall(SYS_prctl, PR_GET_KEEPCAPS, 1, 0, 0, 0));
  R(syscall(SYS_prctl, PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0));
  R(syscall(SYS_prctl, PR_GET_CHILD_SUBREAPER, BAD, 0, 0, 0));
  R(syscall(SYS_prctl, PR_GET_TID_ADDRESS, BAD, 0, 0, 0));
  R(syscall(SYS_prctl, PR_SET_THP_DISABLE, 1, 1, 0, 0));
  R(syscall(SYS_prctl, PR_GET_THP_DISABLE, 1, 0, 0, 0));
  R(syscall(SYS_prctl, PR_SET_TIMERSLACK, 0, 0, 0, 0));
  R(syscall(SYS_prctl, PR_SET_TIMERSLACK, 1000, 0, 0, 0));
  SHOW("PR_GET_TIMERSLACK", syscall(SYS_prctl, PR_GET_TIMERSLACK, 0, 0, 0, 0));
  if (fork() == 0) {
    SHOW("PR_GET_TIMERSLACK in a child", syscall(SYS_prctl, PR_GET_TIMERSLACK, 0, 0, 0, 0));
    syscall(SYS_prctl, PR_SET_TIMERSLACK, 7000, 0, 0, 0);
    syscall(SYS_prctl, PR_SET_TIMERSLACK, 0, 0, 0, 0);
    SHOW("PR_GET_TIMERSLACK in a child, reset", syscall(SYS_prctl, PR_GET_TIMERSLACK, 0, 0, 0, 0));
    _exit(0);
  }
  wait(NULL);
  R(syscall(SYS_prctl, PR_SET_TIMERSLACK, 0, 0, 0, 0));
  SHOW("PR_GET_TIMERSLACK default", syscall(SYS_prctl, PR_GET_TIMERSLACK, 0, 0, 0, 0));
  R(syscall(SYS_prctl, PR_SET_THP_DISABLE, 1, 0, 0, 0));
  SHOW("PR_GET_THP_DISABLE", syscall(SYS_prctl, PR_GET_THP_DISABLE, 0, 0, 0, 0));
  if (fork() == 0) { SHOW("PR_GET_THP_DISABLE in a child", syscall(SYS_prctl, PR_GET_THP_DISABLE, 0, 0, 0, 0)); _exit(0); }
  wait(NULL);
  int tsc = -1;
  R(syscall(SYS_prctl, PR_GET_TSC, &tsc, 0, 0, 0));
  printf("tsc %d\n", tsc);
  R(syscall(SYS_prctl, PR_MCE_KILL, 9, 0, 0, 0));
  R(syscall(SYS_prctl, PR_MCE_KILL_GET, 1, 0, 0, 0));
  R(syscall(SYS_prctl, PR_GET_SPECULATION_CTRL, 99, 0, 0, 0));
  R(syscall(SYS_prctl, PR_SET_TAGGED_ADDR_CTRL, 0, 0, 0, 0));
  R(syscall(SYS_prctl, PR_SET_FP_MODE, 0, 0, 0, 0));
  R(syscall(SYS_prctl, PR_SET_TSC, 9, 0, 0, 0));
  R(syscall(SYS_prctl, PR_GET_TSC, BAD, 0, 0, 0));
  R(syscall(SYS_prctl, PR_SET_ENDIAN, 0, 0, 0, 0));
  R(syscall(SYS_prctl, PR_SET_SECCOMP, 9, 0, 0, 0));
  R(syscall(SYS_prctl, PR_CAP_AMBIENT, 9, 0, 0, 0));
  R(syscall(SYS_prctl, PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, 99, 0, 0));
  R(syscall(SYS_prctl, PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 1, 0, 0));

  R(syscall(SYS_setpgid, -1, 0));
  R(syscall(SYS_setpgid, 99999999, 0));
  R(syscall(SYS_setpgid, 0, -1));
  R(syscall(SYS_getpgid, 99999999));
  R(syscall(SYS_getpgid, -1));
  R(syscall(SYS_getsid, 99999999));
  R(syscall(SYS_setpgid, getppid(), 0));
  MUST(setpgid(0, 0));
  R(syscall(SYS_setsid));

  unsigned long mask[16] = { 1 };
  struct sched_param sp = { 0 };
  R(syscall(SYS_sched_setaffinity, 0, 0, mask));
  R(syscall(SYS_sched_getaffinity, 0, 4, mask));
  R(syscall(SYS_sched_getaffinity, 0, 7, mask));
  R(syscall(SYS_sched_setaffinity, 99999999, sizeof mask, mask));
  R(syscall(SYS_sched_setscheduler, 0, 99, &sp));
  sp.sched_priority = 1;
  R(syscall(SYS_sched_setscheduler, 0, SCHED_OTHER, &sp));
  R(syscall(SYS_sched_setscheduler, 0, SCHED_FIFO, BAD));
  R(syscall(SYS_sched_setscheduler, -1, SCHED_OTHER, &sp));
  sp.sched_priority = 100;
  R(syscall(SYS_sched_setparam, 0, &sp));
  R(syscall(SYS_sched_getparam, 99999999, &sp));
  R(syscall(SYS_sched_getscheduler, -1));
  R(syscall(SYS_sched_get_priority_max, 99));
  R(syscall(SYS_sched_get_priority_min, -1));
  R(syscall(SYS_sched_rr_get_interval, 0, BAD));
  R(syscall(SYS_sched_rr_get_interval, -1, BAD));
  R(syscall(SYS_setpriority, 99, 0, 0));
  R(syscall(SYS_getpriority, PRIO_PROCESS, 99999999));
  R(syscall(SYS_getpriority, 99, 0));
  R(syscall(SYS_sched_setattr, 0, BAD, 0));
  R(syscall(SYS_sched_getattr, 0, BAD, 48, 0));
  R(syscall(SYS_sched_getattr, 0, mask, 8, 0));
  R(syscall(SYS_sched_getattr, 0, mask, 48, 1));
  unsigned int sa[14] = { 0 };
  R(syscall(SYS_sched_getattr, 0, sa, sizeof sa, 0));
  printf("sched_attr size %u policy %u nice %d prio %u\n", sa[0], sa[1], (int)sa[4], sa[5]);
  memset(sa, 0, sizeof sa);
  sa[0] = 48;
  sa[4] = 3;
  R(syscall(SYS_sched_setattr, 0, sa, 0));
  printf("nice after setattr %d\n", getpriority(PRIO_PROCESS, 0));
  sa[0] = 20;
  R(syscall(SYS_sched_setattr, 0, sa, 0));
  printf("size told %u\n", sa[0]);
  sa[0] = 48;
  sa[1] = 99;
  R(syscall(SYS_sched_setattr, 0, sa, 0));
  sa[1] = 0;
  sa[2] = 0x80;
  R(syscall(SYS_sched_setattr, 0, sa, 0));
  sa[2] = 0;
  R(syscall(SYS_sched_setattr, -1, sa, 0));
  R(syscall(SYS_sched_setattr, 0, sa, 1));

  long r;
#define CLONE(fl) do { r = syscall(SYS_clone, (fl), 0, NULL, NULL, 0); if (r == 0) _exit(0); OKERR("clone " #fl, r); if (r > 0) waitpid(r, NULL, __WALL); } while (0)
  CLONE(CLONE_THREAD | SIGCHLD);
  CLONE(CLONE_SIGHAND | SIGCHLD);
  CLONE(CLONE_NEWNS | CLONE_FS | SIGCHLD);
  CLONE(CLONE_NEWUSER | CLONE_FS | SIGCHLD);
  CLONE(CLONE_PARENT_SETTID | SIGCHLD);
  CLONE(CLONE_PIDFD | CLONE_PARENT_SETTID | SIGCHLD);
  CLONE(CLONE_THREAD | CLONE_SIGHAND | CLONE_VM | CLONE_NEWPID);
  struct clone_args ca = { 0 };
  R(syscall(SYS_clone3, &ca, 8));
  R(syscall(SYS_clone3, BAD, sizeof ca));
  ca.exit_signal = 65;
  R(syscall(SYS_clone3, &ca, sizeof ca));
  ca.exit_signal = SIGCHLD;
  ca.flags = 1ULL << 40;
  R(syscall(SYS_clone3, &ca, sizeof ca));
}

static void memory(void) {
  int fd = open("f", O_RDONLY), wo = open("w", O_WRONLY), d = open(".", O_RDONLY);
  int p[2];
  MUST(pipe(p));
  R(mmap(NULL, 0, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) == MAP_FAILED ? -1 : 0);
#define MM(a, l, pr, fl, f, o) OKERR("mmap " #a " " #l " " #pr " " #fl " " #f " " #o, mmap((void *)(a), (l), (pr), (fl), (f), (o)) == MAP_FAILED ? -1 : 0)
  MM(0, PG, PROT_READ, MAP_ANONYMOUS, -1, 0);
  MM(0, PG, PROT_READ, MAP_SHARED | MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  MM(0, PG, PROT_READ, MAP_SHARED_VALIDATE | MAP_ANONYMOUS | 0x40000000, -1, 0);
  MM(0, PG, PROT_READ, MAP_SHARED_VALIDATE | MAP_ANONYMOUS, -1, 0);
  MM(0x10001, PG, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
  MM(0, PG, PROT_READ, MAP_PRIVATE, -1, 0);
  MM(0, PG, PROT_READ, MAP_PRIVATE, d, 0);
  MM(0, PG, PROT_READ, MAP_PRIVATE, p[0], 0);
  MM(0, PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  MM(0, PG, PROT_READ, MAP_PRIVATE, wo, 0);
  MM(0, PG, PROT_READ, MAP_PRIVATE, fd, 100);
  MM(0, PG, PROT_READ, MAP_PRIVATE, fd, -PG);
  MM(0, 1UL << 62, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  MM(0, -PG, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  MM(0, PG, PROT_READ | 0x10, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  MM(0xffffffffffff0000UL, PG, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
  char *a = mmap(NULL, 8 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  MM(a, PG, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
  MM(a + PG * 3, PG, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
  MUST(munmap(a + 6 * PG, 2 * PG));
  R(munmap(a + 1, PG));
  R(munmap(a, 0));
  R(munmap((void *)0xffffffffffff0000UL, PG));
  R(munmap(a + 6 * PG, PG));
  R(mprotect(a + 1, PG, PROT_READ));
  R(mprotect(a + 5 * PG, 2 * PG, PROT_READ));
  R(mprotect(a, PG, PROT_READ | 0x100));
  R(mprotect(a, PG, PROT_READ | PROT_GROWSDOWN | PROT_GROWSUP));
  R(mprotect(a, PG, PROT_GROWSDOWN));
  R(mprotect(a, 0, PROT_READ));
  char *sh = mmap(NULL, PG, PROT_READ, MAP_SHARED, fd, 0);
  R(mprotect(sh, PG, PROT_READ | PROT_WRITE));
  R(mprotect(sh, PG, PROT_READ | PROT_EXEC));
  R(mremap(a + 1, PG, PG, 0) == MAP_FAILED ? -1 : 0);
  R(mremap(a, PG, 0, 0) == MAP_FAILED ? -1 : 0);
  R(mremap(a, PG, PG, 0x80) == MAP_FAILED ? -1 : 0);
  R(mremap(a, PG, PG, MREMAP_FIXED, a + 4 * PG) == MAP_FAILED ? -1 : 0);
  R(mremap(a, PG, 2 * PG, 0) == MAP_FAILED ? -1 : 0);
  R(mremap(a + 6 * PG, PG, PG, 0) == MAP_FAILED ? -1 : 0);
  R(mremap(a + 4 * PG, 2 * PG, 2 * PG, 0) == MAP_FAILED ? -1 : 0);
  R(mremap(a, PG, 2 * PG, MREMAP_MAYMOVE | MREMAP_DONTUNMAP, NULL) == MAP_FAILED ? -1 : 0);
  R(mremap(a, 2 * PG, 2 * PG, MREMAP_MAYMOVE | MREMAP_FIXED, a + PG) == MAP_FAILED ? -1 : 0);
  R(mremap(a, PG, PG, MREMAP_MAYMOVE | MREMAP_FIXED, a + 1) == MAP_FAILED ? -1 : 0);
  R(mremap(sh, PG, PG, MREMAP_MAYMOVE | MREMAP_DONTUNMAP, NULL) == MAP_FAILED ? -1 : 0);
  R(mremap(a, PG, PG, 0) == MAP_FAILED ? -1 : 0);
  char *dd = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  dd[0] = 'x';
  char *nd = mremap(dd, PG, PG, MREMAP_MAYMOVE | MREMAP_DONTUNMAP, NULL);
  if (nd != MAP_FAILED) printf("dontunmap: new %c, old %d\n", nd[0], dd[0]);
  else printf("dontunmap: %s\n", ename(errno));
  R(madvise(a + 1, PG, MADV_NORMAL));
  R(madvise(a, PG, 999));
  R(madvise(a + 6 * PG, PG, MADV_NORMAL));
  R(madvise(a + 6 * PG, PG, MADV_DONTNEED));
  R(madvise(a + 6 * PG, PG, MADV_WILLNEED));
  R(madvise(a, 0, MADV_NORMAL));
  R(madvise(a, PG, MADV_REMOVE));
  R(madvise(a, PG, MADV_DONTFORK));
  R(madvise(a, PG, MADV_DOFORK));
  R(madvise(a, PG, MADV_FREE));
  R(madvise(sh, PG, MADV_FREE));
  R(madvise(a, PG, MADV_MERGEABLE));
  R(madvise(a, PG, MADV_HUGEPAGE));
  R(madvise(a, PG, MADV_COLD));
  R(madvise(a, PG, MADV_PAGEOUT));
  R(madvise(a, PG, MADV_WIPEONFORK));
  R(madvise(sh, PG, MADV_WIPEONFORK));
  R(madvise(a, -PG, MADV_NORMAL));
  R(mlock(a + 6 * PG, PG));
  R(mlock(a + 1, PG));
  R(syscall(SYS_mlock2, a, PG, 2));
  R(mlockall(0));
  R(mlockall(MCL_ONFAULT));
  R(mlockall(8));
  R(munlock(a + 6 * PG, PG));
  R(munlock(a, PG));
  R(msync(a + 1, PG, MS_SYNC));
  R(msync(a, PG, 8));
  R(msync(a, PG, MS_SYNC | MS_ASYNC));
  R(msync(a + 6 * PG, PG, MS_SYNC));
  R(msync(a, PG, MS_INVALIDATE));
  unsigned char vec[8];
  R(mincore(a + 1, PG, vec));
  R(mincore(a + 6 * PG, PG, vec));
  R(mincore(a, PG, BAD));
  R(mincore(a, 0, vec));
  R(syscall(SYS_munmap, a, -PG));
  /* process_madvise: ranges of oneself take any advice; another process only hints. */
  char *pb = mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  MUST(munmap(pb + PG, PG));
  struct iovec piv[2] = { { pb, PG }, { pb + PG, PG } };
  int self = syscall(SYS_pidfd_open, getpid(), 0);
  SHOW("process_madvise self COLD", syscall(SYS_process_madvise, self, piv, 1, MADV_COLD, 0));
  SHOW("process_madvise self COLD, second range unmapped", syscall(SYS_process_madvise, self, piv, 2, MADV_COLD, 0));
  SHOW("process_madvise self unmapped", syscall(SYS_process_madvise, self, piv + 1, 1, MADV_COLD, 0));
  SHOW("process_madvise self DONTNEED", syscall(SYS_process_madvise, self, piv, 1, MADV_DONTNEED, 0));
  R(syscall(SYS_process_madvise, self, piv, 1, MADV_COLD, 1));
  R(syscall(SYS_process_madvise, -1, piv, 1, MADV_COLD, 0));
  R(syscall(SYS_process_madvise, 0, piv, 1, MADV_COLD, 0));
  R(syscall(SYS_process_madvise, self, BAD, 1, MADV_COLD, 0));
  R(syscall(SYS_process_madvise, self, piv, 2000, MADV_COLD, 0));
  int cp[2];
  MUST(pipe(cp));
  pid_t kid = fork();
  if (kid == 0) { char c; read(cp[0], &c, 1); _exit(0); }
  int kfd = syscall(SYS_pidfd_open, kid, 0);
  SHOW("process_madvise child COLD", syscall(SYS_process_madvise, kfd, piv, 1, MADV_COLD, 0));
  SHOW("process_madvise child PAGEOUT", syscall(SYS_process_madvise, kfd, piv, 1, MADV_PAGEOUT, 0));
  R(syscall(SYS_process_madvise, kfd, piv, 1, MADV_DONTNEED, 0));
  R(syscall(SYS_process_madvise, kfd, piv + 1, 1, MADV_COLD, 0));
  MUST(write(cp[1], "x", 1));
  waitpid(kid, NULL, 0);
  /* As a user with no memlock allowance: mlock needs CAP_IPC_LOCK. */
  struct rlimit z = { 0, 0 };
  MUST(setrlimit(RLIMIT_MEMLOCK, &z));
  MUST(setresuid(1000, 1000, 1000));
  R(mlock(a, PG));
  R(mlockall(MCL_CURRENT));
  R(munlockall());
}

static void timers(void) {
  timer_t id;
  struct sigevent ev = { .sigev_notify = SIGEV_SIGNAL, .sigev_signo = SIGUSR1 };
  struct itimerspec its = { { 0, 0 }, { 100, 0 } };
  R(syscall(SYS_timer_create, 99, &ev, &id));
  R(syscall(SYS_timer_create, CLOCK_MONOTONIC, BAD, &id));
  R(syscall(SYS_timer_create, CLOCK_MONOTONIC, &ev, BAD));
  ev.sigev_notify = 99;
  R(syscall(SYS_timer_create, CLOCK_MONOTONIC, &ev, &id));
  ev.sigev_notify = SIGEV_SIGNAL;
  ev.sigev_signo = 0;
  R(syscall(SYS_timer_create, CLOCK_MONOTONIC, &ev, &id));
  ev.sigev_signo = 65;
  R(syscall(SYS_timer_create, CLOCK_MONOTONIC, &ev, &id));
  ev.sigev_signo = SIGUSR1;
  ev.sigev_notify = SIGEV_THREAD_ID;
  ev._sigev_un._tid = 99999999;
  R(syscall(SYS_timer_create, CLOCK_MONOTONIC, &ev, &id));
  ev._sigev_un._tid = getppid();
  R(syscall(SYS_timer_create, CLOCK_MONOTONIC, &ev, &id));
  ev.sigev_notify = SIGEV_NONE;
  R(syscall(SYS_timer_create, CLOCK_THREAD_CPUTIME_ID, &ev, &id));
  R(syscall(SYS_timer_create, CLOCK_MONOTONIC_RAW, &ev, &id));
  R(syscall(SYS_timer_create, CLOCK_REALTIME_COARSE, &ev, &id));
  int tid = -1;
  R(syscall(SYS_timer_create, CLOCK_MONOTONIC, &ev, &tid));
  R(syscall(SYS_timer_settime, 9999, 0, &its, NULL));
  its.it_value.tv_nsec = 1000000000;
  R(syscall(SYS_timer_settime, tid, 0, &its, NULL));
  its.it_value.tv_nsec = -1;
  R(syscall(SYS_timer_settime, tid, 0, &its, NULL));
  its.it_value.tv_nsec = 0;
  its.it_interval.tv_nsec = 1000000000;
  R(syscall(SYS_timer_settime, tid, 0, &its, NULL));
  its.it_interval.tv_nsec = 0;
  R(syscall(SYS_timer_settime, tid, 0, BAD, NULL));
  R(syscall(SYS_timer_settime, tid, 0, &its, BAD));
  R(syscall(SYS_timer_settime, tid, 0xff, &its, NULL));
  R(syscall(SYS_timer_gettime, 9999, &its));
  R(syscall(SYS_timer_gettime, tid, BAD));
  R(syscall(SYS_timer_getoverrun, 9999));
  R(syscall(SYS_timer_getoverrun, tid));
  R(syscall(SYS_timer_delete, 9999));
  R(syscall(SYS_timer_delete, tid));
  R(syscall(SYS_timer_delete, tid));
  R(syscall(SYS_timer_gettime, tid, &its));

  R(timerfd_create(99, 0));
  R(timerfd_create(CLOCK_MONOTONIC, 1));
  R(timerfd_create(CLOCK_PROCESS_CPUTIME_ID, 0));
  R(timerfd_create(CLOCK_MONOTONIC_RAW, 0));
  R(timerfd_create(CLOCK_BOOTTIME, TFD_NONBLOCK | TFD_CLOEXEC));
  int tf = timerfd_create(CLOCK_MONOTONIC, 0);
  its.it_value.tv_sec = 100;
  R(timerfd_settime(999, 0, &its, NULL));
  R(timerfd_settime(0, 0, &its, NULL));
  R(timerfd_settime(tf, 4, &its, NULL));
  R(timerfd_settime(tf, TFD_TIMER_CANCEL_ON_SET, &its, NULL));
  its.it_value.tv_nsec = 1000000000;
  R(timerfd_settime(tf, 0, &its, NULL));
  its.it_value.tv_nsec = 0;
  R(timerfd_settime(tf, 0, BAD, NULL));
  R(timerfd_settime(tf, 0, &its, BAD));
  R(timerfd_gettime(0, &its));
  R(timerfd_gettime(999, &its));
  R(timerfd_gettime(tf, BAD));
  int rt = timerfd_create(CLOCK_REALTIME, 0);
  R(timerfd_settime(rt, TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET, &its, NULL));
  R(syscall(SYS_ioctl, tf, 0x40085400 /* TFD_IOC_SET_TICKS */, BAD));
  unsigned long long ticks = 0;
  R(syscall(SYS_ioctl, tf, 0x40085400, &ticks));
  ticks = 3;
  R(syscall(SYS_ioctl, tf, 0x40085400, &ticks));
  char b8[8];
  fcntl(tf, F_SETFL, O_NONBLOCK);
  R(read(tf, b8, 4));
  R(read(tf, b8, 8));
  printf("ticks read: %llu\n", *(unsigned long long *)b8);

  struct itimerval iv = { { 0, 0 }, { 0, 0 } };
  R(syscall(SYS_setitimer, 99, &iv, NULL));
  R(syscall(SYS_getitimer, 99, &iv));
  R(syscall(SYS_getitimer, -1, &iv));
  iv.it_value.tv_usec = 1000000;
  R(syscall(SYS_setitimer, ITIMER_REAL, &iv, NULL));
  iv.it_value.tv_usec = -1;
  R(syscall(SYS_setitimer, ITIMER_VIRTUAL, &iv, NULL));
  iv.it_value.tv_usec = 0;
  iv.it_interval.tv_usec = 1000000;
  R(syscall(SYS_setitimer, ITIMER_PROF, &iv, NULL));
  iv.it_interval.tv_usec = 0;
  R(syscall(SYS_setitimer, ITIMER_REAL, NULL, NULL));
  R(syscall(SYS_setitimer, ITIMER_REAL, &iv, BAD));
  R(syscall(SYS_alarm, 0));

  struct timespec ts = { 0, 0 };
  R(syscall(SYS_clock_gettime, 99, &ts));
  R(syscall(SYS_clock_gettime, -1, &ts));
  R(syscall(SYS_clock_gettime, ~(99999999 << 3) | 2, &ts));
  R(syscall(SYS_clock_getres, 99, &ts));
  R(syscall(SYS_clock_getres, CLOCK_MONOTONIC, NULL));
  R(syscall(SYS_clock_settime, CLOCK_MONOTONIC, &ts));
  R(syscall(SYS_clock_settime, 99, &ts));
  R(syscall(SYS_clock_settime, CLOCK_REALTIME, BAD));
  ts.tv_nsec = -1;
  R(syscall(SYS_clock_settime, CLOCK_REALTIME, &ts));
  R(syscall(SYS_nanosleep, &ts, NULL));
  R(syscall(SYS_clock_nanosleep, CLOCK_MONOTONIC, 0, &ts, NULL));
  ts.tv_nsec = 0;
  ts.tv_sec = -1;
  R(syscall(SYS_nanosleep, &ts, NULL));
  ts.tv_sec = 0;
  R(syscall(SYS_clock_nanosleep, 99, 0, &ts, NULL));
  R(syscall(SYS_clock_nanosleep, CLOCK_PROCESS_CPUTIME_ID, 0, &ts, NULL));
  R(syscall(SYS_clock_nanosleep, CLOCK_MONOTONIC_RAW, 0, &ts, NULL));
  R(syscall(SYS_clock_nanosleep, CLOCK_MONOTONIC, 0xff, &ts, NULL));
  R(syscall(SYS_clock_nanosleep, CLOCK_MONOTONIC, 0, BAD, NULL));
  struct timex tx = { 0 };
  R(syscall(SYS_clock_adjtime, CLOCK_MONOTONIC, &tx));
  R(syscall(SYS_clock_adjtime, 99, &tx));
  tx.modes = 0x8000 | 0x4000;
  R(syscall(SYS_adjtimex, &tx));
  R(syscall(SYS_adjtimex, BAD));
  MUST(setresuid(1000, 1000, 1000));
  ts.tv_sec = 0;
  R(syscall(SYS_clock_settime, CLOCK_REALTIME, &ts));
  tx.modes = ADJ_OFFSET;
  R(syscall(SYS_adjtimex, &tx));
  tx.modes = 0;
  R(syscall(SYS_adjtimex, &tx) < 0 ? -1 : 0);
}

static void sysv(void) {
  struct { long type; char text[16]; } m = { 1, "hello" };
  char big[9000];
  R(msgget(0x7e571, 0));
  int q = msgget(IPC_PRIVATE, IPC_CREAT | 0600);
  R(q);
  R(msgget(0x7e572, IPC_CREAT | IPC_EXCL | 0600));
  R(msgget(0x7e572, IPC_CREAT | IPC_EXCL | 0600));
  R(msgsnd(-1, &m, 5, IPC_NOWAIT));
  R(msgsnd(q + 1000000, &m, 5, IPC_NOWAIT));
  m.type = 0;
  R(msgsnd(q, &m, 5, IPC_NOWAIT));
  m.type = -1;
  R(msgsnd(q, &m, 5, IPC_NOWAIT));
  m.type = 1;
  R(syscall(SYS_msgsnd, q, &m, -1L, IPC_NOWAIT));
  R(msgsnd(q, big, 8193, IPC_NOWAIT));
  R(msgsnd(q, BAD, 5, IPC_NOWAIT));
  R(msgsnd(q, &m, 5, IPC_NOWAIT));
  R(msgsnd(q, &m, 0, IPC_NOWAIT));
  R(msgrcv(q, &m, 2, 0, IPC_NOWAIT));
  R(msgrcv(q, &m, 2, 0, IPC_NOWAIT | MSG_NOERROR));
  R(msgrcv(q, &m, 16, 5, IPC_NOWAIT));
  R(syscall(SYS_msgrcv, q, &m, -1L, 0, IPC_NOWAIT));
  R(msgrcv(q, &m, 16, 0, MSG_COPY));
  R(msgrcv(q, &m, 16, 0, MSG_COPY | MSG_EXCEPT | IPC_NOWAIT));
  R(msgrcv(q, &m, 16, 5, MSG_COPY | IPC_NOWAIT));
  R(msgrcv(q, &m, 16, 0, MSG_COPY | IPC_NOWAIT));
  R(msgrcv(q, BAD, 16, 0, IPC_NOWAIT));
  R(msgrcv(q, &m, 16, 0, IPC_NOWAIT));
  R(msgrcv(q, &m, 16, 0, IPC_NOWAIT));
  R(msgrcv(q, &m, 16, -5, IPC_NOWAIT | MSG_EXCEPT));
  struct msqid_ds mq;
  R(msgctl(q, 99, &mq));
  R(msgctl(q, IPC_STAT, BAD));
  R(msgctl(-1, IPC_STAT, &mq));
  R(msgctl(q, IPC_SET, BAD));
  R(msgctl(0, MSG_STAT, &mq) < 0 ? -1 : 0);
  R(msgctl(99999, MSG_STAT, &mq));
  R(msgctl(0, IPC_INFO, BAD));

  struct sembuf op = { 0, -1, IPC_NOWAIT };
  R(semget(IPC_PRIVATE, -1, IPC_CREAT | 0600));
  R(semget(IPC_PRIVATE, 32001, IPC_CREAT | 0600));
  R(semget(IPC_PRIVATE, 0, IPC_CREAT | 0600));
  R(semget(0x7e573, 0, 0));
  int s = semget(0x7e574, 2, IPC_CREAT | 0600);
  R(s);
  R(semget(0x7e574, 3, 0));
  R(semget(0x7e574, 1, 0));
  R(semop(-1, &op, 1));
  R(semop(s + 1000000, &op, 1));
  R(semop(s, &op, 0));
  R(semop(s, &op, 501));
  R(semop(s, BAD, 1));
  R(semop(s, &op, 1));
  op.sem_num = 5;
  R(semop(s, &op, 1));
  op.sem_num = 0;
  op.sem_op = 32767;
  R(semop(s, &op, 1));
  R(semop(s, &op, 1));
  op.sem_op = 0;
  R(semop(s, &op, 1));
  op.sem_flg = SEM_UNDO | IPC_NOWAIT;
  op.sem_op = -32767;
  R(semop(s, &op, 1));
  op.sem_op = 1;
  struct timespec bad_ts = { 0, -1 };
  R(semtimedop(s, &op, 1, &bad_ts));
  R(semtimedop(s, &op, 1, BAD));
  R(semctl(s, 5, GETVAL));
  R(semctl(s, -1, GETVAL));
  R(semctl(s, 0, SETVAL, 32768));
  R(semctl(s, 0, SETVAL, -1));
  R(semctl(s, 0, SETVAL, 5));
  R(semctl(s, 0, 99));
  R(semctl(s, 0, GETALL, BAD));
  R(semctl(s, 0, SETALL, BAD));
  R(semctl(s, 0, IPC_STAT, BAD));
  R(semctl(s, 0, GETNCNT));
  R(semctl(s, 9, GETZCNT));
  R(semctl(s, 0, GETPID));
  R(semctl(-1, 0, GETVAL));
  R(semctl(99999, 0, SEM_STAT, &mq));

  R(shmget(IPC_PRIVATE, 0, IPC_CREAT | 0600));
  R(shmget(IPC_PRIVATE, 1UL << 62, IPC_CREAT | 0600));
  R(shmget(0x7e575, PG, 0));
  int h = shmget(0x7e576, PG, IPC_CREAT | 0600);
  R(h);
  R(shmget(0x7e576, 2 * PG, 0));
  R(shmget(0x7e576, PG, IPC_CREAT | IPC_EXCL | 0600));
  R(shmget(IPC_PRIVATE, PG, IPC_CREAT | SHM_HUGETLB | (31 << 26) | 0600));
  R(shmat(-1, NULL, 0) == (void *)-1 ? -1 : 0);
  R(shmat(h + 1000000, NULL, 0) == (void *)-1 ? -1 : 0);
  R(shmat(h, (void *)0x10001, 0) == (void *)-1 ? -1 : 0);
  R(shmat(h, NULL, SHM_REMAP) == (void *)-1 ? -1 : 0);
  char *at = shmat(h, NULL, 0);
  R(at == (void *)-1 ? -1 : 0);
  R(shmat(h, at, 0) == (void *)-1 ? -1 : 0);
  R(shmat(h, at + 1, SHM_RND | SHM_REMAP) == (void *)-1 ? -1 : 0);
  R(shmat(h, NULL, SHM_RDONLY | SHM_EXEC) == (void *)-1 ? -1 : 0);
  R(shmdt(at + 1));
  R(shmdt(at));
  R(shmdt(at));
  struct shmid_ds sd;
  R(shmctl(h, 99, &sd));
  R(shmctl(h, IPC_STAT, BAD));
  R(shmctl(h, IPC_SET, BAD));
  R(shmctl(-1, IPC_STAT, &sd));
  R(shmctl(99999, SHM_STAT, &sd));
  R(shmctl(h, SHM_LOCK, NULL));
  R(shmctl(h, SHM_UNLOCK, NULL));
  R(shmctl(0, IPC_INFO, BAD));

  /* A user facing root's 0600 objects. */
  int q2 = msgget(0x7e577, IPC_CREAT | 0600), s2 = semget(0x7e578, 1, IPC_CREAT | 0600);
  int h2 = shmget(0x7e579, PG, IPC_CREAT | 0600);
  MUST(setresuid(1000, 1000, 1000));
  R(msgget(0x7e577, 0));
  R(msgget(0x7e577, 0400));
  R(msgsnd(q2, &m, 5, IPC_NOWAIT));
  R(msgrcv(q2, &m, 16, 0, IPC_NOWAIT));
  R(msgctl(q2, IPC_STAT, &mq));
  R(msgctl(q2, IPC_RMID, NULL));
  R(semop(s2, &op, 1));
  R(semctl(s2, 0, GETVAL));
  R(semctl(s2, 0, IPC_RMID));
  R(shmat(h2, NULL, 0) == (void *)-1 ? -1 : 0);
  R(shmctl(h2, IPC_STAT, &sd));
  R(shmctl(h2, SHM_LOCK, NULL));
  R(shmctl(h2, IPC_RMID, NULL));
  R(msgget(IPC_PRIVATE, IPC_CREAT | 0600) < 0 ? -1 : 0);
}

static void xattrs(void) {
  char name[300], v[70000], out[64];
  memset(name, 'n', sizeof name);
  memcpy(name, "user.", 5);
  name[260] = 0;
  memset(v, 'v', sizeof v);
  R(setxattr("f", "", "v", 1, 0));
  R(setxattr("f", name, "v", 1, 0));
  name[255] = 0;
  R(setxattr("f", name, "v", 1, 0));
  R(getxattr("f", name, out, sizeof out));
  name[256] = 'n';
  name[256] = 0;
  R(setxattr("f", "user.big", v, 65537, 0));
  R(setxattr("f", "user.x", "v", 1, 4));
  R(setxattr("f", "user.x", "v", 1, XATTR_CREATE | XATTR_REPLACE));
  R(setxattr("f", "user.x", "v", 1, XATTR_REPLACE));
  R(setxattr("f", "user.x", "vv", 2, XATTR_CREATE));
  R(setxattr("f", "user.x", "vv", 2, XATTR_CREATE));
  R(setxattr("f", "user.x", "vvv", 3, XATTR_REPLACE));
  R(setxattr("f", "user.e", "", 0, 0));
  R(getxattr("f", "user.e", out, sizeof out));
  R(setxattr("f", "foo.bar", "v", 1, 0));
  R(setxattr("f", "user.", "v", 1, 0));
  R(setxattr("f", "user", "v", 1, 0));
  R(getxattr("f", "foo.bar", out, sizeof out));
  R(getxattr("f", "user.x", out, 1));
  R(getxattr("f", "user.x", out, 0));
  R(getxattr("f", "user.x", NULL, 0));
  R(getxattr("f", "user.none", out, sizeof out));
  R(getxattr("f", BAD, out, sizeof out));
  R(getxattr("f", "user.x", BAD, sizeof out));
  R(getxattr("nosuch", "user.x", out, sizeof out));
  R(getxattr("f", "", out, sizeof out));
  R(setxattr("f", "user.y", BAD, 4, 0));
  R(setxattr("f", BAD, "v", 1, 0));
  R(setxattr(BAD, "user.y", "v", 1, 0));
  R(listxattr("f", out, 1));
  R(listxattr("f", NULL, 0) > 0 ? 0 : -1);
  R(listxattr("f", BAD, 64));
  R(listxattr("nosuch", out, sizeof out));
  R(removexattr("f", "user.none"));
  R(removexattr("f", "foo.bar"));
  R(removexattr("f", ""));
  R(removexattr("f", "user.e"));
  R(removexattr("f", "user.e"));
  MUST(symlink("f", "sl"));
  R(lsetxattr("sl", "user.x", "v", 1, 0));
  R(lgetxattr("sl", "user.x", out, sizeof out));
  R(getxattr("sl", "user.x", out, sizeof out));
  R(llistxattr("sl", out, sizeof out));
  R(lremovexattr("sl", "user.x"));
  MUST(mkfifo("fifo", 0644));
  R(setxattr("fifo", "user.x", "v", 1, 0));
  R(getxattr("fifo", "user.x", out, sizeof out));
  MUST(mkdir("dir", 0755));
  R(setxattr("dir", "user.x", "v", 1, 0));
  R(chmod("dir", 01777));
  R(setxattr("dir", "user.y", "v", 1, 0));
  R(setxattr("f", "trusted.t", "v", 1, 0));
  R(getxattr("f", "trusted.t", out, sizeof out));
  R(setxattr("f", "security.s", "v", 1, 0));
  R(setxattr("f", "system.nosuch", "v", 1, 0));
  R(getxattr("f", "system.nosuch", out, sizeof out));
  int fd = open("f", O_RDONLY), pfd = open("f", O_PATH);
  R(fsetxattr(999, "user.x", "v", 1, 0));
  R(fsetxattr(fd, "user.z", "v", 1, 0));
  R(fgetxattr(fd, "user.z", out, sizeof out));
  R(fsetxattr(pfd, "user.z", "v", 1, 0));
  R(fgetxattr(pfd, "user.z", out, sizeof out));
  R(flistxattr(pfd, out, sizeof out));
  R(fremovexattr(pfd, "user.z"));
  R(fremovexattr(fd, "user.z"));
  R(fgetxattr(999, "user.z", out, sizeof out));
  MUST(chmod("f", 0644));
  MUST(setresuid(1000, 1000, 1000));
  R(setxattr("f", "user.x", "v", 1, 0));
  R(getxattr("f", "user.x", out, sizeof out));
  R(getxattr("f", "trusted.t", out, sizeof out));
  R(setxattr("f", "trusted.u", "v", 1, 0));
  R(setxattr("f", "security.u", "v", 1, 0));
  R(removexattr("f", "user.x"));
  R(listxattr("f", out, sizeof out));
  R(setxattr("dir", "user.z", "v", 1, 0));
}

int main(void) {
  guest_init();
  signal(SIGPIPE, SIG_IGN);
  enter_tmpdir();
  MUST(chmod(".", 0777));
  int f = open("f", O_CREAT | O_WRONLY, 0644);
  MUST(write(f, "hello", 5));
  close(f);
  f = open("w", O_CREAT | O_WRONLY, 0644);
  MUST(ftruncate(f, PG));
  close(f);
  run("processes", processes);
  run("memory", memory);
  run("timers", timers);
  run("SysV IPC", sysv);
  run("xattrs", xattrs);
  leave_tmpdir();
  return 0;
}
