// The Gofer's directory listings (READDIR, READDIR_BATCH): every name of a directory
// sorted, with its attributes (readdir-plus) or lite, a symlink's target, and the
// listings below it depth first, packed into g_out as src/gofer/protocol.ts reads them.
#include "gofer_internal.h"
#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

namespace tss {
namespace gofer {

// Lists directory dfd, sorted by name, from entry `from`, into g_out at *off in the
// READDIR entry format, as many as fit below kReplyMax. Returns the entry count or
// -errno; *next: index of the first entry not sent, *total: entries in all (with
// kTruncated when there were more than the Gofer lists).
// The directory whose sorted names ListInto holds (for READDIR's later pages): its
// identity and change times when listed. A page asked of the same directory unchanged
// (same inode, mtime and ctime: no name added, removed or renamed in it) is cut from
// that listing, not from a new getdents and sort of every name (a 10 000-name
// directory is 13 pages).
struct Listed {
  bool valid = false;
  uint32_t root = 0;
  uint64_t dev = 0, ino = 0;
  struct statx_timestamp mtime = {}, ctime = {};
  int total = 0;
  bool truncated = false;
};
Listed g_listed;

bool SameTs(const struct statx_timestamp& x, const struct statx_timestamp& y) {
  return x.tv_sec == y.tv_sec && x.tv_nsec == y.tv_nsec;
}


int ListInto(int dfd, int from, size_t* offp, uint32_t* next, uint32_t* totalOut, int root, bool lite, bool targets) {
  // All names, sorted (the order the VFS pages by), then from `from` as many as fit.
  static char dents[16 << 20];
  static uint32_t names[1 << 18];
  constexpr int kNames = (int)(sizeof names / sizeof names[0]);
  size_t used = 0;
  int count = 0, total = 0;
  bool truncated = false;
  struct statx dsx;
  // (Only a READDIR's listing is kept for its later pages: a batch's are read whole.)
  bool known = root >= 0 && syscall(SYS_statx, dfd, "", AT_EMPTY_PATH, STATX_INO | STATX_MTIME | STATX_CTIME, &dsx) == 0 &&
               (dsx.stx_mask & (STATX_INO | STATX_MTIME | STATX_CTIME)) == (STATX_INO | STATX_MTIME | STATX_CTIME);
  uint64_t ddev = known ? makedev(dsx.stx_dev_major, dsx.stx_dev_minor) : 0;
  const Listed& L = g_listed;
  if (from > 0 && known && root >= 0 && L.valid && L.root == (uint32_t)root && L.dev == ddev && L.ino == dsx.stx_ino &&
      SameTs(L.mtime, dsx.stx_mtime) && SameTs(L.ctime, dsx.stx_ctime)) {
    total = L.total;
    truncated = L.truncated;
    goto page;
  }
  g_listed.valid = false;
  for (;;) {
    if (used + 64 * 1024 > sizeof dents) {
      truncated = true;
      break;
    }
    long n = syscall(SYS_getdents64, dfd, dents + used, 64 * 1024);
    if (n < 0) return -errno;
    if (n == 0) break;
    for (long pos = 0; pos < n;) {
      struct dirent64* d = (struct dirent64*)(dents + used + pos);
      const char* nm = d->d_name;
      if (!(nm[0] == '.' && (nm[1] == 0 || (nm[1] == '.' && nm[2] == 0)))) {
        if (total < kNames) names[total++] = (uint32_t)(used + pos + offsetof(struct dirent64, d_name));
        else truncated = true;
      }
      pos += d->d_reclen;
    }
    used += (size_t)n;
  }
  std::sort(names, names + total, [](uint32_t x, uint32_t y) { return strcmp(dents + x, dents + y) < 0; });
  if (known && root >= 0) {
    g_listed.valid = true;
    g_listed.root = (uint32_t)root;
    g_listed.dev = ddev;
    g_listed.ino = dsx.stx_ino;
    g_listed.mtime = dsx.stx_mtime;
    g_listed.ctime = dsx.stx_ctime;
    g_listed.total = total;
    g_listed.truncated = truncated;
  }
page:
  size_t off = *offp;
  int i = from;
  for (; i < total; i++) {
    const char* nm = dents + names[i];
    size_t nb = strlen(nm);
    // readdir-plus: every entry carries its attributes (what a lookup's Lstat would
    // answer), flagged 0 when only a Lstat may say (a mount the gofer does not serve:
    // the Sentry asks, and is refused as for any lookup).
    if (off + 15 + nb + 18 * 8 > kReplyMax) break;
    const struct dirent64* de = (const struct dirent64*)(nm - offsetof(struct dirent64, d_name));
    if (lite && de->d_type != DT_DIR && de->d_type != DT_UNKNOWN) {
      off = PutF64(off, (double)de->d_ino);
      uint32_t m = (uint32_t)DTTOIF(de->d_type);
      uint16_t l = (uint16_t)nb;
      memcpy(g_out + off, &m, 4);
      memcpy(g_out + off + 4, &l, 2);
      memcpy(g_out + off + 6, nm, nb);
      off += 6 + nb;
      g_out[off++] = 2;
      count++;
      continue;
    }
    struct statx sx;
    if (syscall(SYS_statx, dfd, nm, AT_SYMLINK_NOFOLLOW, kStatMask, &sx) != 0) continue;
    bool ok = !(sx.stx_mask & STATX_MNT_ID) || MountOk(sx.stx_mnt_id, dfd, nm);
    off = PutF64(off, (double)sx.stx_ino);
    uint32_t m = sx.stx_mode;
    uint16_t l = (uint16_t)nb;
    memcpy(g_out + off, &m, 4);
    memcpy(g_out + off + 4, &l, 2);
    memcpy(g_out + off + 6, nm, nb);
    off += 6 + nb;
    size_t flag = off;
    g_out[off++] = ok ? 1 : 0;
    if (ok) off = PutStat(sx, off);
    if (ok && targets && S_ISLNK(sx.stx_mode) && off + 2 < kReplyMax) {
      // (A target that does not fit, or a failed read: the Sentry's readlink asks.)
      size_t room = kReplyMax - off - 2;
      ssize_t n = readlinkat(dfd, nm, (char*)g_out + off + 2, room < 4096 ? room : 4096);
      if (n >= 0 && (size_t)n < (room < 4096 ? room : 4096)) {
        uint16_t tl = (uint16_t)n;
        memcpy(g_out + off, &tl, 2);
        off += 2 + (size_t)n;
        g_out[flag] = 3;
      }
    }
    count++;
  }
  *offp = off;
  *next = (uint32_t)(i < total ? i : total);
  *totalOut = (uint32_t)total | (truncated ? kTruncated : 0);
  return count;
}

// The READDIR entry at g_out + e (as ListInto wrote it): the offset after it; *dir: it
// is a directory with its attributes (flag 1 or 3: on a mount the Gofer serves), whose
// name is *name (*nb bytes).
size_t SkipEntry(size_t e, bool* dir, const char** name, uint16_t* nb) {
  uint32_t m;
  memcpy(&m, g_out + e + 8, 4);
  memcpy(nb, g_out + e + 12, 2);
  *name = (const char*)g_out + e + 14;
  e += 14 + *nb;
  uint8_t flag = g_out[e++];
  *dir = (flag == 1 || flag == 3) && S_ISDIR(m);
  if (flag == 1 || flag == 3) e += 18 * 8;
  if (flag == 3) {
    uint16_t tl;
    memcpy(&tl, g_out + e, 2);
    e += 2 + tl;
  }
  return e;
}

// kDeep: below the READDIR_BATCH record at g_out + rec (a listing of the directory its
// name names, a path below pfd), the listings of its subdirectories and theirs, depth
// first and by name (the order a walk of the Sentry's listings takes), appended at
// *offp as records while they fit whole. Each is opened one path beneath pfd
// (RESOLVE_BENEATH, no symlink, no "." or "..": components the Gofer itself just
// listed) and checked as any listed directory (FdOk). false: the reply is full.
bool ListBelow(int pfd, size_t rec, int* recs, size_t* offp, bool lite, bool targets, int depth) {
  uint16_t bl;
  int32_t status;
  uint32_t count;
  memcpy(&bl, g_out + rec, 2);
  memcpy(&status, g_out + rec + 2 + bl, 4);
  memcpy(&count, g_out + rec + 6 + bl, 4);
  if (status != 0 || depth >= 32) return true;
  size_t e = rec + 10 + bl;
  for (uint32_t k = 0; k < count; k++) {
    bool dir;
    const char* nm;
    uint16_t nb;
    e = SkipEntry(e, &dir, &nm, &nb);
    if (!dir) continue;
    size_t off = *offp, pl = (size_t)bl + 1 + nb;
    if (pl >= 4096 || off + 10 + pl > kReplyMax) return false;
    // The path is composed where the new record's name goes (NUL-ended for openat2
    // until the record's status overwrites the NUL).
    char* path = (char*)g_out + off + 2;
    memcpy(path, g_out + rec + 2, bl);
    path[bl] = '/';
    memcpy(path + bl + 1, nm, nb);
    path[pl] = 0;
    if (BadRel(path)) continue;
    int dfd = Openat2(pfd, path, O_RDONLY | O_DIRECTORY, 0, kResolveChild);
    if (dfd < 0) continue;  // (gone, or not servable: the Sentry asks when the walk gets there)
    if (!FdOk(dfd)) {
      close(dfd);
      continue;
    }
    size_t body = off + 10 + pl;
    uint32_t next = 0, all = 0;
    int c = ListInto(dfd, 0, &body, &next, &all, -1, lite, targets);
    close(dfd);
    if (c < 0) continue;
    if (next < all) return false;  // (left out whole: the walk asks it later)
    uint16_t l = (uint16_t)pl;
    int32_t ok = 0;
    uint32_t n = (uint32_t)c;
    memcpy(g_out + off, &l, 2);
    memcpy(g_out + off + 2 + pl, &ok, 4);
    memcpy(g_out + off + 6 + pl, &n, 4);
    *offp = body;
    (*recs)++;
    if (!ListBelow(pfd, off, recs, offp, lite, targets, depth + 1)) return false;
  }
  return true;
}

}  // namespace gofer
}  // namespace tss
