// Reads of host regular files into guest memory in one copy: the host file's range is
// mapped read-only into the Sentry (a few windows kept, MAP_POPULATE: the page cache's
// readahead fills it) and process_vm_writev copies page cache -> guest. The plain path
// (pread into a Sentry buffer, then process_vm_writev) copies twice.
//
// Safety: the Sentry never touches a window's pages in user mode; only the kernel does,
// inside process_vm_writev, where a page past a shrunken file's end is a fault the
// kernel fixes up (a short count, never SIGBUS to the Sentry). A short count makes the
// caller fall back to the plain path for the rest, which gives pread's answer
// (EOF, or EFAULT for a bad guest range). Windows are keyed by the file's (st_dev,
// st_ino), checked by fstat on every call, so a reused fd number never reads another
// file's window; MAP_SHARED sees the same page cache as writes through any fd. A window
// keeps its file's pages, and a deleted file's blocks, while it is mapped: the Sentry
// drops a file's windows when it unlinks or truncates it (hostFileWindowsDrop), so at
// most an LRU window of a file deleted on the host side outlives it (32 MiB in all).
#include "common.h"
#include <cerrno>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

namespace tss {
namespace {

constexpr int64_t kWindow = 8 << 20;      // one mapping's span (aligned to itself)
constexpr size_t kMinMapped = 64 << 10;   // smaller reads: the plain path is cheaper
constexpr int kWindows = 4;               // kept at once (LRU), so a few files stream together
// Not an errno a read returns: "take the plain path" (JS falls back to hostReadToGuest).
constexpr int kFallback = -1000;

struct Window {
  dev_t dev = 0;
  ino_t ino = 0;
  int64_t start = 0;  // file offset of the first mapped byte
  size_t len = 0;     // 0: empty slot
  void* p = nullptr;
  uint64_t used = 0;
};
Window g_win[kWindows];
uint64_t g_tick = 0;

void Drop(Window& w) {
  if (w.len) munmap(w.p, w.len);
  w = Window();
}

// The window of (dev, ino) holding offset at, mapping a new one (evicting the least
// recently used) when none does; nullptr when the file cannot be mapped.
Window* WindowFor(int fd, const struct stat& st, int64_t at) {
  Window* lru = &g_win[0];
  for (Window& w : g_win) {
    if (w.len && w.dev == st.st_dev && w.ino == st.st_ino && at >= w.start && at < w.start + (int64_t)w.len) {
      w.used = ++g_tick;
      return &w;
    }
    if (w.used < lru->used) lru = &w;
  }
  int64_t start = at - at % kWindow;
  int64_t end = st.st_size < start + kWindow ? st.st_size : start + kWindow;
  size_t len = (size_t)(end - start);
  if (len == 0) return nullptr;
  void* p = mmap(nullptr, len, PROT_READ, MAP_SHARED | MAP_POPULATE, fd, start);
  if (p == MAP_FAILED) return nullptr;
  Drop(*lru);
  *lru = Window{st.st_dev, st.st_ino, start, len, p, ++g_tick};
  return lru;
}

// hostFileToGuest(pid, fd, pos, addr, len): bytes moved from the host file at pos into
// the guest, 0 at EOF, or kFallback: take the plain path (not a regular file, a small
// read, a mapping refused, or nothing moved).
Napi::Value HostFileToGuest(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  pid_t pid = info[0].As<Napi::Number>().Int32Value();
  int fd = info[1].As<Napi::Number>().Int32Value();
  int64_t pos = info[2].As<Napi::Number>().Int64Value();
  uint64_t addr = (uint64_t)info[3].As<Napi::Number>().Int64Value();
  size_t len = (size_t)info[4].As<Napi::Number>().Int64Value();
  struct stat st;
  if (pos < 0 || len < kMinMapped || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) return Num(env, kFallback);
  if (pos >= st.st_size) return Num(env, 0);
  size_t want = (size_t)(st.st_size - pos) < len ? (size_t)(st.st_size - pos) : len;
  size_t done = 0;
  while (done < want) {
    int64_t at = pos + (int64_t)done;
    Window* w = WindowFor(fd, st, at);
    if (!w) break;
    size_t chunk = (size_t)(w->start + (int64_t)w->len - at);
    if (chunk > want - done) chunk = want - done;
    struct iovec local = {(char*)w->p + (at - w->start), chunk}, remote = {(void*)(addr + done), chunk};
    ssize_t n = process_vm_writev(pid, &local, 1, &remote, 1, 0);
    if (n > 0) done += (size_t)n;
    if (n != (ssize_t)chunk) {
      // A fault on our side (the file shrank) or the guest's: the window may be stale.
      Drop(*w);
      break;
    }
  }
  return Num(env, done ? (double)done : kFallback);
}

// hostFileWindowsDrop(dev, ino): unmaps the windows of that host file (its name was
// unlinked or it was truncated through the sandbox); the windows dropped.
Napi::Value HostFileWindowsDrop(const Napi::CallbackInfo& info) {
  dev_t dev = (dev_t)info[0].As<Napi::Number>().Int64Value();
  ino_t ino = (ino_t)info[1].As<Napi::Number>().Int64Value();
  int n = 0;
  for (Window& w : g_win) {
    if (w.len && w.dev == dev && w.ino == ino) {
      Drop(w);
      n++;
    }
  }
  return Num(info.Env(), n);
}

// hostFileWindows(): the windows mapped now (a debug counter: TSSANDBOX_FS_STATS).
Napi::Value HostFileWindows(const Napi::CallbackInfo& info) {
  int n = 0;
  for (const Window& w : g_win) n += w.len ? 1 : 0;
  return Num(info.Env(), n);
}

}  // namespace

void InitHostFileRead(Napi::Env env, Napi::Object exports) {
  exports["hostFileToGuest"] = Napi::Function::New(env, HostFileToGuest);
  exports["hostFileWindowsDrop"] = Napi::Function::New(env, HostFileWindowsDrop);
  exports["hostFileWindows"] = Napi::Function::New(env, HostFileWindows);
}

}  // namespace tss
