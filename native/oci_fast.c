// tssandbox-oci: the OCI runtime's entry for engines (what `tssandbox install` registers).
// Every OCI command used to be a fresh Node process (~40 ms of start-up each, most of a
// container's create+start+wait+delete). This program serves the two commands every
// lifecycle makes after `create`, in their plain form, without Node:
//   start ID              (no startContainer/poststart hooks)
//   delete [--force] ID   (no poststop hooks)
//   kill [--all] ID [SIGNAL]
// and hands everything else, unchanged, to the Node command line (bin/tssandbox, found
// from this file's own path), which also gives every error message: whenever the fast
// path meets anything it does not handle (an unknown flag, a hook, a status other than
// the one it expects, a long socket path), it execs Node before doing anything.
//
// It reads what the Node side writes: <root>/<id>/state.json (JSON.stringify, compact:
// "pid":N, "pidStart":"S", "status":"X"), <root>/<id>/fast ("v1 START_HOOKS
// POSTSTOP_HOOKS", written by create), takes <root>/<id>/lock as the Node side does
// (flock), and speaks the control protocol of src/oci/control.ts (a JSON line, the
// SIGWINCH doorbell, a JSON line back).
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "oci_cgroup_rm.h"
#include "oci_fast.h"

static char **g_argv;
const char *g_log = NULL;
int g_json = 0;

