// build/Release/tssandbox: the `tssandbox` command (package.json "bin"), a small native
// front before Node. For a `run` it puts the Sentry in a user and mount namespace of its
// own before Node starts: Linux refuses unshare(CLONE_NEWUSER) to a multi-threaded
// process and Node has threads from its first instruction, so this single-threaded
// program does it, then execs Node on the JavaScript entry beside it:
//
//   tssandbox ARGS...   ->   node PKG/bin/tssandbox [--tss-launched=FD] ARGS...
//
// PKG is found from this program's own path (PKG/build/Release/tssandbox), Node as
// `#!/usr/bin/env node` finds it (node in PATH), else the Node that built this program;
// TSSANDBOX_NODE overrides both and is the one variable not passed on. The environment
// is otherwise passed on byte for byte (a shell in between would rebuild it: its order,
// PWD added), so guests see what a native run sees.
//
// 1. It forks the gofer-to-be: a child that stays outside, as the invoking user (root
//    keeps root's file access for the host trees it will serve), holding one end of a
//    socketpair. It writes the new namespace's uid/gid maps, then waits for the Sentry's
//    one gofer request and becomes that gofer (gofer_server.cc GoferAwaitRequest).
//    For a --memory/--pids-limit/--policy (a restore: its image's limits, launch_image.h)
//    it has, before that fork, made the sandbox's
//    cgroup, forked its reaper (which stays outside) and moved itself in, so the Sentry,
//    the gofer and the stubs are all inside (launch_cgroup.h).
//    For a --netns/--tap it has, before that fork, opened the namespace's interfaces
//    (launch_netns.h); the gofer-to-be removes their addresses once step 2 worked.
// 2. It unshares CLONE_NEWUSER | CLONE_NEWNS; the child maps uid 0 inside to an
//    unprivileged host uid when invoked as root (by default kSentryIdBase + its pid, so
//    that no two running Sentries share one, as the kernel lets a process signal any
//    process of its uid; TSSANDBOX_SENTRY_UID=N a fixed one, e.g. 65534 as runsc's
//    sandbox runs as nobody), or to the invoking uid otherwise. The platform probe's
//    cache, per host uid, is the invoking user's, handed on (launch_platform.h). It
//    then becomes uid/gid 0 inside with no supplementary groups: a compromised Sentry is not
//    host root and has capabilities only in its own namespace (where it chroots, since
//    CAP_SYS_CHROOT there is enough, and traces stubs, which are its children).
// 3. It execs Node with --tss-launched=FD [--tss-cgroup=DIR] [--tss-file=...]
//    [--tss-listen=FD:PORT/PROTO...] [--tss-net=FD:KIND:NAME... --tss-netinfo=FD,FD,FD] (bin/tssandbox takes them
//    out; FD is the Sentry's end of the gofer socket; an unused one is closed when the
//    Sentry confines itself, src/cli/confine.ts).
//
// It only does this for runs that need nothing of the host's privileges (launch_flags.h);
// any other command, or any step that fails, execs Node unchanged: never less than before.
// TSSANDBOX_USERNS=off turns it off.
#define _GNU_SOURCE 1
#include "common.h"
#include "launch_flags.h"
#include "launch_cgroup.h"
#include "launch_image.h"
#include "launch_netns.h"
#include "launch_platform.h"
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <grp.h>
#include <sys/stat.h>
#include <netinet/in.h>
#include <initializer_list>

namespace tss {

// gofer_server.cc resets signals in its child; here the launcher's are the defaults.
void ResetSignalsInChild() {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = SIG_DFL;
  for (int s = 1; s < 65; s++) sigaction(s, &sa, nullptr);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
}

}  // namespace tss

