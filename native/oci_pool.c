// `create` through the pool (src/oci/pool.ts): a Sentry that is already started (Node
// loaded, nothing of any container in it) takes the container, so no Node start-up is
// on the path of a container's start.
//
//   <root>/.pool/PID.sock      a ready member (Node, `__oci-pool ROOT`), listening
//   <root>/.pool/PID.starting  a member still starting (it removes this when ready)
//   <root>/.pool/PID.want      create PID waits for a member it started: no warm-up
//
// create claims a member by renaming its socket (atomic: one create per member), sends
// the command line, cwd, environment, namespaces and stdio (SCM_RIGHTS), and the member
// does what `create` does (validation, state directory, the sandbox). The container's
// pid must be a descendant of the engine (containerd's shim reaps it as a subreaper), and
// a member is not: so create forks the *front*, a small process that is the container's
// pid. It sits in the container's network namespace, passes every signal it gets to the
// Sentry, and exits with the Sentry's status (the Sentry writes it on a socket pair
// before exiting); killed, it takes the Sentry with it (the Sentry's watcher thread sees
// the socket close). After a create, one member is started for the next, if none is
// there. With none ready or starting (the first create, or after members went idle),
// create starts one and waits for it (one Node start-up, against the Node path's two);
// that member skips its guest warm-up. Anything unusual (other environment or
// namespaces, flags this file does not know, no member after the wait) hands the
// command to Node unchanged, before anything was done.
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "oci_fast.h"
#include "oci_fds.h"

extern char **environ;

#define MAX_FDS 60

// The pool's size: TSSANDBOX_OCI_POOL (0 turns the pool off), default 1.
static int poolSize(void) {
  const char *v = getenv("TSSANDBOX_OCI_POOL");
  return v && *v ? atoi(v) : 1;
}

// ---- a small JSON writer (the member's replies are read by jsonField) ----

struct Buf {
  char *p;
  size_t len, cap;
};

static void put(struct Buf *b, const char *s, size_t n) {
  if (b->len + n + 1 > b->cap) {
    b->cap = (b->len + n + 1) * 2;
    b->p = realloc(b->p, b->cap);
    if (b->p == NULL) exit(125);
  }
  memcpy(b->p + b->len, s, n);
  b->len += n;
  b->p[b->len] = 0;
}

static void puts_(struct Buf *b, const char *s) { put(b, s, strlen(s)); }

static void putStr(struct Buf *b, const char *s) {
  put(b, "\"", 1);
  for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
    char esc[8];
    if (*c == '"' || *c == '\\') {
      esc[0] = '\\';
      esc[1] = (char)*c;
      put(b, esc, 2);
    } else if (*c < 0x20) {
      snprintf(esc, sizeof esc, "\\u%04x", *c);
      put(b, esc, 6);
    } else {
      put(b, (const char *)c, 1);
    }
  }
  put(b, "\"", 1);
}

// ---- the socket ----

static int sendWithFds(int s, const char *data, size_t len, const int *fds, int nfds) {
  for (size_t off = 0; off < len;) {
    ssize_t r = ociSendFds(s, data + off, len - off, off == 0 ? fds : NULL, off == 0 ? nfds : 0);
    if (r <= 0) return -1;
    off += (size_t)r;
  }
  return 0;
}

// One line into line (without the newline), an fd that came with it into *fd (or -1).
// 0, or -1 when the peer closed first.
static int recvLine(int s, char *line, size_t cap, int *fd) {
  size_t got = 0;
  *fd = -1;
  for (;;) {
    char ctl[CMSG_SPACE(sizeof(int) * 4)];
    // The member sends its next line only after ours: reading ahead takes nothing of it.
    struct iovec iov = {line + got, cap - 1 - got};
    struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl, .msg_controllen = sizeof ctl};
    ssize_t r = recvmsg(s, &m, MSG_CMSG_CLOEXEC);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return -1;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
      if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
      int n = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
      int *got_fds = (int *)CMSG_DATA(c);
      for (int i = 0; i < n; i++) {
        if (*fd < 0) *fd = got_fds[i];
        else close(got_fds[i]);
      }
    }
    got += (size_t)r;
    line[got] = 0;
    char *nl = strchr(line, '\n');
    if (nl) {
      *nl = 0;
      return 0;
    }
    if (got + 1 >= cap) return -1;
  }
}

