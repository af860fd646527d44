// inotify on a directory (argv[1]) that the host changes (the test does, after this
// prints "watching"): every event read until the host's last step (IN_DELETE of
// "last"), one line each. Before and after, the guest changes the directory itself:
// its own events must come once each (the host's echo of them not again).
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

static unsigned moveCookie;

// Prints the events in buf; returns 1 once the last one was seen.
static int show(const char* buf, ssize_t n) {
  int last = 0;
  for (const char* p = buf; p < buf + n;) {
    const struct inotify_event* e = (const struct inotify_event*)p;
    const char* kind = "other";
    switch (e->mask & ~IN_ISDIR) {
      case IN_CREATE: kind = "create"; break;
      case IN_DELETE: kind = "delete"; break;
      case IN_MODIFY: kind = "modify"; break;
      case IN_ATTRIB: kind = "attrib"; break;
      case IN_MOVED_FROM: kind = "moved_from"; break;
      case IN_MOVED_TO: kind = "moved_to"; break;
      case IN_DELETE_SELF: kind = "delete_self"; break;
      case IN_IGNORED: kind = "ignored"; break;
    }
    const char* cookie = "";
    if ((e->mask & IN_MOVED_FROM) && e->cookie != 0) moveCookie = e->cookie;
    if (e->mask & IN_MOVED_TO) cookie = e->cookie == moveCookie && e->cookie != 0 ? " (cookie of its move)" : " (other cookie)";
    printf("%s%s %s%s\n", kind, e->mask & IN_ISDIR ? " dir" : "", e->len ? e->name : "-", cookie);
    if ((e->mask & IN_DELETE) && e->len && strcmp(e->name, "last") == 0) last = 1;
    p += sizeof *e + e->len;
  }
  return last;
}

// Every event already queued (nonblocking), as Linux has them right after a change.
static void drain(int fd) {
  char buf[8192] __attribute__((aligned(8)));
  ssize_t n;
  while ((n = read(fd, buf, sizeof buf)) > 0) show(buf, n);
  if (n < 0 && errno != EAGAIN) printf("read: %s\n", strerror(errno));
}

int main(int argc, char** argv) {
  if (argc < 2 || chdir(argv[1]) != 0) return 2;
  int fd = inotify_init1(IN_NONBLOCK);
  if (fd < 0) return 3;
  int wd = inotify_add_watch(fd, ".", IN_CREATE | IN_DELETE | IN_MODIFY | IN_ATTRIB | IN_MOVED_FROM | IN_MOVED_TO | IN_DELETE_SELF);
  if (wd < 0) return 4;
  // The guest's own changes first: one event each.
  if (mkdir("own", 0755) != 0) return 5;
  int f = open("ownfile", O_CREAT | O_WRONLY, 0644);
  if (f < 0) return 6;
  if (write(f, "x", 1) != 1) return 7;
  close(f);
  if (rename("ownfile", "ownfile2") != 0) return 8;
  drain(fd);
  printf("watching\n");
  fflush(stdout);
  // The host's changes: wait for them (blocking), until the last.
  int flags = fcntl(fd, F_GETFL);
  fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
  char buf[8192] __attribute__((aligned(8)));
  for (;;) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n <= 0) {
      printf("read: %s\n", n < 0 ? strerror(errno) : "eof");
      return 9;
    }
    if (show(buf, n)) break;
  }
  // What the host made is there at once (the cache dropped what it knew).
  struct stat s;
  printf("hostdir after its rename: %s\n", stat("hostdir2", &s) == 0 && S_ISDIR(s.st_mode) ? "there" : "missing");
  printf("hostfile size: %ld\n", stat("hostfile", &s) == 0 ? (long)s.st_size : -1L);
  // The guest's own again, after the host's.
  fcntl(fd, F_SETFL, flags | O_NONBLOCK);
  if (rmdir("own") != 0 || unlink("ownfile2") != 0) return 10;
  drain(fd);
  printf("done\n");
  return 0;
}
