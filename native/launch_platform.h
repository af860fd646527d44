// The platform probe's cache for a run whose Sentry the front puts in its own user
// namespace (sentry_launch.cc). src/cli/platforms.ts caches which platforms work in a file
// of the host uid it runs as; a launched Sentry's host uid is its own (by default one per
// Sentry, so that no two share a uid), which could neither read the invoking user's cache
// nor keep one of its own: every run would probe (about 1 s) and leave a directory. So the
// front, as the invoking user, opens the invoking user's cache file read-only (the first
// place platforms.ts would read: $XDG_CACHE_HOME/tssandbox, ~/.cache/tssandbox,
// $TMPDIR/tssandbox-UID) and hands it on (--tss-platform-cache=FD); when there is none
// yet it first runs `tssandbox platforms` (the old path, as the invoking user), which
// probes once and writes it. Read-only: a Sentry taken over cannot write the user's files.
#pragma once
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

namespace tss_launch {

// platforms.ts's cache key: `${os.release()}-${version()}-uid${uid}`, [^A-Za-z0-9._-] -> _.
inline bool PlatformCacheKey(const char* pkg, uid_t uid, char* out, size_t cap) {
  struct utsname u;
  if (uname(&u) != 0) return false;
  char f[4200];
  snprintf(f, sizeof f, "%s/package.json", pkg);
  FILE* pj = fopen(f, "re");
  if (!pj) return false;
  char buf[8192];
  size_t n = fread(buf, 1, sizeof buf - 1, pj);
  fclose(pj);
  buf[n] = 0;
  // "version": "X": the first one is the package's (npm writes it near the top).
  char* v = strstr(buf, "\"version\"");
  char* q1 = v ? strchr(v + 9, '"') : nullptr;
  char* q2 = q1 ? strchr(q1 + 1, '"') : nullptr;
  if (!q2) return false;
  snprintf(f, sizeof f, "%s/build/Release/tssandbox-stub", pkg);
  struct stat st;
  if (stat(f, &st) != 0) return false;
  long long ms = (long long)st.st_mtim.tv_sec * 1000 + st.st_mtim.tv_nsec / 1000000;
  int len = snprintf(out, cap, "%s-%.*s-%lld-uid%u", u.release, (int)(q2 - q1 - 1), q1 + 1, ms, (unsigned)uid);
  if (len < 0 || (size_t)len >= cap) return false;
  for (char* c = out; *c; c++)
    if (!((*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '.' || *c == '_' || *c == '-')) *c = '_';
  return true;
}

// The first cache file there is, opened read-only (CLOEXEC); -1 when none. Only a regular
// file of the invoking user's, reached without a symlink at the end.
inline int OpenPlatformCache(const char* key, uid_t uid) {
  const char* xdg = getenv("XDG_CACHE_HOME");
  const char* home = getenv("HOME");
  const char* tmp = getenv("TMPDIR");
  if (!tmp || !*tmp) tmp = getenv("TMP");
  if (!tmp || !*tmp) tmp = getenv("TEMP");
  if (!tmp || !*tmp) tmp = "/tmp";
  char dirs[3][4200];
  int nd = 0;
  if (xdg && *xdg) snprintf(dirs[nd++], sizeof dirs[0], "%s/tssandbox", xdg);
  if (home && *home) snprintf(dirs[nd++], sizeof dirs[0], "%s/.cache/tssandbox", home);
  snprintf(dirs[nd++], sizeof dirs[0], "%s/tssandbox-%u", tmp, (unsigned)uid);
  for (int i = 0; i < nd; i++) {
    char f[8500];
    if (snprintf(f, sizeof f, "%s/platforms-%s.json", dirs[i], key) >= (int)sizeof f) continue;
    int fd = open(f, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) continue;
    struct stat st;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == uid && st.st_size > 0) return fd;
    close(fd);
  }
  return -1;
}

// Runs `node SCRIPT platforms` (the old path: not a run), its output to /dev/null: probes
// and writes the invoking user's cache. Bounded by the probes' own timeouts.
inline void WritePlatformCache(const char* node, const char* script) {
  pid_t p = fork();
  if (p < 0) return;
  if (p == 0) {
    int null = open("/dev/null", O_RDWR);
    if (null < 0 || dup2(null, 0) < 0 || dup2(null, 1) < 0 || dup2(null, 2) < 0) _exit(127);
    syscall(SYS_close_range, 3, ~0U, 0);
    execl(node, node, script, "platforms", (char*)nullptr);
    _exit(127);
  }
  while (waitpid(p, nullptr, 0) < 0 && errno == EINTR) {
  }
}

}  // namespace tss_launch