// ---- members ----

static int poolDir(const char *root, char *out, size_t cap) {
  return (size_t)snprintf(out, cap, "%s/.pool", root) < cap ? 0 : -1;
}

static int pidAlive(const char *name) {
  long pid = strtol(name, NULL, 10);
  return pid > 0 && (kill((pid_t)pid, 0) == 0 || errno == EPERM);
}

// Claims a ready member: its socket renamed to ours, then connected. The socket, or -1.
static int claim(const char *dir) {
  DIR *d = opendir(dir);
  if (d == NULL) return -1;
  int s = -1;
  struct dirent *e;
  while (s < 0 && (e = readdir(d)) != NULL) {
    size_t n = strlen(e->d_name);
    if (n < 6 || strcmp(e->d_name + n - 5, ".sock") != 0) continue;
    char from[PATH_MAX + 512], to[PATH_MAX + 512], name[300];
    snprintf(from, sizeof from, "%s/%s", dir, e->d_name);
    snprintf(name, sizeof name, "%.*s.claimed-%d", (int)(n - 5), e->d_name, (int)getpid());
    snprintf(to, sizeof to, "%s/%s", dir, name);
    if (rename(from, to) != 0) continue;  // another create took it
    s = connectUnix(dir, name);
    unlink(to);
  }
  closedir(d);
  return s;
}

// Whether a live member is still starting (its PID.starting marker).
static int memberStarting(const char *dir) {
  DIR *d = opendir(dir);
  if (d == NULL) return 0;
  int found = 0;
  struct dirent *e;
  while (!found && (e = readdir(d)) != NULL) {
    size_t n = strlen(e->d_name);
    found = n > 9 && strcmp(e->d_name + n - 9, ".starting") == 0 && pidAlive(e->d_name);
  }
  closedir(d);
  return found;
}

// Claims a member, waiting for one that is starting: it is ahead of the Node path
// (which would start two Node processes from nothing), as when containers are started
// back to back faster than a member gets ready (a Node start-up and the warm-up; more
// on a loaded machine). Bounded by TSSANDBOX_OCI_POOL_WAIT ms (default 3000).
static int claimOrWait(const char *dir) {
  int s = claim(dir);
  if (s >= 0) return s;
  const char *v = getenv("TSSANDBOX_OCI_POOL_WAIT");
  long waitMs = v && *v ? strtol(v, NULL, 10) : 3000;
  struct timespec t0, now, nap = {0, 2 * 1000 * 1000};
  clock_gettime(CLOCK_MONOTONIC, &t0);
  while (memberStarting(dir)) {
    clock_gettime(CLOCK_MONOTONIC, &now);
    if ((now.tv_sec - t0.tv_sec) * 1000 + (now.tv_nsec - t0.tv_nsec) / 1000000 >= waitMs) break;
    nanosleep(&nap, NULL);
    if ((s = claim(dir)) >= 0) return s;
  }
  return claim(dir);
}

