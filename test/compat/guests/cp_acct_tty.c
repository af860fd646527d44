/* acct(2)'s ac_tty and /proc/PID/stat's tty_nr when the controlling terminal is the one
 * the program was started on (run under script(1): a host pty; in the sandbox the host
 * terminal passed through, which the guest sees as /dev/pts/0): both are that terminal's
 * device number, the st_rdev of fd 0 (old_encode_dev / new_encode_dev), as Linux's. */
#define _GNU_SOURCE
#include "common.h"
#include "acct_v3.h"
#include <fcntl.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>

/* /proc/self/stat's 7th field (self: natively in a new pid namespace /proc is the host's); comm may hold spaces, so from the last ')'. */
static long tty_nr(void) {
  char b[1024];
  int f = open("/proc/self/stat", O_RDONLY);
  ssize_t n = f < 0 ? -1 : read(f, b, sizeof b - 1);
  if (f >= 0) close(f);
  if (n <= 0) return -1;
  b[n] = 0;
  char *s = strrchr(b, ')');
  char st;
  int ppid, pgrp, sid, tty;
  return s && sscanf(s + 1, " %c %d %d %d %d", &st, &ppid, &pgrp, &sid, &tty) == 5 ? tty : -1;
}

int main(void) {
  setvbuf(stdout, 0, _IONBF, 0);
  struct stat st;
  if (fstat(0, &st) || !isatty(0)) { printf("stdin is not a terminal\n"); return 1; }
  unsigned maj = major(st.st_rdev), min = minor(st.st_rdev);
  unsigned old = ((maj << 8) | min) & 0xffff;
  unsigned nw = (min & 0xff) | (maj << 8) | ((min & ~0xffu) << 12);
  printf("terminal major %u\n", maj);
  printf("tty_nr is the terminal's: %s\n", tty_nr() == (long)nw ? "yes" : "no");
  char path[4096];
  if (acct_start(path, sizeof path)) return 1;
  int stt;
  pid_t kid = fork();
  if (kid == 0) _exit(tty_nr() == (long)nw ? 0 : 1);
  waitpid(kid, &stt, 0);
  printf("child's tty_nr is the terminal's: %s\n", WIFEXITED(stt) && WEXITSTATUS(stt) == 0 ? "yes" : "no");
  syscall(SYS_acct, NULL);
  int f = open(path, O_RDONLY);
  struct acct_v3 a;
  while (read(f, &a, sizeof a) == sizeof a)
    if ((pid_t)a.ac_pid == kid) printf("ac_tty is the terminal's: %s\n", a.ac_tty == old ? "yes" : a.ac_tty == 0 ? "no (0)" : "no (another)");
  close(f);
  unlink(path);
  leave_tmpdir();
  return 0;
}
