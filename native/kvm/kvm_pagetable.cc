// The kvm platform's page tables: built lazily from the mirror of the guest's mappings
// (FillFault), for user addresses only; cleared PTEs queued for the shim to clear again
// (kvm_abi.h ST_INVL: with shadow paging KVM sees only the guest's own writes).
#include "kvm_mem.h"
#include "kvm_abi.h"
#include <cstring>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <unistd.h>

namespace tss {
namespace kvm {
namespace {

// Every vCPU of as clears the n PTEs at gpa pte (mapping va on) itself before it returns
// to ring 3, and invlpgs them (kvm_abi.h ST_INVL).
void AddInval(As* as, uint64_t va, uint64_t n, uint64_t pte) {
  uint64_t kva = KVM_SHIM_PTWIN + pte;
  as->shoot = true;
  for (Vcpu* v : as->vcpus) {
    if (!v) continue;
    std::vector<uint64_t>& q = v->pendInval;
    size_t k = q.size();
    if (k && q[k - 3] + q[k - 2] * kPage == va && q[k - 1] + q[k - 2] * 8 == kva) q[k - 2] += n;
    else q.insert(q.end(), {va, n, kva});
  }
}

// The list overflowed: KVM drops every shadow page of the platform's slot when it is
// registered again, so none can hold a PTE the platform cleared.
void ReRegister(As* as) {  // (ReRegisterPlat)
  kvm_userspace_memory_region r0 = {0, 0, 0, 0, (uint64_t)(uintptr_t)as->plat};
  ioctl(as->vm, KVM_SET_USER_MEMORY_REGION, &r0);
  r0.memory_size = as->platLen;
  ioctl(as->vm, KVM_SET_USER_MEMORY_REGION, &r0);
}


}  // namespace

uint64_t* Table(As* as, uint64_t gpa) { return reinterpret_cast<uint64_t*>(as->plat + gpa); }

uint64_t AllocPt(As* as) {
  uint64_t g;
  if (!as->freePt.empty()) {
    g = as->freePt.back();
    as->freePt.pop_back();
  } else {
    if (as->platNext + kPage > as->platLen) return 0;
    g = as->platNext;
    as->platNext += kPage;
  }
  memset(as->plat + g, 0, kPage);
  return g;
}

// The PTE slot for va (tables made on the way when create), or null.
uint64_t* Walk(As* as, uint64_t va, bool create) {
  bool user = va < kUserEnd;
  uint64_t t = as->pml4;
  for (int shift = 39; shift > 12; shift -= 9) {
    uint64_t* e = Table(as, t) + ((va >> shift) & 511);
    if (!(*e & P)) {
      if (!create) return nullptr;
      uint64_t n = AllocPt(as);
      if (!n) return nullptr;
      *e = n | P | RW | (user ? US : 0);
    }
    t = *e & kAddr;
  }
  return Table(as, t) + ((va >> 12) & 511);
}

// Clears the user PTEs of [start, end), skipping absent tables whole.
void ClearPtes(As* as, uint64_t start, uint64_t end) {
  uint64_t va = start;
  while (va < end) {
    uint64_t t = as->pml4;
    int shift = 39;
    bool skipped = false;
    for (; shift > 12; shift -= 9) {
      uint64_t e = Table(as, t)[(va >> shift) & 511];
      if (!(e & P)) {
        uint64_t span = 1ull << shift;
        va = (va & ~(span - 1)) + span;
        skipped = true;
        break;
      }
      t = e & kAddr;
    }
    if (skipped) continue;
    uint64_t* pt = Table(as, t);
    uint64_t run = 0, runAt = 0, runIdx = 0;
    for (uint64_t i = (va >> 12) & 511; i < 512 && va < end; i++, va += kPage) {
      if (pt[i] & P) {
        if (!run) runAt = va, runIdx = i;
        run++;
      } else if (run) {
        AddInval(as, runAt, run, t + runIdx * 8);
        run = 0;
      }
      pt[i] = 0;
    }
    if (run) AddInval(as, runAt, run, t + runIdx * 8);
  }
}

// A 2 MiB supervisor page (the platform's memory as the shim sees it).
void MapKernelLarge(As* as, uint64_t va, uint64_t gpa) {
  uint64_t t = as->pml4;
  for (int shift = 39; shift > 21; shift -= 9) {
    uint64_t* e = Table(as, t) + ((va >> shift) & 511);
    if (!(*e & P)) *e = AllocPt(as) | P | RW;
    t = *e & kAddr;
  }
  Table(as, t)[(va >> 21) & 511] = gpa | P | RW | A | D | 0x80 /* PS */ | NX;
}

void MapKernel(As* as, uint64_t va, uint64_t gpa, bool write, bool exec) {
  uint64_t* e = Walk(as, va, true);
  if (e) *e = gpa | P | A | (write ? RW | D : 0) | (exec ? 0 : NX);
}

namespace {

uint64_t Pte(const Mapping& m, uint64_t start, uint64_t page) {
  uint64_t gpa = m.b->gpa + m.boff + (page - start);
  uint64_t e = gpa | P | US | A;
  if (m.prot & 2) e |= RW | D;
  if (!(m.prot & 4)) e |= NX;
  return e;
}

}  // namespace

void ReRegisterPlat(As* as) { ReRegister(as); }

bool ApplyPending(Vcpu* v) {
  uint64_t* cnt = reinterpret_cast<uint64_t*>(v->state + ST_INVL_N);
  uint64_t* r = reinterpret_cast<uint64_t*>(v->state + ST_INVL);
  bool ok = true;
  for (size_t i = 0; i < v->pendInval.size(); i += 3) {
    if (*cnt >= ST_INVL_MAX) {
      ok = false;
      break;
    }
    memcpy(r + 3 * *cnt, &v->pendInval[i], 24);
    ++*cnt;
  }
  if (!v->pendInval.empty()) v->pendFlags |= FL_INVL;
  v->pendInval.clear();
  v->state[ST_FLAGS] |= (uint8_t)v->pendFlags;
  v->pendFlags = 0;
  return ok;
}

void FlushAll(As* as) {
  for (Vcpu* v : as->vcpus)
    if (v) v->pendFlags |= FL_FLUSH;
}

int FillFault(As* as, uint64_t addr, uint64_t err) {
  if (addr >= kUserEnd) return kRefused;
  uint64_t start;
  const Mapping* m = Find(as, addr, &start);
  if (!m) return kRefused;
  if ((err & 2) && !(m->prot & 2)) return kRefused;
  if ((err & 16) && !(m->prot & 4)) return kRefused;
  if (!(m->prot & 7) || m->guard) return kRefused;
  uint64_t pageOff = m->boff + ((addr & ~(kPage - 1)) - start);
  if (pageOff >= m->b->validLen) {
    // Past the file's end when mapped: it may have grown since (the kernel's copy of one
    // byte of the Sentry's view says, EFAULT rather than SIGBUS).
    uint8_t c;
    struct iovec l = {&c, 1}, r = {m->b->host + pageOff, 1};
    if (process_vm_readv(getpid(), &l, 1, &r, 1, 0) != 1) return kPastEof;
    m->b->validLen = pageOff + kPage;
  }
  // This page and its neighbours in a 64-page window (each fault is an exit: dear here).
  uint64_t page = addr & ~(kPage - 1);
  uint64_t lo = page & ~(64 * kPage - 1), hi = lo + 64 * kPage;
  if (lo < start) lo = start;
  if (hi > m->end) hi = m->end;
  if (m->b->validLen != ~0ull && hi > start + (m->b->validLen - m->boff)) hi = start + (m->b->validLen - m->boff);
  for (uint64_t p = lo; p < hi; p += kPage) {
    uint64_t* e = Walk(as, p, true);
    if (!e) return p > page ? kFilled : kRefused;
    if (p == page || !(*e & P)) *e = Pte(*m, start, p);
  }
  return kFilled;
}

}  // namespace kvm
}  // namespace tss
