/* Errno paths, second batch (issue 15), part one: processes (wait4/waitid options,
 * kill/tgkill ranges, prctl, pgids, scheduling, clone flags) and memory (mmap/munmap/
 * mprotect/mremap/madvise/mlock/msync/mincore); part two is cp_errno2b. Each call prints
 * "ok" or its errno and is compared with Linux (natively in a fresh IPC namespace).
 * Nothing may block: every section runs under an alarm. */
#include "cp_errno2.h"

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

int main(void) {
  guest_init();
  signal(SIGPIPE, SIG_IGN);
  enter_tmpdir();
  errno2_files();
  run("processes", processes);
  run("memory", memory);
  leave_tmpdir();
  return 0;
}
