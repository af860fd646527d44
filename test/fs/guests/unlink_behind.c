// Unlinks of files this program made, in a directory given as argv[1], followed by
// everything that must see the unlink as done (the sandbox may send such an unlink to
// the host with its next request: fs/fsimpl/hostfs/README.md, write-behind unlink).
// The output must be Linux's.
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void show(const char* what, long r) {
  if (r < 0) printf("%s: %s\n", what, strerrorname_np(errno));
  else printf("%s: ok\n", what);
}

static int make(const char* p, const char* data) {
  int fd = open(p, O_CREAT | O_EXCL | O_RDWR, 0644);
  if (fd < 0) return -1;
  if (data != NULL && write(fd, data, strlen(data)) < 0) return -1;
  return fd;
}

static void lst(const char* p) {
  struct stat s;
  if (lstat(p, &s) != 0) printf("lstat %s: %s\n", p, strerrorname_np(errno));
  else printf("lstat %s: size %lld nlink %ld\n", p, (long long)s.st_size, (long)s.st_nlink);
}

static void listing(const char* d) {
  char cmd[512];
  snprintf(cmd, sizeof cmd, "ls -a %s | tr '\\n' ' '; echo", d);
  fflush(stdout);
  if (system(cmd) != 0) printf("ls failed\n");
}

int main(int argc, char** argv) {
  if (argc < 2 || chdir(argv[1]) != 0) return 2;
  // Unlinked, then looked up, unlinked again, listed.
  close(make("a", "one"));
  show("unlink a", unlink("a"));
  lst("a");
  show("unlink a again", unlink("a"));
  show("open a", open("a", O_RDONLY));
  listing(".");
  // The same name made again at once: the new file, not the old.
  close(make("b", "first"));
  show("unlink b", unlink("b"));
  int fd = make("b", "second file");
  show("make b again", fd);
  close(fd);
  lst("b");
  show("unlink b", unlink("b"));
  // Open while unlinked: the fd still reads it, fstat says no link left.
  fd = make("c", "kept open");
  show("unlink c", unlink("c"));
  struct stat s;
  if (fstat(fd, &s) == 0) printf("fstat c: size %lld nlink %ld\n", (long long)s.st_size, (long)s.st_nlink);
  char buf[32] = {0};
  show("pread c", pread(fd, buf, sizeof buf - 1, 0));
  printf("c read: %s\n", buf);
  close(fd);
  // A hard link survives the unlink of the other name.
  close(make("d", "linked"));
  show("link d e", link("d", "e"));
  show("unlink d", unlink("d"));
  lst("e");
  show("unlink e", unlink("e"));
  // A rename onto a name just unlinked, and a rename of what was unlinked.
  close(make("f", "f"));
  close(make("g", "gg"));
  show("unlink f", unlink("f"));
  show("rename g f", rename("g", "f"));
  lst("f");
  lst("g");
  show("rename g h", rename("g", "h"));
  show("unlink f", unlink("f"));
  // A directory emptied by unlinks, then removed (the host must have had them first).
  show("mkdir sub", mkdir("sub", 0755));
  for (int i = 0; i < 20; i++) {
    char nm[32];
    snprintf(nm, sizeof nm, "sub/x%d", i);
    close(make(nm, "x"));
  }
  for (int i = 0; i < 20; i++) {
    char nm[32];
    snprintf(nm, sizeof nm, "sub/x%d", i);
    if (unlink(nm) != 0) show("unlink sub/x", -1);
  }
  show("rmdir sub", rmdir("sub"));
  lst("sub");
  listing(".");
  return 0;
}
