/* Who ends an mq_notify registration, against Linux (natively in fresh IPC and mount
 * namespaces): ipc/mqueue.c's flush ends it whenever the registering process closes any
 * fd of the queue (close, dup2 over it, exec's close-on-exec, its exit), whichever open
 * description it registered through; another process closing its copy does not. */
#include "common.h"
#include "read_text.h"
#include <fcntl.h>
#include <mqueue.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/wait.h>

static mqd_t q;

/* The registration as the queue's status line tells it: "none", "me" or "other". */
static void owner(const char *label) {
  char buf[256];
  if (read_text("mq/q", buf, sizeof buf) < 0) { printf("%s: %s\n", label, ename(errno)); return; }
  char *p = strstr(buf, "NOTIFY_PID:");
  int pid = p ? atoi(p + 11) : -1;
  printf("%s: registration %s\n", label, pid == 0 ? "none" : pid == getpid() ? "me" : pid < 0 ? "?" : "other");
}

static int reg(mqd_t d) {
  struct sigevent ev = { .sigev_notify = SIGEV_SIGNAL, .sigev_signo = SIGUSR1 };
  return mq_notify(d, &ev) == 0 ? 0 : -errno;
}

static void ended(const char *label, pid_t p) {
  int st;
  if (waitpid(p, &st, 0) < 0) { printf("%s: waitpid %s\n", label, ename(errno)); return; }
  printf("%s: %s %d\n", label, WIFEXITED(st) ? "exit" : "signal", WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
}

int main(void) {
  guest_init();
  enter_tmpdir();
  signal(SIGUSR1, SIG_IGN);
  MUST(mkdir("mq", 0755));
  SHOW("mount mqueue", mount("none", "mq", "mqueue", 0, NULL));
  q = mq_open("/q", O_CREAT | O_RDWR, 0600, NULL);
  SHOW("mq_open", q >= 0);

  /* A second fd of the same description, closed: the registration goes. */
  SHOW("register", reg(q));
  SHOW("dup2 to 50", dup2(q, 50) == 50);
  owner("after dup2 to 50");
  SHOW("close 50", close(50));
  owner("after close of the copy");

  /* Registered through the copy, the original closed by dup2 over it: it goes. */
  mqd_t d = dup(q);
  SHOW("register through the copy", reg(d));
  int nul = open("/dev/null", O_RDONLY);
  SHOW("dup2 /dev/null over the original", dup2(nul, q) == q);
  owner("after dup2 over the original");
  close(q);
  q = dup2(d, q);
  close(d);
  close(nul);

  /* Another description of the queue (a second mq_open), closed: it goes too. */
  SHOW("register", reg(q));
  mqd_t other = mq_open("/q", O_RDONLY);
  SHOW("second mq_open", other >= 0);
  SHOW("close it", mq_close(other));
  owner("after closing another description");

  /* A child closing its inherited copy is not the owner: it stays. */
  SHOW("register", reg(q));
  pid_t c = fork();
  if (c == 0) { close(q); _exit(0); }
  ended("child closing its copy", c);
  owner("after the child closed its copy");
  SHOW("unregister", mq_notify(q, NULL) == 0 ? 0 : -errno);

  /* The owner's exit (fds still open) ends it; the queue is free for another. */
  int ready[2], go[2];
  MUST(pipe(ready));
  MUST(pipe(go));
  c = fork();
  if (c == 0) {
    char x;
    if (reg(q) != 0) _exit(1);
    if (write(ready[1], "r", 1) != 1) _exit(2);
    if (read(go[0], &x, 1) != 1) _exit(3);
    _exit(0);
  }
  char x;
  SHOW("child registered", read(ready[0], &x, 1) == 1);
  owner("while the child lives");
  EXPECT_ERR("parent registers", reg(q), EBUSY);
  SHOW("tell it to exit", write(go[1], "g", 1) == 1);
  ended("owner child", c);
  owner("after the owner exited");
  SHOW("parent registers", reg(q));
  SHOW("unregister", mq_notify(q, NULL) == 0 ? 0 : -errno);

  /* The owner's exec with the queue fd close-on-exec ends it; without, it stays. */
  for (int cloexec = 1; cloexec >= 0; cloexec--) {
    int in[2], out[2];
    MUST(pipe(in));
    MUST(pipe(out));
    c = fork();
    if (c == 0) {
      if (reg(q) != 0) _exit(1);
      if (cloexec) fcntl(q, F_SETFD, FD_CLOEXEC);
      dup2(in[0], 0);
      dup2(out[1], 1);
      close(in[1]);
      close(out[0]);
      /* It says it runs (past exec), then waits for the test. */
      execl("/bin/sh", "sh", "-c", "echo r; read x", (char *)NULL);
      _exit(4);
    }
    close(in[0]);
    close(out[1]);
    SHOW("exec'd sh runs", read(out[0], &x, 1) == 1);
    owner(cloexec ? "child exec'd with the fd close-on-exec" : "child exec'd with the fd kept");
    close(in[1]);
    ended("exec'd child", c);
    owner("after it exited");
    close(out[0]);
  }

  SHOW("mq_unlink", mq_unlink("/q"));
  SHOW("umount", umount("mq"));
  leave_tmpdir();
  return 0;
}
