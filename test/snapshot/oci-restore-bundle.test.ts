/**
 * OCI `restore ID` makes the container the bundle says again, as runc's restore does
 * from config.json: a restored container is the created one. One probe runs in the
 * guest before the checkpoint and again after the restore (the go-ahead is a file the
 * test makes through the bind, never a time): a read-only root refuses a write, a masked
 * directory and a masked file stay masked, a read-only path refuses a write, the bind is
 * there and writes through to the host (and reads what the host wrote meanwhile), a
 * tmpfs mount keeps what was written in it. Both probes give the same lines, and the
 * same as runc's run of that probe where runc is here. exec joins the restored
 * container. The prestart and createRuntime hooks run at restore (with the restored
 * container's id and pid) and the others do not, as runc's; poststop at delete. A
 * console container (process.terminal) restored with a new --console-socket has its
 * stdio on the new pty: it is a terminal there, and reads what is typed into it.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RUNTIME, cli, have, makeBundle, spawnAsync, staticBusybox, tmp, waitFor, textOf, processesWith, consoleReceiver, type Cli } from '../oci/helpers';

const hasBusybox = staticBusybox() !== null;
const hasPython = have('python3');
let dir: string;
let t: Cli;

/** The probe of the container's tree; every line the same in both runs (the tmpfs line counts). */
const PROBE = `probe() {
  echo "== $1"
  touch /newfile 2>&1; echo "root:$?"
  cat /secret/f 2>&1; echo "mask:$?"
  echo "masked-file:$(wc -c < /secretfile)"
  touch /rodir/x 2>&1; echo "rodir:$?"
  echo "$1" > /data/from-guest-$1; echo "bind-write:$?"
  cat /data/from-host; echo "bind-read:$?"
  echo "$1" >> /scratch/log; echo "scratch:$(cat /scratch/log | tr '\\n' ' ')"
}`;

const SCRIPT = `${PROBE}
probe before
echo READY
while [ ! -e /data/go ]; do sleep 0.05; done
probe after
echo DONE
while [ ! -e /data/end ]; do sleep 0.05; done`;

function section(out: string, name: string): string[] {
  const lines = out.split('\n');
  const i = lines.indexOf(`== ${name}`);
  if (i < 0) return [];
  const end = lines.findIndex((l, j) => j > i && (l.startsWith('== ') || l === 'READY' || l === 'DONE'));
  return lines.slice(i + 1, end < 0 ? undefined : end);
}

