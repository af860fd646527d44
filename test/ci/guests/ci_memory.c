// Guest memory for the Sentry's --memory count (issue 12). argv[1]:
//   anon N        touch N MiB of anonymous memory, 1 MiB mappings
//   sparse        map 1 GiB (16 mappings of 64 MiB), touch 4 MiB of it
//   shared PATH N create PATH, N MiB long, map it MAP_SHARED and write every page
//   kids K N      K children at once, each touching N MiB, then waiting for the others
//   readers PATH K N  write PATH (N MiB), then K children at once each map it read-only
//                 and read every page, then wait for the others: one file's pages, K maps
//   nosys N       map N MiB (in 32 MiB mappings), then touch it a MiB at a time, with a
//                 busy pause between and no syscall at all
// Prints "ok" when it got through.
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

static void touch_anon(long mib) {
  for (long i = 0; i < mib; i++) {
    char *p = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) { printf("mmap: %s\n", strerror(errno)); exit(1); }
    memset(p, 1, 1 << 20);
  }
}

/* K children at once, each running fn(n) and then holding its memory until all have
   theirs (the parent lets go after a second): the sum is what the Sentry must count. */
static int hold_in_children(int k, int (*fn)(long), long n) {
  int go[2];
  if (pipe(go) != 0) return 1;
  for (int i = 0; i < k; i++) {
    pid_t c = fork();
    if (c < 0) { printf("fork: %s\n", strerror(errno)); return 1; }
    if (c == 0) {
      close(go[1]);
      int rc = fn(n);
      char b;
      read(go[0], &b, 1);
      _exit(rc);
    }
  }
  close(go[0]);
  sleep(1);
  close(go[1]);
  int st, bad = 0;
  while (wait(&st) > 0) if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) bad++;
  if (bad) { printf("%d children failed\n", bad); return 1; }
  printf("ok\n");
  return 0;
}

static int kid_anon(long mib) {
  touch_anon(mib);
  return 0;
}

static int g_fd = -1;
/* Maps g_fd (n bytes of 'r') read-only and reads every page. */
static int kid_reader(long n) {
  const volatile char *p = mmap(NULL, n, PROT_READ, MAP_PRIVATE, g_fd, 0);
  if (p == MAP_FAILED) return 3;
  long sum = 0;
  for (long off = 0; off < n; off += 4096) {
    sum += p[off];
    if (off % (16 << 10) == 0) getppid();
  }
  return sum == (n / 4096) * 'r' ? 0 : 4;
}

int main(int argc, char **argv) {
  if (argc < 2) return 2;
  const char *m = argv[1];
  if (!strcmp(m, "anon") && argc > 2) {
    touch_anon(atol(argv[2]));
  } else if (!strcmp(m, "sparse")) {
    for (int i = 0; i < 16; i++) {
      char *p = mmap(NULL, 64 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      if (p == MAP_FAILED) { printf("mmap: %s\n", strerror(errno)); return 1; }
      // 256 KiB of each 64 MiB mapping: 4 MiB in all.
      memset(p + (i << 20), 2, 256 << 10);
    }
  } else if (!strcmp(m, "shared") && argc > 3) {
    long n = atol(argv[3]) << 20;
    int fd = open(argv[2], O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (fd < 0 || ftruncate(fd, n) != 0) { printf("create: %s\n", strerror(errno)); return 1; }
    char *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) { printf("mmap: %s\n", strerror(errno)); return 1; }
    for (long i = 0; i < n; i += 4096) {
      p[i] = 's';
      if (i % (16 << 10) == 0) getppid(); // a syscall now and then, as real programs make
    }
    if (msync(p, n, MS_SYNC) != 0) { printf("msync: %s\n", strerror(errno)); return 1; }
  } else if (!strcmp(m, "kids") && argc > 3) {
    int k = atoi(argv[2]);
    long n = atol(argv[3]);
    return hold_in_children(k, kid_anon, n);
  } else if (!strcmp(m, "readers") && argc > 4) {
    int k = atoi(argv[3]);
    long n = atol(argv[4]) << 20;
    int fd = open(argv[2], O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) { printf("create: %s\n", strerror(errno)); return 1; }
    static char chunk[1 << 16];
    memset(chunk, 'r', sizeof chunk);
    for (long off = 0; off < n; off += sizeof chunk)
      if (write(fd, chunk, sizeof chunk) != (ssize_t)sizeof chunk) { printf("write: %s\n", strerror(errno)); return 1; }
    g_fd = fd;
    return hold_in_children(k, kid_reader, n);
  } else if (!strcmp(m, "nosys") && argc > 2) {
    long n = atol(argv[2]);
    char *maps[64];
    for (long i = 0; i < (n + 31) / 32 && i < 64; i++) {
      maps[i] = mmap(NULL, 32 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      if (maps[i] == MAP_FAILED) { printf("mmap: %s\n", strerror(errno)); return 1; }
    }
    for (long mib = 0; mib < n; mib++) {
      char *p = maps[mib / 32] + (mib % 32) * (1 << 20);
      for (long off = 0; off < (1 << 20); off += 4096) p[off] = 1;
      for (volatile long spin = 0; spin < 3000000; spin++) {
      }
    }
  } else {
    return 2;
  }
  printf("ok\n");
  return 0;
}
