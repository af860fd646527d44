// The sandbox's cgroup of a `run --memory SIZE` / `--pids-limit N` (and `--policy`, whose
// limits the Sentry reads): the front (sentry_launch.cc) makes a leaf for this sandbox,
// sets its limits itself and moves itself into it before it forks the gofer-to-be and
// execs Node, so the Sentry, the Gofer, the stubs and the broker are all inside and all
// charged: a guest (or a Sentry taken over) that allocates past the limit is OOM-killed
// there, a fork bomb stops at pids.max, and nothing outside is touched.
//
// Where: cgroup v2 when the memory and pids controllers are there (pure v2, or a hybrid
// host whose unified hierarchy has them): a sibling leaf P/tssandbox-<pid> of the front's
// own cgroup P/C (a non-root v2 cgroup with processes may not enable controllers for
// children, so the leaf sits beside it; P must enable memory and pids for its children:
// root's hierarchy, or a subtree delegated to the invoking user, e.g. systemd's
// Delegate=yes). Else cgroup v1: <own memory cgroup>/tssandbox-<pid> and <own pids
// cgroup>/tssandbox-<pid>. Anything failing: one line on stderr and no host cgroup (the
// Sentry's own counts still apply), never a failed run.
//
// Nothing is delegated to the Sentry's host uid for --memory/--pids-limit: the limits
// are the front's (a Sentry taken over cannot raise them), the directory and its member
// list are the invoking user's (it can neither move a host process in nor itself out,
// nor make a sub-cgroup), and its children inherit the cgroup, so no move is needed.
// Only for --policy (a memory limit the front cannot know) is the memory limit file
// handed to it; a policy's task limit is bounded by the default pids.max (2 x 16384 + 64).
//
// The cgroup is removed when the Sentry is gone by a reaper the front forks before it
// joins (so the reaper stays outside, as the invoking user): it holds a pidfd of the
// Sentry and nothing else, waits for it to exit, then removes the directories once the
// dying stubs and the gofer have left them. It reads no input the Sentry could forge and
// kills nothing; no capability but CAP_DAC_OVERRIDE as root (see there), and a seccomp
// filter of the few calls that takes.
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
#include <sys/vfs.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include "keep_caps.h"
#include "seccomp_bpf.h"

namespace tss_launch {

constexpr const char* kCgroupPrefix = "tssandbox-";  // as src/mm/memory-limit.ts names them
constexpr long kCgroupMagic = 0x27e0eb;      // CGROUP_SUPER_MAGIC (v1)
constexpr long kCgroup2Magic = 0x63677270;   // CGROUP2_SUPER_MAGIC
// What the Sentry (Node: heap, code, ~12 threads), the Gofer and the broker take beside
// the guest: added to the guest's limits (src/mm/memory-limit.ts SENTRY_RESERVE agrees).
constexpr long long kSentryMemReserve = 128ll << 20;
constexpr long long kSentryPidsReserve = 64;
// Host tasks per guest task at most: systrap runs each address space as one more host
// task beside its threads' (ptrace: one per guest thread).
constexpr long long kHostTasksPerGuestTask = 2;
constexpr long long kDefaultPids = 16384;  // src/cli/args.ts pidsLimit's default

// What the command line asks of the host (launch_flags.h fills it): -1 for unset.
struct SandboxLimits {
  long long memory = -1;  // --memory's bytes (the smallest, as src/cli/args.ts takes)
  long long pids = -1;    // --pids-limit (the last)
  bool policy = false;    // --policy FILE: limits the Sentry reads (its limit files are delegated)
  const char* image = nullptr;  // restore's image: the limits are its run's (launch_image.h)
  bool Any() const { return memory >= 0 || pids >= 0 || policy; }
};

// The host cgroup made for the sandbox: v2, one directory; v1, the memory and the pids one
// (and the cpu one of an OCI container, oci_cgroup.cc: "" for `run`).
struct SandboxCgroup {
  bool v2 = false;
  char mem[4200] = "";
  char pids[4200] = "";
  char cpu[4200] = "";
};

// The cgroup limit on memory of a guest limit (src/mm/memory-limit.ts backstop plus the
// Sentry's reserve): above the guest's, so the Sentry's own count decides first.
inline long long HostMemoryLimit(long long limit) {
  long long l = limit < (1ll << 20) ? (1ll << 20) : limit;
  long long q = limit / 4 > (32ll << 20) ? limit / 4 : (32ll << 20);
  return l + q + kSentryMemReserve;
}

// pids.max: the guest's task limit in host tasks, and the Sentry's own.
inline long long HostPidsLimit(const SandboxLimits& lim) {
  return (lim.pids >= 0 ? lim.pids : kDefaultPids) * kHostTasksPerGuestTask + kSentryPidsReserve;
}

// The path of this process's cgroup for controller `ctrl` (v1; nullptr: the v2 line
// "0::"), from /proc/self/cgroup, into out.
inline bool OwnCgroup(const char* ctrl, char* out, size_t cap) {
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
    if (!ctrl) {
      found = a == line + 1 && line[0] == '0' && a[1] == 0 && snprintf(out, cap, "%s", b + 1) < (int)cap;
      continue;
    }
    for (char* c = strtok(a + 1, ","); c && !found; c = strtok(nullptr, ","))
      if (strcmp(c, ctrl) == 0) found = snprintf(out, cap, "%s", b + 1) < (int)cap;
  }
  fclose(f);
  return found;
}

