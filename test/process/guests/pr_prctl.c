/* PR_SET_CHILD_SUBREAPER, PR_SET_PDEATHSIG, PR_SET_NAME/GET_NAME; orphan re-parenting (mode "orphan"). */
#include "pr.h"
#include <pthread.h>
#include <sys/prctl.h>

static int pd_pipe[2];
static void on_usr1(int s) { (void)s; char b = 'x'; write(pd_pipe[1], &b, 1); _exit(0); }
static void read_comm(const char *path, char *out, size_t n) {
  FILE *f = fopen(path, "r"); out[0] = 0;
  if (!f) { snprintf(out, n, "(open %s)", ename(errno)); return; }
  if (fgets(out, n, f)) out[strcspn(out, "\n")] = 0;
  fclose(f);
}
static void *named_thread(void *a) {
  (void)a;
  char name[32], path[64], comm[32];
  prctl(PR_SET_NAME, "thr-name");
  prctl(PR_GET_NAME, name);
  sprintf(path, "/proc/self/task/%ld/comm", (long)syscall(SYS_gettid));
  read_comm(path, comm, sizeof comm);
  printf("thread PR_GET_NAME=%s comm=%s\n", name, comm);
  return NULL;
}

int main(int argc, char **argv) {
  guest_init();
  if (argc > 1 && !strcmp(argv[1], "orphan")) {
    /* Only meaningful in the sandbox: an orphan's new parent is pid 1 (this process). */
    printf("self pid=%d\n", getpid());
    int p[2]; MUST(pipe(p));
    pid_t mid = fork();
    if (mid == 0) {
      pid_t middle = getpid(); /* read before the fork: the middle may be gone when the grandchild runs */
      pid_t g = fork();
      if (g == 0) {
        close(p[0]);
        for (int i = 0; i < 3000 && getppid() == middle; i++) msleep(10);
        char line[64]; int n = sprintf(line, "orphan ppid=%d\n", getppid());
        write(p[1], line, n); _exit(0);
      }
      _exit(0);
    }
    close(p[1]);
    reap("middle", mid);
    char buf[64] = {0}; read(p[0], buf, sizeof buf - 1);
    printf("%s", buf);
    int st; pid_t r = wait(&st);
    FACT("pid 1 reaped the orphan", r > 0);
    return 0;
  }

  /* PR_SET_NAME / PR_GET_NAME / comm */
  char name[32], comm[32];
  MUST(prctl(PR_SET_NAME, "a-very-long-process-name"));
  MUST(prctl(PR_GET_NAME, name));
  read_comm("/proc/self/comm", comm, sizeof comm);
  printf("PR_GET_NAME=%s comm=%s\n", name, comm);
  pthread_t t; pthread_create(&t, NULL, named_thread, NULL); pthread_join(t, NULL);
  prctl(PR_GET_NAME, name); printf("main name unchanged: %s\n", name);
  MUST(prctl(PR_SET_NAME, "pr_prctl"));

  /* Subreaper */
  SHOW("PR_GET_CHILD_SUBREAPER initially", ({ int v = -1; prctl(PR_GET_CHILD_SUBREAPER, &v) < 0 ? -1 : v; }));
  MUST(prctl(PR_SET_CHILD_SUBREAPER, 1));
  SHOW("PR_GET_CHILD_SUBREAPER after set", ({ int v = -1; prctl(PR_GET_CHILD_SUBREAPER, &v) < 0 ? -1 : v; }));
  int p[2]; MUST(pipe(p));
  pid_t me = getpid();
  pid_t mid = fork();
  if (mid == 0) {
    pid_t middle = getpid();
    pid_t g = fork();
    if (g == 0) {
      close(p[0]);
      for (int i = 0; i < 3000 && getppid() == middle; i++) msleep(10);
      char r = getppid() == me ? 'y' : 'n';
      write(p[1], &r, 1); _exit(17);
    }
    _exit(0);
  }
  close(p[1]);
  reap("subreaper: middle child", mid);
  char r = '?'; read(p[0], &r, 1); close(p[0]);
  printf("subreaper: orphaned grandchild re-parented to us: %s\n", r == 'y' ? "yes" : "no");
  int st; pid_t w = wait(&st);
  FACT("subreaper reaped the grandchild", w > 0); if (w > 0) show_status("  grandchild", st);

  /* PDEATHSIG: the grandchild gets SIGUSR1 when its parent (the middle child) dies. */
  MUST(pipe(pd_pipe));
  int ready[2]; MUST(pipe(ready));
  mid = fork();
  if (mid == 0) {
    pid_t g = fork();
    if (g == 0) {
      signal(SIGUSR1, on_usr1);
      MUST(prctl(PR_SET_PDEATHSIG, SIGUSR1));
      int v = 0; prctl(PR_GET_PDEATHSIG, &v);
      char line[64]; int n = sprintf(line, "PR_GET_PDEATHSIG=%d\n", v);
      write(ready[1], line, n);
      for (int i = 0; i < 3000; i++) msleep(10); /* ends in the handler once the middle dies */
      _exit(0);
    }
    char buf[64] = {0}; read(ready[0], buf, sizeof buf - 1);
    printf("%s", buf);
    _exit(0);
  }
  close(pd_pipe[1]); close(ready[1]);
  reap("pdeathsig: middle child", mid);
  char b = 0;
  struct timespec t0; clock_gettime(CLOCK_MONOTONIC, &t0);
  ssize_t n = read(pd_pipe[0], &b, 1);
  printf("pdeathsig delivered: %s\n", n == 1 ? "yes" : "no");
  w = wait(&st);
  FACT("grandchild reaped", w > 0);
  EXPECT_ERR("PR_SET_PDEATHSIG bad signal", prctl(PR_SET_PDEATHSIG, 99), EINVAL);
  EXPECT_ERR("prctl unknown option", prctl(0x7fff1234, 0, 0, 0, 0), EINVAL);
  printf("done\n");
  return 0;
}
