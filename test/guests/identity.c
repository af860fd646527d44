/*
 * Process identity. Lines starting with "ns:" depend on the pid namespace and are
 * checked against expected values by the test (inside the sandbox the first process
 * is pid 1); every other line must equal the native run.
 */
#include "common.h"
#include <sys/syscall.h>
#include <sys/wait.h>
#include <pthread.h>

static void *thr(void *arg) {
  (void)arg;
  printf("thread: getpid==main=%d gettid!=getpid=%d\n", getpid() == (pid_t)(long)arg, gettid() != getpid());
  return NULL;
}

int main(void) {
  guest_init();
  pid_t pid = getpid();
  printf("ns: pid=%d ppid=%d tid=%d\n", pid, getppid(), gettid());
  printf("tid==pid: %d\n", gettid() == pid);
  printf("raw getpid==getpid: %d\n", (pid_t)syscall(SYS_getpid) == pid);
  printf("uid=%d euid=%d gid=%d egid=%d\n", getuid(), geteuid(), getgid(), getegid());
  uid_t r, e, s;
  MUST(getresuid(&r, &e, &s));
  printf("resuid=%d,%d,%d\n", r, e, s);
  gid_t gr, ge, gs;
  MUST(getresgid(&gr, &ge, &gs));
  printf("resgid=%d,%d,%d\n", gr, ge, gs);
  int ng = getgroups(0, NULL);
  FACT("getgroups >= 0", ng >= 0);

  pid_t c = fork();
  if (c == 0) {
    printf("child: ppid==parent=%d pid!=parent=%d tid==pid=%d\n", getppid() == pid, getpid() != pid, gettid() == getpid());
    printf("ns: child pid=%d ppid=%d\n", getpid(), getppid());
    _exit(0);
  }
  int st;
  MUST(waitpid(c, &st, 0));
  printf("ns: fork returned %d\n", c);

  pthread_t t;
  pthread_create(&t, NULL, thr, (void *)(long)pid);
  pthread_join(t, NULL);

  /* set*id as root: setting to the current values succeeds */
  SHOW("setuid(getuid())", setuid(getuid()));
  SHOW("setgid(getgid())", setgid(getgid()));
  printf("done\n");
  return 0;
}
