/** Terminal ioctl numbers (asm-generic/ioctls.h), shared by the host console and ptys. */
export const TCGETS = 0x5401;
export const TCSETS = 0x5402;
export const TCSETSW = 0x5403;
export const TCSETSF = 0x5404;
export const TIOCSCTTY = 0x540e;
export const TIOCGPGRP = 0x540f;
export const TIOCSPGRP = 0x5410;
export const TIOCGWINSZ = 0x5413;
export const TIOCSWINSZ = 0x5414;
export const FIONREAD = 0x541b;
export const TIOCNOTTY = 0x5422;
export const TIOCGSID = 0x5429;

/** The old SysV requests on struct termio (18 bytes: four u16 flags, c_line, c_cc[8]). */
export const TCGETA = 0x5405;
export const TCSETA = 0x5406;
export const TCSETAW = 0x5407;
export const TCSETAF = 0x5408;
export const TERMIO_SIZE = 18;
const NCC = 8;

/** struct termio from a struct termios (kernel_termios_to_user_termio). */
export function termioFrom(termios: Uint8Array): Buffer {
  const src = Buffer.from(termios.buffer, termios.byteOffset, 36);
  const out = Buffer.alloc(TERMIO_SIZE);
  for (let i = 0; i < 4; i++) out.writeUInt16LE(src.readUInt32LE(i * 4) & 0xffff, i * 2);
  out[8] = src[16];
  src.copy(out, 9, 17, 17 + NCC);
  return out;
}

/** Applies a struct termio onto termios in place: the low 16 bits of each flag word, c_line, c_cc[0..7]. */
export function mergeTermio(termios: Uint8Array, termio: Buffer): void {
  const dst = Buffer.from(termios.buffer, termios.byteOffset, 36);
  for (let i = 0; i < 4; i++) {
    const hi = dst.readUInt32LE(i * 4) & 0xffff0000;
    dst.writeUInt32LE((hi | termio.readUInt16LE(i * 2)) >>> 0, i * 4);
  }
  dst[16] = termio[8];
  termio.copy(dst, 17, 9, 9 + NCC);
}

/** TCSETA, TCSETAW, TCSETAF -> TCSETS, TCSETSW, TCSETSF. */
export function termiosSetFor(cmd: number): number {
  return cmd - TCSETA + TCSETS;
}
