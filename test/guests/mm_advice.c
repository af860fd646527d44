/*
 * madvise as Linux: which advice is valid, per-mapping errors and holes, and the fork-time
 * advice (a child must not inherit a parent's DONTFORK memory, and WIPEONFORK memory comes
 * zeroed: RNG states such as OpenSSL's and arc4random's rely on it).
 */
#include "common.h"
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>

#define MADV_GUARD_INSTALL_ 102
#define MADV_GUARD_REMOVE_ 103

static long PG;

/* What a fork's child sees at p: its first byte, or how it died touching it. */
static void child_sees(const char *label, volatile char *p) {
  fflush(stdout);
  pid_t c = fork();
  if (c == 0) _exit((unsigned char)p[0]);
  int st;
  waitpid(c, &st, 0);
  if (WIFEXITED(st)) printf("%s: child reads %d\n", label, WEXITSTATUS(st));
  else printf("%s: child killed by %s\n", label, WIFSIGNALED(st) ? sigabbrev_np(WTERMSIG(st)) : "?");
}

static char *anon(int flags) {
  char *p = mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE, flags | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) { printf("FATAL mmap\n"); exit(1); }
  memset(p, 'x', 4 * PG);
  return p;
}

int main(void) {
  guest_init();
  enter_tmpdir();
  PG = sysconf(_SC_PAGESIZE);
  char *a = anon(MAP_PRIVATE), *sh = anon(MAP_SHARED);

  /* Validity and arguments, before any mapping is looked at. */
  int bad[] = {5, 6, 7, 26, 99, 104, 1000, -1};
  for (unsigned i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    char l[32]; snprintf(l, sizeof l, "advice %d", bad[i]);
    SHOW(l, madvise(a, PG, bad[i]));
  }
  SHOW("unaligned", madvise(a + 1, PG, MADV_NORMAL));
  SHOW("length 0", madvise(a, 0, MADV_DONTNEED));
  SHOW("hints", madvise(a, PG, MADV_SEQUENTIAL) | madvise(a, PG, MADV_RANDOM) | madvise(a, PG, MADV_WILLNEED) |
                madvise(a, PG, MADV_NORMAL) | madvise(a, PG, MADV_DONTDUMP) | madvise(a, PG, MADV_DODUMP) |
                madvise(a, PG, MADV_COLD) | madvise(a, PG, MADV_PAGEOUT));

  /* WIPEONFORK: private anonymous memory only; the child gets zeros, the parent keeps its bytes. */
  SHOW("WIPEONFORK shared anon", madvise(sh, PG, MADV_WIPEONFORK));
  int fd = open("file", O_CREAT | O_RDWR | O_TRUNC, 0644);
  MUST(ftruncate(fd, 4 * PG));
  char *fp = mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
  SHOW("WIPEONFORK private file", madvise(fp, PG, MADV_WIPEONFORK));
  SHOW("WIPEONFORK page 2", madvise(a + PG, PG, MADV_WIPEONFORK));
  child_sees("wiped page", a + PG);
  child_sees("page before it", a);
  child_sees("page after it", a + 2 * PG);
  printf("parent still reads %c\n", a[PG]);
  SHOW("KEEPONFORK", madvise(a + PG, PG, MADV_KEEPONFORK));
  child_sees("kept page", a + PG);

  /* DONTFORK: the child has no mapping there at all; DOFORK undoes it. */
  SHOW("DONTFORK page 3", madvise(a + 2 * PG, PG, MADV_DONTFORK));
  child_sees("dontfork page", a + 2 * PG);
  child_sees("its neighbour", a + 3 * PG);
  SHOW("DOFORK", madvise(a + 2 * PG, PG, MADV_DOFORK));
  child_sees("dofork page", a + 2 * PG);
  SHOW("DONTFORK shared", madvise(sh, PG, MADV_DONTFORK));
  child_sees("dontfork shared page", sh);
  SHOW("DOFORK shared", madvise(sh, PG, MADV_DOFORK));

  /* FREE: private anonymous only. DONTNEED zero-fills private memory; REMOVE punches shared. */
  SHOW("FREE shared anon", madvise(sh, PG, MADV_FREE));
  SHOW("FREE private file", madvise(fp, PG, MADV_FREE));
  SHOW("FREE private anon", madvise(a + 3 * PG, PG, MADV_FREE));
  SHOW("DONTNEED", madvise(a, PG, MADV_DONTNEED));
  printf("after DONTNEED: %d\n", a[0]);
  SHOW("REMOVE private anon", madvise(a, PG, MADV_REMOVE));
  SHOW("REMOVE shared anon", madvise(sh + PG, PG, MADV_REMOVE));
  printf("after REMOVE: %d\n", sh[PG]);
  char *fs = mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  fs[0] = 'f';
  SHOW("REMOVE shared file", madvise(fs, PG, MADV_REMOVE));
  char c = 1;
  MUST(pread(fd, &c, 1, 0));
  printf("file byte after REMOVE: %d\n", c);

  /* Guard pages fault; removing them gives back zeroed memory. */
  SHOW("GUARD_INSTALL", madvise(a + 3 * PG, PG, MADV_GUARD_INSTALL_));
  child_sees("guard page", a + 3 * PG);
  SHOW("GUARD_REMOVE", madvise(a + 3 * PG, PG, MADV_GUARD_REMOVE_));
  printf("after GUARD_REMOVE: %d\n", a[3 * PG]);

  /* A hole: the mapped part is advised, then ENOMEM. */
  memset(a, 'y', 2 * PG);
  MUST(munmap(a + PG, PG));
  SHOW("DONTNEED over a hole", madvise(a, 3 * PG, MADV_DONTNEED));
  printf("before the hole: %d\n", a[0]);
  SHOW("hint on the hole", madvise(a + PG, PG, MADV_NORMAL));

  leave_tmpdir();
  printf("done\n");
  return 0;
}
