/* execve/execveat: close-on-exec, threads killed by exec, signal dispositions, #! scripts. */
#include "pr.h"
#include <fcntl.h>
#include <pthread.h>
#include <sys/stat.h>

static char self[4096];
static char *const *volatile bad_argv = (char *const *)8;

static int count_threads(void) {
  FILE *f = fopen("/proc/self/status", "r");
  if (!f) return -1;
  char line[256]; int n = -1;
  while (fgets(line, sizeof line, f)) if (sscanf(line, "Threads: %d", &n) == 1) break;
  fclose(f);
  return n;
}

static int child_main(int argc, char **argv) {
  const char *mode = argv[1];
  if (!strcmp(mode, "fds")) {
    OKERR("exec'd: plain fd open", fcntl(atoi(argv[2]), F_GETFD));
    EXPECT_ERR("exec'd: O_CLOEXEC fd closed", fcntl(atoi(argv[3]), F_GETFD), EBADF);
    EXPECT_ERR("exec'd: FD_CLOEXEC (fcntl) fd closed", fcntl(atoi(argv[4]), F_GETFD), EBADF);
    OKERR("exec'd: dup of cloexec fd open", fcntl(atoi(argv[5]), F_GETFD));
    return 0;
  }
  if (!strcmp(mode, "sigs")) {
    struct sigaction sa;
    sigaction(SIGUSR1, NULL, &sa); printf("exec'd: SIGUSR1 (had handler) is %s\n", sa.sa_handler == SIG_DFL ? "SIG_DFL" : sa.sa_handler == SIG_IGN ? "SIG_IGN" : "handler");
    sigaction(SIGUSR2, NULL, &sa); printf("exec'd: SIGUSR2 (was SIG_IGN) is %s\n", sa.sa_handler == SIG_DFL ? "SIG_DFL" : sa.sa_handler == SIG_IGN ? "SIG_IGN" : "handler");
    sigaction(SIGTERM, NULL, &sa); printf("exec'd: SIGTERM (default) is %s\n", sa.sa_handler == SIG_DFL ? "SIG_DFL" : "other");
    sigset_t m; sigprocmask(SIG_BLOCK, NULL, &m);
    FACT("exec'd: SIGHUP still blocked", sigismember(&m, SIGHUP));
    FACT("exec'd: SIGUSR1 not blocked", !sigismember(&m, SIGUSR1));
    sigset_t p; sigpending(&p);
    FACT("exec'd: pending SIGHUP kept across exec", sigismember(&p, SIGHUP));
    stack_t ss; sigaltstack(NULL, &ss);
    FACT("exec'd: sigaltstack reset", ss.ss_flags == SS_DISABLE);
    return 0;
  }
  if (!strcmp(mode, "threads")) {
    printf("exec'd: threads=%d\n", count_threads());
    FACT("exec'd: pid kept", getpid() == atoi(argv[2]));
    FACT("exec'd: tid == pid", syscall(SYS_gettid) == getpid());
    return 0;
  }
  if (!strcmp(mode, "args")) {
    printf("exec'd: argc=%d", argc);
    for (int i = 2; i < argc; i++) printf(" [%s]", argv[i]);
    printf(" env TSS_X=%s\n", getenv("TSS_X") ? getenv("TSS_X") : "(unset)");
    return 0;
  }
  printf("unknown mode %s\n", mode);
  return 2;
}

static void *spinner(void *a) {
  (void)a;
  for (;;) { msleep(300); printf("BUG: thread survived exec\n"); }
  return NULL;
}
static void on_usr1(int s) { (void)s; }
static pid_t leader;
static void *exec_from_thread(void *a) {
  (void)a;
  char pid[16]; sprintf(pid, "%d", leader);
  execl(self, self, "threads", pid, (char *)NULL);
  printf("exec from thread: %s\n", ename(errno));
  _exit(1);
}

static void write_file(const char *name, const char *content, mode_t mode) {
  int fd = open(name, O_WRONLY | O_CREAT | O_TRUNC, mode);
  if (fd < 0 || write(fd, content, strlen(content)) < 0) { printf("FATAL write %s\n", name); _exit(99); }
  close(fd);
  chmod(name, mode);
}

static void run_exec(const char *label, const char *path, char *const argv[]) {
  pid_t c = fork();
  if (c == 0) {
    char *envp[] = { "TSS_X=1", "PATH=/usr/bin:/bin", NULL };
    execve(path, argv, envp);
    printf("%s: execve %s\n", label, ename(errno));
    _exit(100);
  }
  reap(label, c);
}

