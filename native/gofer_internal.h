// What the Gofer's files share (gofer_server.cc: the serve loop and its requests;
// gofer_list.cc: directory listings; gofer_confine.cc: the confinement before the first one): the protocol's constants
// and the process's state. Only the Gofer's own code includes it (no V8, no libuv).
#pragma once
#include "common.h"
#include <cstddef>
#include <cstdint>
#include <linux/openat2.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>

namespace tss {
namespace gofer {

constexpr uint32_t kMagic = 0x31464f47;  // "GOF1"
constexpr int kVersion = 2;
constexpr size_t kHeader = 56;
constexpr size_t kMaxMsg = 1 << 20;
constexpr size_t kReplyMax = 128 * 1024;
constexpr int kSock = 3;
constexpr int kMaxRoots = 64;
constexpr uint64_t kResolve = RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
// One name beneath a directory fd so resolved (never "..", never a symlink).
constexpr uint64_t kResolveChild = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;

enum Op { Hello, Lstat, Open, Readdir, Readlink, Mkdir, CreateExcl, Unlink, Rmdir, Rename, Symlink, Link,
          Chmod, Chown, Truncate, Utimes, Statfs, ProcFile, ReaddirBatch, Watch, Unwatch, Batch };

// BATCH: requests the Sentry deferred (write-behind), then the one it waits for.
constexpr int kMaxBatch = 256;
constexpr size_t kSubMax = kHeader + 2 * 4096 + 64;

// A reply, plus BATCH's trailer (the deferred requests' results and their count).
// One request of a BATCH, copied out (Serve NUL-terminates its input in place).

// What ConfineGofer achieved (reported in the HELLO reply, after the pid).
enum Confined : uint32_t {
  kConfMountNs = 1,     // own mount namespace, special filesystems detached
  kConfPivot = 2,       // root is an empty tmpfs holding only the served roots
  kConfSeccomp = 4,     // GoferFilter installed
  kConfCaps = 8,        // capabilities reduced to kKeepCaps
  kConfMountAttrs = 16, // served roots are clones with nodev,nosuid,nosymfollow(,ro)
  kConfFileCaps = 32,   // holds CAP_CHOWN, CAP_FOWNER, CAP_FSETID (owners, modes, times of any file served rw)
};
// The host's /proc (O_PATH), opened before the pivot, and the Sentry's pid: PROCFILE
// opens stat/schedstat/status of the Sentry's own tracees (the stub threads, for guest
// CPU time and RSS) so that the Sentry itself opens no host path once it runs guests.

// Host inotify watches on directories the Sentry's guests watch (WATCH/UNWATCH): one
// instance, made at the first WATCH, whose fd the Sentry reads the events from (a dup
// rides with the first reply). Every watch is added here, by a path this file resolved
// under a root; bounded, past it ENOSPC (as the host's own max_user_watches).
constexpr int kMaxWatches = 4096;
constexpr uint32_t kWatchMask = IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_MODIFY | IN_ATTRIB |
                                IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR;

#ifndef SYS_fchmodat2
#define SYS_fchmodat2 452
#endif
#ifndef STATX_MNT_ID
#define STATX_MNT_ID 0x00001000U
#endif

extern uint8_t g_in[kMaxMsg];
extern uint8_t g_out[kReplyMax + 64 + 4 * kMaxBatch + 4];
extern uint8_t g_sub[kSubMax + 1];
extern int g_roots[kMaxRoots];
extern bool g_ro[kMaxRoots];
extern int g_nroots;
extern uint32_t g_confined;
extern int g_proc;
extern pid_t g_sentry;
extern int g_inotify;
extern int g_nwatches;
// Special filesystems (mount ids) refused whatever the namespace (gofer_server.cc).
extern uint64_t g_denied[1024];
extern int g_ndenied;

bool SpecialName(const char* t);
int Openat2(int dirfd, const char* path, uint64_t flags, uint64_t mode, uint64_t resolve);
// The confinement (gofer_confine.cc): what it achieved, as Confined bits.
uint32_t ConfineGofer(int n, char (*paths)[4096], const bool* ro, bool tryNs);

// Bit of READDIR's `total`: the directory has more names than the Gofer lists (the
// Sentry must not take the listing as complete).
constexpr uint32_t kTruncated = 0x80000000u;
// Bit of READDIR_BATCH's flags: list names only for what is not a directory (their type
// and inode number from getdents, flagged 2: attributes not fetched, a lookup asks),
// directories (and DT_UNKNOWN) with their attributes. A walk that stats no file (find)
// then costs no statx per file.
constexpr uint32_t kLiteFiles = 1;
// Bit of READDIR's and READDIR_BATCH's flags: a symlink's entry carries its target too
// ([u16 length][target] after its attributes, flagged 3): tar, ls -l and cp -a read
// every symlink they list, a round trip each otherwise. Only under a root mounted
// read-only here (the mount's flag, not only the Gofer's checks): readlink moves a
// symlink's atime elsewhere, and a listing on Linux touches none.
constexpr uint32_t kWithTargets = 2;
// Bit of READDIR_BATCH's flags: after each name asked, the subdirectories its listing
// names and theirs (depth first, ListBelow), each a record named by its path below p1,
// as many as fit whole: a walk (find, tar, du) reads them next, so one round trip
// brings thousands of names, where it was one per directory with subdirectories.
constexpr uint32_t kDeep = 4;

constexpr unsigned kStatMask = STATX_BASIC_STATS | STATX_BTIME | STATX_MNT_ID;
// Shared by the requests (gofer_server.cc) and the listings (gofer_list.cc).
bool MountOk(uint64_t id, int fd, const char* name);
bool FdOk(int fd);
bool BadRel(const char* rel);
size_t PutF64(size_t off, double v);
size_t PutStat(const struct statx& sx, size_t off);
bool TargetsOk(uint32_t mount, uint32_t flags);
// Directory dfd's names sorted, from entry `from`, into g_out at *offp (READDIR's entry
// format) while they fit: the count or -errno, *next the first not sent, *totalOut all
// (kTruncated when more than the Gofer lists). root >= 0: the mount (a later page of
// the same unchanged directory is cut from the last listing).
int ListInto(int dfd, int from, size_t* offp, uint32_t* next, uint32_t* totalOut, int root = -1, bool lite = false,
             bool targets = false);
// After the record at g_out[rec], the listings of the subdirectories it names, depth first.
bool ListBelow(int pfd, size_t rec, int* recs, size_t* offp, bool lite, bool targets, int depth);

}  // namespace gofer
}  // namespace tss
