/**
 * The N_TTY line discipline of a pseudo-terminal, reduced to what programs rely on:
 * termios state, input processing (ICRNL/INLCR/IGNCR, ISIG keyboard signals, IXON
 * ^S/^Q swallowed), canonical line editing (VERASE, VWERASE, VKILL, VEOF, VLNEXT),
 * echo (ECHO/ECHOE/ECHOK/ECHOKE/ECHOCTL/ECHONL) and output post-processing (OPOST,
 * ONLCR, OCRNL, ONLRET, ONOCR). No data source or signal target is known here: the
 * pty feeds bytes in, drains both queues and delivers `onSignal`.
 */

// termios flag bits (asm-generic/termbits.h)
export const IGNBRK = 0o1, BRKINT = 0o2, INLCR = 0o100, IGNCR = 0o200, ICRNL = 0o400, IUCLC = 0o1000,
  IXON = 0o2000, IXANY = 0o4000, IMAXBEL = 0o20000, IUTF8 = 0o40000, ISTRIP = 0o40;
export const OPOST = 0o1, OLCUC = 0o2, ONLCR = 0o4, OCRNL = 0o10, ONOCR = 0o20, ONLRET = 0o40;
export const CS8 = 0o60, CREAD = 0o200, B38400 = 0o17;
export const ISIG = 0o1, ICANON = 0o2, ECHO = 0o10, ECHOE = 0o20, ECHOK = 0o40, ECHONL = 0o100,
  NOFLSH = 0o200, TOSTOP = 0o400, ECHOCTL = 0o1000, ECHOKE = 0o4000, IEXTEN = 0o100000;
export const VINTR = 0, VQUIT = 1, VERASE = 2, VKILL = 3, VEOF = 4, VTIME = 5, VMIN = 6, VSTART = 8,
  VSTOP = 9, VSUSP = 10, VEOL = 11, VREPRINT = 12, VWERASE = 14, VLNEXT = 15, VEOL2 = 16;
export const NCCS = 19;
/** sizeof(struct termios) as the kernel's TCGETS copies it. */
export const TERMIOS_SIZE = 36;

const SIGINT = 2, SIGQUIT = 3, SIGTSTP = 20;
/** N_TTY_BUF_SIZE: at most this many input bytes wait to be read. */
export const INPUT_MAX = 4096;
/** Output the master has not read yet; slave writes wait beyond this. */
export const OUTPUT_MAX = 65536;

/** A FIFO of bytes (chunks, copied out on read). */
export class ByteQueue {
  private chunks: Uint8Array[] = [];
  private off = 0;
  length = 0;

  push(b: Uint8Array): void {
    if (b.length === 0) return;
    this.chunks.push(b);
    this.length += b.length;
  }
  /** Moves up to dst.length bytes into dst; returns how many. */
  pull(dst: Uint8Array, max = dst.length): number {
    let n = 0;
    while (n < max && this.chunks.length > 0) {
      const c = this.chunks[0];
      const k = Math.min(max - n, c.length - this.off);
      dst.set(c.subarray(this.off, this.off + k), n);
      n += k;
      this.off += k;
      if (this.off === c.length) {
        this.chunks.shift();
        this.off = 0;
      }
    }
    this.length -= n;
    return n;
  }
  clear(): void {
    this.chunks = [];
    this.off = 0;
    this.length = 0;
  }
}

export class LineDiscipline {
  iflag = ICRNL | IXON;
  oflag = OPOST | ONLCR;
  cflag = B38400 | CS8 | CREAD;
  lflag = ISIG | ICANON | ECHO | ECHOE | ECHOK | ECHOCTL | ECHOKE | IEXTEN;
  line = 0;
  readonly cc = new Uint8Array(NCCS);

  /** Bytes the slave can read (in canonical mode, only up to the end of `lines[0]`). */
  private readonly input: number[] = [];
  /** Canonical mode: lengths of the completed lines in `input` (0: an EOF). */
  private readonly lines: number[] = [];
  /** Canonical mode: the line being edited (not yet readable). */
  private edit: number[] = [];
  /** Canonical mode: the next byte is taken literally (VLNEXT). */
  private literal = false;
  /** What the master reads: the slave's output and the echo. */
  readonly output = new ByteQueue();
  /** ISIG: a keyboard signal for the foreground process group. */
  onSignal: (sig: number) => void = () => {};

  constructor() {
    const cc = this.cc;
    cc[VINTR] = 0x03; cc[VQUIT] = 0x1c; cc[VERASE] = 0x7f; cc[VKILL] = 0x15; cc[VEOF] = 0x04;
    cc[VTIME] = 0; cc[VMIN] = 1; cc[VSTART] = 0x11; cc[VSTOP] = 0x13; cc[VSUSP] = 0x1a;
    cc[VREPRINT] = 0x12; cc[13] = 0x0f; cc[VWERASE] = 0x17; cc[VLNEXT] = 0x16;
  }