// bin/tssandbox, found from this program's own path (build/Release/tssandbox-oci).
char *nodeEntry(void) {
  char self[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  if (n <= 0) {
    fprintf(stderr, "tssandbox: cannot find its own path\n");
    exit(125);
  }
  self[n] = 0;
  // build/Release/tssandbox-oci -> bin/tssandbox
  char *p = strrchr(self, '/');
  for (int up = 0; up < 2 && p != NULL; up++) {
    *p = 0;
    p = strrchr(self, '/');
  }
  if (p == NULL) exit(125);
  *p = 0;
  static char script[PATH_MAX + 32];
  snprintf(script, sizeof script, "%s/bin/tssandbox", self);
  return script;
}

// Runs the Node command line with the arguments as given.
void fallback(void) {
  char *script = nodeEntry();
  g_argv[0] = script;
  execv(script, g_argv);
  fprintf(stderr, "tssandbox: cannot run %s: %s\n", script, strerror(errno));
  exit(125);
}

void logError(const char *msg) {
  if (g_log == NULL) return;
  int fd = open(g_log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return;
  char ts[64];
  time_t now = time(NULL);
  struct tm tm;
  gmtime_r(&now, &tm);
  strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S.000Z", &tm);
  // The message quoted for the line's format: containerd parses the JSON one, and an
  // error naming a program ("exec: \"sleep\": ...") must not break it.
  char q[4096];
  size_t k = 0;
  for (const unsigned char *c = (const unsigned char *)msg; *c && k + 8 < sizeof q; c++) {
    if (*c == '"' || *c == '\\') {
      q[k++] = '\\';
      q[k++] = (char)*c;
    } else if (*c < 0x20) {
      if (g_json) k += (size_t)snprintf(q + k, sizeof q - k, "\\u%04x", *c);
      else q[k++] = ' ';
    } else {
      q[k++] = (char)*c;
    }
  }
  q[k] = 0;
  if (g_json) dprintf(fd, "{\"level\":\"error\",\"msg\":\"%s\",\"time\":\"%s\"}\n", q, ts);
  else dprintf(fd, "time=\"%s\" level=error msg=\"%s\"\n", ts, q);
  close(fd);
}

void die(const char *msg) {
  fprintf(stderr, "tssandbox: %s\n", msg);
  logError(msg);
  exit(1);
}


// The value of "key" in compact, flat JSON (state.json, the Sentry's and pool members'
// replies): a string decoded into out (\u escapes, only ever control characters here,
// as '?'), or a number's text. 0, or -1 when the key is missing.
int jsonField(const char *json, const char *key, char *out, unsigned long cap) {
  char pat[64];
  snprintf(pat, sizeof pat, "\"%s\":", key);
  const char *p = strstr(json, pat);
  if (p == NULL) return -1;
  p += strlen(pat);
  size_t i = 0;
  if (*p == '"') {
    for (p++; *p && *p != '"' && i + 1 < cap; p++) {
      if (*p == '\\' && p[1]) {
        p++;
        if (*p == 'n') out[i++] = '\n';
        else if (*p == 'u') {
          out[i++] = '?';
          for (int k = 0; k < 4 && p[1]; k++) p++;
        } else out[i++] = *p;
      } else out[i++] = *p;
    }
  } else {
    for (; *p && *p != ',' && *p != '}' && i + 1 < cap; p++) out[i++] = *p;
  }
  out[i] = 0;
  return 0;
}


// A connected stream socket to dir/name, reached through the directory's fd (a socket
// path may be longer than sun_path: engines' state directories are), or -1.
int connectUnix(const char *dir, const char *name) {
  int d = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (d < 0) return -1;
  struct sockaddr_un sa = {.sun_family = AF_UNIX};
  int len = snprintf(sa.sun_path, sizeof sa.sun_path, "/proc/self/fd/%d/%s", d, name);
  int s = -1;
  if (len > 0 && (size_t)len < sizeof sa.sun_path) {
    s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s >= 0 && connect(s, (struct sockaddr *)&sa, sizeof sa) < 0) {
      close(s);
      s = -1;
    }
  }
  close(d);
  return s;
}

static int validId(const char *id) {
  if (id == NULL || !*id || !strcmp(id, ".") || !strcmp(id, "..")) return 0;
  for (const char *c = id; *c; c++) {
    if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') || strchr("_+-.", *c))) return 0;
  }
  return 1;
}

struct Container {
  char dir[PATH_MAX];
  char statePath[PATH_MAX + 32];
  char state[65536];
  long pid;
  char pidStart[64];
  char status[32];
  int startHooks, stopHooks;
  int lockFd;
};

// Locks and reads the container; 0, or -1 when Node must take over (nothing done yet but the lock).
static int load(struct Container *c, const char *root, const char *id) {
  if ((size_t)snprintf(c->dir, sizeof c->dir, "%s/%s", root, id) >= sizeof c->dir) return -1;
  snprintf(c->statePath, sizeof c->statePath, "%s/state.json", c->dir);
  char path[PATH_MAX + 16], buf[256];
  snprintf(path, sizeof path, "%s/lock", c->dir);
  c->lockFd = open(path, O_RDWR | O_CLOEXEC);
  if (c->lockFd < 0) return -1;
  while (flock(c->lockFd, LOCK_EX) < 0) {
    if (errno != EINTR) return -1;
  }
  snprintf(path, sizeof path, "%s/fast", c->dir);
  if (ociReadText(path, buf, sizeof buf) <= 0 || sscanf(buf, "v1 %d %d", &c->startHooks, &c->stopHooks) != 2) return -1;
  if (ociReadText(c->statePath, c->state, sizeof c->state) <= 0) return -1;
  char pid[32];
  if (jsonField(c->state, "pid", pid, sizeof pid) < 0 || jsonField(c->state, "pidStart", c->pidStart, sizeof c->pidStart) < 0 ||
      jsonField(c->state, "status", c->status, sizeof c->status) < 0) {
    return -1;
  }
  c->pid = strtol(pid, NULL, 10);
  return 0;
}

static int alive(const struct Container *c) {
  char now[64];
  ociProcStart(c->pid, now, sizeof now);
  return c->pid > 0 && now[0] && !strcmp(now, c->pidStart);
}

static void unlockAndFallback(struct Container *c) {
  if (c->lockFd >= 0) close(c->lockFd);
  fallback();
}

// One request on the control socket, the doorbell rung, the reply line read. 0; -1: no
// connection (nothing sent: Node may take over); -2: the send failed; -3: no reply.
static int request(struct Container *c, const char *line, char *reply, size_t cap) {
  int s = connectUnix(c->dir, "ctl.sock");
  if (s < 0) return -1;
  if (write(s, line, strlen(line)) != (ssize_t)strlen(line)) {
    close(s);
    return -2;
  }
  kill((pid_t)c->pid, SIGWINCH);  // the doorbell (src/oci/README.md)
  size_t got = 0;
  while (got + 1 < cap) {
    ssize_t r = read(s, reply + got, cap - 1 - got);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    got += (size_t)r;
    if (memchr(reply, '\n', got)) break;
  }
  reply[got] = 0;
  close(s);
  return got == 0 ? -3 : 0;
}

static int cmdStart(const char *root, char **args, int n) {
  if (n != 1 || args[0][0] == '-' || !validId(args[0])) fallback();
  static struct Container c;
  c.lockFd = -1;
  if (load(&c, root, args[0]) < 0 || c.startHooks || strcmp(c.status, "created") != 0 || !alive(&c)) unlockAndFallback(&c);
  char reply[4096];
  int r = request(&c, "{\"op\":\"start\"}\n", reply, sizeof reply);
  if (r == -1) unlockAndFallback(&c);
  if (r == -2) die("cannot talk to the container's sandbox");
  if (r == -3) die("the container's sandbox closed the connection");
  if (strncmp(reply, "{\"ok\":true", 10) != 0) {
    char err[2048];
    if (jsonField(reply, "error", err, sizeof err) < 0) snprintf(err, sizeof err, "start failed");
    die(err);
  }
  // Recorded under the lock, as the Node side does: the started Sentry writes no host path.
  char *st = strstr(c.state, "\"status\":\"created\"");
  if (st == NULL) die("internal error: state.json changed under the lock");
  char out[65600];
  snprintf(out, sizeof out, "%.*s\"status\":\"running\"%s", (int)(st - c.state), c.state, st + strlen("\"status\":\"created\""));
  char tmp[PATH_MAX + 64];
  snprintf(tmp, sizeof tmp, "%s.%d.tmp", c.statePath, (int)getpid());
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0 || write(fd, out, strlen(out)) != (ssize_t)strlen(out) || close(fd) < 0 || rename(tmp, c.statePath) < 0) {
    die("cannot record the container's state");
  }
  return 0;
}

