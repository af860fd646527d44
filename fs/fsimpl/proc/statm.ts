/**
 * /proc/PID/statm, in pages: size (every mapping), resident and shared (the host's count
 * for the address space's stub, read through the Gofer's PROCFILE fd as the memory
 * account reads it), text (the program's executable mappings), lib and dt (0, as Linux
 * since 2.6), data (private writable mappings and the stack: Linux's data_vm + stack_vm).
 */
import { closeSync, readSync } from 'node:fs';
import { ProcFileKind } from '../../../src/gofer/protocol';
import { openProc, platformResidentKb } from '../../../src/kernel/time/cputime';
import type { Task } from '../../../src/kernel/task';

const PAGE = 4096;

interface VmaView {
  start: number;
  end: number;
  prot: number;
  flags: number;
  name: string;
}

/** The stub's resident and shared pages ([0, 0] when it cannot be read). */
function hostPages(t: Task, asPid: number): [number, number] {
  if (asPid <= 0) return [0, 0];
  const kb = platformResidentKb(t.kernel, asPid);
  if (kb !== null) return [Math.floor(kb / 4), 0];
  const fd = openProc(t.kernel, asPid, ProcFileKind.Statm);
  if (fd < 0) return [0, 0];
  const buf = Buffer.alloc(256);
  try {
    const f = buf.toString('latin1', 0, readSync(fd, buf, 0, buf.length, 0)).split(' ').map(Number);
    return [f[1] || 0, Math.min(f[2] || 0, f[1] || 0)];
  } catch {
    return [0, 0];
  } finally {
    closeSync(fd);
  }
}

export function statmText(t: Task): string {
  const mm = t.mm as { vmas?: VmaView[]; asPid?: number } | undefined;
  const vmas = mm?.vmas ?? [];
  let size = 0, text = 0, data = 0;
  for (const v of vmas) {
    const pages = (v.end - v.start) / PAGE;
    size += pages;
    if (v.prot & 4 && v.name !== '' && v.name === t.tg.exePath) text += pages;
    // Private and writable (or the stack, which grows down): data_vm + stack_vm.
    const shared = (v.flags & 0x0f) === 1 || (v.flags & 0x0f) === 3;
    if ((!shared && v.prot & 2) || v.name === '[stack]') data += pages;
  }
  const [resident, sharedPages] = hostPages(t, mm?.asPid ?? 0);
  return `${size} ${Math.min(resident, size)} ${Math.min(sharedPages, size)} ${text} 0 ${data} 0\n`;
}
