// The kvm platform's guest memory: the mirror of the guest's mappings and what backs
// them (ranges of the address space's anonymous memfd, host files' mappings with
// memslots of their own), the guest's memory calls on it, and the Sentry's accesses.
#include "kvm_mem.h"
#include "kvm_abi.h"
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
namespace {

void FreeAnon(HostMem* pool, uint64_t off, uint64_t len) {
  fallocate(pool->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)off, (off_t)len);
  std::map<uint64_t, uint64_t>& fr = pool->free;
  auto next = fr.lower_bound(off);
  if (next != fr.end() && next->first == off + len) {
    len += next->second;
    fr.erase(next);
  }
  auto prev = fr.lower_bound(off);
  if (prev != fr.begin()) {
    --prev;
    if (prev->first + prev->second == off) {
      prev->second += len;
      return;
    }
  }
  fr[off] = len;
}

// Drops the memory of [off, off+len) of b (the range is no longer mapped anywhere).
void Release(Backing* b, uint64_t off, uint64_t len) {
  if (b->anon)
    fallocate(b->as->memfd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)(b->memfdOff + off), (off_t)len);
  else if (b->cow)  // zeros, as anonymous memory gives (DONTNEED of the view would show frozen's)
    mmap(b->host + off, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE, -1, 0);
  else if (!b->shared)
    madvise(b->host + off, len, MADV_DONTNEED);
}

// Splits the mirror so that no piece straddles addr.
std::vector<std::pair<uint64_t, Mapping>> Detach(As* as, uint64_t addr, uint64_t end) {
  SplitAt(as, addr);
  SplitAt(as, end);
  std::vector<std::pair<uint64_t, Mapping>> out;
  for (auto it = as->maps.lower_bound(addr); it != as->maps.end() && it->first < end;) {
    out.emplace_back(it->first, it->second);
    it = as->maps.erase(it);
  }
  ClearPtes(as, addr, end);
  FlushAll(as);
  return out;
}


}  // namespace

int AllocSlot(As* as) {
  if (!as->freeSlots.empty()) {
    int s = as->freeSlots.back();
    as->freeSlots.pop_back();
    return s;
  }
  return as->nextSlot++;
}

namespace {

// KVM keeps arrays per page of every memslot (kernel memory, charged to the Sentry's
// cgroup): the memfd's 64 GiB as one slot cost ~130 MiB a VM, and a --memory run was
// OOM-killed at its first fork. So the memfd is registered in chunks as its allocator
// reaches them, each as large as all before it (64 MiB first): a few slots at most.
bool GrowAnon(As* as, uint64_t end) {
  while (as->anonSlotEnd < end) {
    uint64_t n = std::max<uint64_t>(64ull << 20, as->anonSlotEnd);
    if (as->anonSlotEnd + n > kAnonLen) n = kAnonLen - as->anonSlotEnd;
    int slot = as->anonSlotEnd == 0 ? 1 : AllocSlot(as);
    kvm_userspace_memory_region r = {(uint32_t)slot, 0, kAnonGpa + as->anonSlotEnd, n, (uint64_t)(uintptr_t)(as->anon + as->anonSlotEnd)};
    if (ioctl(as->vm, KVM_SET_USER_MEMORY_REGION, &r) < 0) {
      if (slot != 1) as->freeSlots.push_back(slot);
      return false;
    }
    as->anonSlotEnd += n;
  }
  return true;
}

long TakeAnon(As* as, uint64_t len, uint64_t* off) {
  HostMem* pool = as->anonMem.get();
  for (auto it = pool->free.begin(); it != pool->free.end(); ++it) {
    if (it->second < len) continue;
    *off = it->first;
    uint64_t rest = it->second - len, at = it->first + len;
    pool->free.erase(it);
    if (rest) pool->free[at] = rest;
    return 0;
  }
  if (pool->next + len > pool->len) return -ENOMEM;
  *off = pool->next;
  pool->next += len;
  return 0;
}

}  // namespace

long AllocAnon(As* as, uint64_t len, uint64_t* off) {
  long e = TakeAnon(as, len, off);
  if (e == 0 && !GrowAnon(as, *off + len)) {
    FreeAnon(as->anonMem.get(), *off, len);
    return -ENOMEM;
  }
  return e;
}

void SplitAt(As* as, uint64_t addr) {
  auto it = as->maps.upper_bound(addr);
  if (it == as->maps.begin()) return;
  --it;
  if (it->first >= addr || it->second.end <= addr) return;
  Mapping right = it->second;
  right.boff += addr - it->first;
  it->second.end = addr;
  as->maps.emplace(addr, right);
}

