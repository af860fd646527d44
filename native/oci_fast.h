// Shared by the native OCI entry's files (oci_fast.c, oci_pool.c).
#pragma once

extern const char *g_log;
extern int g_json;

// Execs the Node command line with the arguments as given (never returns).
void fallback(void);
// bin/tssandbox, from this program's own path.
char *nodeEntry(void);
void logError(const char *msg);
// "key"'s value in compact, flat JSON; 0, or -1 when missing.
int jsonField(const char *json, const char *key, char *out, unsigned long cap);
// A connected unix stream socket to dir/name (any length of dir), or -1.
int connectUnix(const char *dir, const char *name);
// One error line (and the log's), exit 1.
void die(const char *msg);
// `create` through a pre-started Sentry of the pool (oci_pool.c), else fallback().
int poolCreate(const char *root, char **argv, int cmdIndex);
// The host cgroup named in JSON text ("cgroup":{...}) removed, its reapers and tasks ended.
void removeCgroup(const char *json);
