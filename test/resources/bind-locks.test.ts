// Issue 15: one inode per host file on bind mounts, so flock/fcntl/OFD locks taken by
// separate processes (each opening the file by path) exclude each other as on Linux;
// and SQLite with three WAL writers on a rw bind mount loses no row.
import { describe, expect, it } from 'vitest';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { compileGuest } from '../helpers/build';
import { explain, runNative, runSandbox } from '../helpers/run';

const GUESTS = path.join(__dirname, 'guests');

function scratch(tag: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `tss-${tag}-`));
}

describe('locks on a rw bind mount', () => {
  it('fcntl, flock and OFD locks exclude other processes, as on Linux', async () => {
    const bin = compileGuest('bind_locks', 'dynamic', { srcDir: GUESTS });
    const nd = scratch('locks-native');
    const sd = scratch('locks-sbx');
    try {
      const native = await runNative([bin, path.join(nd, 'f')], { timeoutMs: 60_000 });
      expect(native.code, explain(native)).toBe(0);
      expect(native.stdout).toContain('fcntl counter: 200 of 200');
      expect(native.stdout).not.toContain('GRANTED');
      const sbx = await runSandbox(['--mount', `${sd}:/mnt:rw`, bin, '/mnt/f'], { timeoutMs: 90_000 });
      expect(sbx.stdout, explain(sbx)).toBe(native.stdout);
      expect(sbx.code).toBe(0);
    } finally {
      fs.rmSync(nd, { recursive: true, force: true });
      fs.rmSync(sd, { recursive: true, force: true });
    }
  }, 120_000);
});

const hasSqlite = fs.existsSync('/usr/bin/sqlite3');

describe.skipIf(!hasSqlite)('sqlite3 on a rw bind mount', () => {
  it('three WAL writers: no row lost, no SIGBUS, integrity ok', async () => {
    const d = scratch('sqlite');
    const rows = 300;
    // Every INSERT is its own transaction: the writers interleave on the WAL and -shm
    // (MAP_SHARED across processes) under SQLite's fcntl locks.
    fs.writeFileSync(path.join(d, 'run.sh'), [
      'cd /data',
      'sqlite3 db "PRAGMA journal_mode=WAL; CREATE TABLE t(w INT, i INT);" >/dev/null || exit 1',
      'for w in 1 2 3; do',
      `  ( i=0; while [ $i -lt ${rows} ]; do echo "INSERT INTO t VALUES($w, $i);"; i=$((i+1)); done ) | sqlite3 -bail -cmd ".timeout 120000" db || echo "writer $w failed: $?" &`,
      'done',
      'wait',
      'sqlite3 db "SELECT count(*), count(DISTINCT w*100000+i) FROM t; PRAGMA integrity_check;"',
      '',
    ].join('\n'));
    try {
      const r = await runSandbox(['--mount', `${d}:/data:rw`, '/bin/sh', '/data/run.sh'], { timeoutMs: 150_000 });
      expect(r.stdout, explain(r)).toBe(`${3 * rows}|${3 * rows}\nok\n`);
      expect(r.code).toBe(0);
      // And the host sees the same database (the writes really reached the bind source).
      const host = await runNative(['/usr/bin/sqlite3', path.join(d, 'db'), 'SELECT count(*) FROM t;']);
      expect(host.stdout).toBe(`${3 * rows}\n`);
    } finally {
      fs.rmSync(d, { recursive: true, force: true });
    }
  }, 180_000);
});