// As runc, the container's host cgroup (state.json's or a failed create's reply's
// "cgroup":{...,"memory":..,"pids":..,"cpu":..,"reapers":..}) is gone before delete (or
// the create) returns, the Gofer and stubs left in it too.
void removeCgroup(const char *state) {
  const char *cg = strstr(state, "\"cgroup\":{");
  if (cg == NULL) return;
  static char d[3][4300], reapers[256];
  static const char *const keys[3] = {"memory", "pids", "cpu"};
  const char *dirs[3];
  for (int i = 0; i < 3; i++) {
    if (jsonField(cg, keys[i], d[i], sizeof d[i]) < 0) d[i][0] = 0;
    dirs[i] = d[i];
  }
  if (jsonField(cg, "reapers", reapers, sizeof reapers) < 0) reapers[0] = 0;
  int r = ociRemoveSandboxCgroup(dirs, 3, reapers);
  if (r < 0) {
    char msg[128];
    snprintf(msg, sizeof msg, "cannot remove the container's cgroup: %s", strerror(-r));
    logError(msg);
  }
}

static int cmdDelete(const char *root, char **args, int n) {
  int force = 0;
  const char *id = NULL;
  for (int i = 0; i < n; i++) {
    if (!strcmp(args[i], "--force") || !strcmp(args[i], "-f") || !strcmp(args[i], "-force")) force = 1;
    else if (args[i][0] == '-' || id != NULL) fallback();
    else id = args[i];
  }
  if (!validId(id)) fallback();
  static struct Container c;
  c.lockFd = -1;
  if (force) {
    // As runc (and the Node side): --force on a container that is gone is no error.
    // Engines delete twice (delete, then delete --force).
    char dir[PATH_MAX + 8];
    struct stat st;
    if ((size_t)snprintf(dir, sizeof dir, "%s/%s", root, id) < sizeof dir && lstat(dir, &st) != 0 && errno == ENOENT) return 0;
  }
  if (load(&c, root, id) < 0 || c.stopHooks || !strcmp(c.status, "creating")) unlockAndFallback(&c);
  int live = alive(&c);
  if (live && !force) unlockAndFallback(&c);  // running or paused: Node says why not
  if (live) {
    kill((pid_t)c.pid, SIGKILL);
    // Polled each ms (a 5 ms step was most of a delete): bounded at 10 s.
    for (int i = 0; i < 10000 && alive(&c); i++) ociPause(1);
  }
  // A pool Sentry (src/oci/pool.ts) behind its front: it follows the front at once; waited for too.
  char spid[32];
  static struct Container sc;
  if (jsonField(c.state, "sentryPid", spid, sizeof spid) == 0 && jsonField(c.state, "sentryStart", sc.pidStart, sizeof sc.pidStart) == 0) {
    sc.pid = strtol(spid, NULL, 10);
    if (alive(&sc)) kill((pid_t)sc.pid, SIGKILL);
    for (int i = 0; i < 10000 && alive(&sc); i++) ociPause(1);
  }
  removeCgroup(c.state);
  // The state directory is flat (state.json, init.json, lock, fast, ctl.sock, exec-*.json).
  DIR *d = opendir(c.dir);
  if (d == NULL) die("cannot remove the container's state");
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
    unlinkat(dirfd(d), e->d_name, 0);
  }
  closedir(d);
  if (rmdir(c.dir) < 0 && errno != ENOENT) fallback();  // something unexpected inside: Node's rm -r
  return 0;
}

