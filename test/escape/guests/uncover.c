/*
 * Tries to uncover what lies under the sandbox's own /proc and /sys: unmounting them
 * (MNT_DETACH), moving them away, binding / elsewhere without its submounts, then
 * looks for the host's own /proc and /sys where they would show: the environ of host
 * processes (the test put argv[1] in the Sentry's host environment, never in the
 * guest's), /proc/kallsyms, /sys/kernel/notes, /sys/module. One line per step.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *marker;

static const char *err(int r) { return r == 0 ? "ok" : strerrorname_np(errno); }

static const char *present(const char *prefix, const char *p) {
  char path[512];
  snprintf(path, sizeof path, "%s%s", prefix, p);
  return access(path, F_OK) == 0 ? "present" : "-";
}

static void scan(const char *prefix) {
  char path[512];
  int leaks = 0;
  snprintf(path, sizeof path, "%s/proc", prefix);
  DIR *d = opendir(path);
  for (struct dirent *e; d && (e = readdir(d));) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
    snprintf(path, sizeof path, "%s/proc/%s/environ", prefix, e->d_name);
    int fd = open(path, O_RDONLY);
    if (fd < 0) continue;
    static char buf[1 << 16];
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0) continue;
    for (ssize_t i = 0; i < n; i++)
      if (buf[i] == 0) buf[i] = '\n';
    buf[n] = 0;
    if (strstr(buf, marker)) leaks++;
  }
  if (d) closedir(d);
  char name[64] = "-";
  snprintf(path, sizeof path, "%s/proc/self/status", prefix);
  FILE *f = fopen(path, "r");
  if (f) {
    char line[256];
    while (fgets(line, sizeof line, f))
      if (sscanf(line, "Name: %63s", name) == 1) break;
    fclose(f);
  }
  printf("%s: leaks=%d kallsyms=%s notes=%s module=%s status=%s\n", *prefix ? prefix : "/", leaks,
         present(prefix, "/proc/kallsyms"), present(prefix, "/sys/kernel/notes"), present(prefix, "/sys/module"), name);
}

int main(int argc, char **argv) {
  marker = argc > 1 ? argv[1] : "no-marker";
  if (getenv(marker)) printf("marker in the guest environment\n");
  printf("umount /proc: %s\n", err(umount2("/proc", MNT_DETACH)));
  printf("umount /sys: %s\n", err(umount2("/sys", MNT_DETACH)));
  scan("");
  mkdir("/mnt", 0755);
  mkdir("/mnt/root", 0755);
  printf("bind / /mnt/root: %s\n", err(mount("/", "/mnt/root", NULL, MS_BIND, NULL)));
  scan("/mnt/root");
  mkdir("/mnt/rroot", 0755);
  printf("rbind / /mnt/rroot: %s\n", err(mount("/", "/mnt/rroot", NULL, MS_BIND | MS_REC, NULL)));
  scan("/mnt/rroot");
  /* The copies are locked as their originals are. */
  printf("umount /mnt/rroot/proc: %s\n", err(umount2("/mnt/rroot/proc", MNT_DETACH)));
  mkdir("/mnt/rmoved", 0755);
  printf("move /mnt/rroot/proc: %s\n", err(mount("/mnt/rroot/proc", "/mnt/rmoved", NULL, MS_MOVE, NULL)));
  mkdir("/mnt/rroot2", 0755);
  printf("bind /mnt/rroot: %s\n", err(mount("/mnt/rroot", "/mnt/rroot2", NULL, MS_BIND, NULL)));
  scan("/mnt/rroot2");
  /* The whole copy may go at once: nothing it covered shows. */
  printf("umount /mnt/rroot: %s\n", err(umount2("/mnt/rroot", MNT_DETACH)));
  scan("/mnt/rroot");
  mkdir("/mnt/moved", 0755);
  printf("move /proc: %s\n", err(mount("/proc", "/mnt/moved", NULL, MS_MOVE, NULL)));
  scan("");
  mkdir("/mnt/dev", 0755);
  printf("bind /dev: %s\n", err(mount("/dev", "/mnt/dev", NULL, MS_BIND, NULL)));
  return 0;
}
