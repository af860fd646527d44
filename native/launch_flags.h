// Which `tssandbox run` command lines the native front (sentry_launch.cc) starts with the
// Sentry in a user namespace of its own: those whose flags need nothing that the host
// grants only outside it. Decided from argv alone, before Node starts (so: cheaply, and
// it must agree with src/cli/args.ts on where the flags end and the program starts).
//
// --netns PATH, --tap NAME: a network namespace or TAP device of the host, which only
// the host's privileges take over (setns, AF_PACKET, TUNSETIFF, removing its addresses):
// the front does that and hands the Sentry the fds (launch_netns.h); when it cannot, the
// run keeps the old path.
// Left out, and why (SECURITY.md section 3 has the list for users):
//   --via               no Sentry here: the client only talks to a `serve` pool.
// --image-path DIR (with --checkpoint-on; `restore`'s; a pool worker's --template): the
// image DIR/checkpoint.img, which the Sentry writes when signalled or reads at set-up, is
// opened by the front (made with DIR if missing, not truncated until the checkpoint).
// --report, --summary=FILE, --record, --pcap and --replay name host files the Sentry
// writes or reads once at set-up (as its unprivileged uid it may not reach the invoking
// user's files): the front opens them as the invoking user and hands the fds on
// (bin/tssandbox --tss-file=FD:NAME, src/platform/launched-files.ts); when it cannot,
// the run keeps the old path, which says why.
// restore (and a pool worker's --template): the cgroup of the run it resumes, whose
// limits the front reads from the image (launch_image.h).
// --memory, --pids-limit: the sandbox's cgroup (the Sentry, the Gofer and the stubs in
// it), made and limited by the front (launch_cgroup.h); where it cannot be, one line
// says so and the Sentry's own counts stay.
// --policy FILE: read once at set-up (the front opens it, as the files above); what it
// may ask for is the Sentry's but its limits (so the cgroup is made in case, its limit
// files the Sentry's) and a network mode, none of which needs the host's privileges (no
// --netns or --tap there).
// --publish below ip_unprivileged_port_start, as root: the kernel asks CAP_NET_BIND_SERVICE
// of the binder in the host's user namespace, so the front binds the listener before it
// drops its privileges and hands the fd on (--tss-listen=FD:PORT/PROTO), as for --netns;
// a port it cannot bind keeps the old path, whose error names it.
// --platform kvm (or TSSANDBOX_PLATFORM=kvm): /dev/kvm, root's (0600) here, is opened by
// the front (O_RDWR) and handed on as --tss-file=FD:/dev/kvm, which native/kvm/ takes
// instead of opening it; when it cannot be opened, the old path says why.
// --network host, root or not: the Sentry's capabilities are dropped at confinement on
// either path, so raw sockets and privileged ports were refused on the old path too.
// Anything this file does not know keeps the old path: never less than before.
#pragma once
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <sys/stat.h>
#include <unistd.h>
#include "launch_cgroup.h"

