// `delete` removes the container's host cgroup itself, as runc does, before it returns
// (the native entry, oci_fast.c, and the Node side through oci_cgroup.cc share this).
// The cgroup's reaper (launch_cgroup.h, outside the cgroup) would remove it only up to
// ~100 ms after the Sentry's exit, so delete ends it first (by pid and start time, as
// state.json recorded them), then ends every task left in the cgroup (the Gofer, dying
// stubs) and removes the directories, waiting (bounded) until each is gone.
// Plain C, for the C entry and the C++ addon alike.
#pragma once
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/vfs.h>
#include <unistd.h>

static inline int ociReadText(const char *path, char *buf, size_t cap) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  size_t got = 0;
  for (;;) {
    ssize_t r = read(fd, buf + got, cap - 1 - got);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    got += (size_t)r;
    if (got == cap - 1) break;
  }
  close(fd);
  buf[got] = 0;
  return (int)got;
}

// The start time field of /proc/PID/stat, "" for no such process (or a zombie).
static inline void ociProcStart(long pid, char *out, size_t cap) {
  out[0] = 0;
  if (pid <= 0) return;
  char path[64], buf[4096];
  snprintf(path, sizeof path, "/proc/%ld/stat", pid);
  if (ociReadText(path, buf, sizeof buf) <= 0) return;
  char *p = strrchr(buf, ')');
  if (p == NULL || p[1] == 0 || p[2] == 'Z' || p[2] == 'X') return;
  p += 2;
  for (int field = 0; field < 19 && p; field++) {  // state is field 3; starttime is 22
    p = strchr(p, ' ');
    if (p) p++;
  }
  if (p == NULL) return;
  size_t i = 0;
  while (p[i] && p[i] != ' ' && i + 1 < cap) {
    out[i] = p[i];
    i++;
  }
  out[i] = 0;
}

static inline void ociPause(long ms) {
  struct timespec ts = {0, ms * 1000 * 1000};
  nanosleep(&ts, NULL);
}

// Ends the processes of "PID:START,PID:START" still alive as those (a reused pid is not
// touched), and waits until they are gone. 0, or -1 when one outlived the wait.
static inline int ociEndProcesses(const char *list) {
  long pids[8];
  char starts[8][32];
  int n = 0;
  for (const char *p = list; p && *p && n < 8;) {
    char *end;
    long pid = strtol(p, &end, 10);
    if (*end != ':') break;
    const char *s = end + 1;
    size_t k = strcspn(s, ",");
    if (k == 0 || k >= sizeof starts[0]) break;
    pids[n] = pid;
    memcpy(starts[n], s, k);
    starts[n][k] = 0;
    char now[32];
    ociProcStart(pid, now, sizeof now);
    if (pid > 0 && !strcmp(now, starts[n])) {
      kill((pid_t)pid, SIGKILL);
      n++;
    }
    p = s[k] ? s + k + 1 : s + k;
  }
  for (int i = 0; i < n; i++) {
    char now[32];
    for (int t = 0; t < 5000; t++) {
      ociProcStart(pids[i], now, sizeof now);
      if (strcmp(now, starts[i]) != 0) break;
      ociPause(1);
    }
    if (!strcmp(now, starts[i])) return -1;
  }
  return 0;
}

// A directory on a cgroup filesystem (v1 or v2, statfs magic), not reached through a link
// at its last step: delete kills what its cgroup.procs lists, so a path in state.json
// never makes it read a pid list from anywhere else. Its fd, or -errno.
static inline int ociCgroupDirFd(const char *dir) {
  int fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return -errno;
  struct statfs sf;
  if (fstatfs(fd, &sf) != 0 || (sf.f_type != 0x27e0eb && sf.f_type != 0x63677270)) {
    close(fd);
    return -EXDEV;
  }
  return fd;
}

// Removes one cgroup directory: every task still in it SIGKILLed (the Sentry is gone: what
// is left is its Gofer and dying stubs), then rmdir until it succeeds (a task leaves its
// cgroup at its exit; rmdir is refused until the last has). 0, or -errno.
static inline int ociRemoveCgroupDir(const char *dir) {
  if (!dir || !*dir) return 0;
  char buf[8192];
  int dfd = ociCgroupDirFd(dir);
  if (dfd == -ENOENT) return 0;
  if (dfd < 0) return dfd;
  for (int t = 0; t < 10000; t++) {
    if (rmdir(dir) == 0 || errno == ENOENT) return close(dfd), 0;
    if (errno != EBUSY) {
      int e = errno;
      close(dfd);
      return -e;
    }
    int pfd = openat(dfd, "cgroup.procs", O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    ssize_t got = pfd < 0 ? -1 : read(pfd, buf, sizeof buf - 1);
    if (pfd >= 0) close(pfd);
    if (got > 0) {
      buf[got] = 0;
      for (char *p = buf; *p;) {
        char *end;
        long pid = strtol(p, &end, 10);
        if (end == p) break;
        if (pid > 0) kill((pid_t)pid, SIGKILL);
        p = end;
      }
    }
    ociPause(1);
  }
  close(dfd);
  return -EBUSY;
}

// The whole host cgroup of a deleted container: its reapers ended, then its directories
// (v1: memory, pids, cpu; v2: one) removed. 0, or -errno of the first that failed.
static inline int ociRemoveSandboxCgroup(const char *const *dirs, int n, const char *reapers) {
  int rc = ociEndProcesses(reapers) < 0 ? -EBUSY : 0;
  for (int i = 0; i < n; i++) {
    int already = 0;
    for (int j = 0; j < i; j++) already |= dirs[j] && dirs[i] && !strcmp(dirs[j], dirs[i]);
    int r = already ? 0 : ociRemoveCgroupDir(dirs[i]);
    if (r < 0 && rc == 0) rc = r;
  }
  return rc;
}