  get canonical(): boolean {
    return (this.lflag & ICANON) !== 0;
  }

  // ---- termios ----

  /** struct termios as TCGETS returns it (36 bytes, little-endian). */
  encode(out: Uint8Array): void {
    const v = new DataView(out.buffer, out.byteOffset, TERMIOS_SIZE);
    v.setUint32(0, this.iflag, true);
    v.setUint32(4, this.oflag, true);
    v.setUint32(8, this.cflag, true);
    v.setUint32(12, this.lflag, true);
    out[16] = this.line;
    out.set(this.cc, 17);
  }

  /** TCSETS*: switching ICANON moves pending input between the edit line and the read queue. */
  decode(b: Uint8Array): void {
    const v = new DataView(b.buffer, b.byteOffset, TERMIOS_SIZE);
    const wasCanon = this.canonical;
    this.iflag = v.getUint32(0, true);
    this.oflag = v.getUint32(4, true);
    this.cflag = v.getUint32(8, true);
    this.lflag = v.getUint32(12, true);
    this.line = b[16];
    this.cc.set(b.subarray(17, 17 + NCCS));
    if (wasCanon && !this.canonical) {
      // Raw now: the partial line becomes readable; EOF marks vanish.
      for (const c of this.edit) this.input.push(c);
      this.edit = [];
      this.lines.length = 0;
    } else if (!wasCanon && this.canonical) {
      // Canonical now: unread bytes are the start of the line being edited.
      this.edit = this.input.splice(0, this.input.length).concat(this.edit);
      this.lines.length = 0;
    }
  }

  // ---- slave side ----

  /** Bytes a read may return now (FIONREAD; canonical: completed lines only). */
  readable(): number {
    if (!this.canonical) return this.input.length;
    let n = 0;
    for (const l of this.lines) n += l;
    return n;
  }

  /** A read would return now (data, or an EOF mark in canonical mode). */
  readReady(): boolean {
    return this.canonical ? this.lines.length > 0 : this.input.length > 0;
  }

  /**
   * Canonical: one line (or part of it) or 0 at an EOF mark; raw: what is there.
   * -1 when nothing can be returned yet (the caller decides whether to wait).
   */
  read(dst: Uint8Array): number {
    if (this.canonical) {
      if (this.lines.length === 0) return -1;
      const n = Math.min(dst.length, this.lines[0]);
      for (let i = 0; i < n; i++) dst[i] = this.input[i];
      this.input.splice(0, n);
      this.lines[0] -= n;
      // A line is consumed once read to its end (an EOF mark is consumed by a 0-byte read).
      if (this.lines[0] === 0) this.lines.shift();
      return n;
    }
    if (this.input.length === 0) return -1;
    const n = Math.min(dst.length, this.input.length);
    for (let i = 0; i < n; i++) dst[i] = this.input[i];
    this.input.splice(0, n);
    return n;
  }

  /** Output from the slave (write(2)): post-processed into the master's queue. */
  write(src: Uint8Array): void {
    this.output.push(this.opost(src));
  }

  private opost(src: Uint8Array): Uint8Array {
    const o = this.oflag;
    if ((o & OPOST) === 0 || (o & (ONLCR | OCRNL | ONOCR | ONLRET | OLCUC)) === 0) return Uint8Array.from(src);
    const out: number[] = [];
    for (const c of src) {
      if (c === 0x0a && o & ONLCR) out.push(0x0d, 0x0a);
      else if (c === 0x0d && o & OCRNL) out.push(o & ONLRET ? 0x0d : 0x0a);
      else if (c >= 0x61 && c <= 0x7a && o & OLCUC) out.push(c - 0x20);
      else out.push(c);
    }
    return Uint8Array.from(out);
  }

  // ---- master side: input ----

  /** Input room left (the master's POLLOUT). */
  room(): number {
    return Math.max(0, INPUT_MAX - this.input.length - this.edit.length);
  }

  /**
   * Bytes written to the master (typed keys). Returns how many were taken: raw input
   * stops at INPUT_MAX; canonical input beyond a full line is dropped like Linux does.
   */
  receive(src: Uint8Array): number {
    let i = 0;
    for (; i < src.length; i++) {
      if (!this.canonical && this.input.length >= INPUT_MAX) break;
      this.receiveByte(src[i]);
    }
    return i;
  }

