// The ptrace platform's template stub: forked from Node into its own namespaces,
// traced, exec'd, and its image made read-only (SpawnStub); the stubs' fd socket pair.
#include "ptrace_internal.h"
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>

namespace tss {

pid_t g_pgid = 0;
int g_stubSock = -1;
int g_stubPeer = -1;

// Does the Sentry have CAP_SYS_PTRACE (it then reads non-dumpable stubs' memory)?
static bool HaveCapSysPtrace() {
  struct {
    uint32_t version;
    int pid;
  } hdr = {0x20080522 /* _LINUX_CAPABILITY_VERSION_3 */, 0};
  struct {
    uint32_t effective, permitted, inheritable;
  } data[2] = {};
  if (syscall(SYS_capget, &hdr, data) != 0) return false;
  return (data[0].effective >> 19 /* CAP_SYS_PTRACE */) & 1;
}

// fork() of the stub, in a new pid namespace (and a new user namespace, without which
// an unprivileged Sentry cannot make one) where the host allows it: the template stub
// is that namespace's init, and every other stub (forked from it or from each other)
// lives in it, so no stub sees a host pid. The template never runs (it stays stopped
// in its int3), so the namespace's init never dies before the sandbox ends. Only raw
// syscalls follow in the child, so a raw clone (no atfork handlers) is safe here.
static pid_t ForkStub(int* nsFlags) {
  const int tries[] = {CLONE_NEWUSER | CLONE_NEWPID, CLONE_NEWPID};
  for (int f : tries) {
    long pid = syscall(SYS_clone, (long)(SIGCHLD | f), 0L, 0L, 0L, 0L);
    if (pid >= 0) {
      *nsFlags = f;
      return (pid_t)pid;
    }
  }
  *nsFlags = 0;
  return fork();
}

static void CloseStubSocketPair() {
  if (g_stubSock >= 0) close(g_stubSock);
  if (g_stubPeer >= 0) close(g_stubPeer);
  g_stubSock = g_stubPeer = -1;
}

// closeStubSocket(): the stubs' socket pair closed once its stubs are gone (the OCI pool's
// warm-up, src/oci/warm-guest.ts), so that neither it nor the next SpawnStub closes it again.
static Napi::Value CloseStubSocket(const Napi::CallbackInfo& info) {
  CloseStubSocketPair();
  return info.Env().Undefined();
}

// Starts the template stub: forked from Node (only raw syscalls in the child), traced,
// in a new session, new namespaces where permitted, no fds, no core dumps, then
// exec'd; it installs its own seccomp filter and stops. Everything but the stub image
// is then unmapped and the image's writable pages made read-only.
static Napi::Value SpawnStub(const Napi::CallbackInfo& info) {
  std::string path = info[0].As<Napi::String>().Utf8Value();
  // systrap (src/platform/systrap.ts): the stub traps instead of stopping, and keeps
  // the Sentry's doorbell eventfd at ST_EVENTFD (native/stub/systrap_abi.h).
  bool systrap = info.Length() > 1 && info[1].IsString() && info[1].As<Napi::String>().Utf8Value() == "systrap";
  int doorbell = systrap && info.Length() > 2 ? info[2].As<Napi::Number>().Int32Value() : -1;
  // Deterministic mode: RDTSC/RDTSCP fault (cheap), and CPUID faults (costly on a nested
  // VM: the CPUID-faulting MSR is rewritten at every switch to and from the stub).
  const bool trapTsc = info.Length() > 3 && info[3].IsBoolean() && info[3].As<Napi::Boolean>().Value();
  const bool trapCpuid = info.Length() > 4 && info[4].IsBoolean() && info[4].As<Napi::Boolean>().Value();
  int exe = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (exe < 0) return Num(info.Env(), -errno);
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sv) != 0) {
    int e = errno;
    close(exe);
    return Num(info.Env(), -e);
  }
  bool capPtrace = HaveCapSysPtrace();
  int nsFlags = 0;
  pid_t pid = ForkStub(&nsFlags);
  if (pid < 0) {
    int e = errno;
    close(exe);
    close(sv[0]);
    close(sv[1]);
    return Num(info.Env(), -e);
  }
  if (pid == 0) {
    setsid();
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    const int rest = CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWNS | CLONE_NEWCGROUP;
    bool userNs = (nsFlags & CLONE_NEWUSER) != 0;
    if (userNs) {
      if (unshare(rest) != 0) unshare(CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWNS);
    } else if (unshare(CLONE_NEWUSER | rest) == 0) {
      userNs = true;
    } else {
      unshare(CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWNS);
    }
    // No core file of guest memory, ever (the stub also makes itself non-dumpable,
    // which stops core helpers too, unless the Sentry could then not read it).
    struct rlimit noCore = {0, 0};
    if (setrlimit(RLIMIT_CORE, &noCore) != 0) _exit(123);
    // In the sandbox's memory cgroup (native/launch_cgroup.h) the OOM killer takes a
    // stub (guest memory) before the Sentry or the gofer: raising needs no privilege.
    int adj = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
    if (adj >= 0) {
      if (write(adj, "1000", 4) != 4) {
      }
      close(adj);
    }
    // A non-dumpable stub stays fully traceable by the Sentry: requests on an attached
    // tracee are not checked again, and process_vm_readv/writev and /proc/<pid>/maps
    // (ptrace_may_access) pass a non-dumpable target for a caller with CAP_SYS_PTRACE
    // in the target mm's user namespace, which the Sentry has as that namespace's
    // owner (or as root). Without either, non-dumpable would lock the Sentry out.
    bool keepDumpable = !userNs && !capPtrace;
    ResetSignalsInChild();
    if (syscall(SYS_ptrace, PTRACE_TRACEME, 0, 0, 0) != 0) _exit(125);
    // Keep exactly one fd: the socket, at kStubSockFd. The exe fd is close-on-exec.
    if (dup2(sv[1], kStubSockFd) != kStubSockFd) _exit(124);
    int keepHi = kStubSockFd;
    if (doorbell >= 0) {
      if (dup2(doorbell, kStubSockFd + 1) != kStubSockFd + 1) _exit(124);
      keepHi = kStubSockFd + 1;
    }
    int exeHi = fcntl(exe, F_DUPFD_CLOEXEC, keepHi + 1);
    if (exeHi < 0) _exit(124);
    syscall(SYS_close_range, 0, kStubSockFd - 1, 0);
    syscall(SYS_close_range, exeHi + 1, ~0U, 0);
    if (exeHi > keepHi + 1) syscall(SYS_close_range, keepHi + 1, exeHi - 1, 0);
    // argv[3..]: "notsc" and "cpuid-fault" in deterministic mode (see stub.c).
    char* argv[6] = {(char*)"tssandbox-stub", systrap ? (char*)"systrap" : (char*)"ptrace",
                     keepDumpable ? (char*)"dumpable" : (char*)"-", nullptr, nullptr, nullptr};
    int argn = 3;
    if (trapTsc) argv[argn++] = (char*)"notsc";
    if (trapCpuid) argv[argn++] = (char*)"cpuid-fault";
    char* envp[] = {nullptr};
    syscall(SYS_execveat, exeHi, "", argv, envp, AT_EMPTY_PATH);
    _exit(126);
  }
  close(exe);
  CloseStubSocketPair();  // a previous sandbox's in this process: no stub of it is reached through it again
  g_stubSock = sv[0];
  g_stubPeer = sv[1];  // kept to drain stale datagrams; never read for anything else
  int status;
  if (waitpid(pid, &status, __WALL) != pid || !WIFSTOPPED(status)) return Num(info.Env(), -ECHILD);
  long opts = PTRACE_O_TRACESYSGOOD | PTRACE_O_EXITKILL | PTRACE_O_TRACECLONE | PTRACE_O_TRACEFORK |
              PTRACE_O_TRACEVFORK;
  if (Ptrace(PTRACE_SETOPTIONS, pid, nullptr, (void*)opts) != 0) return Num(info.Env(), -errno);
  if (Ptrace(PTRACE_CONT, pid, nullptr, nullptr) != 0) return Num(info.Env(), -errno);
  if (waitpid(pid, &status, __WALL) != pid || !WIFSTOPPED(status) || WSTOPSIG(status) != SIGTRAP) {
    kill(pid, SIGKILL);
    waitpid(pid, &status, __WALL);
    return Num(info.Env(), -EPERM);
  }
  g_pgid = pid;
  // Unmap what the host kernel gave the stub besides its image (stack, vdso, vvar), and
  // make the image's writable pages (the scratch page) read-only to guest code.
  char mapsPath[64];
  snprintf(mapsPath, sizeof mapsPath, "/proc/%d/maps", pid);
  FILE* f = fopen(mapsPath, "re");
  if (!f) {
    kill(pid, SIGKILL);
    waitpid(pid, &status, __WALL);
    return Num(info.Env(), -EPERM);
  }
  unsigned long ranges[32][2];
  bool writable[32];
  int n = 0;
  char line[512];
  while (n < 32 && fgets(line, sizeof line, f)) {
    unsigned long lo, hi;
    char perms[8] = {0};
    if (sscanf(line, "%lx-%lx %7s", &lo, &hi, perms) != 3) continue;
    if (lo >= 0xffff800000000000UL) continue;  // vsyscall page: not unmappable
    ranges[n][0] = lo;
    ranges[n][1] = hi;
    writable[n] = perms[1] == 'w';
    n++;
  }
  fclose(f);
  for (int i = 0; i < n; i++) {
    long a[6] = {(long)ranges[i][0], (long)(ranges[i][1] - ranges[i][0]), 0, 0, 0, 0};
    if (ranges[i][0] >= kStubBase && ranges[i][1] <= kStubEnd) {
      if (!writable[i]) continue;
      a[2] = PROT_READ;
      if (InjectSyscall(pid, SYS_mprotect, a, nullptr) != 0) return Num(info.Env(), -EPERM);
      continue;
    }
    InjectSyscall(pid, SYS_munmap, a, nullptr);
  }
  return Num(info.Env(), pid);
}

void InitPtraceSpawn(Napi::Env env, Napi::Object exports) {
  exports["spawnStub"] = Napi::Function::New(env, SpawnStub);
  exports["closeStubSocket"] = Napi::Function::New(env, CloseStubSocket);
}

}  // namespace tss