// Takes the pieces of [addr, end) out of the mirror (their memory stays with them).
const Mapping* Find(As* as, uint64_t addr, uint64_t* start) {
  auto it = as->maps.upper_bound(addr);
  if (it == as->maps.begin()) return nullptr;
  --it;
  if (addr >= it->second.end) return nullptr;
  *start = it->first;
  return &it->second;
}

Frozen::~Frozen() {
  if (len) FreeAnon(pool.get(), off, len);
}

HostMem::~HostMem() {
  if (p) munmap(p, len);
  if (fd >= 0) close(fd);
}

Backing::~Backing() {
  if (anon) {
    if (!given) FreeAnon(as->anonMem.get(), memfdOff, len);
  } else {
    kvm_userspace_memory_region r = {(uint32_t)slot, 0, gpa, 0, (uint64_t)(uintptr_t)host};
    ioctl(as->vm, KVM_SET_USER_MEMORY_REGION, &r);
    as->freeSlots.push_back(slot);
  }
}

uint64_t ResidentKb(As* as) {
  struct stat st;
  uint64_t bytes = fstat(as->memfd, &st) == 0 ? (uint64_t)st.st_blocks * 512 : 0;
  std::vector<unsigned char> in;
  std::vector<const Backing*> seen;
  for (auto& kv : as->maps) {
    const Backing* b = kv.second.b.get();
    if (b->anon || b->shared || std::find(seen.begin(), seen.end(), b) != seen.end()) continue;
    seen.push_back(b);
    in.resize(b->len / kPage);
    if (mincore(b->host, b->len, in.data()) < 0) continue;
    for (unsigned char c : in) bytes += (c & 1) ? kPage : 0;
  }
  uint64_t kb = bytes / 1024;
  if (kb > as->peakKb) as->peakKb = kb;
  return kb;
}

int ProtAt(As* as, uint64_t addr) {
  uint64_t start;
  const Mapping* m = Find(as, addr, &start);
  return m ? m->prot : -1;
}

uint64_t VaOfGpa(As* as, uint64_t gpa) {
  for (auto& kv : as->maps) {
    const Mapping& m = kv.second;
    uint64_t g = m.b->gpa + m.boff;
    if (gpa >= g && gpa < g + (m.end - kv.first)) return kv.first + (gpa - g);
  }
  return 0;
}

long MmAnon(As* as, uint64_t addr, uint64_t len, int prot, bool shared) {
  if (addr % kPage || len % kPage || !len || addr + len > UserTop() || addr + len < addr) return -EINVAL;
  uint64_t off;
  long e = AllocAnon(as, len, &off);
  if (e < 0) return e;
  MmUnmap(as, addr, len);
  auto b = std::make_shared<Backing>();
  b->as = as, b->host = as->anon + off, b->len = len, b->gpa = kAnonGpa + off, b->memfdOff = off, b->shared = shared;
  as->maps[addr] = Mapping{addr + len, prot, b, 0};
  return (long)addr;
}

long MmFile(As* as, int fd, uint64_t addr, uint64_t len, int prot, bool shared, uint64_t off) {
  if (addr % kPage || len % kPage || !len || addr + len > UserTop() || addr + len < addr) return -EINVAL;
  bool writable = !shared || (prot & 2);
  void* h = mmap(nullptr, len, PROT_READ | (writable ? PROT_WRITE : 0), shared ? MAP_SHARED : MAP_PRIVATE, fd, (off_t)off);
  if (h == MAP_FAILED) return -errno;
  uint64_t gpa = (as->fileGpaNext + (2ull << 20) - 1) & ~((2ull << 20) - 1);
  if (gpa + len > MaxGpa()) {
    munmap(h, len);
    return -ENOMEM;
  }
  int slot = AllocSlot(as);
  kvm_userspace_memory_region r = {(uint32_t)slot, writable ? 0u : (uint32_t)KVM_MEM_READONLY, gpa, len, (uint64_t)(uintptr_t)h};
  if (ioctl(as->vm, KVM_SET_USER_MEMORY_REGION, &r) < 0) {
    long e = -errno;
    munmap(h, len);
    as->freeSlots.push_back(slot);
    return e == -EINVAL ? -ENOMEM : e;  // out of memslots
  }
  as->fileGpaNext = gpa + len;
  MmUnmap(as, addr, len);
  auto b = std::make_shared<Backing>();
  b->as = as, b->host = static_cast<uint8_t*>(h), b->len = len, b->gpa = gpa, b->slot = slot;
  b->anon = false, b->shared = shared, b->writable = writable;
  b->keep = std::make_shared<HostMem>();
  b->keep->p = b->host, b->keep->len = len;
  struct stat st;
  if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
    uint64_t size = (uint64_t)st.st_size;
    b->validLen = size <= off ? 0 : std::min<uint64_t>(len, (size - off + kPage - 1) & ~(kPage - 1));
  }
  as->maps[addr] = Mapping{addr + len, prot, b, 0};
  return (long)addr;
}