namespace tss_launch {

// A host file named on the command line that the front opens for the Sentry.
struct HostFileArg {
  const char* name;
  bool write;  // O_WRONLY|O_CREAT|O_TRUNC, as Node's openSync(name, 'w'); else O_RDONLY
  int mode;    // of a file it creates (before the umask), as the Sentry's own open would
  bool pcap;   // opened only in --network user/sandbox (the other modes here have no stack to capture)
  bool image;  // a checkpoint image to write: O_RDWR|O_CREAT, not truncated, its directory made (0700)
  bool dev;    // a device to use (/dev/kvm): O_RDWR, never made
};
constexpr const char* kKvmDevice = "/dev/kvm";
constexpr int kMaxFiles = 8;

// A --publish host port the front binds (below ip_unprivileged_port_start, as root).
struct PublishArg {
  int port;
  bool udp;
  int fd;
};
constexpr int kMaxPublish = 16;

inline bool Is(const char* a, size_t len, const char* name) { return strlen(name) == len && strncmp(a, name, len) == 0; }

// DIR/checkpoint.img (src/snapshot/format.ts IMAGE_FILE), as the Sentry names it (DIR as
// given, then "/checkpoint.img"); kept for the command line's life. nullptr if too long.
inline const char* ImageFile(const char* dir) {
  static char names[2][4200];
  static int used = 0;
  if (used == 2 || !*dir || snprintf(names[used], sizeof names[used], "%s/checkpoint.img", dir) >= (int)sizeof names[used]) return nullptr;
  return names[used++];
}

// The lowest port an unprivileged process may bind (1024 when it cannot be read).
inline long UnprivilegedPortStart() {
  long v = 1024;
  if (FILE* f = fopen("/proc/sys/net/ipv4/ip_unprivileged_port_start", "re")) {
    if (fscanf(f, "%ld", &v) != 1) v = 1024;
    fclose(f);
  }
  return v;
}

// A --root/--mount source the invoking user reaches? The Sentry in its own namespace may
// not search the user's directories (the gofer outside opens them), so a missing one is
// left to the old path, whose check names the error.
inline bool SourceExists(const char* v, bool mount) {
  char src[4096];
  size_t n = mount && strchr(v, ':') ? (size_t)(strchr(v, ':') - v) : strlen(v);
  if (n == 0 || n >= sizeof src) return false;
  memcpy(src, v, n);
  src[n] = 0;
  struct stat st;
  return stat(src, &st) == 0;
}

// "512k", "64m", "1g" or plain bytes, as src/cli/args.ts parseSize; -1 if not one.
inline long long ParseSize(const char* v) {
  char* end;
  if (*v < '0' || *v > '9') return -1;
  unsigned long long n = strtoull(v, &end, 10);
  int shift = 0;
  switch (*end | 0x20) {
    case 'k': shift = 10, end++; break;
    case 'm': shift = 20, end++; break;
    case 'g': shift = 30, end++; break;
  }
  if ((*end | 0x20) == 'b') end++;
  if (*end || n > (1ull << 52) >> shift) return -1;
  return (long long)(n << shift);
}

// One flag a (with its value v: the text after '=', or the next argument) is fine in the
// Sentry's own user namespace. *takesValue: the flag consumed the next argument.
// *file: the host file it names, if the front is to open it; *net: a --network's mode;
// *lim: --memory, --pids-limit and --policy (the front makes the sandbox's cgroup).
// *netns / *tap: a --netns's path / a --tap's name (the front takes them over).
// *pub: a --publish's privileged host port (port 0: none).
inline bool SafeFlag(const char* a, const char* next, bool root, bool* takesValue, HostFileArg* file, const char** net,
                     SandboxLimits* lim, const char** netns, const char** tap, PublishArg* pub) {
  // Sentry-side only: the filesystem (served by the gofer outside), the environment,
  // limits the Sentry counts itself, the tracer, the console, determinism, the CI limits.
  static const char* bare[] = {"--clear-env", "--no-pin", "--strace", "--debug", "-t", "--tty", "--deterministic",
                               "--mask-cpuid", "--ci", nullptr};
  static const char* valued[] = {"--root", "--mount", "--tmpfs", "--env", "-e", "--cwd", "-w", "--platform",
                                 "--hostname", "--timeout", "--cpu-time", "--nofile", "--output-limit", "--disk",
                                 "--tmpfs-size", "--allow-net", "--deny-net", "--dns",
                                 "--policy-mode", "--api-fd", "--api-hooks", nullptr};
  *takesValue = false;
  const char* eq = a[0] == '-' && a[1] == '-' ? strchr(a, '=') : nullptr;
  size_t len = eq ? (size_t)(eq - a) : strlen(a);
  for (int i = 0; bare[i]; i++)
    if (Is(a, len, bare[i])) return true;
  const char* v = eq ? eq + 1 : next;
  for (int i = 0; valued[i]; i++)
    if (Is(a, len, valued[i])) {
      *takesValue = !eq;
      if (v && (Is(a, len, "--root") || Is(a, len, "--mount"))) return SourceExists(v, Is(a, len, "--mount"));
      return v != nullptr;
    }
  // --summary alone (or =-) writes to stderr, which the Sentry holds already.
  if (Is(a, len, "--summary")) {
    if (!eq || strcmp(eq + 1, "-") == 0) return true;
    *file = {eq + 1, true, 0666, false};
    return eq[1] != 0;
  }
  if (Is(a, len, "--report") || Is(a, len, "--record") || Is(a, len, "--replay") || Is(a, len, "--pcap")) {
    *takesValue = !eq;
    if (!v || !*v) return false;
    bool pcap = Is(a, len, "--pcap");
    *file = {v, !Is(a, len, "--replay"), pcap ? 0644 : 0666, pcap};  // src/net/stack/pcap.ts: 0644
    return true;
  }
  if (Is(a, len, "--checkpoint-on")) {
    *takesValue = !eq;
    return v != nullptr;  // its signal: the old path's error if bad
  }
  if (Is(a, len, "--image-path")) {
    *takesValue = !eq;
    const char* img = v ? ImageFile(v) : nullptr;
    *file = {img, true, 0600, false, true};
    return img != nullptr;
  }
  if (Is(a, len, "--memory")) {
    *takesValue = !eq;
    long long n = v ? ParseSize(v) : -1;
    if (n >= 0 && (lim->memory < 0 || n < lim->memory)) lim->memory = n;
    return n >= 0;  // else the old path's error
  }
  if (Is(a, len, "--pids-limit")) {
    *takesValue = !eq;
    char* end;
    long long n = v && *v >= '0' && *v <= '9' ? strtoll(v, &end, 10) : 0;
    if (n >= 1 && !*end && n < (1ll << 31)) lim->pids = n;
    return lim->pids == n && n >= 1;
  }
  if (Is(a, len, "--policy")) {
    *takesValue = !eq;
    if (!v || !*v) return false;
    *file = {v, false, 0, false};
    lim->policy = true;  // its limits: the cgroup's limit files the Sentry's
    return true;
  }
  // Networks of host sockets in the host's network namespace (none: loopback in the
  // Sentry; host: the broker's sockets; user: the Sentry's NAT on host sockets), or none
  // at all (sandbox without --netns/--tap: the Sentry's stack with lo only; those two
  // flags are not safe ones).
  if (Is(a, len, "--network") || Is(a, len, "--net")) {
    *takesValue = !eq;
    *net = v;
    return v && (strcmp(v, "none") == 0 || strcmp(v, "user") == 0 || strcmp(v, "host") == 0 || strcmp(v, "sandbox") == 0);
  }
  if (Is(a, len, "--netns") || Is(a, len, "--tap")) {
    *takesValue = !eq;
    if (!v || !*v) return false;
    *(Is(a, len, "--netns") ? netns : tap) = v;
    return true;
  }
  if (Is(a, len, "--publish") || Is(a, len, "-p")) {
    *takesValue = !eq;
    if (!v) return false;
    if (!root) return true;
    // HOSTPORT:PORT[/tcp|udp], as src/cli/args.ts takes it (anything else: its error).
    char* end;
    long port = *v >= '0' && *v <= '9' ? strtol(v, &end, 10) : 0;
    if (port < 1 || port > 65535 || *end != ':' || end[1] < '0' || end[1] > '9') return false;
    long to = strtol(end + 1, &end, 10);
    bool udp = strcmp(end, "/udp") == 0;
    if (to < 1 || to > 65535 || !(udp || !*end || strcmp(end, "/tcp") == 0)) return false;
    if (port < UnprivilegedPortStart()) *pub = {(int)port, udp, -1};
    return true;
  }
  return false;
}

// args[0..n): the command line after the program name. A `run` with safe flags only (up
// to the program, after which nothing is ours), and no TSSANDBOX_USERNS=off. The host
// files to open for it go to files[0..*nfiles) (each name once); *lim: its limits;
// *netns, *tap: the last --netns and --tap (nullptr if none), only with the network mode
// they need (sandbox, or none, which they turn into sandbox as src/cli/args.ts does).
// *platform: a --platform flag (the run then needs no probe cache). pubs[0..*npubs): the
// privileged --publish ports to bind (only with the user or sandbox network they need).
// *kvm: a --platform kvm among the flags.
inline bool EngageFlags(int n, char** args, bool root, HostFileArg* files, int* nfiles, SandboxLimits* lim, const char** netns,
                        const char** tap, bool* platform, PublishArg* pubs, int* npubs, bool* kvm) {
  *platform = false;
  *nfiles = 0;
  *lim = SandboxLimits();
  *npubs = 0;
  *netns = *tap = nullptr;
  const char* mode = "none";
  bool stackNet = false;  // user or sandbox: the last --network wins, as in src/cli/args.ts
  const char* off = getenv("TSSANDBOX_USERNS");
  if (off && strcmp(off, "off") == 0) return false;
  // A `serve` pool's worker (src/server/pool.ts starts it through this front): it builds
  // the default-shaped sandbox before its request is known and refuses, unbuilt, any
  // request the old path would serve otherwise (src/cli/run.ts fitsLaunchedWorker), which
  // then goes to a worker started with TSSANDBOX_USERNS=off. With --template it restores
  // an image it reads by name: the old path.
  // With --template DIR the front opens its image; a worker started for one request
  // (`-- run FLAGS…` or `-- restore FLAGS…`, src/server/pool.ts) is judged as that command.
  if (n >= 2 && strcmp(args[0], "__pool-worker") == 0) {
    for (int i = 2; i < n; i++)
      if ((strcmp(args[i], "--reuse") == 0 || strcmp(args[i], "--listen-fd") == 0) && i + 1 < n) i++;
      else if (strcmp(args[i], "--template") == 0 && i + 1 < n && *nfiles == 0) {
        const char* img = ImageFile(args[++i]);
        if (!img) return false;
        files[(*nfiles)++] = {img, false, 0, false, false};
        lim->image = img;
      } else if (strcmp(args[i], "--") == 0 && i + 1 < n && *nfiles == 0)
        return EngageFlags(n - i - 1, args + i + 1, root, files, nfiles, lim, netns, tap, platform, pubs, npubs, kvm);
      else return false;
    return true;
  }
  // `restore --image-path DIR [FLAGS]`: the image opened for reading, the rest as a run's.
  bool restore = n >= 2 && strcmp(args[0], "restore") == 0;
  if (n < 2 || (strcmp(args[0], "run") != 0 && !restore)) return false;
  for (int i = 1; i < n; i++) {
    const char* a = args[i];
    bool end = strcmp(a, "--") == 0 || a[0] != '-' || strcmp(a, "-") == 0;  // then the program
    if (end && restore) return false;  // restore takes no program: the old path's error
    // restore: its own flags only (src/cli/restore.ts); the image names the sandbox's shape.
    if (restore && strncmp(a, "--image-path", 12) != 0 && strcmp(a, "--debug") != 0 && strcmp(a, "--strace") != 0 &&
        strncmp(a, "--platform", 10) != 0)
      return false;
    if (end) {
      if (*netns || *tap) {
        if (strcmp(mode, "none") != 0 && strcmp(mode, "sandbox") != 0) return false;  // the old path's error
        stackNet = true;
      }
      int k = 0;
      for (int j = 0; j < *nfiles; j++)
        if (!files[j].pcap || stackNet) files[k++] = files[j];
      *nfiles = k;
      if (!stackNet) *npubs = 0;  // the old path's error, or nothing published
      return strcmp(a, "--") != 0 || i + 1 < n;
    }
    if (strncmp(a, "--platform", 10) == 0 && (a[10] == 0 || a[10] == '=')) *platform = true;
    if (strcmp(a, "--platform=kvm") == 0 || (strcmp(a, "--platform") == 0 && i + 1 < n && strcmp(args[i + 1], "kvm") == 0)) *kvm = true;
    bool takes;
    HostFileArg f = {nullptr, false, 0, false};
    const char* net = nullptr;
    PublishArg pub = {0, false, -1};
    if (!SafeFlag(a, i + 1 < n ? args[i + 1] : nullptr, root, &takes, &f, &net, lim, netns, tap, &pub)) return false;
    if (takes) i++;
    if (restore && f.image) f = {f.name, false, 0, false, false}, lim->image = f.name;  // read, never made
    if (pub.port) {
      for (int k = 0; k < *npubs; k++)
        if (pubs[k].port == pub.port && pubs[k].udp == pub.udp) return false;  // the old path's EADDRINUSE
      if (*npubs == kMaxPublish) return false;
      pubs[(*npubs)++] = pub;
    }
    if (net) {
      mode = net;
      stackNet = strcmp(net, "user") == 0 || strcmp(net, "sandbox") == 0;
    }
    if (!f.name) continue;
    for (int k = 0; k < *nfiles; k++)
      if (strcmp(files[k].name, f.name) == 0) return false;  // one file, two flags: as before
    if (*nfiles == kMaxFiles) return false;
    files[(*nfiles)++] = f;
  }
  return restore && *nfiles == 1;  // its image, once
}

// Engage (EngageFlags above) and, for a kvm run (a --platform kvm, or TSSANDBOX_PLATFORM=kvm
// as src/cli/platforms.ts reads it), /dev/kvm among the files: the Sentry, unprivileged
// outside its namespace, could not open it (a flag naming it too keeps the old path).
inline bool Engage(int n, char** args, bool root, HostFileArg* files, int* nfiles, SandboxLimits* lim, const char** netns,
                   const char** tap, bool* platform, PublishArg* pubs, int* npubs) {
  bool kvm = false;
  if (!EngageFlags(n, args, root, files, nfiles, lim, netns, tap, platform, pubs, npubs, &kvm)) return false;
  const char* env = getenv("TSSANDBOX_PLATFORM");
  if (!kvm && !(env && strcmp(env, "kvm") == 0)) return true;
  for (int k = 0; k < *nfiles; k++)
    if (strcmp(files[k].name, kKvmDevice) == 0) return false;
  if (*nfiles == kMaxFiles) return false;
  files[(*nfiles)++] = {kKvmDevice, false, 0, false, false, true};
  return true;
}

}  // namespace tss_launch
