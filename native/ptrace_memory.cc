// The ptrace platform's guest memory access: process_vm_readv/writev, C strings, and
// host file reads straight into guest memory.
#include "ptrace_internal.h"
#include <sys/uio.h>

namespace tss {

// ---- guest memory ----

// (pid, addr, buf, off, len) of readMem/writeMem: b null when [off, off+len) is outside buf.
struct MemArgs {
  pid_t pid;
  uint64_t addr;
  uint8_t* b;
  size_t len;
  explicit MemArgs(const Napi::CallbackInfo& info) {
    pid = info[0].As<Napi::Number>().Int32Value();
    addr = (uint64_t)info[1].As<Napi::Number>().Int64Value();
    Napi::TypedArray ta = info[2].As<Napi::TypedArray>();
    size_t off = (size_t)info[3].As<Napi::Number>().Int64Value();
    len = (size_t)info[4].As<Napi::Number>().Int64Value();
    b = off + len > ta.ByteLength() ? nullptr : static_cast<uint8_t*>(ta.ArrayBuffer().Data()) + ta.ByteOffset() + off;
  }
};

Napi::Value ReadMemNapi(const Napi::CallbackInfo& info, void (*after)(pid_t, uint64_t, uint8_t*, size_t)) {
  MemArgs m(info);
  if (!m.b) return Num(info.Env(), -EINVAL);
  struct iovec local = {m.b, m.len}, remote = {(void*)m.addr, m.len};
  ssize_t r = process_vm_readv(m.pid, &local, 1, &remote, 1, 0);
  if (r < 0) return Num(info.Env(), -errno);
  if (after) after(m.pid, m.addr, m.b, (size_t)r);
  return Num(info.Env(), (double)r);
}

static Napi::Value ReadMem(const Napi::CallbackInfo& info) { return ReadMemNapi(info, nullptr); }

static Napi::Value WriteMem(const Napi::CallbackInfo& info) {
  MemArgs m(info);
  if (!m.b) return Num(info.Env(), -EINVAL);
  struct iovec local = {m.b, m.len}, remote = {(void*)m.addr, m.len};
  ssize_t r = process_vm_writev(m.pid, &local, 1, &remote, 1, 0);
  return Num(info.Env(), r < 0 ? -errno : (double)r);
}

static Napi::Value ReadCString(const Napi::CallbackInfo& info) {
  pid_t pid = info[0].As<Napi::Number>().Int32Value();
  uint64_t addr = (uint64_t)info[1].As<Napi::Number>().Int64Value();
  size_t max = (size_t)info[2].As<Napi::Number>().Int64Value();
  return ReadCStringPaged(info.Env(), addr, max, [pid](uint64_t at, char* into, size_t len) -> long {
    struct iovec local = {into, len}, remote = {(void*)at, len};
    return (long)process_vm_readv(pid, &local, 1, &remote, 1, 0);
  });
}

// Host file I/O straight between a host fd and guest memory, through one native buffer:
// no JS allocation or copy per read (large reads of host files are a hot path).
static uint8_t g_ioBuf[1 << 20];

// hostReadToGuest(pid, fd, pos, addr, len): pread (pos >= 0) or read (pos < 0) into
// the guest. Returns bytes moved, or -errno if nothing moved.
static Napi::Value HostReadToGuest(const Napi::CallbackInfo& info) {
  pid_t pid = info[0].As<Napi::Number>().Int32Value();
  int fd = info[1].As<Napi::Number>().Int32Value();
  int64_t pos = info[2].As<Napi::Number>().Int64Value();
  uint64_t addr = (uint64_t)info[3].As<Napi::Number>().Int64Value();
  size_t len = (size_t)info[4].As<Napi::Number>().Int64Value();
  size_t done = 0;
  while (done < len) {
    size_t chunk = len - done < sizeof g_ioBuf ? len - done : sizeof g_ioBuf;
    ssize_t n = pos >= 0 ? pread(fd, g_ioBuf, chunk, pos + (int64_t)done) : read(fd, g_ioBuf, chunk);
    if (n < 0) {
      if (done) break;
      return Num(info.Env(), -errno);
    }
    if (n == 0) break;
    struct iovec local = {g_ioBuf, (size_t)n}, remote = {(void*)(addr + done), (size_t)n};
    ssize_t w = process_vm_writev(pid, &local, 1, &remote, 1, 0);
    if (w != n) return Num(info.Env(), done ? (double)done : -EFAULT);
    done += (size_t)n;
    if ((size_t)n < chunk || pos < 0) break;  // short read, or a stream: return what came
  }
  return Num(info.Env(), (double)done);
}

void InitPtraceMemory(Napi::Env env, Napi::Object exports) {
  exports["hostReadToGuest"] = Napi::Function::New(env, HostReadToGuest);
  exports["readMem"] = Napi::Function::New(env, ReadMem);
  exports["writeMem"] = Napi::Function::New(env, WriteMem);
  exports["readCString"] = Napi::Function::New(env, ReadCString);
}

}  // namespace tss