// Starts a member for the next create when the pool has fewer than its size (stale
// entries of dead members are removed). The member is a grandchild, in a session of its
// own, holding nothing of ours: stdio are pipes whose other ends are closed.
static int refill(const char *root) {
  int size = poolSize();
  if (size <= 0) return 0;
  char dir[PATH_MAX];
  if (poolDir(root, dir, sizeof dir) < 0) return 0;
  mkdir(root, 0711);
  if (mkdir(dir, 0700) != 0 && errno != EEXIST) return 0;
  DIR *d = opendir(dir);
  if (d == NULL) return 0;
  int count = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    const char *dot = strchr(e->d_name, '.');
    if (dot == NULL || e->d_name[0] == '.') continue;
    if (strcmp(dot, ".sock") && strcmp(dot, ".starting")) continue;
    if (pidAlive(e->d_name)) count++;
    else unlinkat(dirfd(d), e->d_name, 0);
  }
  closedir(d);
  if (count >= size) return 1;
  char *script = nodeEntry();
  pid_t c = fork();
  if (c < 0) return 0;
  if (c == 0) {
    setsid();
    // The marker is made before we return (so the next create sees a member starting
    // and waits for it, claimOrWait), by the middle process; the member starts once
    // that has exited (its end of `go` closed).
    int go[2];
    if (pipe2(go, O_CLOEXEC) != 0) _exit(0);
    pid_t g = fork();
    if (g < 0) _exit(0);
    char marker[PATH_MAX + 64];
    snprintf(marker, sizeof marker, "%s/%d.starting", dir, (int)(g ? g : getpid()));
    if (g != 0) {
      int m = open(marker, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
      if (m < 0) kill(g, SIGKILL);
      else close(m);
      _exit(0);
    }
    close(go[1]);
    char x;
    while (read(go[0], &x, 1) < 0 && errno == EINTR) {
    }
    close(go[0]);
    int in[2], out[2];
    if (pipe(in) != 0 || pipe(out) != 0) _exit(0);
    dup2(in[0], 0);
    dup2(out[1], 1);
    dup2(out[1], 2);
    syscall(SYS_close_range, 3, ~0U, 0);
    // Not the spawner's cwd (a bundle an engine may want to unmount or remove).
    if (chdir("/") != 0) _exit(0);
    char *args[] = {script, "__oci-pool", (char *)root, NULL};
    execv(script, args);
    unlink(marker);
    _exit(0);
  }
  while (waitpid(c, NULL, 0) < 0 && errno == EINTR) {
  }
  return 1;
}

// None ready nor starting: one started and waited for (claimOrWait), its warm-up left out
// (our PID.want, pool.ts); the socket, or -1 (Node then creates).
static int startAndClaim(const char *root, const char *dir) {
  char want[PATH_MAX + 64];
  snprintf(want, sizeof want, "%s/%d.want", dir, (int)getpid());
  mkdir(root, 0711);
  mkdir(dir, 0700);
  int w = open(want, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
  if (w >= 0) close(w);
  int s = refill(root) ? claimOrWait(dir) : -1;
  unlink(want);
  return s;
}

// ---- the front: the container's pid ----

static void frontMain(int sp, int nsfd, pid_t sentry, int ready) {
  setsid();
  if (nsfd >= 0 && setns(nsfd, CLONE_NEWNET) != 0) _exit(125);
  // In the namespace before anyone is told the pid (engines configure it through it).
  if (write(ready, "r", 1) != 1) _exit(125);
  // Nothing of the engine's: stdio and the rest closed (the Sentry holds the container's).
  if (sp != 3) {
    if (dup2(sp, 3) < 0) _exit(125);
    sp = 3;
  }
  for (int fd = 0; fd < 3; fd++) close(fd);
  syscall(SYS_close_range, 4, ~0U, 0);
  int pidfd = (int)syscall(SYS_pidfd_open, sentry, 0);
  sigset_t all;
  sigfillset(&all);
  sigprocmask(SIG_BLOCK, &all, NULL);
  int sfd = signalfd(-1, &all, SFD_CLOEXEC);
  struct pollfd p[2] = {{sp, POLLIN, 0}, {sfd, POLLIN, 0}};
  char status[16];
  size_t got = 0;
  for (;;) {
    if (poll(p, sfd >= 0 ? 2 : 1, -1) < 0) continue;
    if (p[1].revents & POLLIN) {
      struct signalfd_siginfo si;
      if (read(sfd, &si, sizeof si) == sizeof si && si.ssi_signo != SIGCHLD) {
        // Every signal for the container goes to its Sentry (the doorbell too).
        if (pidfd < 0 || syscall(SYS_pidfd_send_signal, pidfd, si.ssi_signo, NULL, 0) != 0) kill(sentry, (int)si.ssi_signo);
      }
    }
    if (p[0].revents) {
      ssize_t r = read(sp, status + got, sizeof status - 1 - got);
      if (r < 0 && errno == EINTR) continue;
      if (r > 0) {
        got += (size_t)r;
        status[got] = 0;
        if (strchr(status, '\n')) _exit(atoi(status) & 0xff);
        if (got < sizeof status - 1) continue;
      }
      // The Sentry died without a status: killed. So is the container's pid.
      signal(SIGKILL, SIG_DFL);
      kill(getpid(), SIGKILL);
      _exit(137);
    }
  }
}

static void writePidFile(const char *file, pid_t pid) {
  char tmp[PATH_MAX + 32];
  snprintf(tmp, sizeof tmp, "%s.%d.tmp", file, (int)getpid());
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  char num[32];
  int n = snprintf(num, sizeof num, "%d", (int)pid);
  if (fd < 0 || write(fd, num, (size_t)n) != n || close(fd) != 0 || rename(tmp, file) != 0) {
    die("cannot write the pid file");
  }
}

static int isHostNull(int fd) {
  struct stat st;
  if (fstat(fd, &st) != 0) return 1;  // closed: the guest gets the sandbox's /dev/null
  return S_ISCHR(st.st_mode) && st.st_rdev == makedev(1, 3);
}

static unsigned long nsIno(const char *name) {
  char p[64];
  struct stat st;
  snprintf(p, sizeof p, "/proc/self/ns/%s", name);
  return stat(p, &st) == 0 ? (unsigned long)st.st_ino : 0;
}

// <root>/<id> and the files in it (a state directory holds no subdirectory).
static void removeStateDir(const char *root, const char *id) {
  char dir[PATH_MAX];
  if (id == NULL || strchr(id, '/') || !strcmp(id, ".") || !strcmp(id, "..") ||
      (size_t)snprintf(dir, sizeof dir, "%s/%s", root, id) >= sizeof dir) return;
  DIR *d = opendir(dir);
  if (d == NULL) return;
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) unlinkat(dirfd(d), e->d_name, 0);
  }
  closedir(d);
  rmdir(dir);
}

