/**
 * The FP/vector image in a signal frame, as Linux writes and reads it
 * (arch/x86/kernel/fpu/signal.c): below the rt_sigframe, 64-byte aligned, the XSAVE area in
 * the standard format for the task's user features, then FP_XSTATE_MAGIC2; sw_reserved
 * (bytes 464..511 of the legacy area) says magic1, extended_size, xfeatures and xstate_size.
 * On sigreturn a valid image is loaded component by component (those its xfeatures leave
 * out go to their init state); a broken magic1/magic2 or size loads the legacy area only
 * and resets every other component; a header XRSTOR would fault on is a bad frame (SIGSEGV).
 *
 * The platform's image (getFpState: the ptrace regset, systrap's host signal frame, the
 * KVM vCPU's XSAVE) is the standard format of its own length; this module only shapes it.
 */
import type { Platform } from '../platform/platform';
import { native } from '../platform/native';
import type { Task } from './task';

const MAGIC1 = 0x46505853;
const MAGIC2 = 0x46505845;
const LEGACY = 512;
const HEADER_END = 576; // legacy area + the 64-byte XSAVE header
const FPSSE = 3n; // x87 and SSE: FXSAVE's part
const XTILE_DATA = 1n << 18n; // AMX tiles: a process gets them only on request (ARCH_REQ_XCOMP_PERM)

/** The task's user XSAVE layout (Linux's fpu_user_cfg / fpstate->user_*) on one platform. */
interface FpLayout {
  /** Bytes of the image in a frame (without magic2): 512 when there is no XSAVE. */
  size: number;
  /** The components a frame carries (sw_reserved's xfeatures; XCR0's user bits). */
  features: bigint;
  /** Bytes setFpState takes: the platform's own image length. */
  platformLen: number;
  /** MXCSR bits the CPU has (FXSAVE's MXCSR_MASK): any other set in a frame faults. */
  mxcsrMask: number;
}

/** Layouts an image's own sw_reserved said (ptrace's regset, systrap's host frame): kept. */
const layouts = new WeakMap<Platform, FpLayout>();
const fitting = new Map<number, bigint>();

/**
 * Components whose place (CPUID leaf 0xd) lies inside len bytes: the features of an image
 * that does not say them (KVM's; systrap's trampoline image).
 */
function featuresFitting(len: number): bigint {
  const known = fitting.get(len);
  if (known !== undefined) return known;
  const [eax, , , edx] = native().hostCpuid(0xd, 0);
  const supported = BigInt(eax >>> 0) | (BigInt(edx >>> 0) << 32n);
  let f = FPSSE;
  for (let i = 2; i < 63; i++) {
    if (!((supported >> BigInt(i)) & 1n)) continue;
    const [size, off] = native().hostCpuid(0xd, i);
    if (size > 0 && off > 0 && off + size <= len) f |= 1n << BigInt(i);
  }
  fitting.set(len, f);
  return f;
}

/** The standard-format size of the given components (their highest end, CPUID leaf 0xd). */
function sizeOf(features: bigint): number {
  let n = HEADER_END;
  for (let i = 2; i < 63; i++) {
    if (!((features >> BigInt(i)) & 1n)) continue;
    const [size, off] = native().hostCpuid(0xd, i);
    if (off + size > n) n = off + size;
  }
  return n;
}

/** The layout of the image the platform just gave (ev.fp, `len` bytes). */
function layoutFrom(p: Platform, len: number): FpLayout {
  const known = layouts.get(p);
  if (known && known.platformLen === len) return known;
  const img = Buffer.from(p.ev.fp.buffer, p.ev.fp.byteOffset, Math.max(len, LEGACY));
  const mxcsrMask = img.readUInt32LE(28) || 0xffbf;
  if (len <= LEGACY) return { size: LEGACY, features: FPSSE, platformLen: len, mxcsrMask };
  // ptrace's regset and the host's signal frame say their features in sw_reserved (kept:
  // the kernel's word); other images do not: then every component that fits in them.
  const said = img.readUInt32LE(464) === MAGIC1;
  const features = ((said ? img.readBigUInt64LE(472) : featuresFitting(len)) | FPSSE) & ~XTILE_DATA;
  const lay = { size: Math.min(sizeOf(features), len), features, platformLen: len, mxcsrMask };
  if (said) layouts.set(p, lay);
  return lay;
}

/** The layout, asking the platform for t's image when none was seen yet (a restored sandbox). */
function layoutFor(p: Platform, t: Task): FpLayout | null {
  const known = layouts.get(p);
  if (known) return known;
  if (p.getFpState(t.hostTid) <= 0) return null;
  return layoutFrom(p, p.ev.info[5]);
}

/**
 * t's FP image as a frame holds it (size bytes + magic2), or null when the platform has
 * none. Loads it from the platform (ev.fp) first.
 */
