/*
 * File names are bytes: names with bytes 0x80-0xff (not UTF-8) created, listed, stat'ed,
 * renamed, linked, read back through readlink, getcwd, /proc/self/fd, inotify and AF_UNIX,
 * then removed. argv[1]: a directory to work in (default: a fresh one under /tmp).
 */
#include "common.h"
#include <dirent.h>
#include <fcntl.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <sys/un.h>

static void hex(const char *label, const char *s) {
  printf("%s: ", label);
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    if (*p >= 0x21 && *p < 0x7f && *p != '\\') putchar(*p);
    else printf("\\x%02x", *p);
  }
  putchar('\n');
}

static const char *base(const char *p) {
  const char *s = strrchr(p, '/');
  return s ? s + 1 : p;
}

static int cmp(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static void list(const char *label) {
  DIR *d = opendir(".");
  if (!d) { printf("%s: opendir %s\n", label, ename(errno)); return; }
  char *names[64];
  int n = 0;
  struct dirent *e;
  while ((e = readdir(d)) && n < 64) if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) names[n++] = strdup(e->d_name);
  closedir(d);
  qsort(names, n, sizeof names[0], cmp);
  printf("%s: %d entries\n", label, n);
  for (int i = 0; i < n; i++) { hex("  entry", names[i]); free(names[i]); }
}

int main(int argc, char **argv) {
  char tmpl[] = "/tmp/cp_names.XXXXXX";
  const char *dir = argc > 1 ? argv[1] : mkdtemp(tmpl);
  if (!dir || chdir(dir) < 0) { printf("no dir %s\n", ename(errno)); return 1; }
  const char *f1 = "f\x80\xff\xc3(";           /* invalid UTF-8 throughout */
  const char *f2 = "r\xe9sum\xe9";            /* latin1 é */
  const char *d1 = "d\xfe\xfd";
  const char *l1 = "l\x81";
  const char *tgt = "/no/\xf0\x90\x80where\xa0";
  const char *s1 = "s\xc0\xc1";

  int fd = open(f1, O_CREAT | O_WRONLY | O_EXCL, 0644);
  SHOW("create", fd >= 0 ? 0 : -1);
  SHOW("write", write(fd, "12345", 5));
  struct stat st;
  SHOW("stat size", stat(f1, &st) == 0 ? st.st_size : -1);
  char lbuf[4096];
  snprintf(lbuf, sizeof lbuf, "/proc/self/fd/%d", fd);
  ssize_t n = readlink(lbuf, lbuf, sizeof lbuf - 1);
  if (n >= 0) { lbuf[n] = 0; hex("fd link basename", base(lbuf)); } else printf("fd link: %s\n", ename(errno));
  close(fd);

  int in = inotify_init1(IN_NONBLOCK);
  inotify_add_watch(in, ".", IN_CREATE | IN_MOVED_TO);
  SHOW("rename", rename(f1, f2));
  char evbuf[4096];
  n = read(in, evbuf, sizeof evbuf);
  for (char *p = evbuf; n > 0 && p < evbuf + n; ) {
    struct inotify_event *ev = (struct inotify_event *)p;
    printf("inotify %s len %s\n", ev->mask & IN_MOVED_TO ? "moved_to" : "other", ev->len >= strlen(ev->name) + 1 ? "ok" : "short");
    hex("  name", ev->name);
    p += sizeof *ev + ev->len;
  }
  close(in);
  EXPECT_ERR("stat old name", stat(f1, &st), ENOENT);
  SHOW("stat new name", stat(f2, &st) == 0 ? st.st_size : -1);
  SHOW("link", link(f2, f1));
  SHOW("nlink", stat(f1, &st) == 0 ? (long)st.st_nlink : -1);
  SHOW("symlink", symlink(tgt, l1));
  n = readlink(l1, lbuf, sizeof lbuf - 1);
  if (n >= 0) { lbuf[n] = 0; hex("readlink", lbuf); SHOW("readlink length", n); } else printf("readlink: %s\n", ename(errno));
  SHOW("lstat symlink size", lstat(l1, &st) == 0 ? st.st_size : -1);
  SHOW("mkdir", mkdir(d1, 0755));
  SHOW("chdir", chdir(d1));
  char cwd[4096];
  if (getcwd(cwd, sizeof cwd)) hex("getcwd basename", base(cwd)); else printf("getcwd: %s\n", ename(errno));
  SHOW("chdir ..", chdir(".."));

  /* AF_UNIX names are bytes too (bound in a directory of /tmp: sockets on host binds are another matter). */
  char sdir[] = "/tmp/cp_sock.XXXXXX";
  if (mkdtemp(sdir)) {
    int s = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s/%s", sdir, s1);
    SHOW("bind", bind(s, (struct sockaddr *)&sa, sizeof sa));
    struct sockaddr_un got;
    socklen_t gl = sizeof got;
    getsockname(s, (struct sockaddr *)&got, &gl);
    hex("getsockname basename", base(got.sun_path));
    SHOW("socket file", lstat(sa.sun_path, &st) == 0 ? (long)S_ISSOCK(st.st_mode) : -1);
    close(s);
    unlink(sa.sun_path);
    rmdir(sdir);
  }
  list("listing");
  SHOW("unlink", unlink(f1));
  SHOW("unlink", unlink(f2));
  SHOW("unlink", unlink(l1));
  SHOW("rmdir", rmdir(d1));
  list("after cleanup");
  if (argc <= 1) { chdir("/"); rmdir(dir); }
  printf("done\n");
  return 0;
}