// A memslot of as over host memory [h, h+len) (kept alive by keep): its backing, or null.
long MmUnmap(As* as, uint64_t addr, uint64_t len) {
  if (addr % kPage || addr >= UserTop()) return -EINVAL;
  len = (len + kPage - 1) & ~(kPage - 1);
  uint64_t end = addr + len > UserTop() ? UserTop() : addr + len;
  for (auto& p : Detach(as, addr, end)) Release(p.second.b.get(), p.second.boff, p.second.end - p.first);
  return 0;
}

long MmProtect(As* as, uint64_t addr, uint64_t len, int prot) {
  if (addr % kPage) return -EINVAL;
  len = (len + kPage - 1) & ~(kPage - 1);
  uint64_t end = addr + len;
  if (end > UserTop() || end < addr) return -ENOMEM;
  for (uint64_t a = addr; a < end;) {
    uint64_t s;
    const Mapping* m = Find(as, a, &s);
    if (!m) return -ENOMEM;
    if ((prot & 2) && !m->b->writable) return -EACCES;
    a = m->end;
  }
  SplitAt(as, addr);
  SplitAt(as, end);
  for (auto it = as->maps.lower_bound(addr); it != as->maps.end() && it->first < end; ++it) it->second.prot = prot;
  ClearPtes(as, addr, end);
  FlushAll(as);
  return 0;
}

long MmRemap(As* as, uint64_t old, uint64_t oldLen, uint64_t newLen, bool move, uint64_t newAddr) {
  oldLen = (oldLen + kPage - 1) & ~(kPage - 1);
  newLen = (newLen + kPage - 1) & ~(kPage - 1);
  if (old % kPage || !newLen || (move && newAddr % kPage)) return -EINVAL;
  const Mapping* last = nullptr;
  for (uint64_t a = old; a < old + oldLen;) {
    uint64_t s;
    const Mapping* m = Find(as, a, &s);
    if (!m) return -EFAULT;
    last = m;
    a = m->end;
  }
  if (!last) return -EFAULT;
  int prot = last->prot;
  bool grow = newLen > oldLen;
  if (grow && !last->b->anon && !last->b->cow) return -ENOMEM;  // a file mapping would need its fd again
  bool shared = last->b->shared;
  uint64_t to = move ? newAddr : old;
  if (move) {
    auto pieces = Detach(as, old, old + oldLen);
    MmUnmap(as, newAddr, oldLen);
    for (auto& p : pieces) {
      Mapping m = p.second;
      uint64_t at = newAddr + (p.first - old);
      m.end = newAddr + (m.end - old);
      as->maps[at] = m;
    }
  }
  if (newLen < oldLen) MmUnmap(as, to + newLen, oldLen - newLen);
  if (grow) {
    long r = MmAnon(as, to + oldLen, newLen - oldLen, prot, shared);
    if (r < 0) return r;
  }
  return (long)to;
}

