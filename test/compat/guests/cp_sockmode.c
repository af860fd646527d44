/* The mode of an AF_UNIX socket's file (issue 15): unix_bind creates it with the socket
 * inode's mode (0777, or what an fchmod before bind made it) less the umask; an fchmod
 * after bind changes the socket, not the file; against Linux. */
#include "common.h"
#include <sys/socket.h>
#include <sys/un.h>

static void bound(const char *label, mode_t mask, int pre, const char *name) {
  struct sockaddr_un sa = { .sun_family = AF_UNIX };
  snprintf(sa.sun_path, sizeof sa.sun_path, "%s", name);
  int s = socket(AF_UNIX, SOCK_STREAM, 0);
  MUST(s);
  if (pre >= 0) MUST(fchmod(s, pre));
  umask(mask);
  MUST(bind(s, (struct sockaddr *)&sa, sizeof sa));
  umask(022);
  struct stat st, fst;
  MUST(stat(name, &st));
  MUST(fchmod(s, 0600));
  MUST(fstat(s, &fst));
  struct stat after;
  MUST(stat(name, &after));
  printf("%s: file %o, after fchmod 0600 of the socket: socket %o file %o\n", label, st.st_mode, fst.st_mode, after.st_mode);
  close(s);
}

int main(void) {
  guest_init();
  enter_tmpdir();
  bound("umask 022", 022, -1, "a");
  bound("umask 077", 077, -1, "b");
  bound("fchmod 0640, umask 022", 022, 0640, "c");
  bound("fchmod 0755, umask 027", 027, 0755, "d");
  bound("fchmod 0, umask 0", 0, 0, "e");
  /* A datagram socket too, and one bound under a fchown'd inode: ownership stays the binder's. */
  int s = socket(AF_UNIX, SOCK_DGRAM, 0);
  MUST(fchmod(s, 0604));
  MUST(fchown(s, 1234, 1234));
  struct sockaddr_un sa = { .sun_family = AF_UNIX, .sun_path = "f" };
  umask(0);
  MUST(bind(s, (struct sockaddr *)&sa, sizeof sa));
  struct stat st;
  MUST(stat("f", &st));
  printf("dgram, fchmod 0604 and fchown 1234: file %o uid %u\n", st.st_mode, st.st_uid);
  leave_tmpdir();
  return 0;
}
