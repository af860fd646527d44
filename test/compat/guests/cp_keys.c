/* The kernel key service: add_key, request_key, keyctl, against Linux (in a fresh
 * anonymous session keyring, so nothing of the caller's shows). */
#include "common.h"
#include <sys/syscall.h>
#include <sys/wait.h>

#define SESSION -3
#define PROCESS -2
#define THREAD -1
static long kc(long op, long a, long b, long c, long d) { return syscall(SYS_keyctl, op, a, b, c, d); }
static long add(const char *type, const char *desc, const void *p, size_t n, long ring) { return syscall(SYS_add_key, type, desc, p, n, ring); }

static void describe(const char *label, long id) {
  char b[256];
  long n = kc(6, id, (long)b, sizeof b, 0);
  if (n < 0) printf("%s: %s\n", label, ename(errno));
  else printf("%s: %ld '%s'\n", label, n, b);
}

static void readkey(const char *label, long id) {
  char b[64] = "";
  long n = kc(11, id, (long)b, sizeof b - 1, 0);
  if (n < 0) printf("%s: %s\n", label, ename(errno));
  else printf("%s: %ld '%.*s'\n", label, n, (int)(n < 63 ? n : 63), b);
}

int main(void) {
  guest_init();
  long ses = kc(1, 0, 0, 0, 0);
  printf("joined an anonymous session keyring: %d\n", ses > 0);
  describe("session", ses);
  printf("GET_KEYRING_ID session is it: %d\n", kc(0, SESSION, 0, 0, 0) == ses);
  long k1 = add("user", "k1", "secret", 6, SESSION);
  printf("add_key: %d\n", k1 > 0);
  describe("k1", k1);
  readkey("read k1", k1);
  char small[3];
  printf("read into 3 bytes: %ld\n", kc(11, k1, (long)small, 3, 0));
  printf("add again updates the same key: %d\n", add("user", "k1", "other!", 6, SESSION) == k1);
  readkey("read k1", k1);
  SHOW("update", kc(2, k1, (long)"third", 5, 0));
  readkey("read k1", k1);
  int ids[8];
  long n = kc(11, ses, (long)ids, sizeof ids, 0);
  printf("session lists %ld bytes, k1 first: %d\n", n, n >= 4 && ids[0] == k1);
  printf("search: %d\n", kc(10, SESSION, (long)"user", (long)"k1", 0) == k1);
  EXPECT_ERR("search missing", kc(10, SESSION, (long)"user", (long)"nope", 0), ENOKEY);
  printf("request_key: %d\n", syscall(SYS_request_key, "user", "k1", NULL, 0) == k1);
  EXPECT_ERR("request_key missing", syscall(SYS_request_key, "user", "nope", NULL, 0), ENOKEY);
  EXPECT_ERR("unknown type", add("bogus", "x", "y", 1, SESSION), ENODEV);
  EXPECT_ERR("dot type", add(".x", "x", "y", 1, SESSION), EPERM);
  EXPECT_ERR("empty description", add("user", "", "y", 1, SESSION), EINVAL);
  EXPECT_ERR("empty payload", add("user", "e", NULL, 0, SESSION), EINVAL);
  EXPECT_ERR("logon without service:", add("logon", "plain", "y", 1, SESSION), EINVAL);
  long lg = add("logon", "svc:name", "pw", 2, SESSION);
  printf("logon key: %d\n", lg > 0);
  EXPECT_ERR("read a logon key", kc(11, lg, (long)small, 3, 0), EOPNOTSUPP);
  long sub = add("keyring", "sub", NULL, 0, SESSION);
  describe("sub", sub);
  EXPECT_ERR("keyring with payload", add("keyring", "sub2", "x", 1, SESSION), EINVAL);
  SHOW("link k1 into sub", kc(8, k1, sub, 0, 0));
  SHOW("unlink", kc(9, k1, sub, 0, 0));
  EXPECT_ERR("unlink again", kc(9, k1, sub, 0, 0), ENOENT);
  EXPECT_ERR("add to a non-keyring", add("user", "z", "z", 1, k1), ENOTDIR);
  SHOW("setperm", kc(5, k1, 0x3f3f0000, 0, 0));
  describe("k1 after setperm", k1);
  EXPECT_ERR("process keyring, no create", kc(0, PROCESS, 0, 0, 0), ENOKEY);
  printf("process keyring created: %d\n", kc(0, PROCESS, 1, 0, 0) > 0);
  printf("thread keyring created: %d\n", kc(0, THREAD, 1, 0, 0) > 0);
  fflush(stdout);
  pid_t c = fork();
  if (c == 0) {
    printf("child shares the session keyring: %d\n", kc(0, SESSION, 0, 0, 0) == ses);
    EXPECT_ERR("child has no process keyring", kc(0, PROCESS, 0, 0, 0), ENOKEY);
    _exit(0);
  }
  waitpid(c, NULL, 0);
  SHOW("revoke", kc(3, k1, 0, 0, 0));
  EXPECT_ERR("read revoked", kc(11, k1, (long)small, 3, 0), EKEYREVOKED);
  EXPECT_ERR("unknown op", kc(999, 0, 0, 0, 0), EOPNOTSUPP);
  SHOW("invalidate logon", kc(21, lg, 0, 0, 0));
  usleep(100000);
  EXPECT_ERR("describe invalidated", kc(6, lg, (long)small, 3, 0), ENOKEY);
  printf("done\n");
  return 0;
}
