// Issue 7, defence in depth: once guests run, the Sentry names no host path. With the
// gofer serving the host trees, its seccomp filter refuses every open by path (even
// read-only), it is chrooted into an empty directory that no longer exists (so the
// path calls it still may make, stat/access/readlink, name nothing of the host), and
// it is not dumpable (a process of its uid without capabilities cannot read its memory
// or environment). Each check is also made with the confinement off, where it must come
// out differently; and strace, attached to a running Sentry while python3, gcc and git
// run inside, sees no host path named at all.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'child_process';
import * as nfs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { BASE_ENV } from '../helpers/run';
import { attempt, reported } from './confine-hook';
import { BIN } from '../helpers/paths';

const isRoot = process.getuid?.() === 0;
const haveStrace = spawnSync('strace', ['-V'], { stdio: 'ignore' }).status === 0;
const haveSetpriv = spawnSync('setpriv', ['--version'], { stdio: 'ignore' }).status === 0;

/** A sandbox running `sh -c script` that printed "ready" (so it is set up and confined). */
async function startReady(script: string, confine = 'on'): Promise<ChildProcess & { out: () => string }> {
  const child = spawn(process.execPath, [BIN, 'run', '/bin/sh', '-c', `echo ready; ${script}`], {
    env: { ...BASE_ENV, TSSANDBOX_CONFINE: confine }, stdio: ['pipe', 'pipe', 'pipe'],
  }) as ChildProcess & { out: () => string };
  let out = '';
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  child.out = () => out;
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`sandbox did not start: ${out}`)), 30_000);
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('ready')) {
        clearTimeout(t);
        resolve();
      }
    });
  });
  return child;
}

function exited(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => child.on('exit', (c) => resolve(c)));
}

describe('the Sentry names no host path once guests run', () => {
  let dir: string;
  beforeAll(() => {
    dir = nfs.mkdtempSync(path.join(os.tmpdir(), 'tss-nopath-'));
    nfs.writeFileSync(path.join(dir, 'secret'), 'host secret\n');
  });
  afterAll(() => nfs.rmSync(dir, { recursive: true, force: true }));

  it('refuses any open by path, read-only too (EPERM)', async () => {
    const f = path.join(dir, 'secret');
    const r = await attempt(`open-read:${f}`);
    expect(r.code, r.stderr).toBe(0);
    expect(reported(r, 'open-read')).toBe('errno 1');
    const off = await attempt(`open-read:${f}`, 'off');
    expect(reported(off, 'open-read'), off.stderr).toBe('allowed');
  });

  it.skipIf(!isRoot)('is chrooted into an empty directory: a host path it may stat does not exist (ENOENT)', async () => {
    const f = path.join(dir, 'secret');
    for (const p of [f, '/etc/passwd', '/proc/self/status']) {
      const r = await attempt(`stat:${p}`);
      expect(reported(r, 'stat'), `${p}: ${r.stderr}`).toBe('errno 2');
    }
    const off = await attempt(`stat:${f}`, 'off');
    expect(reported(off, 'stat'), off.stderr).toBe('allowed');
  });

  it.skipIf(!isRoot)('its root seen from the host is empty, and no directory is left behind', async () => {
    const child = await startReady('read x');
    try {
      expect(nfs.readdirSync(`/proc/${child.pid}/root`)).toEqual([]);
      expect(nfs.readdirSync(`/proc/${child.pid}/cwd`)).toEqual([]);
      // Its own root directory, not a listing of /tmp (other tests' Sentries come and go there):
      // removed from the host once the Sentry is inside it.
      const root = nfs.readlinkSync(`/proc/${child.pid}/root`);
      expect(root).toMatch(/\/tssandbox-root-[^/]+ \(deleted\)$/);
      expect(nfs.existsSync(root.replace(/ \(deleted\)$/, ''))).toBe(false);
      child.stdin!.end('\n');
      expect(await exited(child), child.out()).toBe(0);
    } finally {
      child.kill('SIGKILL');
    }
    const off = await startReady('read x', 'off');
    try {
      expect(nfs.readdirSync(`/proc/${off.pid}/root`)).toContain('proc');
      off.stdin!.end('\n');
      await exited(off);
    } finally {
      off.kill('SIGKILL');
    }
  });

  it.skipIf(!isRoot || !haveSetpriv)('a process of its uid without capabilities cannot read its memory or environment', async () => {
    const child = await startReady('read x');
    try {
      for (const f of ['environ', 'mem', 'maps']) {
        const r = spawnSync('setpriv', ['--inh-caps=-all', '--ambient-caps=-all', '--bounding-set=-all', '--',
          'head', '-c', '1', `/proc/${child.pid}/${f}`], { encoding: 'utf8' });
        expect(r.status, `${f}: ${r.stdout}`).not.toBe(0);
        expect(r.stderr, f).toMatch(/Permission denied|Operation not permitted/);
      }
      child.stdin!.end('\n');
      expect(await exited(child), child.out()).toBe(0);
    } finally {
      child.kill('SIGKILL');
    }
  });

  it.skipIf(!isRoot || !haveStrace)('strace of a running Sentry sees no path while python3, gcc and git run inside', async () => {
    const repo = path.join(dir, 'repo');
    nfs.mkdirSync(repo);
    const git = (...a: string[]) => execFileSync('git', ['-C', repo, '-c', 'user.email=t@t', '-c', 'user.name=t', ...a], { stdio: 'ignore' });
    git('init', '-q');
    nfs.writeFileSync(path.join(repo, 'a.c'), '#include <stdio.h>\nint main(void){puts("built");return 0;}\n');
    git('add', 'a.c');
    git('commit', '-qm', 'one');
    const script = `read x; python3 -c 'import json, os, time; print("py", len(os.listdir("/usr")) > 0, time.process_time() >= 0)'; ` +
      `gcc -o /tmp/a ${repo}/a.c && /tmp/a; git -C ${repo} log --oneline | wc -l; git -C ${repo} status --short; ` +
      `cat /proc/meminfo /proc/stat /proc/cpuinfo /proc/self/stat > /dev/null; ls -l /proc/self/fd > /dev/null; echo finished`;
    const child = await startReady(script);
    const log = path.join(dir, 'strace.log');
    const st = spawn('strace', ['-f', '-e', 'trace=%file,openat2', '-o', log, '-p', String(child.pid)], { stdio: ['ignore', 'ignore', 'pipe'] });
    try {
      // strace says "attached" per thread once it holds them all.
      await new Promise<void>((resolve, reject) => {
        const t = setTimeout(() => reject(new Error('strace did not attach')), 20_000);
        st.stderr!.on('data', (d: Buffer) => {
          if (d.toString().includes('attached')) {
            clearTimeout(t);
            setTimeout(resolve, 300);
          }
        });
      });
      child.stdin!.end('\n');
      expect(await exited(child), child.out()).toBe(0);
      expect(child.out()).toMatch(/py True True[\s\S]*built[\s\S]*1\n[\s\S]*finished/);
    } finally {
      child.kill('SIGKILL');
      await exited(st);
    }
    const text = nfs.readFileSync(log, 'utf8');
    expect(text, 'strace saw the Sentry work (statx of its fds)').toMatch(/statx\(\d+, ""/);
    const named = text.split('\n')
      .filter((l) => /^\d+\s+\w+\(/.test(l) && /"[^"]+"/.test(l.slice(0, l.indexOf(')') + 1 || undefined)));
    expect(named, 'host paths the Sentry named').toEqual([]);
  }, 90_000);
});
