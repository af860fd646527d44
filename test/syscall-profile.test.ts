/**
 * TSSANDBOX_SYSCALL_PROFILE=1 (src/kernel/syscall-profile.ts): a table of the guest's
 * syscalls at exit, with their counts and the Gofer round trips made in them; nothing
 * without it, and the guest's own output the same either way.
 */
import { describe, expect, it } from 'vitest';
import { compileGuest } from './helpers/build';
import { runSandbox, explain } from './helpers/run';
import { tmpDirs } from './helpers/tmp';
import * as fs from 'node:fs';
import * as path from 'node:path';

const mkTmp = tmpDirs();

const SRC = `
#include <stdio.h>
#include <unistd.h>
#include <sys/stat.h>
int main(int argc, char **argv) {
  long s = 0;
  for (int i = 0; i < 1000; i++) s += getppid();
  struct stat st;
  int r = stat(argv[1], &st);
  printf("sum %ld stat %d\\n", s, r);
  return 0;
}
`;

/** The guest, and a host file no cache has seen (its stat must ask the Gofer). */
function build(): [string, string] {
  const dir = mkTmp('tss-prof-');
  const src = path.join(dir, 'prof_guest.c');
  fs.writeFileSync(src, SRC);
  return [compileGuest('prof_guest', 'static', { srcDir: dir }), src];
}

/** The row of one syscall: [calls, gofer calls per call]. */
function row(stderr: string, name: string): [number, number] | null {
  const line = stderr.split('\n').find((l) => l.startsWith(`${name} `));
  if (!line) return null;
  const f = line.trim().split(/\s+/);
  return [Number(f[1]), Number(f[7])];
}

describe('syscall profile', () => {
  it('counts each syscall and its Gofer round trips; off by default', async () => {
    const [bin, file] = build();
    const on = await runSandbox([bin, file], { env: { TSSANDBOX_SYSCALL_PROFILE: '1' } });
    expect(on.code, explain(on)).toBe(0);
    expect(on.stderr).toMatch(/^tssandbox: syscall profile: \d+ syscalls/m);
    expect(row(on.stderr, 'getppid')?.[0]).toBe(1000);
    // stat of a host file met for the first time: its lookup asks the Gofer.
    const st = row(on.stderr, 'newfstatat') ?? row(on.stderr, 'stat');
    expect(st).not.toBeNull();
    expect(st![1]).toBeGreaterThan(0);
    const off = await runSandbox([bin, file]);
    expect(off.code, explain(off)).toBe(0);
    expect(off.stderr).not.toMatch(/syscall profile/);
    expect(off.stdout).toBe(on.stdout);
    expect(on.stdout).toMatch(/stat 0/);
  });
});
