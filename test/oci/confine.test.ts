/**
 * The OCI Sentry confines itself at `start`, as `run`'s does (src/cli/confine.ts):
 * seccomp filter, no_new_privs, capabilities dropped; before `start` no guest code has
 * run. The commands that follow still work (state, exec, pause/resume, kill, delete),
 * and a forbidden host call (opening a host path for writing) is refused.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, alive, cli, makeBundle, makeRootfs, tmp, waitFor, type Cli } from './helpers';

let dir = '';
let t: Cli;

beforeAll(() => {
  dir = tmp('confine');
  t = cli(path.join(dir, 'state'));
});

afterAll(() => {
  for (const id of t.run(['list', '-q']).stdout.split('\n').filter(Boolean)) t.run(['delete', '--force', id]);
  fs.rmSync(dir, { recursive: true, force: true });
});

function status(pid: number): Record<string, string> {
  const out: Record<string, string> = {};
  for (const l of fs.readFileSync(`/proc/${pid}/status`, 'utf8').split('\n')) {
    const m = /^(\w+):\s*(.*)$/.exec(l);
    if (m) out[m[1]] = m[2];
  }
  return out;
}

describe('the OCI Sentry is confined once started', () => {
  it('seccomp filter, no_new_privs, no capabilities; the lifecycle goes on; a host write is refused', async () => {
    const rootfs = makeRootfs(path.join(dir, 'rootfs'));
    const b = makeBundle(path.join(dir, 'b'), (c) => (c.process.args = ['sh', '-c', 'echo up; sleep 1000']), rootfs);
    const forbidden = path.join(dir, 'written-by-the-sentry');
    const out = path.join(b, 'out');
    const o = fs.openSync(out, 'w');
    const cr = spawnSync(BIN, ['--root', t.root, 'create', '--bundle', b, 'cf'], {
      stdio: ['ignore', o, o], timeout: 60_000, env: { ...process.env, TSSANDBOX_TEST_FORBIDDEN_SYSCALL: `open-write:${forbidden}` },
    });
    fs.closeSync(o);
    expect(cr.status).toBe(0);
    const pid = JSON.parse(t.run(['state', 'cf']).stdout).pid as number;
    // Created: set up, not confined yet, no guest code run.
    expect(status(pid).Seccomp).toBe('0');
    expect(t.run(['start', 'cf']).status).toBe(0);
    await waitFor(() => fs.readFileSync(out, 'utf8').includes('up\n'));
    const s = status(pid);
    expect(s.Seccomp).toBe('2');
    expect(s.NoNewPrivs).toBe('1');
    expect(s.CapEff).toBe('0000000000000000');
    expect(fs.readFileSync(out, 'utf8')).toContain('tssandbox: forbidden open-write: errno 1');
    expect(fs.existsSync(forbidden)).toBe(false);
    // The commands after start, served by the confined Sentry.
    expect(JSON.parse(t.run(['state', 'cf']).stdout).status).toBe('running');
    expect(t.run(['exec', 'cf', 'sh', '-c', 'echo exec-ok > /dev/shm/f; cat /dev/shm/f']).stdout).toBe('exec-ok\n');
    expect(t.run(['pause', 'cf']).status).toBe(0);
    expect(JSON.parse(t.run(['state', 'cf']).stdout).status).toBe('paused');
    expect(t.run(['resume', 'cf']).status).toBe(0);
    expect(JSON.parse(t.run(['state', 'cf']).stdout).status).toBe('running');
    expect(t.run(['kill', 'cf', 'KILL']).status).toBe(0);
    await waitFor(() => !alive(pid));
    expect(JSON.parse(t.run(['state', 'cf']).stdout).status).toBe('stopped');
    expect(t.run(['delete', 'cf']).status).toBe(0);
  });
});