int main(int argc, char **argv) {
  guest_init();
  ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  if (n < 0) { printf("FATAL readlink\n"); return 99; }
  self[n] = 0;
  if (argc > 1) return child_main(argc, argv);

  /* close-on-exec */
  int a = open("/dev/null", O_RDONLY);
  int b = open("/dev/null", O_RDONLY | O_CLOEXEC);
  int c3 = open("/dev/null", O_RDONLY); fcntl(c3, F_SETFD, FD_CLOEXEC);
  int d = dup(b); /* dup clears FD_CLOEXEC */
  char sa_[8], sb_[8], sc_[8], sd_[8];
  sprintf(sa_, "%d", a); sprintf(sb_, "%d", b); sprintf(sc_, "%d", c3); sprintf(sd_, "%d", d);
  pid_t c = fork();
  if (c == 0) { execl(self, self, "fds", sa_, sb_, sc_, sd_, (char *)NULL); _exit(100); }
  reap("cloexec child", c);
  close(a); close(b); close(c3); close(d);

  /* signal dispositions across exec */
  c = fork();
  if (c == 0) {
    signal(SIGUSR1, on_usr1);
    signal(SIGUSR2, SIG_IGN);
    sigset_t m; sigemptyset(&m); sigaddset(&m, SIGHUP); sigprocmask(SIG_BLOCK, &m, NULL);
    raise(SIGHUP);
    static char altstk[65536]; stack_t ss = { .ss_sp = altstk, .ss_size = sizeof altstk, .ss_flags = 0 };
    sigaltstack(&ss, NULL);
    execl(self, self, "sigs", (char *)NULL);
    _exit(100);
  }
  reap("sigs child", c);

  /* exec kills the other threads; exec from a non-leader thread keeps the pid */
  c = fork();
  if (c == 0) {
    pthread_t t;
    for (int i = 0; i < 3; i++) pthread_create(&t, NULL, spinner, NULL);
    char pid[16]; sprintf(pid, "%d", getpid());
    execl(self, self, "threads", pid, (char *)NULL);
    _exit(100);
  }
  reap("exec with 3 threads", c);
  c = fork();
  if (c == 0) {
    pthread_t t;
    leader = getpid();
    for (int i = 0; i < 2; i++) pthread_create(&t, NULL, spinner, NULL);
    pthread_create(&t, NULL, exec_from_thread, NULL);
    for (;;) pause();
  }
  reap("exec from a non-leader thread", c);

  /* argv and envp */
  { char *av[] = { self, "args", "one", "two words", "", NULL }; run_exec("execve args", self, av); }

  /* execveat */
  enter_tmpdir();
  {
    char *av[] = { "x", "args", "execveat", NULL };
    char *envp[] = { "TSS_X=at", NULL };
    symlink(self, "selflink");
    c = fork();
    if (c == 0) { syscall(SYS_execveat, AT_FDCWD, "selflink", av, envp, 0); printf("execveat cwd: %s\n", ename(errno)); _exit(100); }
    reap("execveat AT_FDCWD relative", c);
    int dfd = open(".", O_RDONLY | O_DIRECTORY);
    c = fork();
    if (c == 0) { syscall(SYS_execveat, dfd, "selflink", av, envp, 0); printf("execveat dirfd: %s\n", ename(errno)); _exit(100); }
    reap("execveat dirfd", c);
    int xfd = open(self, O_RDONLY);
    c = fork();
    if (c == 0) { syscall(SYS_execveat, xfd, "", av, envp, AT_EMPTY_PATH); printf("execveat empty: %s\n", ename(errno)); _exit(100); }
    reap("execveat AT_EMPTY_PATH", c);
    int pfd = open(self, O_PATH);
    c = fork();
    if (c == 0) { syscall(SYS_execveat, pfd, "", av, envp, AT_EMPTY_PATH); printf("execveat O_PATH: %s\n", ename(errno)); _exit(100); }
    reap("execveat O_PATH fd", c);
    /* Failing execs run in a child, so an unexpected success cannot replace this program. */
    c = fork();
    if (c == 0) {
      EXPECT_ERR("execveat AT_SYMLINK_NOFOLLOW on a symlink", syscall(SYS_execveat, dfd, "selflink", av, envp, AT_SYMLINK_NOFOLLOW), ELOOP);
      EXPECT_ERR("execveat bad flags", syscall(SYS_execveat, dfd, "selflink", av, envp, 0x4), EINVAL);
      EXPECT_ERR("execveat bad dirfd", syscall(SYS_execveat, 9999, "selflink", av, envp, 0), EBADF);
      _exit(0);
    }
    reap("execveat errors", c);
    close(dfd); close(xfd); close(pfd);
  }

  /* #! scripts */
  write_file("s1", "#!/bin/sh\necho \"script: $1 $2\"\nexit 4\n", 0755);
  write_file("s2", "#!/bin/echo hello   world\nignored\n", 0755);
  write_file("s3", "#!  /bin/echo   \n", 0755);
  write_file("s4", "#!/nonexistent/interp\n", 0755);
  write_file("s5", "just text\n", 0755);
  write_file("s6", "#!/bin/sh\necho no\n", 0644);
  write_file("s7", "#!./s2 via\n", 0755);
  { char *av[] = { "./s1", "a", "b", NULL }; run_exec("#!/bin/sh script", "./s1", av); }
  { char *av[] = { "./s2", "x", NULL }; run_exec("#!/bin/echo with one arg", "./s2", av); }
  { char *av[] = { "./s3", NULL }; run_exec("#! with spaces", "./s3", av); }
  { char *av[] = { "./s7", "y", NULL }; run_exec("nested #! script", "./s7", av); }
  c = fork();
  if (c == 0) { char *envp[] = { NULL }; char *av[] = { "./s4", NULL };
    EXPECT_ERR("missing interpreter", execve("./s4", av, envp), ENOENT);
    EXPECT_ERR("no #! and not ELF", execve("./s5", av, envp), ENOEXEC);
    EXPECT_ERR("not executable", execve("./s6", av, envp), EACCES);
    EXPECT_ERR("directory", execve(".", av, envp), EACCES);
    EXPECT_ERR("missing file", execve("./nope", av, envp), ENOENT);
    EXPECT_ERR("bad argv pointer", execve("./s1", bad_argv, envp), EFAULT);
    _exit(0);
  }
  reap("exec errors", c);
  leave_tmpdir();
  printf("done\n");
  return 0;
}
