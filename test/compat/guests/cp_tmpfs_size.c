/* tmpfs size=, nr_inodes=, mode=, uid=, gid=: ENOSPC at the limits (a short write first),
 * statfs and mountinfo as the options say, remount changing the limits (never below what
 * is used), bad options refused. Run natively in a mount namespace of its own. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysinfo.h>
#include <unistd.h>

static char dir[64];

static void show_statfs(const char *what) {
  struct statfs s;
  if (statfs(dir, &s) != 0) { printf("%s: statfs: %s\n", what, strerror(errno)); return; }
  printf("%s: bsize %ld blocks %llu bfree %llu bavail %llu files %llu ffree %llu\n", what, (long)s.f_bsize,
         (unsigned long long)s.f_blocks, (unsigned long long)s.f_bfree, (unsigned long long)s.f_bavail,
         (unsigned long long)s.f_files, (unsigned long long)s.f_ffree);
}

/* The super options of the mount at dir in /proc/self/mountinfo (after " - type source "). */
static void show_options(const char *what) {
  FILE *f = fopen("/proc/self/mountinfo", "r");
  char line[1024], last[1024] = "(none)";
  while (f && fgets(line, sizeof line, f)) {
    char mp[512];
    if (sscanf(line, "%*s %*s %*s %*s %511s", mp) == 1 && strcmp(mp, dir) == 0) {
      char *dash = strstr(line, " - ");
      char type[64], src[64], opts[512];
      if (dash && sscanf(dash + 3, "%63s %63s %511s", type, src, opts) == 3) snprintf(last, sizeof last, "%s %s %s", type, src, opts);
    }
  }
  if (f) fclose(f);
  printf("%s: %s\n", what, last);
}

static void try_mount(const char *what, const char *data, unsigned long flags) {
  int r = mount("tss", dir, "tmpfs", flags, data);
  printf("%s: %s\n", what, r == 0 ? "ok" : strerror(errno));
}

static char path[128];
static const char *at(const char *name) { snprintf(path, sizeof path, "%s/%s", dir, name); return path; }

int main(void) {
  snprintf(dir, sizeof dir, "/tmp/cp_tmpfs_size.%d", (int)getpid());
  if (mkdir(dir, 0755) != 0) { perror("mkdir"); return 1; }
  try_mount("mount size=1m,nr_inodes=10,mode=750,uid=5,gid=6", "size=1m,nr_inodes=10,mode=750,uid=5,gid=6", 0);
  show_statfs("fresh");
  show_options("options");
  struct stat st;
  stat(dir, &st);
  printf("root: mode %o uid %d gid %d\n", st.st_mode & 07777, (int)st.st_uid, (int)st.st_gid);

  /* Data: one 2 MiB write fits 1 MiB (short), the next gets ENOSPC. */
  size_t big = 2 << 20;
  char *buf = calloc(1, big);
  memset(buf, 'x', big);
  int fd = open(at("a"), O_CREAT | O_RDWR, 0644);
  ssize_t n = write(fd, buf, big);
  printf("write 2 MiB: %zd\n", n);
  errno = 0;
  n = write(fd, buf, 4096);
  printf("write past the limit: %zd %s\n", n, strerror(errno));
  show_statfs("full");
  /* Sparse growth takes no page; shrinking gives pages back. */
  printf("ftruncate 8 MiB: %d\n", ftruncate(fd, 8 << 20));
  printf("ftruncate 40 KiB: %d\n", ftruncate(fd, 40960));
  close(fd);
  show_statfs("after truncate");

  /* Inodes: the root and a take two of ten. */
  int made = 0;
  for (int i = 0; i < 100; i++) {
    char name[32];
    snprintf(name, sizeof name, "f%d", i);
    int f = open(at(name), O_CREAT | O_WRONLY, 0644);
    if (f < 0) { printf("file %d: %s\n", i, strerror(errno)); break; }
    close(f);
    made++;
  }
  printf("files made: %d\n", made);
  char a[128];
  snprintf(a, sizeof a, "%s/a", dir);
  printf("link: %s\n", link(a, at("a2")) == 0 ? "ok" : strerror(errno));
  printf("mkdir: %s\n", mkdir(at("d"), 0755) == 0 ? "ok" : strerror(errno));
  printf("symlink: %s\n", symlink("a", at("s")) == 0 ? "ok" : strerror(errno));
  unlink(at("f0"));
  printf("link after an unlink: %s\n", link(a, at("a2")) == 0 ? "ok" : strerror(errno));
  show_statfs("inodes used up");
  unlink(at("a2"));
  show_statfs("a link gone");

  /* Remount: limits move, never below what is used; mode is not changed by a remount. */
  try_mount("remount size=4k (10 pages used)", "size=4k", MS_REMOUNT);
  try_mount("remount nr_inodes=5 (10 used)", "nr_inodes=5", MS_REMOUNT);
  try_mount("remount size=2m,nr_inodes=20,mode=700", "size=2m,nr_inodes=20,mode=700", MS_REMOUNT);
  show_statfs("remounted");
  show_options("options");
  stat(dir, &st);
  printf("root after remount: mode %o\n", st.st_mode & 07777);
  fd = open(at("a"), O_RDWR);
  lseek(fd, 0, SEEK_END);
  n = write(fd, buf, big);
  printf("write 2 MiB after remount: %zd\n", n);
  close(fd);
  try_mount("remount bogus option", "bogus", MS_REMOUNT);
  try_mount("remount size=0 (unlimited)", "size=0", MS_REMOUNT);
  show_statfs("unlimited");
  show_options("options");
  try_mount("remount size=1m after unlimited", "size=1m", MS_REMOUNT);
  umount(dir);

  try_mount("mount size=abc", "size=abc", 0);
  try_mount("mount mode=9", "mode=9", 0);
  try_mount("mount bogus", "bogus=1", 0);
  try_mount("mount nr_inodes=1k,size=64K", "nr_inodes=1k,size=64K", 0);
  show_statfs("1k inodes, 64K");
  show_options("options");
  umount(dir);
  try_mount("mount size=50%", "size=50%", 0);
  struct statfs sf;
  struct sysinfo si;
  statfs(dir, &sf);
  sysinfo(&si);
  unsigned long long pages = (unsigned long long)si.totalram * si.mem_unit / 4096;
  printf("size=50%% is half the RAM: %s\n", sf.f_blocks == (50 * pages + 99) / 100 ? "yes" : "no");
  printf("default nr_inodes is half the RAM's pages: %s\n", sf.f_files == pages / 2 ? "yes" : "no");
  show_options("options");
  umount(dir);
  try_mount("mount ro,size=8k", "ro,size=8k", 0);
  printf("create on ro: %s\n", open(at("x"), O_CREAT | O_WRONLY, 0644) < 0 ? strerror(errno) : "ok");
  umount(dir);
  rmdir(dir);
  printf("done\n");
  return 0;
}