export function frameFpImage(p: Platform, t: Task): Buffer | null {
  if (p.getFpState(t.hostTid) <= 0) return null;
  const len = p.ev.info[5];
  const lay = layoutFrom(p, len);
  const src = Buffer.from(p.ev.fp.buffer, p.ev.fp.byteOffset, len);
  if (lay.size <= LEGACY) {
    const fx = Buffer.alloc(LEGACY);
    src.copy(fx, 0, 0, 464); // sw_reserved: not written without XSAVE
    return fx;
  }
  const img = Buffer.alloc(lay.size + 4);
  src.copy(img, 0, 0, lay.size);
  // FP and SSE always marked in use, so a legacy program's edits to them count at sigreturn.
  writeSwBytes(img, lay, (img.readBigUInt64LE(512) & lay.features) | FPSSE);
  img.writeUInt32LE(MAGIC2, lay.size);
  return img;
}

/** sw_reserved as Linux's save_sw_bytes writes it, and a standard-format header with XSTATE_BV = bv. */
function writeSwBytes(img: Buffer, lay: FpLayout, bv: bigint): void {
  img.fill(0, 464, 512);
  img.writeUInt32LE(MAGIC1, 464);
  img.writeUInt32LE(lay.size + 4, 468); // extended_size
  img.writeBigUInt64LE(lay.features, 472); // xfeatures: the task's user features (not XSTATE_BV)
  img.writeUInt32LE(lay.size, 480); // xstate_size
  img.writeBigUInt64LE(bv, 512);
  img.fill(0, 520, HEADER_END); // standard format: no XCOMP_BV
}

/** Whether an image written by frameFpImage is in the XSAVE format (the frame's UC_FP_XSTATE). */
export function isXsaveImage(img: Buffer): boolean {
  return img.length > LEGACY;
}

/**
 * rt_sigreturn's FP part: loads t's FP state from the image at fpAddr (0: none, every
 * component to its init state). False when the frame is bad (caller sends SIGSEGV).
 */
export function restoreFpImage(p: Platform, t: Task, fpAddr: number): boolean {
  const lay = layoutFor(p, t);
  if (!lay) return fpAddr === 0;
  const out = Buffer.alloc(Math.max(lay.platformLen, LEGACY));
  if (fpAddr === 0) {
    // fpu__clear_user_states: the init state (x87 control word 0x37f, MXCSR 0x1f80).
    out.writeUInt16LE(0x37f, 0);
    out.writeUInt32LE(0x1f80, 24);
    return setImage(p, t, lay, out, FPSSE); // x87 and SSE as just written, the rest init
  }
  const head = t.mem.read(fpAddr, LEGACY);
  if (!head) return false;
  let fxOnly = lay.size <= LEGACY;
  let want = FPSSE;
  let full: Buffer | null = null;
  if (!fxOnly) {
    // check_xstate_in_sigframe: anything off about the extended layout means "legacy only".
    const xs = head.readUInt32LE(480);
    const ok = head.readUInt32LE(464) === MAGIC1 && xs >= HEADER_END && xs <= lay.size && xs <= head.readUInt32LE(468);
    const m2 = ok ? t.mem.read(fpAddr + xs, 4) : null;
    if (ok && !m2) return false;
    if (ok && m2!.readUInt32LE(0) === MAGIC2) {
      want = head.readBigUInt64LE(472) & lay.features;
      full = t.mem.read(fpAddr, lay.size);
      if (!full) return false;
    } else {
      fxOnly = true;
    }
  }
  // The alignment FXRSTOR (16) and XRSTOR (64) need, and MXCSR's reserved bits: a #GP in Linux's restore.
  if (fpAddr % (fxOnly ? 16 : 64) !== 0) return false;
  if ((head.readUInt32LE(24) & ~lay.mxcsrMask) !== 0) return false;
  if (fxOnly) {
    head.copy(out, 0, 0, 464);
    return setImage(p, t, lay, out, lay.size > LEGACY ? FPSSE : -1n);
  }
  const img = full!;
  const bv = img.readBigUInt64LE(512);
  // XRSTOR's header checks (standard format): XSTATE_BV within XCR0, bytes 8..23 zero.
  if ((bv & ~lay.features) !== 0n || img.readBigUInt64LE(520) !== 0n || img.readBigUInt64LE(528) !== 0n) return false;
  img.copy(out, 0, 0, lay.size);
  return setImage(p, t, lay, out, bv & want);
}

/** Hands `out` to the platform with the header's XSTATE_BV = bv (-1: no header, FXSAVE only). */
function setImage(p: Platform, t: Task, lay: FpLayout, out: Buffer, bv: bigint): boolean {
  // sw_reserved too: systrap's host signal frame is restored by the host kernel, which reads it.
  if (lay.platformLen > LEGACY && bv >= 0n) writeSwBytes(out, lay, bv);
  p.ev.fp.set(out.subarray(0, lay.platformLen || LEGACY));
  p.ev.info[5] = lay.platformLen || LEGACY;
  return p.setFpState(t.hostTid) === 0;
}
