/* Mount propagation: shared peers (a bind of a shared mount, the copy in a new mount
 * namespace), a slave receiving but not sending, umount propagated, private and
 * unbindable mounts, and mountinfo's optional fields (group ids renamed A, B, ... in
 * order of mount point, since their numbers differ between kernels). The two processes
 * take turns through pipes, so the output does not depend on scheduling. Run natively in
 * a mount namespace of its own with every mount private. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char base[64];
static int to_child[2], to_parent[2];

static const char *at(const char *rel) {
  static char bufs[4][160];
  static int i;
  char *b = bufs[i++ & 3];
  snprintf(b, 160, "%s/%s", base, rel);
  return b;
}

static void say(int fd) { char c = 1; if (write(fd, &c, 1) != 1) _exit(3); }
static void hear(int fd) { char c; if (read(fd, &c, 1) != 1) _exit(4); }

static void tmpfs_at(const char *who, const char *rel) {
  if (mount("prop", at(rel), "tmpfs", 0, NULL) != 0) { printf("%s: mount %s: %s\n", who, rel, strerror(errno)); return; }
  char m[200];
  snprintf(m, sizeof m, "%s/marker", at(rel));
  close(open(m, O_CREAT | O_WRONLY, 0644));
}

static void sees(const char *who, const char *rel) {
  char m[200];
  snprintf(m, sizeof m, "%s/marker", at(rel));
  printf("%s sees %s: %s\n", who, rel, access(m, F_OK) == 0 ? "yes" : "no");
}

static void change(const char *who, const char *rel, unsigned long flags, const char *what) {
  int r = mount(NULL, at(rel), NULL, flags, NULL);
  printf("%s: %s %s: %s\n", who, what, rel, r == 0 ? "ok" : strerror(errno));
}

struct line { char mp[200]; char opt[200]; };

static int cmp(const void *a, const void *b) { return strcmp(((const struct line *)a)->mp, ((const struct line *)b)->mp); }

/* The mounts under base, sorted, with their optional fields and group ids renamed. */
static void show(const char *who) {
  FILE *f = fopen("/proc/self/mountinfo", "r");
  static struct line lines[64];
  int n = 0;
  char l[1024];
  size_t bl = strlen(base);
  while (f && fgets(l, sizeof l, f) && n < 64) {
    char mp[512];
    if (sscanf(l, "%*s %*s %*s %*s %511s", mp) != 1 || strncmp(mp, base, bl) != 0 || (mp[bl] != '/' && mp[bl] != 0)) continue;
    snprintf(lines[n].mp, sizeof lines[n].mp, "%s", mp[bl] ? mp + bl + 1 : ".");
    /* Fields 7.. up to " - ". */
    char *p = l;
    for (int k = 0; k < 6 && p; k++) { p = strchr(p, ' '); if (p) p++; }
    char *dash = strstr(l, " - ");
    lines[n].opt[0] = 0;
    if (p && dash && p < dash + 1) { size_t len = (size_t)(dash - p); if (len > 199) len = 199; memcpy(lines[n].opt, p, len); lines[n].opt[len] = 0; }
    n++;
  }
  if (f) fclose(f);
  qsort(lines, n, sizeof lines[0], cmp);
  long ids[32];
  int nids = 0;
  printf("%s mountinfo:\n", who);
  for (int i = 0; i < n; i++) {
    char out[256] = "";
    char *save, *tok = strtok_r(lines[i].opt, " ", &save);
    for (; tok; tok = strtok_r(NULL, " ", &save)) {
      char *colon = strchr(tok, ':');
      if (colon) {
        long id = atol(colon + 1);
        int k = 0;
        while (k < nids && ids[k] != id) k++;
        if (k == nids && nids < 32) ids[nids++] = id;
        char t[64];
        snprintf(t, sizeof t, " %.*s:%c", (int)(colon - tok), tok, 'A' + k);
        strcat(out, t);
      } else {
        strcat(out, " ");
        strcat(out, tok);
      }
    }
    printf("  %s%s\n", lines[i].mp, out[0] ? out : " (private)");
  }
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  snprintf(base, sizeof base, "/tmp/cp_mount_prop.%d", (int)getpid());
  if (mkdir(base, 0755) != 0 || mount("prop", base, "tmpfs", 0, NULL) != 0) { perror("base"); return 1; }
  const char *dirs[] = { "s", "b", "u", "x", "p", "q" };
  for (unsigned i = 0; i < sizeof dirs / sizeof *dirs; i++) mkdir(at(dirs[i]), 0755);
  mount("prop", at("s"), "tmpfs", 0, NULL);
  const char *sub[] = { "s/a", "s/b", "s/c", "s/d", "s/e" };
  for (unsigned i = 0; i < sizeof sub / sizeof *sub; i++) mkdir(at(sub[i]), 0755);

  change("parent", "s", MS_SHARED | MS_PRIVATE, "shared and private at once");
  change("parent", "s/a", MS_SHARED, "make-shared of a directory that is not a mount point");
  change("parent", "s", MS_SHARED, "make-shared");
  printf("bind s at b: %s\n", mount(at("s"), at("b"), NULL, MS_BIND, NULL) == 0 ? "ok" : strerror(errno));
  tmpfs_at("parent", "s/a");
  sees("parent", "b/a");
  show("parent");

  if (pipe(to_child) || pipe(to_parent)) return 1;
  pid_t pid = fork();
  if (pid == 0) {
    if (unshare(CLONE_NEWNS) != 0) { printf("unshare: %s\n", strerror(errno)); _exit(1); }
    show("child");
    say(to_parent[1]);
    hear(to_child[0]); /* parent mounted s/b */
    sees("child", "s/b");
    sees("child", "b/b");
    change("child", "s", MS_SLAVE, "make-slave");
    show("child");
    say(to_parent[1]);
    hear(to_child[0]); /* parent mounted s/c */
    sees("child", "s/c");
    sees("child", "b/c");
    tmpfs_at("child", "s/d");
    sees("child", "b/d");
    say(to_parent[1]);
    hear(to_child[0]); /* parent unmounted s/a */
    sees("child", "s/a");
    sees("child", "b/a");
    show("child");
    _exit(0);
  }
  hear(to_parent[0]);
  tmpfs_at("parent", "s/b");
  sees("parent", "b/b");
  say(to_child[1]);
  hear(to_parent[0]); /* child made its s a slave */
  tmpfs_at("parent", "s/c");
  say(to_child[1]);
  hear(to_parent[0]); /* child mounted s/d */
  sees("parent", "s/d");
  printf("parent: umount s/a: %s\n", umount(at("s/a")) == 0 ? "ok" : strerror(errno));
  sees("parent", "b/a");
  say(to_child[1]);
  int st;
  waitpid(pid, &st, 0);
  printf("child exit %d\n", WIFEXITED(st) ? WEXITSTATUS(st) : -1);

  /* Private: a bind of a private mount shares nothing later. */
  mount("prop", at("p"), "tmpfs", 0, NULL);
  mkdir(at("p/k"), 0755);
  printf("bind p at q: %s\n", mount(at("p"), at("q"), NULL, MS_BIND, NULL) == 0 ? "ok" : strerror(errno));
  tmpfs_at("parent", "p/k");
  sees("parent", "q/k");
  /* Unbindable: no bind of it. */
  mount("prop", at("u"), "tmpfs", 0, NULL);
  change("parent", "u", MS_UNBINDABLE, "make-unbindable");
  printf("bind u at x: %s\n", mount(at("u"), at("x"), NULL, MS_BIND, NULL) == 0 ? "ok" : strerror(errno));
  /* make-private of a peer: b leaves the group; a new mount on s reaches it no more. */
  change("parent", "b", MS_PRIVATE, "make-private");
  tmpfs_at("parent", "s/e");
  sees("parent", "b/e");
  change("parent", "s", MS_REC | MS_SLAVE, "make-rslave");
  show("parent");
  umount2(base, MNT_DETACH);
  rmdir(base);
  printf("done\n");
  return 0;
}
