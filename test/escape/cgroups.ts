/**
 * The host's view of a sandbox's cgroup (native/launch_cgroup.h), for the tests of it
 * (sandbox-cgroup.test.ts, restore-cgroup.test.ts). This host is cgroup v1 for memory
 * and pids, so the v1 leaves are what is looked at.
 */
import * as fs from 'fs';
import type { ChildProcess } from 'child_process';
import { expect } from 'vitest';
import { commOf, descendantsOf, stubsOf, until } from './stubs';
import { GUEST_STUBS } from '../helpers/run';

/** The v1 directory of controller ctrl a host process is in, or null. */
export function cgroupOf(ctrl: 'memory' | 'pids', pid: number | 'self'): string | null {
  try {
    for (const line of fs.readFileSync(`/proc/${pid}/cgroup`, 'utf8').split('\n')) {
      const [, ctrls, p] = line.split(':');
      if (p !== undefined && ctrls.split(',').includes(ctrl)) return `/sys/fs/cgroup/${ctrl}${p === '/' ? '' : p}`;
    }
  } catch {
    // gone
  }
  return null;
}

/** Memory and pids are v1 controllers here. */
export const v1 = fs.existsSync(`${cgroupOf('memory', 'self')}/memory.limit_in_bytes`) && fs.existsSync(`${cgroupOf('pids', 'self')}/cgroup.procs`);

export const MiB = 1 << 20;
/** The front's memory limit for a guest limit (launch_cgroup.h HostMemoryLimit). */
export const hostMemory = (limit: number): number => Math.max(limit, MiB) + Math.max(Math.floor(limit / 4), 32 * MiB) + 128 * MiB;

/** The leaves the front makes for the sandbox whose Sentry is pid. */
export const leaves = (pid: number): { mem: string; pids: string } => ({
  mem: `${cgroupOf('memory', 'self')}/tssandbox-${pid}`,
  pids: `${cgroupOf('pids', 'self')}/tssandbox-${pid}`,
});

export const members = (dir: string): number[] => fs.readFileSync(`${dir}/cgroup.procs`, 'utf8').split('\n').filter(Boolean).map(Number);

export function exited(c: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (c.exitCode !== null || c.signalCode !== null) return Promise.resolve({ code: c.exitCode, signal: c.signalCode });
  return new Promise((r) => c.on('exit', (code, signal) => r({ code, signal })));
}

/** Waits for the reaper to remove the sandbox's leaves. */
export const gone = (pid: number) => async (): Promise<void> => {
  const { mem, pids } = leaves(pid);
  await until(`${mem} and ${pids} removed`, () => !fs.existsSync(mem) && !fs.existsSync(pids));
};

/**
 * Checks the sandbox whose Sentry is pid is all in its leaves (the Sentry, its one gofer,
 * its stubs) and its reaper outside; returns the leaves and the reaper.
 */
export function expectAllInside(pid: number): { mem: string; pids: string; reaper: number } {
  const { mem, pids } = leaves(pid);
  const stubs = stubsOf(pid);
  expect(stubs.length > 0).toBe(GUEST_STUBS); // kvm: the guest is the Sentry's vCPU threads
  const gofer = descendantsOf(pid).filter((p) => commOf(p) === 'tssandbox-gofer');
  expect(gofer).toHaveLength(1);
  for (const p of [pid, ...gofer, ...stubs]) {
    expect(cgroupOf('memory', p), `pid ${p}`).toBe(mem);
    expect(cgroupOf('pids', p), `pid ${p}`).toBe(pids);
  }
  // The reaper outside, so it outlives what it removes.
  const reaper = descendantsOf(pid).filter((p) => commOf(p) === 'tss-cg-reaper');
  expect(reaper).toHaveLength(1);
  expect(cgroupOf('memory', reaper[0])).toBe(cgroupOf('memory', 'self'));
  expect(cgroupOf('pids', reaper[0])).toBe(cgroupOf('pids', 'self'));
  return { mem, pids, reaper: reaper[0] };
}
