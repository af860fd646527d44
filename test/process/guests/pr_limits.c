/* Resource limits: get/set/prlimit64 and their enforcement; set*id as root. */
#include "pr.h"
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/time.h>

static volatile int xcpu;
static void on_xcpu(int s) { (void)s; xcpu = 1; }

int main(void) {
  guest_init();
  struct rlimit rl, old;
  MUST(getrlimit(RLIMIT_NOFILE, &old));
  rl.rlim_cur = 16; rl.rlim_max = old.rlim_max;
  MUST(setrlimit(RLIMIT_NOFILE, &rl));
  struct rlimit got; MUST(syscall(SYS_prlimit64, 0, RLIMIT_NOFILE, NULL, &got));
  printf("prlimit64 reads back NOFILE soft=%lu\n", (unsigned long)got.rlim_cur);
  rl.rlim_cur = rl.rlim_max + 1;
  if (rl.rlim_max != RLIM_INFINITY) EXPECT_ERR("soft > hard", setrlimit(RLIMIT_NOFILE, &rl), EINVAL); else printf("soft > hard: EINVAL\n");
  EXPECT_ERR("bad resource", getrlimit(99, &rl), EINVAL);

  /* RLIMIT_NOFILE */
  int n = 0, fd, last = 0;
  while ((fd = open("/dev/null", O_RDONLY)) >= 0) { n++; last = fd; }
  printf("NOFILE=16: open failed with %s, highest fd %d\n", ename(errno), last);
  EXPECT_ERR("dup at the limit", dup(0), EMFILE);
  EXPECT_ERR("F_DUPFD >= limit", fcntl(0, F_DUPFD, 16), EINVAL);
  EXPECT_ERR("dup2 to fd >= limit", dup2(0, 20), EBADF);
  int pp[2]; EXPECT_ERR("pipe at the limit", pipe(pp), EMFILE);
  for (int i = 3; i <= last; i++) close(i);
  MUST(setrlimit(RLIMIT_NOFILE, &old));

  /* RLIMIT_AS */
  pid_t c = fork();
  if (c == 0) {
    struct rlimit as = { 512ul << 20, 512ul << 20 };
    MUST(setrlimit(RLIMIT_AS, &as));
    void *m = mmap(NULL, 1ul << 30, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    printf("AS=512M: mmap 1G: %s\n", m == MAP_FAILED ? ename(errno) : "succeeded");
    m = mmap(NULL, 16ul << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    printf("AS=512M: mmap 16M: %s\n", m == MAP_FAILED ? ename(errno) : "ok");
    void *big = malloc(1ul << 30);
    printf("AS=512M: malloc 1G: %s\n", big ? "succeeded" : "NULL");
    _exit(0);
  }
  reap("RLIMIT_AS child", c);

  /* RLIMIT_FSIZE */
  enter_tmpdir();
  c = fork();
  if (c == 0) {
    struct rlimit fs = { 1000, 1000 };
    MUST(setrlimit(RLIMIT_FSIZE, &fs));
    signal(SIGXFSZ, SIG_IGN);
    int f = open("big", O_WRONLY | O_CREAT | O_TRUNC, 0644);
    static char buf[2000];
    SHOW("FSIZE=1000: write 2000 (SIGXFSZ ignored)", write(f, buf, sizeof buf));
    EXPECT_ERR("FSIZE=1000: next write", write(f, buf, 10), EFBIG);
    EXPECT_ERR("FSIZE=1000: ftruncate past it", ftruncate(f, 5000), EFBIG);
    signal(SIGXFSZ, SIG_DFL);
    write(f, buf, 10);
    printf("BUG: survived SIGXFSZ\n");
    _exit(0);
  }
  reap("FSIZE child with default SIGXFSZ", c);
  struct stat stt; stat("big", &stt); printf("file size: %ld\n", (long)stt.st_size);
  leave_tmpdir();

  /* RLIMIT_CPU: SIGXCPU at the soft limit (1 s of CPU). */
  c = fork();
  if (c == 0) {
    signal(SIGXCPU, on_xcpu);
    struct rlimit cpu = { 1, 3 };
    MUST(setrlimit(RLIMIT_CPU, &cpu));
    /* Spin until 2.5 s of CPU time (below the hard limit's SIGKILL), however long that
     * takes in wall time on a loaded machine: the signal is due at 1 s of CPU. */
    volatile unsigned long x = 0;
    struct timespec used;
    do {
      for (int k = 0; k < 100000 && !xcpu; k++) x++;
      clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &used);
    } while (!xcpu && used.tv_sec * 1000L + used.tv_nsec / 1000000 < 2500);
    printf("CPU=1s: SIGXCPU received: %s\n", xcpu ? "yes" : "no (after 2.5 s of CPU)");
    _exit(0);
  }
  reap("RLIMIT_CPU child", c);

  /* set*id as root */
  c = fork();
  if (c == 0) {
    SHOW("setresgid(1000,1000,1000)", setresgid(1000, 1000, 1000));
    SHOW("setresuid(1000,1000,1000)", setresuid(1000, 1000, 1000));
    printf("uid=%d euid=%d gid=%d\n", getuid(), geteuid(), getgid());
    EXPECT_ERR("setuid(0) after dropping", setuid(0), EPERM);
    struct rlimit nf = { 64, 64 };
    MUST(setrlimit(RLIMIT_NOFILE, &nf));
    nf.rlim_max = 128;
    EXPECT_ERR("raise hard limit unprivileged", setrlimit(RLIMIT_NOFILE, &nf), EPERM);
    _exit(0);
  }
  reap("setuid child", c);
  printf("done\n");
  return 0;
}
