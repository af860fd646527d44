// Issue 12: everything a guest writes is hashed. For each way of writing a file (write,
// sendfile, splice, tee, vmsplice, copy_file_range host-to-host and from tmpfs, shared
// mappings with the fd open or closed, pwritev2 out of order, Linux AIO) the report's
// sha256 of the file is the host file's after the run; a file removed by the guest has
// the hash of what it held when it went.
import { describe, expect, it } from 'vitest';
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { compileGuest } from '../helpers/build';
import { explain, runSandbox } from '../helpers/run';
import { GUESTS, readReport, scratch, schemaErrors, type Report } from './ci-helpers';

const sha = (b: Buffer | string): string => createHash('sha256').update(b).digest('hex');

describe('the report hashes every write path', () => {
  it('sha256 of each written file is the host file\'s after the run', async () => {
    const d = scratch('writes');
    try {
      fs.writeFileSync(path.join(d, 'src'), randomBytes(300_000));
      const rep = path.join(d, '..', `${path.basename(d)}.json`);
      const r = await runSandbox(['--mount', `${d}:/data:rw`, '--report', rep, compileGuest('ci_writes', 'dynamic', { srcDir: GUESTS }), '/data'],
        { timeoutMs: 60_000 });
      expect(r.stdout, explain(r)).toBe('ok\n');
      const report = readReport(rep);
      fs.rmSync(rep);
      expect(schemaErrors(report)).toBeNull();
      const writes = new Map<string, Report>(report.files.filter((f: Report) => f.op === 'write').map((f: Report) => [f.path, f]));
      const names = ['sendfile', 'sendfile-tmpfs', 'cfr', 'cfr-tmpfs', 'splice', 'tee', 'vmsplice', 'mmap', 'mmap-closed', 'pwritev2', 'aio'];
      for (const n of names) {
        const host = fs.readFileSync(path.join(d, n));
        expect(host.length, n).toBeGreaterThan(0);
        const w = writes.get(`/data/${n}`);
        expect(w, n).toBeDefined();
        expect(w.sha256, n).toBe(sha(host));
      }
      // Bytes of the write calls (a shared mapping's stores are in the hash, not the count).
      expect(writes.get('/data/sendfile').bytes).toBe(300_000);
      expect(writes.get('/data/cfr').bytes).toBe(300_000);
      expect(writes.get('/data/vmsplice').bytes).toBe(60_000);
      expect(writes.get('/data/aio').bytes).toBe(40_000);
      // Removed by the guest: the hash of what it held; a tmpfs file: of its content at the end.
      expect(writes.get('/data/gone').sha256).toBe(sha('written then removed\n'));
      expect(fs.existsSync(path.join(d, 'gone'))).toBe(false);
      expect(writes.get('/tmp/ci-writes-tmp').sha256).toBe(sha(fs.readFileSync(path.join(d, 'sendfile-tmpfs'))));
    } finally {
      fs.rmSync(d, { recursive: true, force: true });
    }
  }, 90_000);

  it('a file written through several opens, and rewritten in place, has its final content\'s hash', async () => {
    const d = scratch('rewrite');
    try {
      const rep = path.join(d, '..', `${path.basename(d)}.json`);
      const r = await runSandbox(['--mount', `${d}:/data:rw`, '--report', rep, '/bin/sh', '-c',
        'printf abc > /data/f; printf def >> /data/f; printf X | dd of=/data/f bs=1 seek=1 conv=notrunc 2>/dev/null; ' +
        'for i in 1 2 3; do echo $i > /data/loop; rm /data/loop; done; echo last > /data/loop'], { timeoutMs: 60_000 });
      expect(r.code, explain(r)).toBe(0);
      const report = readReport(rep);
      fs.rmSync(rep);
      const w = (p: string): Report => report.files.find((f: Report) => f.op === 'write' && f.path === p);
      expect(fs.readFileSync(path.join(d, 'f'), 'utf8')).toBe('aXcdef');
      expect(w('/data/f').sha256).toBe(sha('aXcdef'));
      expect(w('/data/f').bytes).toBe(7);
      expect(w('/data/loop').sha256).toBe(sha('last\n'));
      expect(w('/data/loop').count).toBe(4);
    } finally {
      fs.rmSync(d, { recursive: true, force: true });
    }
  }, 60_000);
});