/** The bundle of the tree probe: a read-only root, a masked and a read-only directory, a bind, a tmpfs. */
async function treeBundle(name: string, data: string): Promise<string> {
  const b = await makeBundle(path.join(dir, name), (c) => {
    c.process.args = ['/bin/sh', '-c', SCRIPT];
    c.root.readonly = true;
    c.linux.maskedPaths.push('/secret', '/secretfile');
    c.linux.readonlyPaths.push('/rodir');
    c.mounts.push({ destination: '/data', type: 'bind', source: data, options: ['rbind', 'rw'] });
    c.mounts.push({ destination: '/scratch', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev', 'mode=1777'] });
  });
  for (const d of ['secret', 'rodir', 'data', 'scratch']) fs.mkdirSync(path.join(b, 'rootfs', d), { recursive: true });
  fs.writeFileSync(path.join(b, 'rootfs', 'secret', 'f'), 'hidden\n');
  fs.writeFileSync(path.join(b, 'rootfs', 'secretfile'), 'hidden\n');
  return b;
}

async function state(id: string): Promise<{ status: string; pid: number }> {
  const r = await t.run(['state', id]);
  return r.status === 0 ? (JSON.parse(r.stdout) as { status: string; pid: number }) : { status: 'gone', pid: 0 };
}

/** Creates and starts id of bundle b, as engines do (output to files in its own directory); waits for `ready` in its stdout. */
async function runUntil(id: string, b: string, ready: string): Promise<string> {
  const out = path.join(dir, `out-${id}`);
  fs.mkdirSync(out);
  const r = await t.detached(['create', '--bundle', b, id], out);
  expect(r.status, r.stderr).toBe(0);
  const st = await t.run(['start', id]);
  expect(st.status, st.stderr).toBe(0);
  await waitFor(() => textOf(r.out).includes(ready) || textOf(r.err).length > 0, 3000);
  expect(textOf(r.err)).toBe('');
  return r.out;
}

/** Checkpoints id (it stops) and deletes it; the image directory. */
async function checkpoint(id: string): Promise<string> {
  const image = path.join(dir, `img-${id}`);
  const ck = await t.run(['checkpoint', '--image-path', image, id]);
  expect(ck.status, ck.stderr).toBe(0);
  expect((await state(id)).status).toBe('stopped');
  expect((await t.run(['delete', id])).status).toBe(0);
  return image;
}

/** A console socket of the test's directory (consoleReceiver types `input` into the pty). */
function receiver(name: string, input: string): { sock: string; out: string; proc: ChildProcess } {
  const sock = path.join(dir, `${name}.sock`);
  const out = path.join(dir, `${name}.out`);
  return { sock, out, proc: consoleReceiver(sock, out, input) };
}

describe.skipIf(!hasBusybox)('OCI restore rebuilds the bundle\'s container', () => {
  beforeAll(() => {
    dir = tmp('restore-bundle');
    t = cli(path.join(dir, 'state'), RUNTIME);
  });
  afterAll(async () => {
    for (const id of ['tree-src', 'tree-new', 'hook-src', 'hook-new', 'tty-src', 'tty-new']) await t?.run(['delete', '--force', id]);
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('the read-only root, masked and read-only paths, the bind and a tmpfs are the same after the restore; exec joins it', async () => {
    const data = path.join(dir, 'data');
    fs.mkdirSync(data);
    fs.writeFileSync(path.join(data, 'from-host'), 'host-1\n');
    const b = await treeBundle('tree', data);
    const out = await runUntil('tree-src', b, 'READY');
    const before = section(textOf(out), 'before');
    expect(before).toContain('root:1');
    expect(before).toContain('touch: /newfile: Read-only file system');
    expect(before).toContain('mask:1');
    expect(before).toContain('masked-file:0');
    expect(before).toContain('rodir:1');
    expect(before).toContain('host-1');
    expect(before).toContain('bind-write:0');
    expect(before).toContain('scratch:before ');
    expect(fs.readFileSync(path.join(data, 'from-guest-before'), 'utf8')).toBe('before\n');
    const image = await checkpoint('tree-src');

    const out2 = path.join(dir, 'out-tree-new');
    fs.mkdirSync(out2);
    const r = await t.detached(['restore', '--image-path', image, '--bundle', b, '--detach', 'tree-new'], out2);
    expect(r.status, r.stderr).toBe(0);
    expect((await state('tree-new')).status).toBe('running');
    // The host changes the bound file while the container is restored: the bind is live.
    fs.writeFileSync(path.join(data, 'from-host'), 'host-2\n');
    fs.writeFileSync(path.join(data, 'go'), '');
    await waitFor(() => textOf(r.out).includes('DONE') || textOf(r.err).length > 0, 3000);
    expect(textOf(r.err)).toBe('');
    const after = section(textOf(r.out), 'after');
    // The same lines as before, but for what the host wrote and what the tmpfs holds now.
    const same = (l: string[]) => l.filter((x) => !x.startsWith('host-') && !x.startsWith('scratch:'));
    expect(same(after)).toEqual(same(before));
    expect(after).toContain('host-2');
    expect(after).toContain('scratch:before after ');
    expect(fs.readFileSync(path.join(data, 'from-guest-after'), 'utf8')).toBe('after\n');
    // exec joins the restored sandbox: the same tree.
    const ex = await t.run(['exec', 'tree-new', '/bin/sh', '-c', 'cat /scratch/log; touch /x 2>&1; cat /secret/f 2>&1; echo end']);
    expect(ex.stdout).toBe('before\nafter\ntouch: /x: Read-only file system\ncat: can\'t open \'/secret/f\': No such file or directory\nend\n');
    fs.writeFileSync(path.join(data, 'end'), '');
    await waitFor(async () => (await state('tree-new')).status === 'stopped', 3000);
    expect((await t.run(['delete', 'tree-new'])).status).toBe(0);
    expect(processesWith(path.join(t.root, 'tree-new'))).toEqual([]);

    // runc's run of the same probe: the created container's lines are Linux's.
    if (!have('runc')) return;
    for (const f of ['go', 'end']) fs.rmSync(path.join(data, f));
    fs.writeFileSync(path.join(data, 'end'), '');
    fs.writeFileSync(path.join(data, 'go'), '');
    fs.writeFileSync(path.join(data, 'from-host'), 'host-1\n');
    const rb = await treeBundle('tree-runc', data);
    const runc = await spawnAsync('runc', ['--root', path.join(dir, 'runc-state'), 'run', '--bundle', rb, 'tree-runc'], { timeout: 60_000 });
    expect(runc.stderr).toBe('');
    expect(section(runc.stdout, 'before')).toEqual(before);
  }, 240_000);

  it('prestart and createRuntime hooks run at restore with the new container\'s id and pid; poststop at delete', async () => {
    const log = path.join(dir, 'hooks');
    fs.mkdirSync(log);
    const hook = (kind: string) => [{ path: '/bin/sh', args: ['sh', '-c', `cat >> ${log}/${kind}; echo >> ${log}/${kind}`] }];
    const kinds = ['prestart', 'createRuntime', 'createContainer', 'startContainer', 'poststart', 'poststop'];
    const b = await makeBundle(path.join(dir, 'hook-bundle'), (c) => {
      c.process.args = ['/bin/sh', '-c', 'echo READY; while [ ! -e /tmp/never ]; do sleep 0.05; done'];
      c.root.readonly = false;
      c.hooks = Object.fromEntries(kinds.map((k) => [k, hook(k)]));
    });
    await runUntil('hook-src', b, 'READY');
    const image = await checkpoint('hook-src');
    const ids = (kind: string) => textOf(path.join(log, kind)).split('\n').filter(Boolean).map((l) => JSON.parse(l) as { id: string; pid: number; status: string });
    for (const k of kinds) expect(ids(k).map((s) => s.id), k).toEqual(['hook-src']);

    const out = path.join(dir, 'out-hook-new');
    fs.mkdirSync(out);
    const r = await t.detached(['restore', '--image-path', image, '--detach', 'hook-new'], out);
    expect(r.status, r.stderr).toBe(0);
    const s = await state('hook-new');
    expect(s.status).toBe('running');
    for (const k of ['prestart', 'createRuntime']) {
      const got = ids(k);
      expect(got.map((x) => x.id), k).toEqual(['hook-src', 'hook-new']);
      expect(got[1].pid, k).toBe(s.pid);
    }
    // As runc's restore: no createContainer, startContainer or poststart hook.
    for (const k of ['createContainer', 'startContainer', 'poststart']) expect(ids(k).map((x) => x.id), k).toEqual(['hook-src']);
    expect((await t.run(['delete', '--force', 'hook-new'])).status).toBe(0);
    expect(ids('poststop').map((x) => x.id)).toEqual(['hook-src', 'hook-new']);
  }, 240_000);

  it.skipIf(!hasPython)('a console container restored with a new --console-socket: a terminal there, reading what is typed', async () => {
    const data = path.join(dir, 'tty-data');
    fs.mkdirSync(data);
    const b = await makeBundle(path.join(dir, 'tty-bundle'), (c) => {
      c.process.terminal = true;
      c.process.args = ['/bin/sh', '-c', '[ -t 0 ] && echo tty-before; while [ ! -e /data/go ]; do sleep 0.05; done; [ -t 0 ] && [ -t 1 ] && echo tty-after; read l; echo "got:$l"; while [ ! -e /data/end ]; do sleep 0.05; done'];
      c.root.readonly = false;
      c.mounts.push({ destination: '/data', type: 'bind', source: data, options: ['rbind', 'rw'] });
    });
    fs.mkdirSync(path.join(b, 'rootfs', 'data'));
    const first = receiver('tty1', '');
    const second = receiver('tty2', 'typed-in\n');
    try {
      await waitFor(() => fs.existsSync(first.sock) && fs.existsSync(second.sock));
      const o1 = path.join(dir, 'out-tty-src');
      fs.mkdirSync(o1);
      const r1 = await t.detached(['create', '--bundle', b, '--console-socket', first.sock, 'tty-src'], o1);
      expect(r1.status, r1.stderr).toBe(0);
      expect((await t.run(['start', 'tty-src'])).status).toBe(0);
      await waitFor(() => textOf(first.out).includes('tty-before'), 3000);
      const image = await checkpoint('tty-src');

      const o2 = path.join(dir, 'out-tty-new');
      fs.mkdirSync(o2);
      const r2 = await t.detached(['restore', '--image-path', image, '--console-socket', second.sock, '--detach', 'tty-new'], o2);
      expect(r2.status, r2.stderr).toBe(0);
      fs.writeFileSync(path.join(data, 'go'), '');
      await waitFor(() => textOf(second.out).includes('got:'), 3000);
      expect(textOf(second.out)).toMatch(/tty-after\r\n/);
      expect(textOf(second.out)).toMatch(/got:typed-in\r\n/);
      expect(textOf(second.out)).not.toMatch(/tty-before/);
      fs.writeFileSync(path.join(data, 'end'), '');
      await waitFor(async () => (await state('tty-new')).status === 'stopped', 3000);
      expect((await t.run(['delete', 'tty-new'])).status).toBe(0);
    } finally {
      first.proc.kill('SIGKILL');
      second.proc.kill('SIGKILL');
    }
  }, 240_000);
});