int poolCreate(const char *root, char **argv, int cmdIndex) {
  if (poolSize() <= 0) fallback();
  // create's flags (runc's); anything else: Node.
  const char *pidFile = NULL;
  int consoleSocket = 0, preserve = 0, ids = 0;
  const char *id = NULL;
  for (int i = cmdIndex + 1; argv[i]; i++) {
    const char *a = argv[i];
    if (a[0] != '-') {
      ids++;
      id = a;
      continue;
    }
    if (ids) fallback();
    const char *name = a + (a[1] == '-' ? 2 : 1);
    const char *eq = strchr(name, '=');
    size_t nl = eq ? (size_t)(eq - name) : strlen(name);
    int valued = (nl == 6 && !strncmp(name, "bundle", 6)) || (nl == 1 && name[0] == 'b') ||
                 (nl == 8 && !strncmp(name, "pid-file", 8)) || (nl == 14 && !strncmp(name, "console-socket", 14)) ||
                 (nl == 12 && !strncmp(name, "preserve-fds", 12));
    int boolean = (nl == 8 && !strncmp(name, "no-pivot", 8)) || (nl == 14 && !strncmp(name, "no-new-keyring", 14)) ||
                  (nl == 12 && !strncmp(name, "no-subreaper", 12));
    if (boolean && !eq) continue;
    if (!valued) fallback();
    const char *v = eq ? eq + 1 : argv[++i];
    if (v == NULL) fallback();
    if (!strncmp(name, "pid-file", 8)) pidFile = v;
    else if (!strncmp(name, "console-socket", 14)) consoleSocket = 1;
    else if (!strncmp(name, "preserve-fds", 12)) {
      char *end;
      long n = strtol(v, &end, 10);
      if (!*v || *end || n < 0 || n > MAX_FDS - 4) fallback();
      preserve = (int)n;
    }
  }
  if (ids != 1) fallback();
  char dir[PATH_MAX];
  if (poolDir(root, dir, sizeof dir) < 0) fallback();
  int s = claimOrWait(dir);
  if (s < 0) s = startAndClaim(root, dir);
  if (s < 0) fallback();
  // The request: the command line as given, where it was given, what may change the
  // Sentry's behaviour, the namespaces it must share with us, and the fds.
  struct Buf b = {0};
  puts_(&b, "{\"op\":\"create\",\"argv\":[");
  for (int i = 1; argv[i]; i++) {
    if (i > 1) puts_(&b, ",");
    putStr(&b, argv[i]);
  }
  char cwd[PATH_MAX];
  if (getcwd(cwd, sizeof cwd) == NULL) fallback();
  puts_(&b, "],\"cwd\":");
  putStr(&b, cwd);
  puts_(&b, ",\"env\":{");
  int first = 1;
  for (char **e = environ; *e; e++) {
    if (strncmp(*e, "TSSANDBOX_", 10) && strncmp(*e, "NODE_OPTIONS=", 13)) continue;
    const char *eq = strchr(*e, '=');
    if (eq == NULL) continue;
    char key[256];
    snprintf(key, sizeof key, "%.*s", (int)(eq - *e), *e);
    if (!first) puts_(&b, ",");
    first = 0;
    putStr(&b, key);
    puts_(&b, ":");
    putStr(&b, eq + 1);
  }
  char ns[160];
  snprintf(ns, sizeof ns, "},\"ns\":{\"mnt\":%lu,\"pid\":%lu,\"user\":%lu},\"nullFds\":[", nsIno("mnt"), nsIno("pid"), nsIno("user"));
  puts_(&b, ns);
  int fds[MAX_FDS], nfds = 0;
  int netns = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
  if (netns < 0) fallback();
  fds[nfds++] = netns;
  int nulls = 0;
  for (int fd = 0; fd < 3; fd++) {
    if (consoleSocket || isHostNull(fd)) {
      char num[8];
      snprintf(num, sizeof num, "%s%d", nulls++ ? "," : "", fd);
      puts_(&b, num);
    } else {
      fds[nfds++] = fd;
    }
  }
  for (int i = 0; i < preserve; i++) fds[nfds++] = 3 + i;
  char tail[64];
  snprintf(tail, sizeof tail, "],\"preserve\":%d}\n", preserve);
  puts_(&b, tail);
  if (sendWithFds(s, b.p, b.len, fds, nfds) != 0) fallback();  // nothing done yet
  close(netns);
  char line[8192], val[4096];
  int nsfd;
  if (recvLine(s, line, sizeof line, &nsfd) != 0) die("the sandbox exited while being created");
  if (jsonField(line, "retry", val, sizeof val) == 0) {
    // Another environment or namespace than the member's: it is gone, Node does this one.
    close(s);
    refill(root);
    fallback();
  }
  if (jsonField(line, "front", val, sizeof val) != 0) {
    if (jsonField(line, "error", val, sizeof val) != 0) snprintf(val, sizeof val, "the sandbox failed while being created");
    removeCgroup(line);
    die(val);
  }
  pid_t sentry = (pid_t)atol(val);
  int sp[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) != 0) die("cannot make the container's process");
  int ready[2];
  if (pipe2(ready, O_CLOEXEC) != 0) die("cannot make the container's process");
  pid_t front = fork();
  if (front < 0) die("cannot make the container's process");
  if (front == 0) {
    close(s);
    close(sp[1]);
    close(ready[0]);
    frontMain(sp[0], nsfd, sentry, ready[1]);
  }
  close(sp[0]);
  close(ready[1]);
  if (nsfd >= 0) close(nsfd);
  char r1;
  ssize_t rr;
  while ((rr = read(ready[0], &r1, 1)) < 0 && errno == EINTR) {
  }
  close(ready[0]);
  char msg[64];
  int n = snprintf(msg, sizeof msg, "{\"pid\":%d}\n", (int)front);
  int ok = rr == 1 && sendWithFds(s, msg, (size_t)n, &sp[1], 1) == 0;
  close(sp[1]);
  int dummy;
  if (ok && recvLine(s, line, sizeof line, &dummy) == 0 && strncmp(line, "{\"ok\":true", 10) == 0) {
    if (pidFile) writePidFile(pidFile, front);
    refill(root);
    return 0;
  }
  // A member that failed once confined (src/oci/sandbox.ts confinesEarly) can remove no
  // path: its state directory is ours to remove.
  if (ok && jsonField(line, "leftover", val, sizeof val) == 0) removeStateDir(root, id);
  if (!ok || jsonField(line, "error", val, sizeof val) != 0) snprintf(val, sizeof val, "the sandbox exited while being created");
  // The member cleaned up (or we did) and exits; the front follows it.
  kill(front, SIGKILL);
  while (waitpid(front, NULL, 0) < 0 && errno == EINTR) {
  }
  if (ok) removeCgroup(line);
  die(val);
  return 1;
}
