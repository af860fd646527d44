// Large reads of a host file (the one-copy mapped path of native/host_file_read.cc):
// whole-file reads, preads across an 8 MiB window's edge, past EOF, into a buffer whose
// second page is unmapped, after the file shrank and after it grew back.
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static unsigned char pat(long i) { return (unsigned char)(i * 7 + i / 4096); }

static unsigned long sum(const unsigned char* b, long n, long at) {
  unsigned long s = 0, bad = 0;
  for (long i = 0; i < n; i++) { s = s * 31 + b[i]; if (b[i] != pat(at + i)) bad++; }
  return bad ? ~0ul : s;
}

int main(int argc, char** argv) {
  char path[4096];
  snprintf(path, sizeof path, "%s/big", argv[1]);
  long size = 20 * 1048576 + 12345;
  static unsigned char buf[1 << 20];
  int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
  for (long at = 0; at < size; at += sizeof buf) {
    long n = size - at < (long)sizeof buf ? size - at : (long)sizeof buf;
    for (long i = 0; i < n; i++) buf[i] = pat(at + i);
    if (write(fd, buf, n) != n) return 1;
  }
  close(fd);
  fd = open(path, O_RDONLY);
  long total = 0, n;
  int bad = 0;
  while ((n = read(fd, buf, 131072)) > 0) { if (sum(buf, n, total) == ~0ul) bad++; total += n; }
  printf("read whole: %ld bytes, %d bad chunks, last %ld\n", total, bad, n);
  long offs[] = {8 * 1048576 - 1000, 16 * 1048576 - 4095, size - 70000, size, size + 5};
  for (int k = 0; k < 5; k++) {
    n = pread(fd, buf, 200000, offs[k]);
    printf("pread at %ld: %ld sum %lx\n", offs[k], n, n > 0 ? sum(buf, n, offs[k]) : 0);
  }
  unsigned char* two = mmap(0, 2 * 65536, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  munmap(two + 65536, 65536);
  n = pread(fd, two, 131072, 4096);
  printf("pread into half-mapped: %ld sum %lx\n", n, n > 0 ? sum(two, n, 4096) : 0);
  n = pread(fd, (void*)8, 131072, 0);
  printf("pread into bad pointer: %ld\n", n);
  int w = open(path, O_RDWR);
  if (ftruncate(w, 1048576) != 0) return 1;
  n = pread(fd, buf, 131072, 2 * 1048576);
  printf("after shrink, pread at 2 MiB: %ld\n", n);
  n = pread(fd, buf, 262144, 900 * 1024);
  printf("after shrink, pread at 900 KiB: %ld sum %lx\n", n, n > 0 ? sum(buf, n, 900 * 1024) : 0);
  for (long at = 1048576; at < 3 * 1048576; at += sizeof buf) {
    for (long i = 0; i < (long)sizeof buf; i++) buf[i] = pat(at + i);
    if (pwrite(w, buf, sizeof buf, at) != (long)sizeof buf) return 1;
  }
  n = pread(fd, buf, 524288, 1048576 - 4096);
  printf("after growing back, pread at 1 MiB - 4 KiB: %ld sum %lx\n", n, n > 0 ? sum(buf, n, 1048576 - 4096) : 0);
  close(w);
  close(fd);
  unlink(path);
  return 0;
}
