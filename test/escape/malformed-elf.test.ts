// Finding 7 (issue 7): malformed ELF files reached an internal error (a RangeError in the
// loader for a huge p_offset, among others). Each case below breaks one header field of
// a small executable; the sandbox must give exactly what Linux gives (binfmt_elf: an
// errno before the point of no return, death by a signal after it), compared with a
// native run of the same files, and never an internal error.
import { describe, expect, it } from 'vitest';
import * as fs from 'fs';
import * as path from 'path';
import { compileGuest } from '../helpers/build';
import { SCRATCH_DIR } from '../helpers/paths';
import { expectSameAsNative, hasStackTrace } from '../helpers/run';
import { buildSeed, EH, findPh, getU64, GUESTS, ph, PH, phnum, PT_INTERP, PT_LOAD, setU64 } from '../fuzz/elf-tools';

type Mutation = (b: Buffer, dir: string) => Buffer;

/** Points PT_INTERP at a path appended to the file (any length). */
function interpAt(b: Buffer, target: string): Buffer {
  const i = findPh(b, PT_INTERP);
  const s = Buffer.from(target + '\0');
  const out = Buffer.concat([b, s]);
  setU64(out, ph(out, i) + PH.offset, b.length);
  setU64(out, ph(out, i) + PH.filesz, s.length);
  return out;
}

/** A copy of the dynamic loader with one header field changed, as an interpreter. */
function patchedInterp(dir: string, name: string, patch: (b: Buffer) => void): string {
  const ld = fs.realpathSync('/lib64/ld-linux-x86-64.so.2');
  const b = Buffer.from(fs.readFileSync(ld));
  patch(b);
  const p = path.join(dir, name);
  fs.writeFileSync(p, b, { mode: 0o755 });
  return p;
}

const firstLoad = (b: Buffer) => ph(b, findPh(b, PT_LOAD));