// kill ID [SIGNAL] (a number, or a name with or without SIG) [--all].
static int cmdKill(const char *root, char **args, int n) {
  static const struct { const char *name; int nr; } names[] = {
      {"HUP", 1}, {"INT", 2}, {"QUIT", 3}, {"KILL", 9}, {"USR1", 10}, {"USR2", 12}, {"TERM", 15},
      {"CONT", 18}, {"STOP", 19}, {"WINCH", 28},
  };
  int all = 0, sig = 15;
  const char *pos[2] = {NULL, NULL};
  int np = 0;
  for (int i = 0; i < n; i++) {
    if (!strcmp(args[i], "--all") || !strcmp(args[i], "-a")) all = 1;
    else if (args[i][0] == '-' || np == 2) fallback();
    else pos[np++] = args[i];
  }
  if (np == 0 || !validId(pos[0])) fallback();
  if (np == 2) {
    const char *v = pos[1];
    char *end;
    long num = strtol(v, &end, 10);
    if (*v && *end == 0) {
      if (num < 0 || num > 64) fallback();
      sig = (int)num;
    } else {
      if (!strncasecmp(v, "SIG", 3)) v += 3;
      sig = -1;
      for (size_t k = 0; k < sizeof names / sizeof names[0]; k++) {
        if (!strcasecmp(v, names[k].name)) sig = names[k].nr;
      }
      if (sig < 0) fallback();  // other names: Node knows them all
    }
  }
  static struct Container c;
  c.lockFd = -1;
  if (load(&c, root, pos[0]) < 0 || !strcmp(c.status, "creating") || !alive(&c)) unlockAndFallback(&c);
  char line[128], reply[4096];
  snprintf(line, sizeof line, "{\"op\":\"kill\",\"signal\":%d,\"all\":%s}\n", sig, all ? "true" : "false");
  int r = request(&c, line, reply, sizeof reply);
  if (r == -1 && !(sig == 9)) unlockAndFallback(&c);
  if (r != 0 || strncmp(reply, "{\"ok\":true", 10) != 0) {
    // The Sentry did not answer: SIGKILL still ends it (and its Gofer and stubs with it).
    if (sig == 9 && alive(&c)) {
      kill((pid_t)c.pid, SIGKILL);
      return 0;
    }
    char err[2048];
    if (r != 0 || jsonField(reply, "error", err, sizeof err) < 0) snprintf(err, sizeof err, "container not running");
    die(err);
  }
  return 0;
}

int main(int argc, char **argv) {
  g_argv = argv;
  const char *root = "/run/tssandbox";
  int i = 1, debug = 0;
  // The global flags engines put first (runc's); any other makes Node take over.
  for (; i < argc && argv[i][0] == '-'; i++) {
    const char *a = argv[i];
    const char *v = strchr(a, '=');
    char name[64];
    size_t nl = v ? (size_t)(v - a) : strlen(a);
    if (nl >= sizeof name) fallback();
    memcpy(name, a, nl);
    name[nl] = 0;
    const char *flag = name[1] == '-' ? name + 2 : name + 1;
    int takesValue = !strcmp(flag, "root") || !strcmp(flag, "log") || !strcmp(flag, "log-format") ||
                     !strcmp(flag, "rootless") || !strcmp(flag, "platform") || !strcmp(flag, "network") ||
                     !strcmp(flag, "criu");
    int boolean = !strcmp(flag, "systemd-cgroup") || !strcmp(flag, "debug");
    if (!takesValue && !boolean) fallback();  // --help, --version...: Node
    if (boolean) {
      if (v) fallback();
      if (!strcmp(flag, "debug")) debug = 1;
      continue;
    }
    const char *val = v ? v + 1 : (i + 1 < argc ? argv[++i] : NULL);
    if (val == NULL) fallback();
    if (!strcmp(flag, "root")) root = val;
    else if (!strcmp(flag, "log")) g_log = val;
    else if (!strcmp(flag, "log-format")) {
      if (strcmp(val, "json") && strcmp(val, "text")) fallback();
      g_json = !strcmp(val, "json");
    } else if (!strcmp(flag, "platform") && strcmp(val, "ptrace") && strcmp(val, "systrap")) fallback();
  }
  if (i >= argc) fallback();
  char rootAbs[PATH_MAX];
  if (root[0] != '/') {
    if (getcwd(rootAbs, sizeof rootAbs) == NULL || strlen(rootAbs) + strlen(root) + 2 > sizeof rootAbs) fallback();
    strcat(rootAbs, "/");
    strcat(rootAbs, root);
    root = rootAbs;
  }
  const char *cmd = argv[i];
  // --debug: the pool Sentry logs its phases as __oci-sentry does; the rest is Node's.
  if (!strcmp(cmd, "create")) return poolCreate(root, argv, i);
  if (debug) fallback();
  if (!strcmp(cmd, "start")) return cmdStart(root, argv + i + 1, argc - i - 1);
  if (!strcmp(cmd, "delete")) return cmdDelete(root, argv + i + 1, argc - i - 1);
  if (!strcmp(cmd, "kill")) return cmdKill(root, argv + i + 1, argc - i - 1);
  fallback();
  return 125;
}
