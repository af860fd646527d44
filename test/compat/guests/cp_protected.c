/* fs.protected_* as /proc/sys/fs shows them and as they act: a non-owner's hard link to a file
 * it cannot read and write (protected_hardlinks), root following, opening a fifo and creating
 * over a regular file another user owns in a sticky world-writable directory
 * (protected_symlinks, protected_fifos, protected_regular). Compared with a host whose values
 * are the sandbox's (the test checks that first). */
#include "common.h"
#include <fcntl.h>
#include <sys/wait.h>

static void show(const char *name) {
  char path[80], buf[32] = "";
  snprintf(path, sizeof path, "/proc/sys/fs/%s", name);
  int fd = open(path, O_RDONLY);
  if (fd < 0) { printf("%s: %s\n", name, ename(errno)); return; }
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  printf("%s = %s", name, n > 0 ? buf : "(empty)\n");
}

/* Runs fn as uid/gid 1000 in a child. */
static void as_user(void (*fn)(void)) {
  pid_t c = fork();
  if (c == 0) {
    if (setresgid(1000, 1000, 1000) < 0 || setresuid(1000, 1000, 1000) < 0) _exit(98);
    fn();
    _exit(0);
  }
  int st;
  waitpid(c, &st, 0);
  if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) printf("child status %d\n", st);
}

static void user_links(void) {
  OKERR("user links root's 0600 file", link("rootfile", "hl1"));
  OKERR("user links root's 0666 file", link("rootrw", "hl2"));
  OKERR("user links root's setuid 0666 file", link("rootsuid", "hl3"));
  OKERR("user links own file", link("userfile", "hl4"));
}

static void user_makes(void) {
  MUST(symlink("../target", "st/ulink"));
  MUST(mkfifo("st/ufifo", 0666));
  int fd = open("st/ufile", O_CREAT | O_WRONLY, 0666);
  MUST(fd);
  close(fd);
}

int main(void) {
  guest_init();
  enter_tmpdir();
  MUST(chmod(".", 0755));
  show("protected_hardlinks");
  show("protected_symlinks");
  show("protected_fifos");
  show("protected_regular");
  show("suid_dumpable");
  int fd;
  MUST(fd = open("rootfile", O_CREAT | O_WRONLY, 0600)); close(fd);
  MUST(fd = open("rootrw", O_CREAT | O_WRONLY, 0666)); close(fd);
  MUST(chmod("rootrw", 0666));
  MUST(fd = open("rootsuid", O_CREAT | O_WRONLY, 0666)); close(fd);
  MUST(chmod("rootsuid", 04666));
  MUST(fd = open("userfile", O_CREAT | O_WRONLY, 0600)); close(fd);
  MUST(chown("userfile", 1000, 1000));
  MUST(chmod(".", 01777));
  as_user(user_links);
  MUST(fd = open("target", O_CREAT | O_WRONLY, 0644)); close(fd);
  MUST(mkdir("st", 01777));
  MUST(chmod("st", 01777));
  as_user(user_makes);
  OKERR("root follows user's symlink in a sticky dir", open("st/ulink", O_RDONLY));
  EXPECT_ERR("root opens user's fifo with O_CREAT, no reader", open("st/ufifo", O_CREAT | O_WRONLY | O_NONBLOCK, 0644), ENXIO);
  OKERR("root opens user's file with O_CREAT", open("st/ufile", O_CREAT | O_WRONLY, 0644));
  leave_tmpdir();
  return 0;
}
