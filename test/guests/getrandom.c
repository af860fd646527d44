/* getrandom and /dev/urandom. */
#include "common.h"
#include <fcntl.h>
#include <sys/random.h>
#include <sys/syscall.h>

static int all_zero(const unsigned char *b, int n) {
  for (int i = 0; i < n; i++) if (b[i]) return 0;
  return 1;
}

int main(void) {
  guest_init();
  unsigned char a[64], b[64];
  memset(a, 0, sizeof a);
  memset(b, 0, sizeof b);
  SHOW("getrandom 64", getrandom(a, sizeof a, 0));
  SHOW("getrandom 64 again", getrandom(b, sizeof b, 0));
  FACT("not all zero", !all_zero(a, 64));
  FACT("two calls differ", memcmp(a, b, 64) != 0);
  SHOW("GRND_NONBLOCK", getrandom(a, 16, GRND_NONBLOCK));
  SHOW("GRND_RANDOM", getrandom(a, 16, GRND_RANDOM | GRND_NONBLOCK) > 0);
  SHOW("length 0", getrandom(a, 0, 0));
  static unsigned char big[1 << 20];
  long n = getrandom(big, sizeof big, 0);
  FACT("large request returns > 0", n > 0);
  /* rough uniformity: each byte value appears */
  int seen[256] = {0}, distinct = 0;
  for (long i = 0; i < n; i++) seen[big[i]]++;
  for (int i = 0; i < 256; i++) distinct += seen[i] > 0;
  printf("distinct byte values=%d\n", distinct);
  errno = 0;
  long r = syscall(SYS_getrandom, a, 16, 0x1000);
  printf("bad flags: %s\n", r < 0 ? ename(errno) : "ok?");
  r = syscall(SYS_getrandom, (void *)1, 16, 0);
  printf("bad pointer: %s\n", r < 0 ? ename(errno) : "ok?");

  int fd = open("/dev/urandom", O_RDONLY);
  OKERR("open /dev/urandom", fd);
  memset(a, 0, sizeof a);
  SHOW("read /dev/urandom", read(fd, a, 32));
  FACT("urandom not all zero", !all_zero(a, 32));
  close(fd);
  printf("done\n");
  return 0;
}