long MmAdvise(As* as, uint64_t addr, uint64_t len, int advice) {
  len = (len + kPage - 1) & ~(kPage - 1);
  uint64_t end = addr + len;
  if (advice == 9 /* REMOVE */) {
    // Shared memory only (EINVAL otherwise, as Linux): holes punched in what backs it.
    for (auto it = as->maps.upper_bound(addr); it != as->maps.begin();) {
      --it;
      if (it->second.end > addr && !it->second.b->shared) return -EINVAL;
      break;
    }
    for (auto it = as->maps.lower_bound(addr); it != as->maps.end() && it->first < end; ++it)
      if (!it->second.b->shared || !it->second.b->writable) return -EINVAL;
    SplitAt(as, addr);
    SplitAt(as, end);
    for (auto it = as->maps.lower_bound(addr); it != as->maps.end() && it->first < end; ++it)
      if (madvise(it->second.b->host + it->second.boff, it->second.end - it->first, MADV_REMOVE) < 0) return -errno;
    return 0;
  }
  if (advice == 102 || advice == 103) {  // GUARD_INSTALL (drops the pages), GUARD_REMOVE
    SplitAt(as, addr);
    SplitAt(as, end);
    for (auto it = as->maps.lower_bound(addr); it != as->maps.end() && it->first < end; ++it) {
      if (advice == 102 && !it->second.guard && !it->second.b->shared)
        Release(it->second.b.get(), it->second.boff, it->second.end - it->first);
      it->second.guard = advice == 102;
    }
    if (advice == 102) ClearPtes(as, addr, end);
    return 0;
  }
  if (advice == 10 || advice == 11 || advice == 18 || advice == 19) {
    // DONTFORK, DOFORK, WIPEONFORK (private anonymous memory only, as Linux), KEEPONFORK.
    if (advice == 18)
      for (auto it = as->maps.lower_bound(addr); it != as->maps.end() && it->first < end; ++it)
        if (it->second.b->shared || !(it->second.b->anon || it->second.b->cow)) return -EINVAL;
    SplitAt(as, addr);
    SplitAt(as, end);
    for (auto it = as->maps.lower_bound(addr); it != as->maps.end() && it->first < end; ++it) {
      int& f = it->second.onFork;
      if (advice == 10) f = kForkSkip;
      else if (advice == 11 && f == kForkSkip) f = kForkCopy;
      else if (advice == 18) f = kForkWipe;
      else if (advice == 19 && f == kForkWipe) f = kForkCopy;
    }
    return 0;
  }
  if (advice != 4 /* DONTNEED */ && advice != 8 /* FREE */) return 0;
  SplitAt(as, addr);
  SplitAt(as, end);
  for (auto it = as->maps.lower_bound(addr); it != as->maps.end() && it->first < end; ++it)
    if (!it->second.b->shared) Release(it->second.b.get(), it->second.boff, it->second.end - it->first);
  return 0;
}

long Access(As* as, uint64_t addr, uint8_t* buf, size_t len, bool write) {
  size_t done = 0;
  while (done < len) {
    uint64_t a = addr + done, start;
    const Mapping* m = a < addr ? nullptr : Find(as, a, &start);
    if (!m || !(m->prot & 7) || m->guard || (write && !(m->prot & 2))) break;
    size_t n = len - done;
    if (n > m->end - a) n = (size_t)(m->end - a);
    uint8_t* h = m->b->host + m->boff + (a - start);
    if (m->b->anon || m->b->cow) {
      if (write) memcpy(h, buf + done, n);
      else memcpy(buf + done, h, n);
    } else {
      // A file page past its end would be SIGBUS in the Sentry: the kernel's copy says EFAULT.
      struct iovec l = {buf + done, n}, r = {h, n};
      pid_t self = getpid();
      ssize_t k = write ? process_vm_writev(self, &l, 1, &r, 1, 0) : process_vm_readv(self, &l, 1, &r, 1, 0);
      if (k <= 0) break;
      done += (size_t)k;
      if ((size_t)k < n) break;
      continue;
    }
    done += n;
  }
  return done ? (long)done : -EFAULT;
}

int WritableIov(As* as, uint64_t addr, size_t len, struct iovec* iov, int max) {
  int n = 0;
  size_t done = 0;
  while (done < len && n < max) {
    uint64_t a = addr + done, start;
    const Mapping* m = a < addr ? nullptr : Find(as, a, &start);
    if (!m || !(m->prot & 2) || m->guard) break;
    size_t k = len - done;
    if (k > m->end - a) k = (size_t)(m->end - a);
    iov[n++] = {m->b->host + m->boff + (a - start), k};
    done += k;
  }
  return n;
}

uint8_t* HostPtr(As* as, uint64_t addr, size_t len, bool write) {
  uint64_t start;
  const Mapping* m = Find(as, addr, &start);
  if (!m || addr + len > m->end || !(m->prot & 7) || m->guard || (write && !(m->prot & 2))) return nullptr;
  uint8_t* h = m->b->host + m->boff + (addr - start);
  if (m->b->anon || m->b->cow) return h;
  // A file's mapping (a static binary's .data: futex words): a page past the file's end
  // would be SIGBUS in the Sentry, so the kernel populates the page first (EFAULT there
  // instead; for writes, a private page becomes the Sentry's own copy), without touching
  // its bytes: other vCPUs may be writing them meanwhile.
  if (!m->b->writable && write) return nullptr;
  uint8_t* page = reinterpret_cast<uint8_t*>(reinterpret_cast<uintptr_t>(h) & ~(kPage - 1));
  size_t span = (size_t)((h + len) - page + kPage - 1) & ~(kPage - 1);
  if (madvise(page, span, write ? 23 /* MADV_POPULATE_WRITE */ : 22 /* MADV_POPULATE_READ */) < 0) return nullptr;
  return h;
}

}  // namespace kvm
}  // namespace tss
