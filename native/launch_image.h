// The limits a `restore` (or a pool worker's --template) gets its host cgroup for: those of
// the run it resumes, read by the front from the image's header before anything else.
//
// Why the image and not the command line: restore takes no limits (src/cli/restore.ts: the
// image names the sandbox's shape, and the restored Sentry counts with the image's limits),
// and the image is trusted as a command line already (it names the host paths the sandbox
// binds). The front reads the file itself, as the invoking user, from the path on its own
// command line: nothing the restored Sentry says. An image the front cannot read the
// limits of (not an image, cut short, its run record past kMaxMeta) keeps the old path,
// where the Sentry reads it and refuses what is broken: never less bounded than before.
//
// The image (src/snapshot/format.ts): magic "TSSNAP\0\0" | version u32 | meta bytes u32 |
// payload bytes u32 | sha256 (32) | meta (JSON from JSON.stringify) | payload. The meta's
// top-level "run" object holds memoryLimit (a number, or {"$num":"Infinity"} for none) and
// pidsLimit (a number). Parsed as JSON, not searched: a guest's string elsewhere in the
// meta (a path, a name) that spells a key is inside a string and never read as one.
#pragma once
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <unistd.h>
#include "launch_cgroup.h"

namespace tss_launch {

// src/snapshot/format.ts's header (version 5): the meta starts at the u64 after the sha256.
constexpr size_t kImageHead = 8 + 4 + 4 + 4 + 32 + 8;
constexpr size_t kMaxMeta = 16u << 20;  // the run record sits near the start of the meta

struct JsonCursor {
  const char* p;
  const char* e;
  void Ws() {
    while (p < e && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')) p++;
  }
  bool Eat(char c) {
    Ws();
    if (p < e && *p == c) return p++, true;
    return false;
  }
  // A string (p at its '"'): its raw bytes (escapes kept as written) into out, cut at cap.
  bool Str(char* out, size_t cap) {
    if (!Eat('"')) return false;
    size_t n = 0;
    while (p < e && *p != '"') {
      if (*p == '\\' && ++p == e) return false;
      if (n + 1 < cap) out[n++] = *p;
      p++;
    }
    if (cap) out[n < cap ? n : cap - 1] = 0;
    return p < e && p++;
  }
  // Any value, skipped (nesting counted, strings skipped whole).
  bool Skip() {
    Ws();
    if (p >= e) return false;
    if (*p == '"') return Str(nullptr, 0);
    if (*p != '{' && *p != '[') {
      const char* s = p;
      while (p < e && !strchr(",}] \t\r\n", *p)) p++;
      return p > s;
    }
    long depth = 0;
    while (p < e) {
      if (*p == '"') {
        if (!Str(nullptr, 0)) return false;
        continue;
      }
      if (*p == '{' || *p == '[') depth++;
      else if (*p == '}' || *p == ']') depth--;
      p++;
      if (depth == 0) return true;
    }
    return false;
  }
  // A whole number (as JSON.stringify writes one of src/cli/args.ts's limits), or
  // {"$num":"Infinity"} (*inf). False for anything else.
  bool Limit(long long* v, bool* inf) {
    Ws();
    *inf = false;
    if (p < e && *p == '{') {
      char k[8], s[16];
      bool ok = Eat('{') && Str(k, sizeof k) && Eat(':') && Str(s, sizeof s) && Eat('}');
      return (*inf = ok && strcmp(k, "$num") == 0 && strcmp(s, "Infinity") == 0);
    }
    if (p >= e || *p < '0' || *p > '9') return false;
    long long n = 0;
    while (p < e && *p >= '0' && *p <= '9') {
      if (n > (1ll << 52)) return false;
      n = n * 10 + (*p++ - '0');
    }
    *v = n;
    return p == e || strchr(",} \t\r\n", *p);
  }
};

// From meta[0..n): run.memoryLimit and run.pidsLimit into lim (as the command line of the
// run would have set them: no --memory for Infinity, no --pids-limit for the default).
inline bool RunLimits(const char* meta, size_t n, SandboxLimits* lim) {
  JsonCursor c{meta, meta + n};
  if (!c.Eat('{')) return false;
  char key[32];
  while (c.Str(key, sizeof key) && c.Eat(':')) {
    if (strcmp(key, "run") != 0) {
      if (!c.Skip() || !c.Eat(',')) return false;
      continue;
    }
    if (!c.Eat('{')) return false;
    bool mem = false, pids = false;
    do {
      if (!c.Str(key, sizeof key) || !c.Eat(':')) return false;
      long long v = 0;
      bool inf = false;
      if (strcmp(key, "memoryLimit") == 0) {
        if (mem || !c.Limit(&v, &inf) || (!inf && v < 1)) return false;
        lim->memory = inf ? -1 : v;
        mem = true;
      } else if (strcmp(key, "pidsLimit") == 0) {
        if (pids || !c.Limit(&v, &inf) || inf || v < 1 || v >= (1ll << 31)) return false;
        lim->pids = v == kDefaultPids ? -1 : v;
        pids = true;
      } else if (!c.Skip()) {
        return false;
      }
    } while (c.Eat(','));
    return c.Eat('}') && mem && pids;
  }
  return false;
}

// The limits of image `file` (DIR/checkpoint.img) into lim; false when they cannot be read.
inline bool ImageLimits(const char* file, SandboxLimits* lim) {
  int fd = open(file, O_RDONLY | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) return false;
  unsigned char head[kImageHead];
  bool ok = pread(fd, head, sizeof head, 0) == (ssize_t)sizeof head && memcmp(head, "TSSNAP\0\0", 8) == 0;
  uint32_t metaLen = ok ? (uint32_t)head[12] | (uint32_t)head[13] << 8 | (uint32_t)head[14] << 16 | (uint32_t)head[15] << 24 : 0;
  uint64_t metaAt = 0;
  for (int i = 7; ok && i >= 0; i--) metaAt = metaAt << 8 | head[52 + i];
  size_t want = metaLen < kMaxMeta ? metaLen : kMaxMeta;
  char* meta = ok && want ? static_cast<char*>(malloc(want)) : nullptr;
  size_t got = 0;
  while (meta && got < want) {
    ssize_t r = pread(fd, meta + got, want - got, (off_t)(metaAt + got));
    if (r <= 0) break;
    got += (size_t)r;
  }
  close(fd);
  SandboxLimits found;
  ok = meta && got == want && RunLimits(meta, got, &found);
  free(meta);
  if (ok) lim->memory = found.memory, lim->pids = found.pids;
  return ok;
}

}  // namespace tss_launch
