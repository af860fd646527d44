/**
 * A template pool (`serve --template DIR`) whose image is replaced while it runs: a
 * `restore --via` of DIR resumes the image DIR holds now, as a cold `restore --image-path
 * DIR` does, never the one the pool read at its start (src/server/README.md: a template
 * is served only while it is its file's image). The image is replaced both ways a user
 * does it: checkpointed again into DIR (the file rewritten in place: same inode) and
 * renamed over (a new inode); with one-shot and reusing (--reuse) workers.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN } from '../helpers/paths';
import { BASE_ENV, explain, runCli, status } from '../helpers/run';
import { startServer, stopServer } from '../server/pool-helpers';

let scratch: string;
beforeAll(() => {
  scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'tss-template-test-'));
});
afterAll(() => fs.rmSync(scratch, { recursive: true, force: true }));

/** A shell that says ready, then waits for a line and prints `word LINE`: checkpointed into image once ready. */
function checkpoint(word: string, image: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, 'run', '--checkpoint-on', 'USR1', '--image-path', image, '/bin/sh', '-c', `echo ready; read l; echo "${word} $l"`], {
      env: BASE_ENV, cwd: scratch, stdio: ['pipe', 'pipe', 'pipe'],
    });
    let out = '', err = '', sent = false;
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (!sent && out.includes('ready\n')) {
        sent = true;
        child.kill('SIGUSR1');
      }
    });
    child.stderr!.on('data', (d: Buffer) => { err += d.toString(); });
    child.on('close', (code) => (code === 0 && sent ? resolve() : reject(new Error(`checkpoint of ${word}: ${code} ${err}`))));
  });
}

async function via(socket: string, image: string, input: string): Promise<string> {
  const r = await runCli(['restore', '--via', socket, '--image-path', image], { input: `${input}\n`, timeoutMs: 120_000 });
  expect(status(r), explain(r)).toBe(0);
  return r.stdout;
}

describe('a template pool whose image is replaced', () => {
  for (const extra of [[], ['--reuse', '10']]) {
    it(`serves the image the directory holds now ${extra.join(' ') || '(one-shot workers)'}`, async () => {
      const image = path.join(scratch, `tpl${extra.length}`);
      await checkpoint('one', image);
      const server = await startServer(1, ['--template', image, ...extra]);
      try {
        expect(await via(server.socket, image, 'a')).toBe('one a\n');
        // Checkpointed again into the same directory: the file rewritten in place.
        const ino = fs.statSync(path.join(image, 'checkpoint.img')).ino;
        await checkpoint('two', image);
        expect(fs.statSync(path.join(image, 'checkpoint.img')).ino).toBe(ino);
        expect(await via(server.socket, image, 'b')).toBe('two b\n');
        expect(await via(server.socket, image, 'c')).toBe('two c\n');
        // Another image renamed over it.
        const other = path.join(scratch, `other${extra.length}`);
        await checkpoint('three', other);
        fs.renameSync(path.join(other, 'checkpoint.img'), path.join(image, 'checkpoint.img'));
        expect(await via(server.socket, image, 'd')).toBe('three d\n');
        expect(await via(server.socket, image, 'e')).toBe('three e\n');
      } finally {
        await stopServer(server);
      }
    }, 300_000);
  }
});
