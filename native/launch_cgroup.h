// The stubs' memory cgroup of a `run --memory` whose Sentry the front puts in a user
// namespace of its own (sentry_launch.cc). Only the host's root may make a cgroup under
// /sys/fs/cgroup, and the Sentry is unprivileged outside then, so the front makes it before the
// namespace and delegates what the Sentry must write to it, as systemd delegates a
// subtree: the files are chowned to the Sentry's host uid and the Sentry opens them itself.
// It must open cgroup.procs itself: the kernel checks a move with the credentials the file
// was opened with, and a root-opened fd would let a Sentry taken over move any host
// process into its cgroup (then starve it: OOM). Opened as the Sentry's own uid, cgroup
// v1 moves only processes of that uid (the stubs). Sentry side: src/mm/memory-limit.ts.
//
// cgroup v1 only (the memory controller mounted at /sys/fs/cgroup/memory). On v2 a move
// needs write access to the cgroup.procs of the common ancestor of the two cgroups, so
// the Sentry itself would have to sit inside the delegated subtree (see SECURITY.md):
// there, and whenever anything here fails, the run keeps the old path.
//
// The cgroup is removed when the Sentry is gone by a reaper the front forks before the
// namespace: it stays outside as the invoking user, holds a pidfd of the Sentry and
// nothing else, waits for it to exit, then removes the (by then empty) directory. It
// reads no input the Sentry could forge and kills nothing; no capabilities, and a
// seccomp filter of the few calls that takes.
#pragma once
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include "keep_caps.h"
#include "seccomp_bpf.h"

namespace tss_launch {

constexpr const char* kCgroupV1 = "/sys/fs/cgroup/memory";
constexpr const char* kCgroupPrefix = "tssandbox-";  // as src/mm/memory-limit.ts names them

// The memory controller's v1 directory this process is in (from /proc/self/cgroup), in out.
inline bool OwnMemoryCgroupV1(char* out, size_t cap) {
  FILE* f = fopen("/proc/self/cgroup", "re");
  if (!f) return false;
  char line[4096];
  bool found = false;
  while (!found && fgets(line, sizeof line, f)) {
    // "N:ctrl,ctrl:/path\n"
    char* a = strchr(line, ':');
    char* b = a ? strchr(a + 1, ':') : nullptr;
    if (!b) continue;
    *b = 0;
    char* nl = strchr(b + 1, '\n');
    if (nl) *nl = 0;
    for (char* c = strtok(a + 1, ","); c && !found; c = strtok(nullptr, ","))
      if (strcmp(c, "memory") == 0) found = snprintf(out, cap, "%s%s", kCgroupV1, strcmp(b + 1, "/") == 0 ? "" : b + 1) < (int)cap;
  }
  fclose(f);
  return found;
}

// Removes the empty cgroups of earlier sandboxes whose Sentry is gone (as the old path's
// sweepStale does; a reaper that gave up leaves one).
inline void SweepStaleCgroups(const char* parent, pid_t self) {
  DIR* d = opendir(parent);
  if (!d) return;
  while (struct dirent* e = readdir(d)) {
    if (strncmp(e->d_name, kCgroupPrefix, strlen(kCgroupPrefix)) != 0) continue;
    char* end;
    long pid = strtol(e->d_name + strlen(kCgroupPrefix), &end, 10);
    if (*end || pid <= 0 || pid == self || kill((pid_t)pid, 0) == 0 || errno != ESRCH) continue;
    char p[4200];
    if (snprintf(p, sizeof p, "%s/%s", parent, e->d_name) < (int)sizeof p) rmdir(p);
  }
  closedir(d);
}

// Makes PARENT/tssandbox-<sentry> and hands the files the Sentry writes (the member list
// and the limits) to uid:gid. dir gets its path. False: the old path.
inline bool MakeMemoryCgroup(pid_t sentry, uid_t uid, gid_t gid, char* dir, size_t cap) {
  char parent[4096], f[4200];
  if (!OwnMemoryCgroupV1(parent, sizeof parent)) return false;
  if (snprintf(f, sizeof f, "%s/memory.limit_in_bytes", parent) >= (int)sizeof f || access(f, F_OK) != 0) return false;
  SweepStaleCgroups(parent, sentry);
  if (snprintf(dir, cap, "%s/%s%d", parent, kCgroupPrefix, (int)sentry) >= (int)cap) return false;
  if (mkdir(dir, 0755) != 0 && errno != EEXIST) return false;
  // memsw exists only with swap accounting; the rest must be there.
  static const struct { const char* name; bool optional; } files[] = {
      {"cgroup.procs", false}, {"memory.limit_in_bytes", false}, {"memory.memsw.limit_in_bytes", true}};
  for (const auto& x : files) {
    if (snprintf(f, sizeof f, "%s/%s", dir, x.name) >= (int)sizeof f) return rmdir(dir), false;
    if (chown(f, uid, gid) != 0 && !(x.optional && errno == ENOENT)) return rmdir(dir), false;
  }
  return true;
}

// Forks the reaper of `dir` (see above). False: none (the caller removes dir and keeps
// the old path).
inline bool StartCgroupReaper(pid_t sentry, const char* dir) {
  pid_t pid = fork();
  if (pid < 0) return false;
  if (pid > 0) return true;
  int pidfd = (int)syscall(SYS_pidfd_open, sentry, 0);
  if (pidfd < 0 || getppid() != sentry) _exit(1);
  // Its own session (a ^C to the sandbox's process group is not for it), no fd of the
  // run's (a test reading the Sentry's stdout must not wait for it), no capability.
  setsid();
  prctl(PR_SET_NAME, "tss-cg-reaper");
  if (dup2(pidfd, 3) != 3) _exit(1);
  syscall(SYS_close_range, 4, ~0U, 0);
  int null = open("/dev/null", O_RDWR | O_CLOEXEC);
  for (int i = 0; i < 3; i++) dup2(null, i);
  if (null > 3) close(null);
  tss::KeepOnlyCaps(0);  // the parent is its own: rmdir needs no capability
  // Its whole job, and nothing else (anything more kills it).
  static struct sock_filter filt[32];
  tss::BpfProg f(filt, 32);
  f.Prologue();
  static const int allow[] = {SYS_poll, SYS_ppoll, SYS_rmdir, SYS_nanosleep, SYS_clock_nanosleep,
                              SYS_restart_syscall, SYS_exit, SYS_exit_group};
  for (int nr : allow) f.Rule((uint32_t)nr, SECCOMP_RET_ALLOW);
  f.Ret(SECCOMP_RET_KILL_PROCESS);
  struct sock_fprog prog = {(unsigned short)f.n, filt};
  if (f.overflow || prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 || syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) != 0) _exit(1);
  struct pollfd p = {3, POLLIN, 0};
  while (poll(&p, 1, -1) < 0 && errno == EINTR) {
  }
  // The stubs die with the Sentry (PTRACE_O_EXITKILL, PDEATHSIG) and leave the cgroup as
  // they go: a bounded wait for it to be empty, as the old path's reaper.
  for (int i = 0; i < 100; i++) {
    if (rmdir(dir) == 0 || errno == ENOENT) _exit(0);
    struct timespec ts = {0, 100 * 1000 * 1000};
    nanosleep(&ts, nullptr);
  }
  _exit(1);
}

}  // namespace tss_launch
