/* Signal delivery: SA_* flags, sigaltstack, per-thread masks, sigsuspend, sigtimedwait,
   kill/tkill/tgkill/rt_sigqueueinfo, SA_RESTART vs EINTR on a blocking pipe read, stop/continue. */
#include "pr.h"
#include <pthread.h>
#include <stdint.h>
#include <sys/time.h>

static volatile int hits, depth, maxdepth, last_code, last_pid_ok, last_value, blocked_inside;
static volatile uintptr_t handler_sp;
static __thread int thread_no;
static volatile int handled_by = -1;

static void h_info(int s, siginfo_t *si, void *uc) {
  (void)uc; (void)s;
  hits++; last_code = si->si_code; last_pid_ok = si->si_pid == getpid(); last_value = si->si_value.sival_int;
}
static void h_nest(int s) {
  depth++; if (depth > maxdepth) maxdepth = depth;
  sigset_t m; sigprocmask(SIG_BLOCK, NULL, &m); if (sigismember(&m, s)) blocked_inside = 1;
  hits++;
  if (hits == 1) raise(s);
  depth--;
}
static void h_stack(int s) { (void)s; int x; handler_sp = (uintptr_t)&x; stack_t ss; sigaltstack(NULL, &ss); hits = ss.ss_flags; }
static void h_count(int s) { (void)s; hits++; }
static void h_who(int s) { (void)s; handled_by = thread_no; }
static volatile int order[8], norder;
static void h_order(int s) { if (norder < 8) order[norder++] = s; }
static const char *code(int c) {
  switch (c) { case SI_USER: return "SI_USER"; case SI_TKILL: return "SI_TKILL"; case SI_QUEUE: return "SI_QUEUE"; case SI_KERNEL: return "SI_KERNEL"; case SI_TIMER: return "SI_TIMER"; }
  return "other";
}
static void set(int s, void (*h)(int), int flags) {
  struct sigaction sa; memset(&sa, 0, sizeof sa); sa.sa_handler = h; sa.sa_flags = flags; sigaction(s, &sa, NULL);
}
static void seti(int s, int flags) {
  struct sigaction sa; memset(&sa, 0, sizeof sa); sa.sa_sigaction = h_info; sa.sa_flags = SA_SIGINFO | flags; sigaction(s, &sa, NULL);
}
static sigset_t one(int s) { sigset_t m; sigemptyset(&m); sigaddset(&m, s); return m; }

static volatile int t_ready, t_go;
static void *mask_thread(void *a) {
  thread_no = (int)(intptr_t)a;
  sigset_t m = one(SIGUSR1);
  pthread_sigmask(thread_no == 1 ? SIG_BLOCK : SIG_UNBLOCK, &m, NULL);
  __sync_fetch_and_add(&t_ready, 1);
  while (!t_go) msleep(2);
  if (thread_no == 1) { sigset_t p; sigpending(&p); printf("thread 1 (blocks USR1): USR1 pending for it: %s\n", sigismember(&p, SIGUSR1) ? "yes" : "no");
    int sig; sigwait(&m, &sig); printf("thread 1: sigwait took %s\n", sigabbrev_np(sig)); }
  return NULL;
}

/* The handler tells the writer child it ran (write is async-signal-safe). */
static int note_fd = -1;
static void h_note(int s) { (void)s; hits++; if (note_fd >= 0) write(note_fd, "h", 1); }

static void pipe_read_test(const char *label, int flags) {
  /* The child signals only once the parent sleeps in read(), and writes only once the
     handler has run and the parent sleeps again (in the restarted read, or in waitpid
     after EINTR): no timer racing the read on a loaded machine. */
  int p[2], note[2]; MUST(pipe(p)); MUST(pipe(note));
  pid_t parent = getpid();
  pid_t c = fork();
  if (c == 0) {
    char b;
    close(p[0]); close(note[1]);
    await_pid_state(parent, 'S');
    kill(parent, SIGALRM);
    read(note[0], &b, 1);
    await_pid_state(parent, 'S');
    write(p[1], "z", 1);
    _exit(0);
  }
  close(p[1]); close(note[0]);
  note_fd = note[1];
  set(SIGALRM, h_note, flags);
  hits = 0;
  char b = 0;
  errno = 0;
  ssize_t n = read(p[0], &b, 1);
  if (n < 0) printf("%s: read -1 %s, handler ran %d\n", label, ename(errno), hits);
  else printf("%s: read %zd '%c', handler ran %d\n", label, n, b, hits);
  close(p[0]);
  reap("  writer", c);
  set(SIGALRM, SIG_DFL, 0);
  note_fd = -1; close(note[1]);
}

