/**
 * The vDSO every new image gets (AT_SYSINFO_EHDR), on every platform: the Sentry's clock
 * page ([vvar], read-only, sealed: native/vdso_clock.cc) and right above it the image
 * ([vdso], native/vdso/vdso.c) whose clock_gettime/gettimeofday/time read that page
 * instead of trapping. Both host fds are opened once, at the first exec (start-up).
 */
import * as fs from 'fs';
import { native, vdsoImagePath } from '../platform/native';
import type { AddressSpace } from '../mm/address-space';
import { MAP_ANONYMOUS, MAP_FIXED, MAP_PRIVATE, MAP_SHARED, PAGE_SIZE, PROT_EXEC, PROT_READ, pageUp } from '../mm/vma';

interface VdsoFiles {
  dataFd: number;
  imageFd: number;
  imageLen: number;
}

let files: VdsoFiles | null | undefined;

/** Opens the vDSO's files and starts the clock (at start-up, before the Sentry confines itself). */
export function prepareVdso(): VdsoFiles | null {
  if (files !== undefined) return files;
  files = null;
  const dataFd = native().vdsoStart();
  if (dataFd < 0) return null;
  try {
    const imageFd = fs.openSync(vdsoImagePath(), 'r');
    files = { dataFd, imageFd, imageLen: pageUp(fs.fstatSync(imageFd).size) };
  } catch {
    // Not built: images run without a vDSO, as with vdso=0 (libc then traps its clock calls).
  }
  return files;
}

/** --deterministic: no vDSO (its clock reads the TSC), so libc traps every clock read. */
export function disableVdso(): void {
  files = null;
}

/** Maps [vvar] and [vdso] into a new image; returns the vDSO's address, or 0 if there is none. */
export function mapVdso(mm: AddressSpace, ctx: number): number {
  const f = prepareVdso();
  if (f === null) return 0;
  const base = mm.map(ctx, 0, PAGE_SIZE + f.imageLen, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, null, 0, '[vvar]');
  if (base < 0) return 0;
  const data = mm.map(ctx, base, PAGE_SIZE, PROT_READ, MAP_SHARED | MAP_FIXED, { hostFd: f.dataFd, pread: () => 0 }, 0, '[vvar]');
  const image = mm.map(ctx, base + PAGE_SIZE, f.imageLen, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_FIXED,
    { hostFd: f.imageFd, pread: () => 0 }, 0, '[vdso]');
  if (data < 0 || image < 0) {
    mm.unmap(ctx, base, PAGE_SIZE + f.imageLen);
    return 0;
  }
  return image;
}
