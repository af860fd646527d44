/* POSIX message queues and the mqueue filesystem, against Linux (natively run in fresh
 * IPC and mount namespaces; the guest mounts an mqueue instance in its scratch dir). */
#include "common.h"
#include "read_text.h"
#include "wait_sleeping.h"
#include <dirent.h>
#include <fcntl.h>
#include <mqueue.h>
#include <poll.h>
#include <signal.h>
#include <time.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <sys/wait.h>

static void wait_child(const char *label, pid_t p) {
  int st;
  waitpid(p, &st, 0);
  if (WIFEXITED(st)) printf("%s: exit %d\n", label, WEXITSTATUS(st));
  else printf("%s: killed by %d\n", label, WTERMSIG(st));
}


/* The status line, with NOTIFY_PID shown as "me"/"0"/"other". */
static void status(const char *label, const char *file) {
  char buf[256];
  if (read_text(file, buf, sizeof buf) < 0) { printf("%s: %s\n", label, ename(errno)); return; }
  char *p = strstr(buf, "NOTIFY_PID:");
  int pid = p ? atoi(p + 11) : -1;
  if (p) *p = 0;
  printf("%s: [%s] pid %s\n", label, buf, pid == 0 ? "0" : pid == getpid() ? "me" : "other");
}

static void attrs(const char *label, mqd_t q) {
  struct mq_attr a;
  if (mq_getattr(q, &a) < 0) { printf("%s: %s\n", label, ename(errno)); return; }
  printf("%s: flags 0%lo maxmsg %ld msgsize %ld curmsgs %ld\n", label, a.mq_flags, a.mq_maxmsg, a.mq_msgsize, a.mq_curmsgs);
}

static volatile int got_sig, got_code, got_val, got_pid;
static pid_t sender;
static void on_usr1(int s, siginfo_t *si, void *u) {
  (void)u;
  got_sig = s;
  got_code = si->si_code;
  got_val = si->si_value.sival_int;
  got_pid = si->si_pid;
}

static struct timespec in_ms(long ms) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  ts.tv_nsec += ms * 1000000;
  ts.tv_sec += ts.tv_nsec / 1000000000;
  ts.tv_nsec %= 1000000000;
  return ts;
}

