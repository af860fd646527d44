// The kvm platform's fork: the child's memory from the parent's (kvm_vm.h ForkMemory).
// MAP_SHARED memory is shared (memslots over the same host memory). Private anonymous
// memory is copy-on-write, done by the host: the parent's memfd range is frozen (no one
// writes it again) and each side gets the Sentry's MAP_PRIVATE mapping of it as a
// memslot, so a page is copied on the first write to it, by either side (the guest's
// through KVM, the Sentry's own memcpy), and the untouched rest stays one copy. A
// second fork freezes a copy of the view's resident pages (mincore), not of its whole
// range. Private file mappings (small: data segments) are copied, as before.
#include "kvm_mem.h"
#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <linux/falloc.h>
#include <map>
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

// The Sentry's MAP_PRIVATE view of [off, off+len) of pool as a memslot of as, or null.
static std::shared_ptr<Backing> CowView(As* as, const HostMem* pool, uint64_t off, uint64_t len) {
  void* h = mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_NORESERVE, pool->fd, (off_t)off);
  if (h == MAP_FAILED) return nullptr;
  auto keep = std::make_shared<HostMem>();
  keep->p = static_cast<uint8_t*>(h), keep->len = len;
  auto b = View(as, keep->p, len, true, keep);
  if (b) b->shared = false, b->cow = true;
  return b;
}

// Copies the resident pages of [src, src+len) (the rest reads as zeros) to dst.
static void CopyResident(const uint8_t* src, uint8_t* dst, uint64_t len) {
  std::vector<unsigned char> in(len / kPage);
  if (mincore(const_cast<uint8_t*>(src), len, in.data()) < 0) {
    memcpy(dst, src, len);
    return;
  }
  for (uint64_t i = 0; i < in.size();) {
    if (!(in[i] & 1)) {
      i++;
      continue;
    }
    uint64_t j = i;
    while (j < in.size() && (in[j] & 1)) j++;
    memcpy(dst + i * kPage, src + i * kPage, (j - i) * kPage);
    i = j;
  }
}

struct ForkViews {
  std::shared_ptr<Backing> old, parent, child;
};

// b's memory frozen with a view for each side, or nulls (out of memslots or memfd room:
// the caller copies instead).
static ForkViews Freeze(As* parent, As* child, const std::shared_ptr<Backing>& b) {
  HostMem* pool = parent->anonMem.get();
  uint64_t off = b->memfdOff;
  if (!b->anon) {  // a view already (a second fork): its bytes into a new range
    if (AllocAnon(parent, b->len, &off) < 0) return {b, nullptr, nullptr};
    CopyResident(b->host, parent->anon + off, b->len);
  }
  auto pv = CowView(parent, pool, off, b->len);
  auto cv = pv ? CowView(child, pool, off, b->len) : nullptr;
  auto fz = std::make_shared<Frozen>();
  fz->pool = parent->anonMem, fz->off = off, fz->len = b->len;
  if (!cv) {
    pv.reset();
    if (b->anon) fz->len = 0;  // still b's own: b frees it
    return {b, nullptr, nullptr};
  }
  if (b->anon) b->given = true;
  pv->frozen = cv->frozen = fz;
  return {b, pv, cv};
}

long ForkMemory(As* parent, As* child) {
  // One freeze per backing, for all of its pieces (old kept until the end: its address
  // names it here).
  std::map<const Backing*, ForkViews> frozen;
  for (auto& kv : parent->maps) {
    Mapping& m = kv.second;
    uint64_t start = kv.first, len = m.end - start;
    if (m.onFork == kForkSkip && (m.b->shared || !(m.b->anon || m.b->cow))) continue;
    if (m.b->shared) {
      auto b = View(child, m.b->host + m.boff, len, m.b->writable, m.b->anon ? parent->anonMem : m.b->keep);
      if (!b) return -ENOMEM;
      if (m.b->validLen != ~0ull) b->validLen = m.b->validLen > m.boff ? m.b->validLen - m.boff : 0;
      child->maps[start] = Mapping{m.end, m.prot, b, 0};
      continue;
    }
    if (m.b->anon || m.b->cow) {
      auto it = frozen.find(m.b.get());
      if (it == frozen.end()) it = frozen.emplace(m.b.get(), Freeze(parent, child, m.b)).first;
      if (it->second.child) {
        // The parent's piece takes its view whatever its advice (its old range is frozen).
        if (m.onFork == kForkWipe) {  // the child's is fresh zeros, and keeps the advice
          long r = MmAnon(child, start, len, m.prot, false);
          if (r < 0) return r;
          child->maps[start].onFork = kForkWipe;
        } else if (m.onFork == kForkCopy) {
          child->maps[start] = Mapping{m.end, m.prot, it->second.child, m.boff};
        }
        m.b = it->second.parent;  // the views cover the whole backing: boff stays
        ClearPtes(parent, start, m.end);
        continue;
      }
    }
    if (m.onFork == kForkSkip) continue;
    long r = MmAnon(child, start, len, m.prot, false);
    if (r < 0) return r;
    if (m.onFork == kForkWipe) child->maps[start].onFork = kForkWipe;
    else CopyPrivate(m.b.get(), m.boff, child->maps[start].b->host, len);
  }
  for (auto& kv : parent->maps) {  // guard regions are the child's too
    auto c = child->maps.find(kv.first);
    if (kv.second.guard && c != child->maps.end()) c->second.guard = true;
  }
  if (!frozen.empty()) FlushAll(parent);
  return 0;
}

}  // namespace kvm
}  // namespace tss
