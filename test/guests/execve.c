/*
 * execve: argv/envp passing, close-on-exec, signal dispositions across exec,
 * #! scripts, errors. Run as `execve` (parent role); it re-executes itself with
 * argv[1] == "child". argv[0] must be an absolute path to this binary.
 */
#include "common.h"
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>

static int child(int argc, char **argv) {
  printf("child argc=%d\n", argc);
  for (int i = 1; i < argc; i++) printf("  argv[%d]=[%s]\n", i, argv[i]);
  printf("  FOO=[%s] PATH set=%d\n", getenv("FOO") ? getenv("FOO") : "(null)", getenv("PATH") != NULL);
  int keep = atoi(argv[2]), cloexec = atoi(argv[3]);
  printf("  kept fd open=%d\n", fcntl(keep, F_GETFD) >= 0);
  errno = 0;
  int r = fcntl(cloexec, F_GETFD);
  printf("  cloexec fd: %s\n", r >= 0 ? "still open" : ename(errno));
  char b[8] = {0};
  lseek(keep, 0, SEEK_SET);
  read(keep, b, 5);
  printf("  kept fd reads [%s]\n", b);
  struct sigaction sa;
  sigaction(SIGUSR1, NULL, &sa);
  printf("  SIGUSR1 handler after exec: %s\n", sa.sa_handler == SIG_DFL ? "SIG_DFL" : "other");
  sigaction(SIGUSR2, NULL, &sa);
  printf("  SIGUSR2 ignored after exec: %s\n", sa.sa_handler == SIG_IGN ? "yes" : "no");
  sigset_t m;
  sigprocmask(SIG_SETMASK, NULL, &m);
  printf("  SIGINT still blocked after exec: %s\n", sigismember(&m, SIGINT) ? "yes" : "no");
  return 42;
}

static void on_usr1(int s) { (void)s; }

int main(int argc, char **argv) {
  guest_init();
  if (argc > 1 && !strcmp(argv[1], "child")) return child(argc, argv);
  if (argv[0][0] != '/') { printf("argv[0] must be absolute\n"); return 2; }

  int keep = open("/tmp", O_RDONLY | O_DIRECTORY);
  close(keep);
  char tmpl[] = "/tmp/tss-exec-XXXXXX";
  keep = mkstemp(tmpl);
  write(keep, "kept!", 5);
  int cx = open("/dev/null", O_RDONLY | O_CLOEXEC);
  char ks[16], cs[16];
  sprintf(ks, "%d", keep);
  sprintf(cs, "%d", cx);

  struct sigaction sa = {0};
  sa.sa_handler = on_usr1;
  sigaction(SIGUSR1, &sa, NULL);
  signal(SIGUSR2, SIG_IGN);
  sigset_t m;
  sigemptyset(&m);
  sigaddset(&m, SIGINT);
  sigprocmask(SIG_BLOCK, &m, NULL);

  int st;
  pid_t c = fork();
  if (c == 0) {
    char *av[] = {argv[0], "child", ks, cs, "with space", "", "ünïcode", NULL};
    char *ev[] = {"FOO=bar baz", "PATH=/bin", NULL};
    execve(argv[0], av, ev);
    printf("execve failed: %s\n", ename(errno));
    _exit(127);
  }
  waitpid(c, &st, 0);
  printf("child exit=%d\n", WEXITSTATUS(st));
  unlink(tmpl);

  /* exec a #! script with an argument */
  char sp[] = "/tmp/tss-script-XXXXXX";
  int sfd = mkstemp(sp);
  const char *script = "#!/bin/sh\necho \"script says $1, \\$0 is a path: $(case $0 in /*) echo yes;; *) echo no;; esac)\"\nexit 7\n";
  write(sfd, script, strlen(script));
  fchmod(sfd, 0755);
  close(sfd);
  c = fork();
  if (c == 0) {
    char *av[] = {sp, "hi", NULL};
    char *ev[] = {"PATH=/usr/bin:/bin", NULL};
    execve(sp, av, ev);
    printf("script execve failed: %s\n", ename(errno));
    _exit(127);
  }
  waitpid(c, &st, 0);
  printf("script exit=%d\n", WEXITSTATUS(st));

  /* exec a dynamic host program via execvp (PATH lookup) */
  c = fork();
  if (c == 0) {
    char *av[] = {"echo", "from", "echo", NULL};
    execvp("echo", av);
    _exit(127);
  }
  waitpid(c, &st, 0);
  printf("echo exit=%d\n", WEXITSTATUS(st));

  /* Errors (in this process: failing execve returns). */
  char *av[] = {"x", NULL};
  char *ev[] = {NULL};
  EXPECT_ERR("execve missing", execve("/nonexistent-tss/prog", av, ev), ENOENT);
  EXPECT_ERR("execve directory", execve("/tmp", av, ev), EACCES);
  chmod(sp, 0644);
  EXPECT_ERR("execve non-executable", execve(sp, av, ev), EACCES);
  unlink(sp);
  char tp[] = "/tmp/tss-text-XXXXXX";
  int tfd = mkstemp(tp);
  write(tfd, "just text\n", 10);
  fchmod(tfd, 0755);
  close(tfd);
  EXPECT_ERR("execve text without #!", execve(tp, av, ev), ENOEXEC);
  unlink(tp);
  EXPECT_ERR("execve bad path ptr", execve((char *)1, av, ev), EFAULT);
  EXPECT_ERR("execve bad argv", execve(argv[0], (char **)1, ev), EFAULT);
  printf("done\n");
  return 0;
}