int main(void) {
  guest_init();
  enter_tmpdir();
  MUST(mkdir("mq", 0755));
  SHOW("mount mqueue", mount("none", "mq", "mqueue", 0, NULL));
  mqd_t q = mq_open("/q1", O_CREAT | O_RDWR, 0640, NULL);
  SHOW("mq_open create", q >= 0);
  attrs("defaults", q);
  EXPECT_ERR("no leading slash", mq_open("q1", O_RDWR), EINVAL);
  EXPECT_ERR("slash inside", mq_open("/a/b", O_CREAT | O_RDWR, 0600, NULL), EACCES);
  EXPECT_ERR("exclusive", mq_open("/q1", O_CREAT | O_EXCL | O_RDWR, 0600, NULL), EEXIST);
  EXPECT_ERR("missing", mq_open("/nope", O_RDWR), ENOENT);
  EXPECT_ERR("O_ACCMODE", syscall(SYS_mq_open, "q1", O_ACCMODE, 0, NULL), EINVAL);
  struct mq_attr bad = { .mq_maxmsg = 0, .mq_msgsize = 16 };
  EXPECT_ERR("maxmsg 0", mq_open("/q2", O_CREAT | O_RDWR, 0600, &bad), EINVAL);
  struct mq_attr small = { .mq_maxmsg = 3, .mq_msgsize = 32 };
  mqd_t s = mq_open("/small", O_CREAT | O_RDWR, 0600, &small);
  attrs("small", s);
  /* Priorities: highest first, FIFO within one. */
  SHOW("send p1", mq_send(s, "one", 4, 1));
  SHOW("send p5a", mq_send(s, "five-a", 7, 5));
  SHOW("send p5b", mq_send(s, "five-b", 7, 5));
  status("status with 3 messages", "mq/small");
  EXPECT_ERR("send when full, nonblocking", ({ struct mq_attr n = { .mq_flags = O_NONBLOCK }; mq_setattr(s, &n, NULL); mq_send(s, "x", 1, 0); }), EAGAIN);
  attrs("nonblocking", s);
  struct mq_attr blk = { .mq_flags = 0 };
  mq_setattr(s, &blk, NULL);
  struct timespec past = in_ms(0);
  past.tv_sec -= 1;
  EXPECT_ERR("timedsend when full", mq_timedsend(s, "x", 1, 0, &past), ETIMEDOUT);
  struct timespec inval = { 0, 1000000000 };
  EXPECT_ERR("timedsend bad timeout", mq_timedsend(s, "x", 1, 0, &inval), EINVAL);
  EXPECT_ERR("send too long", mq_send(q, (char[8193]){0}, 8193, 0), EMSGSIZE);
  EXPECT_ERR("prio 32768", mq_send(q, "x", 1, 32768), EINVAL);
  char buf[8192];
  unsigned prio;
  EXPECT_ERR("receive buffer too small", mq_receive(s, buf, 16, &prio), EMSGSIZE);
  for (int i = 0; i < 3; i++) {
    ssize_t n = mq_receive(s, buf, sizeof buf, &prio);
    printf("received %zd '%s' prio %u\n", n, n > 0 ? buf : "", prio);
  }
  struct timespec soon = in_ms(20);
  EXPECT_ERR("timedreceive on empty", mq_timedreceive(s, buf, sizeof buf, &prio, &soon), ETIMEDOUT);
  EXPECT_ERR("receive on a write-only fd", ({ mqd_t w = mq_open("/small", O_WRONLY); mq_receive(w, buf, sizeof buf, NULL); }), EBADF);
  EXPECT_ERR("send on a plain fd", mq_send(0, "x", 1, 0), EBADF);
  /* Blocking both ways. */
  fflush(stdout);
  pid_t c = fork();
  if (c == 0) {
    ssize_t n = mq_receive(s, buf, sizeof buf, &prio);
    printf("child received %zd '%s' prio %u\n", n, buf, prio);
    _exit(0);
  }
  wait_sleeping(c);
  mq_send(s, "wake", 5, 7);
  wait_child("receiver", c);
  for (int i = 0; i < 3; i++) mq_send(s, "fill", 5, 0);
  fflush(stdout);
  c = fork();
  if (c == 0) {
    printf("child's blocked send: %d\n", mq_send(s, "late", 5, 2));
    _exit(0);
  }
  wait_sleeping(c);
  mq_receive(s, buf, sizeof buf, &prio);
  wait_child("sender", c);
  ssize_t n = mq_receive(s, buf, sizeof buf, &prio);
  printf("next: %zd '%s' prio %u\n", n, buf, prio);
  while (mq_timedreceive(s, buf, sizeof buf, &prio, &past) >= 0) {}
  /* poll */
  struct pollfd pfd = { .fd = s, .events = POLLIN | POLLOUT };
  SHOW("poll empty", poll(&pfd, 1, 0));
  printf("revents 0x%x\n", pfd.revents);
  mq_send(s, "p", 2, 0);
  SHOW("poll with a message", poll(&pfd, 1, 0));
  printf("revents 0x%x\n", pfd.revents);
  mq_receive(s, buf, sizeof buf, &prio);
  /* mq_notify */
  struct sigaction sa = { 0 };
  sa.sa_sigaction = on_usr1;
  sa.sa_flags = SA_SIGINFO;
  sigaction(SIGUSR1, &sa, NULL);
  struct sigevent ev = { .sigev_notify = SIGEV_SIGNAL, .sigev_signo = SIGUSR1, .sigev_value.sival_int = 42 };
  SHOW("mq_notify", mq_notify(s, &ev));
  status("registered", "mq/small");
  EXPECT_ERR("mq_notify again", mq_notify(s, &ev), EBUSY);
  struct sigevent badev = { .sigev_notify = 99 };
  EXPECT_ERR("mq_notify bad notify", mq_notify(s, &badev), EINVAL);
  fflush(stdout);
  c = fork();
  if (c == 0) {
    EXPECT_ERR("other process registers", mq_notify(s, &ev), EBUSY);
    SHOW("other process unregisters (no-op)", mq_notify(s, NULL));
    _exit(0);
  }
  wait_child("other", c);
  fflush(stdout);
  c = fork();
  if (c == 0) {
    mq_send(s, "note", 5, 0);
    _exit(0);
  }
  sender = c;
  wait_child("notifying sender", c);
  while (!got_sig) usleep(1000);
  /* The pid is compared here: the signal may come before fork() has returned to the parent. */
  printf("signal %d code %s value %d pid is sender %d\n", got_sig, got_code == SI_MESGQ ? "SI_MESGQ" : "?", got_val, got_pid == sender);
  status("after notification", "mq/small");
  SHOW("register again", mq_notify(s, &ev));
  SHOW("unregister", mq_notify(s, NULL));
  status("unregistered", "mq/small");
  /* The filesystem. */
  DIR *d = opendir("mq");
  struct dirent *e;
  int count = 0;
  while (d && (e = readdir(d))) if (e->d_name[0] != '.') { printf("entry %s\n", e->d_name); count++; }
  if (d) closedir(d);
  struct stat st;
  SHOW("stat", stat("mq/q1", &st));
  printf("mode 0%o size %lld\n", st.st_mode, (long long)st.st_size);
  SHOW("stat dir", stat("mq", &st));
  printf("dir mode 0%o\n", st.st_mode);
  int fd = open("mq/made-by-open", O_CREAT | O_RDWR, 0600);
  SHOW("open(O_CREAT) makes a queue", fd >= 0);
  mqd_t viaopen = mq_open("/made-by-open", O_RDWR);
  attrs("its attributes", viaopen);
  SHOW("unlink", unlink("mq/made-by-open"));
  close(fd);
  mq_close(viaopen);
  /* Permissions. */
  fflush(stdout);
  c = fork();
  if (c == 0) {
    MUST(setuid(65534));
    EXPECT_ERR("nobody opens 0640", mq_open("/small", O_RDWR), EACCES);
    EXPECT_ERR("nobody unlinks", mq_unlink("/q1"), EACCES);
    struct mq_attr big = { .mq_maxmsg = 11, .mq_msgsize = 16 };
    EXPECT_ERR("nobody: maxmsg over msg_max", mq_open("/big", O_CREAT | O_RDWR, 0600, &big), EINVAL);
    mqd_t mine = mq_open("/nobodys", O_CREAT | O_RDWR, 0600, NULL);
    SHOW("nobody creates", mine >= 0);
    SHOW("nobody unlinks its own", mq_unlink("/nobodys"));
    _exit(0);
  }
  wait_child("nobody", c);
  SHOW("mq_unlink", mq_unlink("/q1"));
  EXPECT_ERR("open after unlink", mq_open("/q1", O_RDWR), ENOENT);
  SHOW("old descriptor still works", mq_send(q, "still", 6, 0));
  EXPECT_ERR("unlink missing", mq_unlink("/q1"), ENOENT);
  mq_unlink("/small");
  SHOW("umount", umount("mq"));
  leave_tmpdir();
  printf("done\n");
  return 0;
}
