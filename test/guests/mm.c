/* Memory: mmap anon/file, munmap, mprotect, brk, mremap, madvise, msync, shared anon across fork. */
#include "common.h"
#include <fcntl.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/wait.h>

static long PG;

/* Is [p, p+len) entirely unmapped? Probes with MAP_FIXED_NOREPLACE (fails EEXIST if anything is there). */
static int unmapped(void *p, size_t len) {
  void *q = mmap(p, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
  if (q == MAP_FAILED) return 0;
  munmap(q, len);
  return q == p;
}

int main(void) {
  guest_init();
  PG = sysconf(_SC_PAGESIZE);
  printf("pagesize=%ld\n", PG);
  enter_tmpdir();

  /* Anonymous private mapping: zero-filled, writable. */
  char *a = mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  FACT("mmap anon ok", a != MAP_FAILED);
  FACT("page aligned", ((uintptr_t)a & (PG - 1)) == 0);
  int zero = 1;
  for (long i = 0; i < 4 * PG; i++) if (a[i]) zero = 0;
  FACT("anon zero-filled", zero);
  for (long i = 0; i < 4 * PG; i++) a[i] = (char)(i * 7);
  int okp = 1;
  for (long i = 0; i < 4 * PG; i++) if (a[i] != (char)(i * 7)) okp = 0;
  FACT("pattern readback", okp);

  /* munmap the middle: a hole appears there, neighbours stay. */
  SHOW("munmap middle page", munmap(a + PG, PG));
  FACT("hole unmapped", unmapped(a + PG, PG));
  FACT("neighbour still mapped", !unmapped(a, PG) && !unmapped(a + 2 * PG, PG));
  FACT("neighbour data kept", a[2 * PG + 5] == (char)((2 * PG + 5) * 7));
  EXPECT_ERR("MAP_FIXED_NOREPLACE over mapping",
             (long)mmap(a, PG, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0) == -1 ? -1 : 0, EEXIST);
  /* MAP_FIXED replaces: the new page is zero. */
  char *f = mmap(a, PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
  FACT("MAP_FIXED at requested address", f == a);
  FACT("MAP_FIXED page is fresh", a[5] == 0);

  /* mprotect: read-only then back. (Faults are tested in the signals guest.) */
  SHOW("mprotect RO", mprotect(a, PG, PROT_READ));
  FACT("still readable", a[5] == 0);
  SHOW("mprotect RW", mprotect(a, PG, PROT_READ | PROT_WRITE));
  a[5] = 1;
  FACT("writable again", a[5] == 1);
  EXPECT_ERR("mprotect unaligned", mprotect(a + 1, PG, PROT_READ), EINVAL);
  EXPECT_ERR("mprotect unmapped", mprotect(a + PG, PG, PROT_READ), ENOMEM);
  /* PROT_NONE reservation, then made usable. */
  char *r = mmap(NULL, 2 * PG, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  SHOW("mprotect PROT_NONE->RW", mprotect(r, 2 * PG, PROT_READ | PROT_WRITE));
  r[PG + 1] = 42;
  FACT("reservation usable", r[PG + 1] == 42);

  /* madvise(DONTNEED) on private anon memory zero-fills. */
  memset(r, 0xAB, 2 * PG);
  SHOW("madvise DONTNEED", madvise(r, 2 * PG, MADV_DONTNEED));
  FACT("zero after DONTNEED", r[0] == 0 && r[PG + 1] == 0 && r[2 * PG - 1] == 0);
  SHOW("madvise WILLNEED", madvise(r, PG, MADV_WILLNEED));
  EXPECT_ERR("madvise unaligned", madvise(r + 1, PG, MADV_DONTNEED), EINVAL);
  SHOW("munmap reservation", munmap(r, 2 * PG));

  /* mremap: grow (may move), contents preserved. */
  char *g = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  memcpy(g, "remap-me", 9);
  char *g2 = mremap(g, PG, 8 * PG, MREMAP_MAYMOVE);
  FACT("mremap grow ok", g2 != MAP_FAILED);
  FACT("mremap contents kept", !strcmp(g2, "remap-me"));
  g2[8 * PG - 1] = 'z';
  FACT("grown tail zero then writable", g2[7 * PG] == 0 && g2[8 * PG - 1] == 'z');
  /* shrink in place */
  char *g3 = mremap(g2, 8 * PG, 2 * PG, 0);
  FACT("mremap shrink in place", g3 == g2);
  FACT("shrunk tail unmapped", unmapped(g2 + 2 * PG, 6 * PG));
  /* move to a fixed address */
  char *dst = mmap(NULL, 2 * PG, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  munmap(dst, 2 * PG);
  char *g4 = mremap(g3, 2 * PG, 2 * PG, MREMAP_MAYMOVE | MREMAP_FIXED, dst);
  FACT("mremap FIXED moved", g4 == dst);
  FACT("moved contents kept", !strcmp(g4, "remap-me"));
  FACT("old address unmapped", unmapped(g3, 2 * PG));
  EXPECT_ERR("mremap without MAYMOVE onto used range",
             (long)mremap(a, PG, 64 * PG, 0) == -1 ? -1 : 0, ENOMEM);
  munmap(g4, 2 * PG);

  /* brk */
  char *b0 = sbrk(0);
  char *b1 = sbrk(1 << 20);
  FACT("sbrk grow returns old break", b1 == b0);
  FACT("break moved by 1 MiB", (char *)sbrk(0) == b0 + (1 << 20));
  memset(b0, 0x11, 1 << 20);
  FACT("brk memory writable", b0[(1 << 20) - 1] == 0x11);
  SHOW("brk shrink", brk(b0));
  FACT("break restored", (char *)sbrk(0) == b0);
  long cur = syscall(12, 0);
  FACT("raw brk(0) is break", (char *)cur == b0);

  /* File mappings. */
  int fd = open("file", O_CREAT | O_RDWR | O_TRUNC, 0644);
  char content[8192];
  for (int i = 0; i < 8192; i++) content[i] = 'a' + i % 26;
  MUST(write(fd, content, sizeof content));
  char *m = mmap(NULL, 8192, PROT_READ, MAP_PRIVATE, fd, 0);
  FACT("file map private ok", m != MAP_FAILED);
  FACT("file map matches", !memcmp(m, content, 8192));
  char *m2 = mmap(NULL, PG, PROT_READ, MAP_PRIVATE, fd, PG);
  FACT("file map at offset", m2 != MAP_FAILED && m2[0] == content[PG]);
  munmap(m2, PG);
  /* private writes stay private */
  char *pw = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
  pw[0] = '#';
  char c;
  MUST(pread(fd, &c, 1, 0));
  FACT("private write not in file", c == 'a');
  munmap(pw, 8192);
  /* A shared file mapping can be made, written and synced (coherence with the file
   * is checked separately by mm_shared_file). */
  char *sw = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  FACT("file map shared ok", sw != MAP_FAILED);
  FACT("shared map matches", !memcmp(sw + 100, content + 100, 1000));
  sw[1] = '!';
  FACT("shared map writable", sw[1] == '!');
  SHOW("msync", msync(sw, 8192, MS_SYNC));
  munmap(sw, 8192);
  munmap(m, 8192);
  /* mapping beyond EOF inside the last page is zero */
  MUST(ftruncate(fd, 100));
  char *t = mmap(NULL, PG, PROT_READ, MAP_SHARED, fd, 0);
  FACT("bytes past EOF in last page are zero", t[100] == 0 && t[PG - 1] == 0 && t[99] == content[99]);
  munmap(t, PG);

  /* Errors */
  EXPECT_ERR("mmap bad fd", (long)mmap(NULL, PG, PROT_READ, MAP_PRIVATE, 999, 0) == -1 ? -1 : 0, EBADF);
  EXPECT_ERR("mmap length 0", (long)mmap(NULL, 0, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) == -1 ? -1 : 0, EINVAL);
  EXPECT_ERR("mmap unaligned offset", (long)mmap(NULL, PG, PROT_READ, MAP_PRIVATE, fd, 1) == -1 ? -1 : 0, EINVAL);
  EXPECT_ERR("mmap no PRIVATE/SHARED", (long)mmap(NULL, PG, PROT_READ, MAP_ANONYMOUS, -1, 0) == -1 ? -1 : 0, EINVAL);
  int ro = open("file", O_RDONLY);
  EXPECT_ERR("shared RW map of O_RDONLY fd",
             (long)mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_SHARED, ro, 0) == -1 ? -1 : 0, EACCES);
  close(ro);
  EXPECT_ERR("munmap unaligned", munmap(a + 1, PG), EINVAL);
  SHOW("munmap already unmapped range", munmap(a + PG, PG));
  close(fd);

  /* MAP_SHARED|MAP_ANONYMOUS is shared with a forked child; MAP_PRIVATE is copied. */
  int *sh = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  int *pv = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  *sh = 1;
  *pv = 1;
  pid_t pid = fork();
  if (pid == 0) {
    *sh = 2;
    *pv = 2;
    _exit(0);
  }
  int st;
  waitpid(pid, &st, 0);
  printf("after child: shared=%d private=%d\n", *sh, *pv);

  /* A big allocation through malloc (mmap threshold) */
  char *big = malloc(32 << 20);
  memset(big, 1, 32 << 20);
  long sum = 0;
  for (long i = 0; i < (32 << 20); i += 4096) sum += big[i];
  printf("big sum=%ld\n", sum);
  free(big);

  leave_tmpdir();
  printf("done\n");
  return 0;
}