const CASES: Array<[string, 'static' | 'static-pie' | 'dynamic', Mutation]> = [
  ['ok-static', 'static', (b) => b],
  ['ok-static-pie', 'static-pie', (b) => b],
  ['ok-dynamic', 'dynamic', (b) => b],
  ['bad-magic', 'dynamic', (b) => (b.write('X', 1), b)],
  ['type-rel', 'dynamic', (b) => (b.writeUInt16LE(1, EH.type), b)],
  ['type-core', 'static', (b) => (b.writeUInt16LE(4, EH.type), b)],
  ['machine-aarch64', 'dynamic', (b) => (b.writeUInt16LE(183, EH.machine), b)],
  ['class-32', 'static', (b) => ((b[4] = 1), b)],
  ['data-big-endian', 'static', (b) => ((b[5] = 2), b)],
  ['phentsize-32', 'dynamic', (b) => (b.writeUInt16LE(32, EH.phentsize), b)],
  ['phnum-0', 'dynamic', (b) => (b.writeUInt16LE(0, EH.phnum), b)],
  ['phnum-74', 'dynamic', (b) => (b.writeUInt16LE(74, EH.phnum), b)],
  ['phoff-huge', 'dynamic', (b) => (setU64(b, EH.phoff, 0xfffffffffffff000n), b)],
  ['phoff-2^53+', 'static', (b) => (setU64(b, EH.phoff, (1n << 53n) + 64n), b)],
  ['phoff-past-eof', 'dynamic', (b) => (setU64(b, EH.phoff, b.length + 4096), b)],
  ['truncated-100', 'dynamic', (b) => b.subarray(0, 100)],
  ['truncated-40', 'static', (b) => b.subarray(0, 40)],
  ['interp-size-1', 'dynamic', (b) => (setU64(b, ph(b, findPh(b, PT_INTERP)) + PH.filesz, 1), b)],
  ['interp-size-5000', 'dynamic', (b) => (setU64(b, ph(b, findPh(b, PT_INTERP)) + PH.filesz, 5000), b)],
  ['interp-size-huge', 'dynamic', (b) => (setU64(b, ph(b, findPh(b, PT_INTERP)) + PH.filesz, 1n << 60n), b)],
  ['interp-offset-huge', 'dynamic', (b) => (setU64(b, ph(b, findPh(b, PT_INTERP)) + PH.offset, 0x7fffffffffff0000n), b)],
  ['interp-offset-past-eof', 'dynamic', (b) => (setU64(b, ph(b, findPh(b, PT_INTERP)) + PH.offset, b.length - 8), b)],
  ['interp-unterminated', 'dynamic', (b) => {
    const i = ph(b, findPh(b, PT_INTERP));
    b[Number(getU64(b, i + PH.offset) + getU64(b, i + PH.filesz)) - 1] = 0x78;
    return b;
  }],
  ['interp-missing', 'dynamic', (b) => interpAt(b, '/lib64/ld-missing-tss.so.2')],
  ['interp-empty', 'dynamic', (b) => interpAt(b, '')],
  ['interp-a-directory', 'dynamic', (b) => interpAt(b, '/tmp')],
  ['interp-short-script', 'dynamic', (b, dir) => {
    const s = path.join(dir, 'interp-short');
    fs.writeFileSync(s, '#!/bin/sh\necho x\n', { mode: 0o755 }); // shorter than an ELF header: EIO
    return interpAt(b, s);
  }],
  ['interp-a-script', 'dynamic', (b, dir) => {
    const s = path.join(dir, 'interp-script');
    fs.writeFileSync(s, `#!/bin/sh\n# ${'-'.repeat(80)}\necho x\n`, { mode: 0o755 });
    return interpAt(b, s);
  }],
  ['interp-type-rel', 'dynamic', (b, dir) => interpAt(b, patchedInterp(dir, 'ld-rel', (l) => l.writeUInt16LE(1, EH.type)))],
  ['interp-machine', 'dynamic', (b, dir) => interpAt(b, patchedInterp(dir, 'ld-arm', (l) => l.writeUInt16LE(183, EH.machine)))],
  ['interp-phentsize', 'dynamic', (b, dir) => interpAt(b, patchedInterp(dir, 'ld-phent', (l) => l.writeUInt16LE(40, EH.phentsize)))],
  ['interp-load-misaligned', 'dynamic', (b, dir) => interpAt(b, patchedInterp(dir, 'ld-mis', (l) => {
    const o = firstLoad(l) + PH.offset;
    setU64(l, o, getU64(l, o) + 1n);
  }))],
  ['load-offset-misaligned', 'static', (b) => (setU64(b, firstLoad(b) + PH.offset, getU64(b, firstLoad(b) + PH.offset) + 1n), b)],
  ['load-filesz-over-memsz', 'static', (b) => {
    const o = firstLoad(b);
    setU64(b, o + PH.filesz, getU64(b, o + PH.memsz) + 0x1000n);
    return b;
  }],
  ['load-vaddr-huge', 'static', (b) => {
    const o = firstLoad(b);
    setU64(b, o + PH.vaddr, 0x800000000000n + (getU64(b, o + PH.vaddr) & 0xfffn));
    return b;
  }],
  ['load-vaddr-2^63', 'static-pie', (b) => {
    const o = firstLoad(b);
    setU64(b, o + PH.vaddr, (1n << 63n) + (getU64(b, o + PH.vaddr) & 0xfffn));
    return b;
  }],
  ['load-memsz-huge', 'static-pie', (b) => (setU64(b, firstLoad(b) + PH.memsz, 1n << 62n), b)],
  ['load-offset-past-eof', 'static-pie', (b) => (setU64(b, firstLoad(b) + PH.offset, getU64(b, firstLoad(b) + PH.offset) + 0x10000000n), b)],
  ['load-offset-2^60', 'static-pie', (b) => (setU64(b, firstLoad(b) + PH.offset, (1n << 60n) + (getU64(b, firstLoad(b) + PH.offset) & 0xfffn)), b)],
  ['load-offset-2^63', 'static-pie', (b) => (setU64(b, firstLoad(b) + PH.offset, 0x7ffffffffffff000n + (getU64(b, firstLoad(b) + PH.offset) & 0xfffn)), b)],
  ['no-load-exec', 'static', (b) => {
    for (let i = 0; i < phnum(b); i++) if (b.readUInt32LE(ph(b, i)) === PT_LOAD) b.writeUInt32LE(0, ph(b, i));
    return b;
  }],
  ['no-load-pie', 'static-pie', (b) => {
    for (let i = 0; i < phnum(b); i++) if (b.readUInt32LE(ph(b, i)) === PT_LOAD) b.writeUInt32LE(0, ph(b, i));
    return b;
  }],
  ['entry-huge', 'static', (b) => (setU64(b, EH.entry, 0xffffffff81000000n), b)],
  ['entry-zero', 'static', (b) => (setU64(b, EH.entry, 0), b)],
  ['script-unterminated-name', 'static', () => Buffer.from('#!/' + 'a'.repeat(300))],
  ['script-empty', 'static', () => Buffer.from('#!\n')],
];

describe('malformed ELF headers give what Linux gives', () => {
  it(`${CASES.length} cases, compared with a native run`, async () => {
    const dir = path.join(SCRATCH_DIR, 'malformed-elf');
    fs.rmSync(dir, { recursive: true, force: true });
    fs.mkdirSync(dir, { recursive: true });
    const files: string[] = [];
    for (const [name, kind, mutate] of CASES) {
      const out = mutate(Buffer.from(fs.readFileSync(buildSeed(kind))), dir);
      const p = path.join(dir, name);
      fs.writeFileSync(p, out, { mode: 0o755 });
      files.push(p);
    }
    const list = path.join(dir, 'list');
    fs.writeFileSync(list, files.join('\n') + '\n');
    const runner = compileGuest('exec_each', 'static', { srcDir: GUESTS });
    const { sandbox } = await expectSameAsNative([runner, list], { timeoutMs: 120_000 });
    // The native run is the reference; a few lines make the expectations readable.
    for (const line of [
      'ok-dynamic: exit 0',
      'phoff-huge: execve -1 ENOEXEC',
      'interp-size-huge: execve -1 ENOEXEC',
      'interp-offset-huge: execve -1 EIO',
      'interp-a-script: execve -1 ELIBBAD',
      'load-offset-misaligned: signal 11',
    ]) expect(sandbox.stdout).toContain(`${line}\n`);
    expect(sandbox.stdout).toMatch(/all done\n$/);
    expect(sandbox.stderr).not.toMatch(/internal error/);
    expect(hasStackTrace(sandbox.stderr), sandbox.stderr).toBe(false);
  });
});
