// The kvm platform's fork: the child's memory from the parent's (kvm_vm.h ForkMemory).
#include "kvm_mem.h"
#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <linux/falloc.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

namespace tss {
namespace kvm {

// A memslot of as over host memory [h, h+len) (kept alive by keep): its backing, or null.
static std::shared_ptr<Backing> View(As* as, uint8_t* h, uint64_t len, bool writable, std::shared_ptr<HostMem> keep) {
  uint64_t gpa = (as->fileGpaNext + (2ull << 20) - 1) & ~((2ull << 20) - 1);
  if (gpa + len > MaxGpa()) return nullptr;
  int slot = AllocSlot(as);
  kvm_userspace_memory_region r = {(uint32_t)slot, writable ? 0u : (uint32_t)KVM_MEM_READONLY, gpa, len, (uint64_t)(uintptr_t)h};
  if (ioctl(as->vm, KVM_SET_USER_MEMORY_REGION, &r) < 0) {
    as->freeSlots.push_back(slot);
    return nullptr;
  }
  as->fileGpaNext = gpa + len;
  auto b = std::make_shared<Backing>();
  b->as = as, b->host = h, b->len = len, b->gpa = gpa, b->slot = slot;
  b->anon = false, b->shared = true, b->writable = writable, b->keep = std::move(keep);
  return b;
}

// Copies [src, src+len) of the Sentry's memory to dst: only the data extents of an
// anonymous memfd range (off in fd), everything of a file's mapping (by the kernel:
// a page past the file's end copies as zeros, never SIGBUS).
static void CopyPrivate(const Backing* b, uint64_t boff, uint8_t* dst, uint64_t len) {
  const uint8_t* src = b->host + boff;
  if (b->anon) {
    off_t base = (off_t)(b->memfdOff + boff), end = base + (off_t)len;
    for (off_t at = base; at < end;) {
      off_t d = lseek(b->as->memfd, at, SEEK_DATA);
      if (d < 0 || d >= end) break;
      off_t hole = lseek(b->as->memfd, d, SEEK_HOLE);
      if (hole < 0 || hole > end) hole = end;
      memcpy(dst + (d - base), src + (d - base), (size_t)(hole - d));
      at = hole;
    }
    return;
  }
  pid_t self = getpid();
  for (uint64_t o = 0; o < len; o += kPage) {
    struct iovec l = {dst + o, kPage}, r = {const_cast<uint8_t*>(src) + o, kPage};
    if (process_vm_readv(self, &l, 1, &r, 1, 0) != (ssize_t)kPage) break;
  }
}

long ForkMemory(As* parent, As* child) {
  for (auto& kv : parent->maps) {
    const Mapping& m = kv.second;
    uint64_t start = kv.first, len = m.end - start;
    if (m.b->shared) {
      auto b = View(child, m.b->host + m.boff, len, m.b->writable, m.b->anon ? parent->anonMem : m.b->keep);
      if (!b) return -ENOMEM;
      if (m.b->validLen != ~0ull) b->validLen = m.b->validLen > m.boff ? m.b->validLen - m.boff : 0;
      child->maps[start] = Mapping{m.end, m.prot, b, 0};
      continue;
    }
    long r = MmAnon(child, start, len, m.prot, false);
    if (r < 0) return r;
    CopyPrivate(m.b.get(), m.boff, child->maps[start].b->host, len);
  }
  return 0;
}


}  // namespace kvm
}  // namespace tss