  private receiveByte(c: number): void {
    const ifl = this.iflag;
    const cc = this.cc;
    if (ifl & ISTRIP) c &= 0x7f;
    if (this.literal) {
      this.literal = false;
      this.addToLine(c, true);
      return;
    }
    if (c === 0x0d) {
      if (ifl & IGNCR) return;
      if (ifl & ICRNL) c = 0x0a;
    } else if (c === 0x0a && ifl & INLCR) c = 0x0d;
    if (ifl & IUCLC && c >= 0x41 && c <= 0x5a) c += 0x20;
    const lf = this.lflag;
    if (lf & ISIG) {
      const sig = c === cc[VINTR] && c !== 0 ? SIGINT : c === cc[VQUIT] && c !== 0 ? SIGQUIT
        : c === cc[VSUSP] && c !== 0 ? SIGTSTP : 0;
      if (sig !== 0) {
        if ((lf & NOFLSH) === 0) this.flushInput();
        this.echoChar(c);
        this.onSignal(sig);
        return;
      }
    }
    // Flow control keys are consumed (output is never actually held back here).
    if (ifl & IXON && c !== 0 && (c === cc[VSTOP] || c === cc[VSTART])) return;
    if (!this.canonical) {
      this.input.push(c);
      if (lf & ECHO) this.echoChar(c);
      return;
    }
    const iext = (lf & IEXTEN) !== 0;
    if (iext && c === cc[VLNEXT] && c !== 0) {
      this.literal = true;
      if (lf & ECHO && lf & ECHOCTL) this.echoRaw([0x5e, 0x08]);
      return;
    }
    if (c !== 0 && c === cc[VERASE]) return this.erase(1);
    if (iext && c !== 0 && c === cc[VWERASE]) return this.erase(2);
    if (c !== 0 && c === cc[VKILL]) return this.erase(3);
    if (iext && c !== 0 && c === cc[VREPRINT]) {
      if (lf & ECHO) {
        this.echoChar(c);
        this.echoRaw([0x0a]);
        for (const e of this.edit) this.echoChar(e);
      }
      return;
    }
    if (c !== 0 && c === cc[VEOF]) {
      this.commit();
      return;
    }
    this.addToLine(c, false);
  }

  private addToLine(c: number, literal: boolean): void {
    const cc = this.cc;
    const eol = !literal && (c === 0x0a || (c !== 0 && (c === cc[VEOL] || c === cc[VEOL2])));
    if (!eol && this.edit.length >= INPUT_MAX - 1) return; // line full: dropped (Linux beeps)
    this.edit.push(c);
    if (this.lflag & ECHO || (eol && c === 0x0a && this.lflag & ECHONL)) this.echoChar(c);
    if (eol) this.commit();
  }

  /** Ends the line being edited: it becomes readable (an empty EOF line reads as 0). */
  private commit(): void {
    for (const c of this.edit) this.input.push(c);
    this.lines.push(this.edit.length);
    this.edit = [];
  }

  /** kind 1: one char (VERASE), 2: a word (VWERASE), 3: the line (VKILL). */
  private erase(kind: 1 | 2 | 3): void {
    const lf = this.lflag;
    if (kind === 3 && lf & ECHO && (lf & ECHOK) && !(lf & ECHOKE)) {
      this.edit = [];
      this.echoChar(this.cc[VKILL]);
      this.echoRaw([0x0a]);
      return;
    }
    let seenWord = false;
    while (this.edit.length > 0) {
      const c = this.edit[this.edit.length - 1];
      if (kind === 2) {
        const space = c === 0x20 || c === 0x09;
        if (space && seenWord) break;
        if (!space) seenWord = true;
      }
      this.edit.pop();
      // A UTF-8 continuation byte belongs to the character before it (IUTF8).
      if (this.iflag & IUTF8 && (c & 0xc0) === 0x80 && kind === 1) continue;
      if (lf & ECHO && (kind !== 1 ? lf & (ECHOKE | ECHOE) : lf & ECHOE)) {
        const w = c < 0x20 && c !== 0x09 && lf & ECHOCTL ? 2 : 1; // ^X took two columns
        for (let i = 0; i < w; i++) this.echoRaw([0x08, 0x20, 0x08]);
      } else if (lf & ECHO && kind === 1) {
        this.echoChar(this.cc[VERASE]);
      }
      if (kind === 1) break;
    }
  }

  private echoChar(c: number): void {
    if ((this.lflag & ECHO) === 0 && c !== 0x0a) return;
    if (c < 0x20 && c !== 0x0a && c !== 0x09 && this.lflag & ECHOCTL) this.echoRaw([0x5e, c + 0x40]);
    else if (c === 0x7f && this.lflag & ECHOCTL) this.echoRaw([0x5e, 0x3f]);
    else this.echoRaw([c]);
  }

  private echoRaw(bytes: number[]): void {
    this.output.push(this.opost(Uint8Array.from(bytes)));
  }

  flushInput(): void {
    this.input.length = 0;
    this.lines.length = 0;
    this.edit = [];
    this.literal = false;
  }

  flushOutput(): void {
    this.output.clear();
  }
}
