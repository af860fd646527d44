/**
 * Guest seccomp (src/kernel/seccomp) in and out of an image: each task's state (mode and
 * chain of filters), the chains kept shared as they were (a forked task shares its
 * parent's), each program as the `struct sock_filter` bytes Linux takes. A filter with a
 * USER_NOTIF listener is refused (its supervisor's fd is not saved).
 */
import type { Task } from '../kernel/task';
import { SECCOMP_MODE_FILTER, SECCOMP_MODE_STRICT, type SeccompFilter, type SeccompState } from '../kernel/seccomp/filter';
import { checkSeccompBpf, decodeBpf, type BpfProgram } from '../kernel/seccomp/bpf';
import { PayloadWriter, SnapshotError } from './format';
import type { SeccompImage } from './image';

/** Collects the seccomp states of the tasks saved; `of(t)` is the index a TaskImage keeps (or undefined: none). */
export class SeccompSaver {
  readonly image: SeccompImage = { filters: [], states: [] };
  private readonly filters = new Map<SeccompFilter, number>();
  private readonly states = new Map<SeccompState, number>();

  constructor(private readonly payload: PayloadWriter) {}

  of(t: Task, where: string): number | undefined {
    const st = t.seccomp;
    if (st === null) return undefined;
    let i = this.states.get(st);
    if (i === undefined) {
      i = this.image.states.length;
      this.image.states.push({ mode: st.mode, filter: st.filter === null ? -1 : this.filter(st.filter, where) });
      this.states.set(st, i);
    }
    return i;
  }

  private filter(f: SeccompFilter, where: string): number {
    const known = this.filters.get(f);
    if (known !== undefined) return known;
    if (f.listener !== null) throw new SnapshotError(`cannot checkpoint: ${where} has a seccomp filter with a USER_NOTIF listener (not supported yet)`);
    const prev = f.prev === null ? -1 : this.filter(f.prev, where); // older first: a restore builds them in order
    const p = f.prog;
    const b = Buffer.alloc(p.len * 8);
    for (let i = 0; i < p.len; i++) {
      b.writeUInt16LE(p.code[i], i * 8);
      b.writeUInt8(p.jt[i], i * 8 + 2);
      b.writeUInt8(p.jf[i], i * 8 + 3);
      b.writeUInt32LE(p.k[i], i * 8 + 4);
    }
    const i = this.image.filters.length;
    this.image.filters.push({ prog: { off: this.payload.add(b), len: b.length }, prev, log: f.log, pathInsns: f.pathInsns });
    this.filters.set(f, i);
    return i;
  }
}

/** The image's seccomp states made again (index as the TaskImages name them); programs checked as Linux checks them. */
export function restoreSeccomp(img: SeccompImage | undefined, bytes: (span: { off: number; len: number }) => Buffer): SeccompState[] {
  if (!img) return [];
  const filters: SeccompFilter[] = [];
  for (const x of img.filters) {
    if (x.prev >= filters.length || (x.prev < 0 && x.prev !== -1)) throw new SnapshotError('image corrupted (a seccomp filter out of order)');
    const prog: BpfProgram = decodeBpf(bytes(x.prog));
    if (checkSeccompBpf(prog) !== 0) throw new SnapshotError('image corrupted (a seccomp program Linux would refuse)');
    filters.push({ prog, prev: x.prev === -1 ? null : filters[x.prev], log: !!x.log, pathInsns: x.pathInsns, listener: null });
  }
  return img.states.map((s) => {
    if (s.mode !== SECCOMP_MODE_FILTER && s.mode !== SECCOMP_MODE_STRICT) throw new SnapshotError('image corrupted (a seccomp mode)');
    if (s.filter >= filters.length || (s.mode === SECCOMP_MODE_FILTER && s.filter < 0)) throw new SnapshotError('image corrupted (a seccomp state)');
    return { mode: s.mode, filter: s.filter < 0 ? null : filters[s.filter] } as SeccompState;
  });
}
