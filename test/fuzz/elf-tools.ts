/**
 * Shared by the malformed-ELF cases (test/escape/malformed-elf.test.ts) and the ELF
 * fuzzer (test/fuzz/elf-fuzz.test.ts): seed executables compiled at test time, ELF64
 * header field access, a seeded PRNG, and host-side checks (a canary directory, the
 * Sentry's descendants).
 */
import { execFileSync } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { BUILD_DIR } from '../helpers/paths';

export const GUESTS = path.join(__dirname, 'guests');

export type SeedKind = 'static' | 'static-pie' | 'dynamic';
export const SEED_KINDS: readonly SeedKind[] = ['static', 'static-pie', 'dynamic'];

/** The seed program (guests/tiny.c) built as kind, cached by modification time. */
export function buildSeed(kind: SeedKind): string {
  const src = path.join(GUESTS, 'tiny.c');
  fs.mkdirSync(BUILD_DIR, { recursive: true });
  const out = path.join(BUILD_DIR, `tiny.${kind}`);
  if (!fs.existsSync(out) || fs.statSync(out).mtimeMs < fs.statSync(src).mtimeMs) {
    const tmp = `${out}.tmp${process.pid}`;
    execFileSync('gcc', ['-O1', ...(kind === 'dynamic' ? [] : [`-${kind}`]), '-o', tmp, src]);
    fs.renameSync(tmp, out);
  }
  return out;
}

/** ELF64 header field offsets. */
export const EH = { type: 16, machine: 18, entry: 24, phoff: 32, phentsize: 54, phnum: 56 } as const;
/** Program header field offsets (within one 56-byte entry). */
export const PH = { type: 0, flags: 4, offset: 8, vaddr: 16, filesz: 32, memsz: 40, align: 48 } as const;
export const PT_LOAD = 1;
export const PT_INTERP = 3;

export function phoff(b: Buffer): number {
  return Number(b.readBigUInt64LE(EH.phoff));
}
export function phnum(b: Buffer): number {
  return b.readUInt16LE(EH.phnum);
}
/** Offset of program header i. */
export function ph(b: Buffer, i: number): number {
  return phoff(b) + 56 * i;
}
/** Index of the first program header of type t, or -1. */
export function findPh(b: Buffer, t: number): number {
  for (let i = 0; i < phnum(b); i++) if (b.readUInt32LE(ph(b, i)) === t) return i;
  return -1;
}
export function setU64(b: Buffer, off: number, v: bigint | number): void {
  b.writeBigUInt64LE(BigInt.asUintN(64, BigInt(v)), off);
}
export function getU64(b: Buffer, off: number): bigint {
  return b.readBigUInt64LE(off);
}

/** A small deterministic PRNG (mulberry32). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Hash of every file (path, mode, bytes) under dir, to check that nothing changed. */
export function treeHash(dir: string): string {
  const h = crypto.createHash('sha256');
  const walk = (d: string) => {
    for (const name of fs.readdirSync(d).sort()) {
      const p = path.join(d, name);
      const st = fs.lstatSync(p);
      h.update(`${path.relative(dir, p)}\0${st.mode}\0${st.size}\0`);
      if (st.isDirectory()) walk(p);
      else if (st.isFile()) h.update(fs.readFileSync(p));
      else if (st.isSymbolicLink()) h.update(fs.readlinkSync(p));
    }
  };
  walk(dir);
  return h.digest('hex');
}

/** A canary directory: files the guest could try to change, with their hash. */
export function makeCanary(root: string): { dir: string; hash: string } {
  const dir = fs.mkdtempSync(path.join(root, 'tss-canary-'));
  fs.writeFileSync(path.join(dir, 'file'), 'canary\n', { mode: 0o644 });
  fs.mkdirSync(path.join(dir, 'sub'));
  fs.writeFileSync(path.join(dir, 'sub', 'exe'), '#!/bin/sh\necho canary\n', { mode: 0o755 });
  fs.symlinkSync('file', path.join(dir, 'link'));
  return { dir, hash: treeHash(dir) };
}

/** Parent pid and state of a live process, or null. */
function procStat(pid: number): { ppid: number; state: string; comm: string } | null {
  try {
    const s = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const rest = s.slice(s.lastIndexOf(')') + 2).split(' ');
    return { ppid: Number(rest[1]), state: rest[0], comm: s.slice(s.indexOf('(') + 1, s.lastIndexOf(')')) };
  } catch {
    return null;
  }
}

/** Every live descendant of pid (stubs, the Gofer, ...). */
export function descendants(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    const st = procStat(Number(d));
    if (!st) continue;
    const list = children.get(st.ppid) ?? [];
    list.push(Number(d));
    children.set(st.ppid, list);
  }
  const out: number[] = [];
  const stack = [pid];
  while (stack.length) {
    for (const c of children.get(stack.pop()!) ?? []) {
      out.push(c);
      stack.push(c);
    }
  }
  return out;
}

/** Of the given pids, those still alive (not zombies), with their names. */
export function stillAlive(pids: Iterable<number>): string[] {
  const out: string[] = [];
  for (const p of pids) {
    const st = procStat(p);
    if (st && st.state !== 'Z') out.push(`${p} (${st.comm})`);
  }
  return out;
}

/**
 * Follows a running process's descendants (polling), so that once it exited the test
 * can check none of them outlived it.
 */
export function watchDescendants(pid: number, everyMs = 100): { seen: Set<number>; stop: () => void } {
  const seen = new Set<number>();
  const tick = () => {
    for (const p of descendants(pid)) seen.add(p);
  };
  tick();
  const timer = setInterval(tick, everyMs);
  return { seen, stop: () => clearInterval(timer) };
}

/** Once a watched process exited: those of its descendants still alive after a grace period. */
export async function leftBehind(seen: Set<number>): Promise<string[]> {
  let alive = stillAlive(seen);
  for (let i = 0; i < 50 && alive.length; i++) {
    await new Promise((r) => setTimeout(r, 100));
    alive = stillAlive(seen);
  }
  return alive;
}