int main(void) {
  guest_init();
  pid_t me = getpid();

  /* SA_SIGINFO and si_code for each sender. */
  seti(SIGUSR1, 0);
  kill(me, SIGUSR1); printf("kill: hits=%d code=%s pid ok=%d\n", hits, code(last_code), last_pid_ok);
  syscall(SYS_tgkill, me, syscall(SYS_gettid), SIGUSR1); printf("tgkill: code=%s pid ok=%d\n", code(last_code), last_pid_ok);
  syscall(SYS_tkill, syscall(SYS_gettid), SIGUSR1); printf("tkill: code=%s\n", code(last_code));
  union sigval v = { .sival_int = 1234 };
  sigqueue(me, SIGUSR1, v); printf("sigqueue: code=%s value=%d\n", code(last_code), last_value);
  siginfo_t qi; memset(&qi, 0, sizeof qi); qi.si_signo = SIGUSR1; qi.si_code = -7; qi.si_value.sival_int = 77; qi.si_pid = me; qi.si_uid = getuid();
  SHOW("rt_sigqueueinfo (self, si_code<0)", syscall(SYS_rt_sigqueueinfo, me, SIGUSR1, &qi));
  printf("rt_sigqueueinfo: code=%d value=%d\n", last_code, last_value);
  qi.si_code = SI_USER;
  pid_t c = fork(); if (c == 0) { for (;;) pause(); }
  EXPECT_ERR("rt_sigqueueinfo SI_USER to another process", syscall(SYS_rt_sigqueueinfo, c, SIGUSR1, &qi), EPERM);
  kill(c, SIGKILL); reap("  target", c);
  SHOW("kill(self, 0)", kill(me, 0));
  EXPECT_ERR("kill bad signal", kill(me, 65), EINVAL);
  EXPECT_ERR("kill nonexistent", kill(4000000, SIGUSR1), ESRCH);
  EXPECT_ERR("tgkill wrong tgid", syscall(SYS_tgkill, 4000000, syscall(SYS_gettid), 0), ESRCH);
  EXPECT_ERR("tgkill bad tid", syscall(SYS_tgkill, me, -1, 0), EINVAL);
  EXPECT_ERR("tkill nonexistent", syscall(SYS_tkill, 4000000, 0), ESRCH);
  EXPECT_ERR("sigaction SIGKILL", sigaction(SIGKILL, &(struct sigaction){ .sa_handler = h_count }, NULL), EINVAL);

  /* SA_RESETHAND, SA_NODEFER, default masking in the handler. */
  hits = 0; maxdepth = 0; blocked_inside = 0;
  set(SIGUSR2, h_nest, 0); raise(SIGUSR2);
  printf("default: hits=%d maxdepth=%d signal blocked inside handler=%d\n", hits, maxdepth, blocked_inside);
  hits = 0; maxdepth = 0; blocked_inside = 0;
  set(SIGUSR2, h_nest, SA_NODEFER); raise(SIGUSR2);
  printf("SA_NODEFER: hits=%d maxdepth=%d signal blocked inside handler=%d\n", hits, maxdepth, blocked_inside);
  hits = 0;
  set(SIGUSR2, h_count, SA_RESETHAND); raise(SIGUSR2);
  struct sigaction sa; sigaction(SIGUSR2, NULL, &sa);
  printf("SA_RESETHAND: hits=%d now %s\n", hits, sa.sa_handler == SIG_DFL ? "SIG_DFL" : "handler");
  /* sa_mask is applied during the handler. */

  /* sigaltstack and SA_ONSTACK */
  static char alt[65536];
  stack_t ss = { .ss_sp = alt, .ss_size = sizeof alt, .ss_flags = 0 };
  MUST(sigaltstack(&ss, NULL));
  set(SIGUSR2, h_stack, SA_ONSTACK); hits = -1; raise(SIGUSR2);
  printf("SA_ONSTACK: handler on alt stack=%d ss_flags inside=%s\n", handler_sp >= (uintptr_t)alt && handler_sp < (uintptr_t)alt + sizeof alt, hits == SS_ONSTACK ? "SS_ONSTACK" : "other");
  set(SIGUSR2, h_stack, 0); raise(SIGUSR2);
  printf("without SA_ONSTACK: handler on alt stack=%d\n", handler_sp >= (uintptr_t)alt && handler_sp < (uintptr_t)alt + sizeof alt);
  stack_t small = { .ss_sp = alt, .ss_size = 512, .ss_flags = 0 };
  EXPECT_ERR("sigaltstack too small", sigaltstack(&small, NULL), ENOMEM);
  small.ss_size = sizeof alt; small.ss_flags = 0x1234;
  EXPECT_ERR("sigaltstack bad flags", sigaltstack(&small, NULL), EINVAL);
  ss.ss_flags = SS_DISABLE; MUST(sigaltstack(&ss, NULL));
  stack_t q; sigaltstack(NULL, &q); printf("after SS_DISABLE: %s\n", q.ss_flags == SS_DISABLE ? "disabled" : "other");

  /* Blocked signals stay pending; standard signals coalesce, RT signals queue, lower first. */
  sigset_t m; sigemptyset(&m); sigaddset(&m, SIGUSR1); sigaddset(&m, SIGRTMIN); sigaddset(&m, SIGRTMIN + 1); sigaddset(&m, SIGUSR2);
  sigprocmask(SIG_BLOCK, &m, NULL);
  set(SIGUSR1, h_order, 0); set(SIGUSR2, h_order, 0); set(SIGRTMIN, h_order, 0); set(SIGRTMIN + 1, h_order, 0);
  raise(SIGRTMIN + 1); raise(SIGUSR2); raise(SIGUSR1); raise(SIGUSR1); raise(SIGRTMIN); raise(SIGRTMIN); raise(SIGRTMIN);
  sigset_t p; sigpending(&p); printf("pending USR1=%d USR2=%d RTMIN=%d\n", sigismember(&p, SIGUSR1), sigismember(&p, SIGUSR2), sigismember(&p, SIGRTMIN));
  norder = 0; sigprocmask(SIG_UNBLOCK, &m, NULL);
  /* Count per signal (the nesting order of handlers is not compared). */
  int cnt[4] = {0};
  for (int i = 0; i < norder; i++) cnt[order[i] == SIGUSR1 ? 0 : order[i] == SIGUSR2 ? 1 : order[i] == SIGRTMIN ? 2 : 3]++;
  printf("deliveries: USR1=%d USR2=%d RTMIN=%d RTMIN+1=%d\n", cnt[0], cnt[1], cnt[2], cnt[3]);

  /* rt_sigsuspend */
  set(SIGUSR1, h_count, 0); hits = 0;
  sigprocmask(SIG_BLOCK, &(sigset_t){0}, NULL);
  m = one(SIGUSR1); sigprocmask(SIG_BLOCK, &m, NULL); raise(SIGUSR1);
  sigset_t empty; sigemptyset(&empty);
  EXPECT_ERR("sigsuspend", sigsuspend(&empty), EINTR);
  sigprocmask(SIG_BLOCK, NULL, &p);
  printf("sigsuspend: handler ran %d, mask restored=%d\n", hits, sigismember(&p, SIGUSR1));

  /* rt_sigtimedwait */
  sigqueue(me, SIGUSR1, (union sigval){ .sival_int = 42 });
  siginfo_t si; memset(&si, 0, sizeof si);
  struct timespec to = { 1, 0 };
  int s = sigtimedwait(&m, &si, &to);
  printf("sigtimedwait: sig=%s code=%s value=%d handler ran %d\n", s > 0 ? sigabbrev_np(s) : ename(errno), code(si.si_code), si.si_value.sival_int, hits);
  to.tv_sec = 0; to.tv_nsec = 50000000;
  EXPECT_ERR("sigtimedwait timeout", sigtimedwait(&m, &si, &to), EAGAIN);
  sigprocmask(SIG_UNBLOCK, &m, NULL);
  /* A child's SIGCHLD (default: ignored) while the parent waits for it with SIGCHLD
     blocked is queued, not dropped (trinity's main loop reaps only on it). */
  signal(SIGCHLD, SIG_DFL);
  sigset_t cm = one(SIGCHLD); sigprocmask(SIG_BLOCK, &cm, NULL);
  pid_t kid = fork();
  if (kid == 0) { msleep(50); _exit(0); }
  to.tv_sec = 5; to.tv_nsec = 0;
  s = sigtimedwait(&cm, &si, &to);
  printf("sigtimedwait SIGCHLD (SIG_DFL, exits during the wait): %s code=%s\n", s > 0 ? sigabbrev_np(s) : ename(errno), code(si.si_code));
  waitpid(kid, NULL, 0);
  sigprocmask(SIG_UNBLOCK, &cm, NULL);
  /* Another signal, caught and not blocked, ends the wait with EINTR; its handler runs. */
  set(SIGUSR2, h_count, 0); hits = 0;
  m = one(SIGUSR1); sigprocmask(SIG_BLOCK, &m, NULL);
  kid = fork();
  /* Sent once the parent sleeps in sigtimedwait (a nap raced it: sent first, the
     handler ran before the wait, which then never ended). */
  if (kid == 0) { await_pid_state(getppid(), 'S'); kill(getppid(), SIGUSR2); _exit(0); }
  EXPECT_ERR("sigtimedwait ended by another signal", sigtimedwait(&m, &si, NULL), EINTR);
  printf("its handler ran %d\n", hits);
  waitpid(kid, NULL, 0);
  sigprocmask(SIG_UNBLOCK, &m, NULL);

  /* Per-thread masks: a process-directed signal goes to a thread that does not block it. */
  m = one(SIGUSR1); sigprocmask(SIG_BLOCK, &m, NULL);
  set(SIGUSR1, h_who, 0);
  pthread_t t1, t2;
  pthread_create(&t1, NULL, mask_thread, (void *)1);
  pthread_create(&t2, NULL, mask_thread, (void *)2);
  while (t_ready < 2) msleep(2);
  kill(me, SIGUSR1);
  for (int i = 0; i < 4000 && handled_by < 0; i++) msleep(5);
  printf("process-directed SIGUSR1 handled by thread %d\n", handled_by);
  pthread_kill(t1, SIGUSR1); /* pending for t1 when this returns */
  t_go = 1;
  pthread_join(t1, NULL); pthread_join(t2, NULL);
  sigprocmask(SIG_UNBLOCK, &m, NULL);

  /* A signal interrupts a blocking pipe read: restarted with SA_RESTART, EINTR without. */
  pipe_read_test("SA_RESTART", SA_RESTART);
  pipe_read_test("no SA_RESTART", 0);

  /* SIGSTOP really stops; SIGCONT resumes (output order proves it). The parent waits for
     each stop it relies on (WUNTRACED), never for a nap. */
  int pp[2]; MUST(pipe(pp));
  int st;
  c = fork();
  if (c == 0) { raise(SIGSTOP); write(pp[1], "C", 1); _exit(0); }
  waitpid(c, &st, WUNTRACED);
  write(pp[1], "P", 1);
  kill(c, SIGCONT);
  reap("stopped child", c);
  c = fork();
  if (c == 0) { for (;;) { write(pp[1], "c", 1); msleep(20); } }
  /* Everything read stays in buf: "PC", the spinner's output, then the two bars. */
  char buf[256]; size_t len = 0; int cs = 0;
  while (cs < 2 && len < 64) { ssize_t n = read(pp[0], buf + len, 1); if (n <= 0) break; if (buf[len++] == 'c') cs++; }
  kill(c, SIGSTOP); waitpid(c, &st, WUNTRACED);
  write(pp[1], "|", 1); msleep(200); write(pp[1], "|", 1);
  kill(c, SIGKILL); reap("spinner", c);
  close(pp[1]);
  ssize_t n = read(pp[0], buf + len, sizeof buf - 1 - len); len += n > 0 ? n : 0; buf[len] = 0;
  printf("order: %.2s\n", buf);
  char *bar = strchr(buf, '|');
  printf("no output while stopped: %s\n", bar && bar[1] == '|' ? "yes" : "no");

  /* Ignored signals are discarded even when blocked-then-unblocked. */
  set(SIGUSR2, SIG_IGN, 0); raise(SIGUSR2); sigpending(&p); printf("ignored signal pending: %d\n", sigismember(&p, SIGUSR2));
  printf("done\n");
  return 0;
}
