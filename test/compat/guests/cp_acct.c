/* acct(2) as Linux writes it: root names a file, each process that ends appends a struct
 * acct_v3 (flags AFORK/ASU/AXSIG, the controlling tty, version 3, the wait status, ids, pid and parent, command
 * name, start time); acct(NULL) stops it. Natively in a new pid namespace, whose
 * accounting is its own (the host's processes are not recorded there). */
#define _GNU_SOURCE
#include "common.h"
#include "acct_v3.h"
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <time.h>
#include <sys/syscall.h>
#include <sys/wait.h>

static pid_t kids[6];
static int pts_minor = -1;

static void dump(const char *path) {
  int f = open(path, O_RDONLY);
  struct acct_v3 a;
  int n = 0, mine = 0;
  time_t now = time(NULL);
  while (read(f, &a, sizeof a) == sizeof a) {
    n++;
    if ((pid_t)a.ac_ppid != getpid()) continue;
    mine++;
    int which = -1;
    for (int i = 0; i < 6; i++) if ((pid_t)a.ac_pid == kids[i]) which = i;
    /* ASU (0x02): the process passed a capability check; ac_tty: its controlling terminal. */
    const char *tty = a.ac_tty == 0 ? "none" : (a.ac_tty >> 8) == 136 && (a.ac_tty & 0xff) == pts_minor ? "its pty" : "other";
    printf("record: child %d flag %#x version %d exitcode %#x uid %u gid %u comm %.16s btime recent %s io %u rw %u swaps %u tty %s\n",
           which, a.ac_flag, a.ac_version, a.ac_exitcode, a.ac_uid, a.ac_gid, a.ac_comm,
           (time_t)a.ac_btime <= now && now - (time_t)a.ac_btime < 120 ? "yes" : "no", a.ac_io, a.ac_rw, a.ac_swaps, tty);
  }
  printf("records of this process's children: %d (of %s)\n", mine, n >= mine ? "the file's" : "?");
  close(f);
}

int main(int argc, char **argv) {
  if (argc > 1) return atoi(argv[1]);
  setvbuf(stdout, 0, _IONBF, 0);
  char path[4096];
  if (acct_start(path, sizeof path)) return 1;
  int st;
  /* Forked, never exec'd: AFORK, exit status 3. */
  if ((kids[0] = fork()) == 0) _exit(3);
  waitpid(kids[0], &st, 0);
  /* Exec'd: no AFORK; the command name is the new program's. */
  if ((kids[1] = fork()) == 0) {
    execl("/proc/self/exe", "cp_acct_exec", "7", (char *)0);
    _exit(99);
  }
  waitpid(kids[1], &st, 0);
  /* Killed: AXSIG, the signal in the status. */
  if ((kids[2] = fork()) == 0) { pause(); _exit(0); }
  kill(kids[2], SIGKILL);
  waitpid(kids[2], &st, 0);
  /* A nobody's process: its real ids. */
  if ((kids[3] = fork()) == 0) {
    if (setresgid(65534, 65534, 65534) || setresuid(65534, 65534, 65534)) _exit(98);
    _exit(0);
  }
  waitpid(kids[3], &st, 0);
  /* A session leader with a pty as its controlling terminal: ac_tty is the pty's number.
   * Its pts number is learnt first, so the parent can tell it from another terminal. */
  int m = posix_openpt(O_RDWR | O_NOCTTY);
  if (m < 0 || grantpt(m) || unlockpt(m)) return 1;
  sscanf(ptsname(m), "/dev/pts/%d", &pts_minor);
  if ((kids[4] = fork()) == 0) {
    if (setsid() < 0) _exit(97);
    int s = open(ptsname(m), O_RDWR);
    _exit(s < 0 ? 96 : 0);
  }
  waitpid(kids[4], &st, 0);
  close(m);
  /* A capability used after a plain start: chown to another owner needs CAP_CHOWN. */
  if ((kids[5] = fork()) == 0) _exit(chown(path, 65534, 65534) == 0 ? 0 : 95);
  waitpid(kids[5], &st, 0);
  printf("acct off: %s\n", syscall(SYS_acct, NULL) == 0 ? "ok" : ename(errno));
  pid_t late = fork();
  if (late == 0) _exit(5);
  waitpid(late, &st, 0);
  dump(path);
  /* The file switched: a second one gets the next records, the first no more. */
  char p2[4096];
  snprintf(p2, sizeof p2, "%.4000s2", path);
  close(open(p2, O_CREAT | O_WRONLY, 0600));
  syscall(SYS_acct, path);
  syscall(SYS_acct, p2);
  if ((kids[0] = fork()) == 0) _exit(1);
  waitpid(kids[0], &st, 0);
  syscall(SYS_acct, NULL);
  printf("-- second file\n");
  dump(p2);
  printf("-- first file again\n");
  dump(path);
  unlink(path);
  unlink(p2);
  leave_tmpdir();
  return 0;
}
