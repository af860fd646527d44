/* acct(2)'s ASU flag ("used superuser privileges", Linux's PF_SUPERPRIV) as Linux sets it:
 * only when a capability check decided the call. Each child of root does one thing and
 * exits; its record's ASU bit is printed. Linux checks the ordinary rules first (owner,
 * ids, limits, mode bits) and the capability only where they refuse, so a root process
 * doing only what its ids allow leaves ASU clear; one that needs the capability sets it.
 * Natively in a new pid namespace, whose accounting file is its own. */
#define _GNU_SOURCE
#include "common.h"
#include "acct_v3.h"
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <sys/fsuid.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>

#define MAXKIDS 32
static pid_t kids[MAXKIDS];
static const char *names[MAXKIDS];
static int nkids;

/* One child: runs `body` (its result is the exit status: 0 when the call did what it should). */
#define KID(name, body)                                 \
  do {                                                  \
    pid_t _p = fork();                                  \
    if (_p == 0) _exit((body) ? 0 : 1);                 \
    int _st;                                            \
    waitpid(_p, &_st, 0);                               \
    names[nkids] = name;                                \
    kids[nkids++] = _p;                                 \
    if (!WIFEXITED(_st) || WEXITSTATUS(_st) != 0) printf("%s: failed (%#x)\n", name, _st); \
  } while (0)

static int lower_nofile(void) {
  struct rlimit r;
  getrlimit(RLIMIT_NOFILE, &r);
  r.rlim_cur = 64;
  return setrlimit(RLIMIT_NOFILE, &r) == 0;
}

/* A nice value below the current one past RLIMIT_NICE (0): CAP_SYS_NICE. (Not a raised
 * hard limit: the test host's root may lack CAP_SYS_RESOURCE.) */
static int nice_below(void) {
  struct rlimit r = {0, 0};
  return setrlimit(RLIMIT_NICE, &r) == 0 && setpriority(PRIO_PROCESS, 0, -1) == 0;
}

static int mlock_in_limit(void) {
  struct rlimit r = {65536, 65536};
  if (setrlimit(RLIMIT_MEMLOCK, &r)) return 0;
  void *p = mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  return p != MAP_FAILED && mlock(p, 4096) == 0;
}

static int mlock_past_limit(void) {
  struct rlimit r = {4096, 4096};
  if (setrlimit(RLIMIT_MEMLOCK, &r)) return 0;
  void *p = mmap(0, 65536, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  return p != MAP_FAILED && mlock(p, 65536) == 0;
}

static int sched_self(void) {
  struct sched_param sp = {0};
  return sched_setscheduler(0, SCHED_OTHER, &sp) == 0;
}

static int sched_fifo(void) {
  struct sched_param sp = {1};
  struct rlimit r = {0, 0};
  setrlimit(RLIMIT_RTPRIO, &r);
  return sched_setscheduler(0, SCHED_FIFO, &sp) == 0;
}

static int affinity_self(void) {
  cpu_set_t s;
  return sched_getaffinity(0, sizeof s, &s) == 0 && sched_setaffinity(0, sizeof s, &s) == 0;
}

/* PTRACE_ATTACH to its own child (same ids, dumpable): no capability needed. */
static int attach_child(void) {
  pid_t g = fork();
  if (g == 0) { pause(); _exit(0); }
  int st, ok = ptrace(PTRACE_ATTACH, g, 0, 0) == 0 && waitpid(g, &st, 0) == g;
  kill(g, SIGKILL);
  waitpid(g, &st, 0);
  return ok;
}

static int read_mode0(void) {
  int f = open("m0", O_RDONLY);
  if (f < 0) return 0;
  close(f);
  return 1;
}

static int open_own(void) {
  int f = open("own", O_RDWR);
  if (f < 0) return 0;
  close(f);
  return 1;
}

int main(int argc, char **argv) {
  (void)argc; (void)argv;
  setvbuf(stdout, 0, _IONBF, 0);
  char path[4096];
  if (acct_start(path, sizeof path)) return 1;
  close(open("own", O_CREAT | O_WRONLY, 0600));
  close(open("m0", O_CREAT | O_WRONLY, 0));
  chmod("m0", 0);
  mkdir("sticky", 01777);
  close(open("sticky/mine", O_CREAT | O_WRONLY, 0600));
  close(open("other", O_CREAT | O_WRONLY, 0600));
  if (chown("other", 65534, 65534)) return 1;

  /* What the ids and limits allow: no capability used. */
  KID("nothing", 1);
  KID("setpriority +5", setpriority(PRIO_PROCESS, 0, 5) == 0);
  KID("sched_setscheduler OTHER", sched_self());
  KID("sched_setaffinity self", affinity_self());
  KID("setrlimit lower", lower_nofile());
  KID("setreuid 0 0", setreuid(0, 0) == 0);
  KID("setresuid -1", setresuid(-1, -1, -1) == 0 && setresgid(0, 0, 0) == 0);
  KID("setfsuid 0", (setfsuid(0), 1));
  KID("chown own to itself", chown("own", 0, 0) == 0);
  KID("chmod own", chmod("own", 0644) == 0);
  KID("truncate own", truncate("own", 0) == 0);
  KID("utimes own now", utimes("own", NULL) == 0);
  KID("mlock within the limit", mlock_in_limit());
  KID("unlink own in sticky dir", unlink("sticky/mine") == 0);
  KID("kill parent 0", kill(getppid(), 0) == 0);
  KID("ptrace own child", attach_child());
  KID("open own rw", open_own());
  /* What only a capability allows: ASU. */
  KID("open mode 0", read_mode0());
  KID("chown other's to root", chown("other", 0, 0) == 0 && chown("other", 65534, 65534) == 0);
  KID("chmod other's", chmod("other", 0600) == 0);
  KID("setpriority -1 past RLIMIT_NICE", nice_below());
  KID("mlock past the limit", mlock_past_limit());
  KID("sched FIFO without RLIMIT_RTPRIO", sched_fifo());
  KID("chroot", chroot(".") == 0);
  KID("setuid nobody", setuid(65534) == 0);

  printf("acct off: %s\n", syscall(SYS_acct, NULL) == 0 ? "ok" : ename(errno));
  int f = open(path, O_RDONLY);
  struct acct_v3 a;
  while (read(f, &a, sizeof a) == sizeof a) {
    if ((pid_t)a.ac_ppid != getpid()) continue;
    for (int i = 0; i < nkids; i++)
      if ((pid_t)a.ac_pid == kids[i]) printf("%s: ASU %s\n", names[i], a.ac_flag & 0x02 ? "yes" : "no");
  }
  close(f);
  unlink(path);
  unlink("own");
  unlink("m0");
  unlink("other");
  rmdir("sticky");
  leave_tmpdir();
  return 0;
}
