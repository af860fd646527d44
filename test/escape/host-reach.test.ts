// Issue 7: a guest that knows the host pids of its Sentry and Gofer (as an attacker who
// read them elsewhere would) tries to reach them: signals, /proc/PID/mem and environ,
// ptrace attach/seize, pidfd_open; and connects to an abstract unix socket the host
// listens on. Guest pids, /proc and the abstract namespace are the Sentry's own: every
// attempt fails as for a pid or name that does not exist, the host listener sees no
// connection, and the Sentry and Gofer live on.
import { describe, expect, it } from 'vitest';
import { spawn } from 'child_process';
import * as net from 'net';
import * as fs from 'fs';
import * as path from 'path';
import { compileGuest } from '../helpers/build';
import { BIN } from '../helpers/paths';
import { BASE_ENV } from '../helpers/run';
import { descendants, leftBehind } from '../fuzz/elf-tools';

const GUESTS = path.join(__dirname, 'guests');

function comm(pid: number): string {
  try {
    return fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return '';
  }
}

describe('reaching the host from inside', () => {
  it('host pids of the Sentry and Gofer, and the host\'s abstract unix sockets, are out of reach', async () => {
    const guest = compileGuest('host_reach', 'static', { srcDir: GUESTS });
    const name = `tss-host-${process.pid}-${Date.now()}`;
    let accepted = 0;
    const server = net.createServer((c) => { accepted++; c.destroy(); });
    await new Promise<void>((resolve) => server.listen(`\0${name}`, resolve));
    try {
      const child = spawn(process.execPath, [BIN, 'run', '/bin/sh', '-c', `echo ready; read a b c; exec ${guest} $a $b $c`],
        { env: BASE_ENV, stdio: ['pipe', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
      await new Promise<void>((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`no start: ${err}`)), 30_000);
        child.stdout!.on('data', (d: Buffer) => {
          out += d.toString();
          if (out.includes('ready')) { clearTimeout(t); resolve(); }
        });
      });
      const gofer = descendants(child.pid!).find((p) => comm(p) === 'tssandbox-gofer');
      expect(gofer, 'the gofer').toBeDefined();
      child.stdin!.end(`${child.pid} ${gofer} ${name}\n`);
      const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
      expect(code, `${out}\n${err}`).toBe(0);
      const line = (k: string) => new RegExp(`^${k.replace(/[()@/]/g, '\\$&')}: (\\S+)$`, 'm').exec(out)?.[1];
      for (const who of ['sentry', 'gofer']) {
        expect(line(`kill(${who}, 0)`), out).toBe('ESRCH');
        expect(line(`kill(${who}, SIGKILL)`), out).toBe('ESRCH');
        expect(line(`open /proc/${who}/mem`), out).toBe('ENOENT');
        expect(line(`open /proc/${who}/environ`), out).toBe('ENOENT');
        expect(line(`ptrace(ATTACH, ${who})`), out).not.toBe('ok');
        expect(line(`ptrace(SEIZE, ${who})`), out).not.toBe('ok');
        expect(line(`pidfd_open(${who})`), out).toBe('ESRCH');
      }
      expect(line('ptrace(ATTACH, 1)'), out).not.toBe('ok');
      expect(line('connect @host-name'), out).toBe('ECONNREFUSED');
      expect(accepted, 'the host listener was reached').toBe(0);
      expect(await leftBehind(new Set([gofer!])), 'the gofer outlived its Sentry').toEqual([]);
    } finally {
      server.close();
    }
  });
});
