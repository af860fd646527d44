/*
 * Shared helpers for guest programs. Every guest prints deterministic lines so a
 * sandbox run can be compared byte for byte with a native run; failures print the
 * errno *name* (ENOENT), never a message or an address.
 */
#ifndef TSS_GUEST_COMMON_H
#define TSS_GUEST_COMMON_H
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <ftw.h>
#include <sys/stat.h>
#include <sys/types.h>

static inline const char *ename(int e) {
  const char *n = strerrorname_np(e);
  return n ? n : "E?";
}

/* Print "label = N" for a syscall-style result (>= 0), or "label = -1 ENAME". */
#define SHOW(label, expr) do {                                  \
    errno = 0;                                                  \
    long _r = (long)(expr);                                     \
    if (_r < 0) printf("%s = -1 %s\n", label, ename(errno));    \
    else printf("%s = %ld\n", label, _r);                       \
  } while (0)

/* Like SHOW but only says ok / the errno, for results whose value is not deterministic. */
#define OKERR(label, expr) do {                                 \
    errno = 0;                                                  \
    long _r = (long)(expr);                                     \
    if (_r < 0) printf("%s: -1 %s\n", label, ename(errno));     \
    else printf("%s: ok\n", label);                             \
  } while (0)

/* Expect failure with errno E. */
#define EXPECT_ERR(label, expr, E) do {                                         \
    errno = 0;                                                                  \
    long _r = (long)(expr);                                                     \
    if (_r >= 0) printf("%s: unexpected success %ld (wanted %s)\n", label, _r, #E); \
    else printf("%s: %s%s\n", label, ename(errno), errno == (E) ? "" : " (wanted " #E ")"); \
  } while (0)

/* Print a boolean fact. */
#define FACT(label, cond) printf("%s: %s\n", label, (cond) ? "yes" : "no")

/* Abort the guest on an unexpected failure (keeps later output meaningful). */
#define MUST(expr) do {                                                         \
    errno = 0;                                                                  \
    if ((long)(expr) < 0) {                                                     \
      printf("FATAL line %d: %s: %s\n", __LINE__, #expr, ename(errno));         \
      fflush(stdout);                                                           \
      _exit(99);                                                                \
    }                                                                           \
  } while (0)

static int rm_cb(const char *p, const struct stat *sb, int type, struct FTW *ftw) {
  (void)sb; (void)type; (void)ftw;
  return remove(p);
}

/* A fresh private directory under /tmp; the guest chdirs into it and prints only relative names. */
static char tss_tmpdir[64];
static inline void enter_tmpdir(void) {
  strcpy(tss_tmpdir, "/tmp/tssg-XXXXXX");
  if (!mkdtemp(tss_tmpdir)) { printf("FATAL mkdtemp: %s\n", ename(errno)); exit(99); }
  if (chdir(tss_tmpdir) < 0) { printf("FATAL chdir: %s\n", ename(errno)); exit(99); }
}
static inline void leave_tmpdir(void) {
  if (chdir("/") < 0) return;
  nftw(tss_tmpdir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

/* The state letter of /proc/PATH/stat (S sleeping, T stopped, Z zombie), '?' if unreadable. */
static inline char stat_state(const char *path) {
  FILE *f = fopen(path, "r");
  if (!f) return '?';
  char buf[512]; size_t n = fread(buf, 1, sizeof buf - 1, f); fclose(f); buf[n] = 0;
  char *p = strrchr(buf, ')');
  return p && p[1] == ' ' ? p[2] : '?';
}

/* Waits (bounded: 20 s) until the task whose stat file is PATH is in state WANT: a
   guest synchronises on the state it then relies on, never on a nap (a loaded machine
   delays anything). Returns 1 when reached. */
static inline int await_state(const char *path, char want) {
  for (int i = 0; i < 20000; i++) {
    if (stat_state(path) == want) return 1;
    usleep(1000);
  }
  return 0;
}

/* Waits until process PID is in state WANT (S: blocked in a syscall, T, Z). */
static inline int await_pid_state(pid_t pid, char want) {
  char path[64]; snprintf(path, sizeof path, "/proc/%d/stat", pid);
  return await_state(path, want);
}

/* Unbuffered stdout, so output order survives fork and crashes. */
static inline void guest_init(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  umask(022);
}
#endif
