// Syscall-site patching for the systrap platform (native/systrap_patch.cc; the layout is
// native/stub/systrap_abi.h ST_PATCH_*, the trampoline native/stub/stub.c st_tramp).
#pragma once
#include <cstdint>
#include <sys/types.h>
#include <map>
#include <unordered_map>

namespace tss {

// A patched site's "number" when it is a syscall(3) site (`mov 0x8(%rsp),%r9; syscall`,
// the number in rax).
constexpr uint32_t kRaxSite = 0xffffffffu;

// Per address space: the Sentry's mapping of its window and what it knows of its sites.
struct PatchSites {
  uint8_t* window = nullptr;  // ST_PATCH_SIZE bytes, mapped read/exec at ST_PATCH_BASE in the stub
  // Return address (site + 7) -> entry index, or -1: looked at and left alone. The
  // Sentry's own table: what the window or the guest's code say is never read back.
  std::unordered_map<uint64_t, int> seen;
  std::map<uint64_t, uint32_t> patched;  // site -> its number (or kRaxSite): what its bytes were
  // Return address -> traps there so far, for sites not looked at yet (PatchNote offers a
  // site only at its PatchAfter()th trap: a patch costs three injections, a trap saved
  // ~1 us, so sites a program calls a few times are left alone).
  std::unordered_map<uint64_t, uint32_t> traps;
  int next = 0;        // the next free entry
  bool mapped = false; // the window is mapped in the stub (at the first patch: the Sentry's
                       // mm has then checked the guest has nothing there and keeps it so)
  uint64_t cand = 0;   // the site the last syscall event offered (0: none)
  uint64_t candNr = 0;
};

// Patching is on (TSSANDBOX_SYSTRAP_PATCH, read once).
bool PatchEnabled();
// The trap at a site that makes it a candidate (TSSANDBOX_SYSTRAP_PATCH_AFTER, default 64).
uint32_t PatchAfter();
// XSAVE components and image size the trampoline uses (fits the frame's 4 KiB).
void PatchXsaveLayout(uint64_t* mask, uint32_t* size);
// A new address space's window: empty, or a fork's copy of its parent's.
void PatchInit(PatchSites* p, uint8_t* window, const PatchSites* parent);
// A syscall `nr` trapped with return address `ret` in address space `leader`: true if
// it is the site's PatchAfter()th trap and its site may be patched (the bytes are `mov $nr,%eax; syscall`, or glibc's syscall(3)
// ending `mov 0x8(%rsp),%r9; syscall`, the patch fits one
// aligned word, a free entry): then p->cand is that site.
bool PatchNote(PatchSites* p, pid_t leader, uint64_t ret, uint64_t nr);
// The bytes the guest's code had at [addr, addr+n) where buf holds what is there now: a
// patched site reads as the `mov $nr,%eax` it was (for every read the Sentry makes:
// guest ptrace, /proc/PID/mem, process_vm_readv, snapshots).
void PatchUnview(const PatchSites* p, uint64_t addr, uint8_t* buf, size_t n);
// [start, end) of the guest's memory was unmapped or replaced: its sites are forgotten
// (their entries stay, unused: a patched site left in moved code still works).
void PatchForget(PatchSites* p, uint64_t start, uint64_t end);
// Maps the window (offset ST_REGION_SIZE of memfd) at ST_PATCH_BASE in the stub: 0 or -errno.
long PatchMapWindow(PatchSites* p, pid_t leader, int memfd);
// Patches p->cand (its page's protection is `prot`, restored after): 0, or -errno
// (-EAGAIN: the bytes changed meanwhile; the site is left alone from now on).
long PatchApply(PatchSites* p, pid_t leader, int memfd, int prot);

}  // namespace tss