// Writes DIR/NAME, which must be a cgroup filesystem's file (v1 or v2, by statfs magic),
// reached without following a link at its last step: a path recorded in a state file or
// a directory swapped for a link never turns a limit's write into a write elsewhere.
inline bool WriteText(const char* dir, const char* name, const char* text) {
  char p[4300];
  if (snprintf(p, sizeof p, "%s/%s", dir, name) >= (int)sizeof p) return errno = ENAMETOOLONG, false;
  int fd = open(p, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return false;
  struct statfs sf;
  if (fstatfs(fd, &sf) != 0 || (sf.f_type != kCgroupMagic && sf.f_type != kCgroup2Magic)) {
    close(fd);
    errno = EXDEV;
    return false;
  }
  bool ok = write(fd, text, strlen(text)) == (ssize_t)strlen(text);
  int e = errno;
  close(fd);
  errno = e;
  return ok;
}

// Does the file DIR/NAME hold the word w (a controller list)?
inline bool HasWord(const char* dir, const char* name, const char* w) {
  char p[4300], buf[1024];
  if (snprintf(p, sizeof p, "%s/%s", dir, name) >= (int)sizeof p) return false;
  int fd = open(p, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return false;
  buf[n] = 0;
  for (char* t = strtok(buf, " \n"); t; t = strtok(nullptr, " \n"))
    if (strcmp(t, w) == 0) return true;
  return false;
}

// Removes the empty cgroups of earlier sandboxes whose Sentry is gone (a reaper that gave
// up leaves one; the old path's sweepStale does the same).
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

// PARENT/tssandbox-<sentry> made (a leftover of the same name reused), into dir.
inline bool MakeLeaf(const char* parent, pid_t sentry, char* dir, size_t cap) {
  SweepStaleCgroups(parent, sentry);
  if (snprintf(dir, cap, "%s/%s%d", parent, kCgroupPrefix, (int)sentry) >= (int)cap) return errno = ENAMETOOLONG, false;
  return mkdir(dir, 0755) == 0 || errno == EEXIST;
}

// A --policy's limit files handed to the Sentry's uid (the Sentry writes its limit).
inline bool Delegate(const char* dir, const char* const* names, uid_t uid, gid_t gid) {
  char f[4300];
  for (int i = 0; names[i]; i++) {
    if (snprintf(f, sizeof f, "%s/%s", dir, names[i]) >= (int)sizeof f) return false;
    if (chown(f, uid, gid) != 0 && errno != ENOENT) return false;  // memsw/swap exist only with swap accounting
  }
  return true;
}

// The v2 leaf, if the unified hierarchy has both controllers for it. *tried: it does
// (a failure after that is reported as v2's).
inline bool MakeV2(pid_t sentry, const SandboxLimits& lim, uid_t uid, gid_t gid, SandboxCgroup* cg, bool* tried,
                   const char** step) {
  *tried = false;
  char own[4096], parent[4300];
  const char* mnt = access("/sys/fs/cgroup/cgroup.controllers", F_OK) == 0 ? "/sys/fs/cgroup" : "/sys/fs/cgroup/unified";
  if (!OwnCgroup(nullptr, own, sizeof own)) return false;
  char* slash = strrchr(own, '/');
  if (slash && slash != own) *slash = 0;  // P of P/C; the root's children sit in the root
  else own[0] = 0;
  if (snprintf(parent, sizeof parent, "%s%s", mnt, own) >= (int)sizeof parent) return false;
  if (!HasWord(parent, "cgroup.subtree_control", "memory") || !HasWord(parent, "cgroup.subtree_control", "pids")) return false;
  *tried = true;
  cg->v2 = true;
  *step = "mkdir";
  if (!MakeLeaf(parent, sentry, cg->mem, sizeof cg->mem)) return false;
  snprintf(cg->pids, sizeof cg->pids, "%s", cg->mem);
  char v[32];
  *step = "memory.max";
  if (lim.memory >= 0) {
    snprintf(v, sizeof v, "%lld", HostMemoryLimit(lim.memory));
    if (!WriteText(cg->mem, "memory.max", v)) return false;
    WriteText(cg->mem, "memory.swap.max", "0");  // no swap accounting: nothing to bound
  }
  *step = "pids.max";
  snprintf(v, sizeof v, "%lld", HostPidsLimit(lim));
  if (!WriteText(cg->pids, "pids.max", v)) return false;
  static const char* const del[] = {"memory.max", "memory.swap.max", nullptr};
  *step = "chown";
  return !lim.policy || Delegate(cg->mem, del, uid, gid);
}

inline bool MakeV1(pid_t sentry, const SandboxLimits& lim, uid_t uid, gid_t gid, SandboxCgroup* cg, const char** step) {
  char own[4096], parent[4300];
  *step = "no memory/pids controller";
  if (!OwnCgroup("memory", own, sizeof own)) return errno = 0, false;
  snprintf(parent, sizeof parent, "/sys/fs/cgroup/memory%s", strcmp(own, "/") == 0 ? "" : own);
  if (access(parent, F_OK) != 0) return errno = 0, false;
  *step = "mkdir";
  if (!MakeLeaf(parent, sentry, cg->mem, sizeof cg->mem)) return false;
  char v[32];
  if (lim.memory >= 0) {
    // v1 wants memsw >= limit at every step: the limit first (memsw starts unlimited).
    snprintf(v, sizeof v, "%lld", HostMemoryLimit(lim.memory));
    *step = "memory.limit_in_bytes";
    if (!WriteText(cg->mem, "memory.limit_in_bytes", v)) return false;
    if (!WriteText(cg->mem, "memory.memsw.limit_in_bytes", v) && errno != ENOENT) return false;
  }
  static const char* const delMem[] = {"memory.limit_in_bytes", "memory.memsw.limit_in_bytes", nullptr};
  *step = "chown";
  if (lim.policy && !Delegate(cg->mem, delMem, uid, gid)) return false;
  *step = "no pids controller";
  if (!OwnCgroup("pids", own, sizeof own)) return errno = 0, false;
  snprintf(parent, sizeof parent, "/sys/fs/cgroup/pids%s", strcmp(own, "/") == 0 ? "" : own);
  *step = "mkdir";
  if (!MakeLeaf(parent, sentry, cg->pids, sizeof cg->pids)) return false;
  snprintf(v, sizeof v, "%lld", HostPidsLimit(lim));
  *step = "pids.max";
  return WriteText(cg->pids, "pids.max", v);
}

inline void RemoveCgroup(SandboxCgroup* cg) {
  if (cg->cpu[0] && strcmp(cg->cpu, cg->mem) != 0) rmdir(cg->cpu);
  if (cg->pids[0] && strcmp(cg->pids, cg->mem) != 0) rmdir(cg->pids);
  if (cg->mem[0]) rmdir(cg->mem);
  cg->mem[0] = cg->pids[0] = cg->cpu[0] = 0;
}

// Makes the sandbox's cgroup and sets its limits (not joined yet). False: none (cg
// emptied), *why says which step failed and how, in a few words.
inline bool MakeSandboxCgroup(pid_t sentry, const SandboxLimits& lim, uid_t uid, gid_t gid, SandboxCgroup* cg,
                              char* why, size_t cap) {
  const char* step = "";
  bool tried;
  bool ok = MakeV2(sentry, lim, uid, gid, cg, &tried, &step);
  if (!tried) {
    cg->v2 = false;
    ok = MakeV1(sentry, lim, uid, gid, cg, &step);
  }
  if (ok) return true;
  int e = errno;
  snprintf(why, cap, "cgroup %s %s%s%s", cg->v2 ? "v2" : "v1", step, e ? ": " : "", e ? strerror(e) : "");
  RemoveCgroup(cg);
  return false;
}

// Moves this process into the cgroup (its later children inherit it).
inline bool JoinCgroup(const SandboxCgroup& cg) {
  char pid[24];
  snprintf(pid, sizeof pid, "%d", (int)getpid());
  if (!WriteText(cg.mem, "cgroup.procs", pid)) return false;
  return strcmp(cg.pids, cg.mem) == 0 || WriteText(cg.pids, "cgroup.procs", pid);
}

// Forks the reaper of the cgroup (see above), before the front joins it. False: none
// (the caller removes the cgroup). *reaper: its pid (OCI's delete ends it, oci_cgroup_rm.h).
inline bool StartCgroupReaper(pid_t sentry, const SandboxCgroup& cg, pid_t* reaper = nullptr) {
  pid_t pid = fork();
  if (pid < 0) return false;
  if (pid > 0) {
    if (reaper) *reaper = pid;
    return true;
  }
  int pidfd = (int)syscall(SYS_pidfd_open, sentry, 0);
  if (pidfd < 0 || getppid() != sentry) _exit(1);
  // Its own session (a ^C to the sandbox's process group is not for it), no fd of the
  // run's (a test reading the Sentry's stdout must not wait for it), no capability.
  setsid();
  prctl(PR_SET_NAME, "tss-cg-reaper");
  if (!tss::KeepOnlyFd(pidfd)) _exit(1);
  // rmdir needs write access to the parents: the invoking user's own, but a v1
  // hierarchy's root is mode 0555 (root may write there only with CAP_DAC_OVERRIDE).
  tss::KeepOnlyCaps(geteuid() == 0 ? 1ull << CAP_DAC_OVERRIDE : 0);
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
  // The stubs die with the Sentry (PTRACE_O_EXITKILL, PDEATHSIG), the gofer on its
  // socket's EOF, and they leave the cgroup as they go: a bounded wait for it to empty.
  const bool two = strcmp(cg.pids, cg.mem) != 0;
  const bool cpu = cg.cpu[0] && strcmp(cg.cpu, cg.mem) != 0;
  bool memGone = false, pidsGone = !two, cpuGone = !cpu;
  for (int i = 0; i < 100; i++) {
    if (!memGone) memGone = rmdir(cg.mem) == 0 || errno == ENOENT;
    if (!pidsGone) pidsGone = rmdir(cg.pids) == 0 || errno == ENOENT;
    if (!cpuGone) cpuGone = rmdir(cg.cpu) == 0 || errno == ENOENT;
    if (memGone && pidsGone && cpuGone) _exit(0);
    struct timespec ts = {0, 100 * 1000 * 1000};
    nanosleep(&ts, nullptr);
  }
  _exit(1);
}

}  // namespace tss_launch