namespace {

// This program's package: PKG of PKG/build/Release/tssandbox (symlinks resolved: npm
// links the command from node_modules/.bin), into out.
bool PackageDir(const char* argv0, char* out, size_t cap) {
  char self[4096];
  ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  if (n > 0) {
    self[n] = 0;
  } else if (!realpath(argv0, self)) {  // no /proc: argv[0], as the shell found it
    return false;
  }
  for (int up = 0; up < 3; up++) {
    char* slash = strrchr(self, '/');
    if (!slash) return false;
    *slash = 0;
  }
  return snprintf(out, cap, "%s", self[0] ? self : "/") < (int)cap;
}

// Set by main: the JS entry, the Node binary, and the command line after argv[0].
char gScript[4200];
char gNode[4096];
char** gArgs;
int gNargs;

// Host files opened for the Sentry (launch_flags.h), their fds, and their --tss-file flags.
tss_launch::HostFileArg gFiles[tss_launch::kMaxFiles];
int gFileFds[tss_launch::kMaxFiles];
int gNfiles;  // on the command line
int gOpen;    // of them opened (OpenHostFiles)

// The sandbox's cgroup the front made and joined (launch_cgroup.h); mem "" if none.
tss_launch::SandboxCgroup gCgroup;

// The privileged --publish ports the front binds (launch_flags.h), CLOEXEC until ExecNode.
tss_launch::PublishArg gPubs[tss_launch::kMaxPublish];
int gNpubs;

// What the front took over of a --netns / --tap (launch_netns.h): all CLOEXEC until
// ExecNode passes them on.
tss_launch::NetTakeover gNet;

// The invoking user's platform probe cache, read-only (launch_platform.h), or -1.
int gPlatformCache = -1;

[[noreturn]] void ExecNode(int launchFd) {
  static char flag[64];
  static char* fileFlags[tss_launch::kMaxFiles];
  static char cgroupFlag[4300];
  static char netFlags[tss_launch::kMaxNetIfs][64];
  static char netInfoFlag[64];
  static char cacheFlag[64];
  static char listenFlags[tss_launch::kMaxPublish][48];
  // node SCRIPT [--tss-launched=FD [--tss-cgroup=DIR] [--tss-file=FD:NAME...]
  //   [--tss-net=FD:KIND:NAME... --tss-netinfo=FD,FD,FD]] ARGS...
  char** av = static_cast<char**>(
      calloc((size_t)gNargs + 7 + tss_launch::kMaxFiles + tss_launch::kMaxNetIfs + tss_launch::kMaxPublish, sizeof(char*)));
  int k = 0;
  av[k++] = gNode;
  av[k++] = gScript;
  if (launchFd >= 0) {
    snprintf(flag, sizeof flag, "--tss-launched=%d", launchFd);
    av[k++] = flag;
    if (gCgroup.mem[0]) {
      snprintf(cgroupFlag, sizeof cgroupFlag, "--tss-cgroup=%s", gCgroup.mem);
      av[k++] = cgroupFlag;
    }
    for (int i = 0; i < gOpen; i++) {
      if (gFiles[i].dev) fcntl(gFileFds[i], F_SETFD, 0);
      size_t n = strlen(gFiles[i].name) + 32;
      fileFlags[i] = static_cast<char*>(malloc(n));
      snprintf(fileFlags[i], n, "--tss-file=%d:%s", gFileFds[i], gFiles[i].name);
      av[k++] = fileFlags[i];
    }
    for (int i = 0; i < gNpubs; i++) {
      fcntl(gPubs[i].fd, F_SETFD, 0);
      snprintf(listenFlags[i], sizeof listenFlags[i], "--tss-listen=%d:%d/%s", gPubs[i].fd, gPubs[i].port, gPubs[i].udp ? "udp" : "tcp");
      av[k++] = listenFlags[i];
    }
    if (gNet.info[0] >= 0) {
      auto keep = [](int fd) { fcntl(fd, F_SETFD, 0); };
      for (int i = 0; i < gNet.nifs; i++) {
        keep(gNet.ifs[i].fd);
        snprintf(netFlags[i], sizeof netFlags[i], "--tss-net=%d:%s:%s", gNet.ifs[i].fd, gNet.ifs[i].tap ? "tap" : "packet",
                 gNet.ifs[i].name);
        av[k++] = netFlags[i];
      }
      for (int fd : gNet.info) keep(fd);
      snprintf(netInfoFlag, sizeof netInfoFlag, "--tss-netinfo=%d,%d,%d", gNet.info[0], gNet.info[1], gNet.info[2]);
      av[k++] = netInfoFlag;
      if (gNet.nsfd >= 0) close(gNet.nsfd);  // the Sentry never enters it
    }
    if (gPlatformCache >= 0) {
      fcntl(gPlatformCache, F_SETFD, 0);
      snprintf(cacheFlag, sizeof cacheFlag, "--tss-platform-cache=%d", gPlatformCache);
      av[k++] = cacheFlag;
    }
  } else {
    for (int i = 0; i < gOpen; i++) close(gFileFds[i]);  // the old path opens them itself
    for (int i = 0; i < gNpubs; i++)
      if (gPubs[i].fd >= 0) close(gPubs[i].fd);  // and binds its ports
  }
  for (int i = 0; i < gNargs; i++) av[k++] = gArgs[i];
  av[k] = nullptr;
  execv(gNode, av);
  fprintf(stderr, "tssandbox: cannot run %s: %s\n", gNode, strerror(errno));
  _exit(errno == ENOENT ? 127 : 126);
}

// mkdir -p of the directories above file (mode 0700); errors are the open's to tell.
void MakeParents(const char* file) {
  char d[4200];
  if (snprintf(d, sizeof d, "%s", file) >= (int)sizeof d) return;
  for (char* p = strchr(d + 1, '/'); p; p = strchr(p + 1, '/')) {
    *p = 0;
    mkdir(d, 0700);
    *p = '/';
  }
}

// Opens the host files of the command line as the invoking user (before the namespace:
// unprivileged, the Sentry may not reach them); false when one cannot be (the old path then
// opens it and says why).
bool OpenHostFiles() {
  for (; gOpen < gNfiles; gOpen++) {
    int flags = gFiles[gOpen].write ? O_WRONLY | O_CREAT | O_TRUNC | O_NOCTTY : O_RDONLY | O_NOCTTY;
    // A checkpoint image: its directory made as src/snapshot/format.ts openImageForWrite does.
    if (gFiles[gOpen].image) flags = O_RDWR | O_CREAT | O_NOCTTY, MakeParents(gFiles[gOpen].name);
    // /dev/kvm: CLOEXEC until ExecNode hands it on (the old path opens it itself).
    if (gFiles[gOpen].dev) flags = O_RDWR | O_CLOEXEC | O_NOCTTY;
    gFileFds[gOpen] = open(gFiles[gOpen].name, flags, gFiles[gOpen].mode);
    if (gFileFds[gOpen] < 0) return false;
  }
  return true;
}

// Binds the privileged --publish ports while the front still has the host's privileges,
// as src/net/publish.ts hostListen would: [::]:port taking v4 too, else 0.0.0.0:port.
// False when one cannot be (the old path then says why).
bool BindPublished() {
  for (int i = 0; i < gNpubs; i++) {
    tss_launch::PublishArg& p = gPubs[i];
    const int type = (p.udp ? SOCK_DGRAM : SOCK_STREAM) | SOCK_NONBLOCK | SOCK_CLOEXEC;
    for (int fam : {AF_INET6, AF_INET}) {
      int fd = socket(fam, type, 0);
      if (fd < 0) continue;
      int one = 1, zero = 0;
      setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
      struct sockaddr_in6 a6 = {};
      struct sockaddr_in a4 = {};
      a6.sin6_family = AF_INET6;
      a6.sin6_port = htons((uint16_t)p.port);
      a4.sin_family = AF_INET;
      a4.sin_port = htons((uint16_t)p.port);
      if (fam == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
      bool ok = fam == AF_INET6 ? bind(fd, (struct sockaddr*)&a6, sizeof a6) == 0 : bind(fd, (struct sockaddr*)&a4, sizeof a4) == 0;
      ok = ok && (p.udp || listen(fd, 128) == 0);
      if (ok) {
        p.fd = fd;
        break;
      }
      int e = errno;
      close(fd);
      if (e == EADDRINUSE || e == EACCES) return false;
    }
    if (p.fd < 0) return false;
  }
  return true;
}

// The file execvp would run for `name` (PATH search), in out; false when none.
bool Which(const char* name, char* out, size_t cap) {
  if (strchr(name, '/')) return snprintf(out, cap, "%s", name) < (int)cap;
  const char* path = getenv("PATH");
  if (!path) path = "/usr/local/bin:/usr/bin:/bin";
  for (const char* p = path; *p;) {
    const char* e = strchr(p, ':');
    size_t n = e ? (size_t)(e - p) : strlen(p);
    if (n > 0 && snprintf(out, cap, "%.*s/%s", (int)n, p, name) < (int)cap && access(out, X_OK) == 0) return true;
    p += n + (e ? 1 : 0);
  }
  return false;
}

// May uid/gid (no supplementary groups) reach `path` with `want` (R_OK/X_OK) on the
// file, searching every directory on the way? By the mode bits (ACLs are not read: a
// file an ACL alone opens is taken as closed, which keeps today's path).
bool Reaches(const char* path, int want, uid_t uid, gid_t gid) {
  auto allowed = [&](const struct stat& st, int bits) {
    int m = st.st_uid == uid ? (st.st_mode >> 6) : st.st_gid == gid ? (st.st_mode >> 3) : st.st_mode;
    return ((m & 7) & bits) == bits;
  };
  char buf[4096];
  if (path[0] != '/' || snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf) return false;
  struct stat st;
  for (char* p = strchr(buf + 1, '/'); p; p = strchr(p + 1, '/')) {
    *p = 0;
    bool ok = stat(buf, &st) == 0 && allowed(st, 1);
    *p = '/';
    if (!ok) return false;
  }
  if (stat("/", &st) != 0 || !allowed(st, 1)) return false;
  return stat(buf, &st) == 0 && allowed(st, want == X_OK ? 1 : 4);
}

// Can uid/gid (the Sentry's host ids) run Node on this installation? Root's own files
// may be out of their reach (an install under /root, a mode-0700 directory): then the
// run keeps today's path rather than failing.
bool InstallReachable(const char* script, const char* node, uid_t uid, gid_t gid) {
  char real[4096], pkg[4096], nodePath[4096], f[4200];
  if (!realpath(script, real) || !Which(node, nodePath, sizeof nodePath) || !realpath(nodePath, pkg)) return false;
  if (!Reaches(pkg, X_OK, uid, gid) || !Reaches(real, R_OK, uid, gid)) return false;
  snprintf(pkg, sizeof pkg, "%s", real);
  for (int up = 0; up < 2; up++) {
    char* slash = strrchr(pkg, '/');
    if (!slash) return false;
    *slash = 0;
  }
  static const char* rel[] = {"dist/tssandbox.js", "build/Release/tssandbox_native.node", "build/Release/tssandbox-vdso.so", nullptr};
  for (int i = 0; rel[i]; i++)
    if (snprintf(f, sizeof f, "%s/%s", pkg, rel[i]) >= (int)sizeof f || !Reaches(f, R_OK, uid, gid)) return false;
  return snprintf(f, sizeof f, "%s/build/Release/tssandbox-stub", pkg) < (int)sizeof f && Reaches(f, X_OK, uid, gid);
}

bool WriteFile(pid_t pid, const char* name, const char* text) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/%s", (int)pid, name);
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return false;
  bool ok = write(fd, text, strlen(text)) == (ssize_t)strlen(text);
  close(fd);
  return ok;
}

// The Node that built this program (binding.gyp), for a PATH without node.
#ifndef TSS_NODE_FALLBACK
#define TSS_NODE_FALLBACK "/usr/bin/node"
#endif

// gNode: TSSANDBOX_NODE (taken out of the environment), else node in PATH as
// `#!/usr/bin/env node` finds it, else the Node that built this program.
bool FindNode() {
  const char* env = getenv("TSSANDBOX_NODE");
  if (env && *env) {
    // A bare name is looked up in PATH, as execvp would.
    bool ok = strchr(env, '/') ? snprintf(gNode, sizeof gNode, "%s", env) < (int)sizeof gNode : Which(env, gNode, sizeof gNode);
    if (!ok) snprintf(gNode, sizeof gNode, "%s", env);  // ExecNode names it in its error
    unsetenv("TSSANDBOX_NODE");
    return true;
  }
  if (Which("node", gNode, sizeof gNode)) return true;
  if (access(TSS_NODE_FALLBACK, X_OK) != 0) return false;
  snprintf(gNode, sizeof gNode, "%s", TSS_NODE_FALLBACK);
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  gArgs = argv + 1;
  gNargs = argc - 1;
  if (argc < 2) {
    fprintf(stderr, "usage: tssandbox COMMAND [OPTIONS] (tssandbox --help lists them)\n");
    return 2;
  }
  char pkg[4096];
  if (!PackageDir(argv[0], pkg, sizeof pkg) ||
      snprintf(gScript, sizeof gScript, "%s/bin/tssandbox", pkg) >= (int)sizeof gScript || access(gScript, R_OK) != 0) {
    fprintf(stderr, "tssandbox: cannot find bin/tssandbox beside this program (%s): reinstall tssandbox\n", pkg);
    return 125;
  }
  if (!FindNode()) {
    fprintf(stderr, "tssandbox: cannot find node (not in PATH, and " TSS_NODE_FALLBACK " is gone): install Node 20+ or set TSSANDBOX_NODE\n");
    return 127;
  }
  const uid_t uid = geteuid();
  const gid_t gid = getegid();
  tss_launch::SandboxLimits limits;
  const char* netns = nullptr;
  const char* tap = nullptr;
  bool platform = false;
  if (!tss_launch::Engage(gNargs, gArgs, uid == 0, gFiles, &gNfiles, &limits, &netns, &tap, &platform, gPubs, &gNpubs)) ExecNode(-1);
  // A restore's limits are its image's (read as the invoking user, before anything is made).
  if (limits.image && !tss_launch::ImageLimits(limits.image, &limits)) ExecNode(-1);
  uid_t outUid = uid;
  gid_t outGid = gid;
  if (uid == 0) {
    const char* u = getenv("TSSANDBOX_SENTRY_UID");
    // "unique": pids stay below 2^22 (PID_MAX_LIMIT), so these stay in 0x70000000-
    // 0x703fffff, a range systemd's uid map leaves unused (its container ranges end at
    // 0x6fffffff). The per-uid state there is, the platform probe's cache
    // (src/cli/platforms.ts), is the invoking user's, handed on (launch_platform.h).
    // The default: a uid per Sentry, so that a Sentry taken over cannot signal another
    // sandbox (or move its processes into its cgroup); a number picks one for all.
    constexpr uid_t kSentryIdBase = 0x70000000;
    outUid = outGid = kSentryIdBase + (uid_t)getpid();
    if (u && *u && strcmp(u, "unique") != 0) outUid = outGid = (uid_t)strtoul(u, nullptr, 10);
    if (outUid == 0) ExecNode(-1);  // asked to stay root: the old path
    if (!InstallReachable(gScript, gNode, outUid, outGid)) ExecNode(-1);
  }
  // A --netns/--tap's namespace: entered, recorded and its interfaces opened while the
  // front still has the host's privileges (all CLOEXEC: the old path takes it over itself).
  if ((netns || tap) && !tss_launch::TakeOverNetwork(netns, tap, &gNet)) ExecNode(-1);
  // The probe cache, unless the platform is named (the Sentry's uid has none of its own).
  const char* envPlatform = getenv("TSSANDBOX_PLATFORM");
  char key[512];
  if (!platform && !(envPlatform && *envPlatform) && tss_launch::PlatformCacheKey(pkg, uid, key, sizeof key)) {
    gPlatformCache = tss_launch::OpenPlatformCache(key, uid);
    if (gPlatformCache < 0) {
      tss_launch::WritePlatformCache(gNode, gScript);
      gPlatformCache = tss_launch::OpenPlatformCache(key, uid);
    }
  }
  const pid_t sentry = getpid();
  // The sandbox's cgroup, before the gofer-to-be is forked (it inherits it), its reaper
  // forked before the join (it stays outside). Not possible: one line, the run goes on
  // with the Sentry's own counts (the old path's Sentry could make no more).
  if (limits.Any()) {
    char why[256];
    bool ok = tss_launch::MakeSandboxCgroup(sentry, limits, outUid, outGid, &gCgroup, why, sizeof why);
    if (ok && !tss_launch::StartCgroupReaper(sentry, gCgroup)) snprintf(why, sizeof why, "no reaper: %s", strerror(errno)), ok = false;
    if (ok && !tss_launch::JoinCgroup(gCgroup)) snprintf(why, sizeof why, "cannot join %s: %s", gCgroup.mem, strerror(errno)), ok = false;
    if (!ok) {
      tss_launch::RemoveCgroup(&gCgroup);  // a reaper started finds it gone
      if (limits.memory >= 0 || limits.pids >= 0)
        fprintf(stderr, "tssandbox: no host cgroup for the sandbox (%s): its limits are the Sentry's count only\n", why);
    }
  }
  int sv[2], go[2], done[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv) != 0 || pipe2(go, O_CLOEXEC) != 0 || pipe2(done, O_CLOEXEC) != 0)
    ExecNode(-1);
  pid_t child = fork();
  if (child < 0) ExecNode(-1);
  if (child == 0) {
    // The gofer-to-be: outside, as the invoking user.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != sentry) _exit(0);
    close(sv[0]);
    close(go[1]);
    close(done[0]);
    if (gPlatformCache >= 0) close(gPlatformCache);
    // The interfaces are the Sentry's; only the namespace's fd stays, for the flush.
    for (int i = 0; i < gNet.nifs; i++) close(gNet.ifs[i].fd);
    for (int fd : gNet.info)
      if (fd >= 0) close(fd);
    char c;
    bool ok = read(go[0], &c, 1) == 1 && c == 'u';
    if (ok && gNet.info[0] >= 0) tss_launch::FlushAddresses(gNet);
    if (gNet.nsfd >= 0) close(gNet.nsfd);
    char map[64];
    if (ok) {
      // Root may map any uid and needs setgroups to stay allowed (the Sentry drops
      // root's supplementary groups); anyone else maps only itself, groups denied.
      if (uid != 0) ok = WriteFile(sentry, "setgroups", "deny");
      snprintf(map, sizeof map, "0 %u 1\n", (unsigned)outUid);
      ok = ok && WriteFile(sentry, "uid_map", map);
      snprintf(map, sizeof map, "0 %u 1\n", (unsigned)outGid);
      ok = ok && WriteFile(sentry, "gid_map", map);
    }
    c = ok ? 'y' : 'n';
    if (write(done[1], &c, 1) != 1 || !ok) _exit(0);
    close(go[0]);
    close(done[1]);
    tss::GoferAwaitRequest(sv[1]);
    _exit(0);
  }
  close(sv[1]);
  close(go[0]);
  close(done[1]);
  char c = 'u';
  // The command line's host files and privileged ports, as the invoking user still, after
  // the fork (the gofer-to-be holds none of them).
  bool ok = OpenHostFiles() && BindPublished();
  ok = ok && unshare(CLONE_NEWUSER | CLONE_NEWNS) == 0;
  if (!ok) {
    // The old path stays in the sandbox's cgroup (its reaper removes it): bounded too.
    // A file the old path will name the error of, or a host that refuses user
    // namespaces: the old path (the gofer-to-be sees EOF and goes).
    close(sv[0]);
    close(go[1]);
    waitpid(child, nullptr, 0);
    ExecNode(-1);
  }
  ok = write(go[1], &c, 1) == 1 && read(done[0], &c, 1) == 1 && c == 'y';
  close(go[1]);
  close(done[0]);
  // Become root inside (the mapped host uid outside), with no supplementary groups.
  if (ok && uid == 0) ok = setgroups(0, nullptr) == 0;
  ok = ok && setresgid(0, 0, 0) == 0 && setresuid(0, 0, 0) == 0;
  if (!ok) {
    // Half-made namespace: nothing here may carry on in it.
    fprintf(stderr, "tssandbox: cannot set up the Sentry's user namespace: %s\n", strerror(errno));
    _exit(125);
  }
  ExecNode(sv[0]);
}
