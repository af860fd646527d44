/**
 * Real programs exercising the process model: sh job control, python3 threading /
 * multiprocessing / subprocess / signal.alarm, make -j2 with gcc, node worker_threads and
 * child_process.execSync.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { SCRATCH_DIR } from '../helpers/paths';
import { explain, runNative, runSandbox, status } from '../helpers/run';

const PYTHON = '/usr/bin/python3';
const NODE = process.execPath;
const has = (p: string) => fs.existsSync(p);

describe('sh', () => {
  it("background subshells and wait: for i in 1 2 3; do (sleep 0.1; echo $i) & done; wait", async () => {
    const r = await runSandbox(['/bin/sh', '-c', 'for i in 1 2 3; do (sleep 0.1; echo $i) & done; wait; echo end']);
    expect(status(r), explain(r)).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines.at(-1), explain(r)).toBe('end');
    expect(lines.slice(0, -1).sort(), explain(r)).toEqual(['1', '2', '3']);
  });
});

describe.skipIf(!has(PYTHON))('python3', () => {
  const cases: [string, string, string][] = [
    ['threading', 'import threading\nn=[0]\nl=threading.Lock()\ndef f():\n  for _ in range(1000):\n    with l: n[0]+=1\nts=[threading.Thread(target=f) for _ in range(8)]\n[t.start() for t in ts]\n[t.join() for t in ts]\nprint(n[0])', '8000\n'],
    ['multiprocessing.Pool', 'import multiprocessing as mp\nif __name__=="__main__":\n  with mp.Pool(2) as p: print(sum(p.map(abs, range(-50, 50))))', '2500\n'],
    ['subprocess.run', 'import subprocess\nr=subprocess.run(["/bin/sh","-c","echo hi; exit 3"],capture_output=True,text=True)\nprint(repr(r.stdout), r.returncode)', "'hi\\n' 3\n"],
    ['signal.alarm', 'import signal,time\ndef h(s,f): print("alarm", s); raise SystemExit(0)\nsignal.signal(signal.SIGALRM,h)\nsignal.alarm(1)\ntime.sleep(5)\nprint("not reached")', 'alarm 14\n'],
  ];
  for (const [name, code, want] of cases) {
    it(name, async () => {
      const r = await runSandbox([PYTHON, '-c', code], { timeoutMs: 30_000 });
      expect(r.timedOut, explain(r)).toBe(false);
      expect(r.stdout, explain(r)).toBe(want);
      expect(status(r), explain(r)).toBe(0);
    }, 40_000);
  }
});

describe('make -j2 with gcc inside the sandbox', () => {
  it('builds a 3-file C project into a rw bind mount; the binary matches a native build', async () => {
    const dir = path.join(SCRATCH_DIR, 'process-make');
    fs.rmSync(dir, { recursive: true, force: true });
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'a.c'), 'int b(int);\nint c(int);\n#include <stdio.h>\nint main(void) { printf("%d\\n", b(2) + c(3)); return 0; }\n');
    fs.writeFileSync(path.join(dir, 'b.c'), 'int b(int x) { return x * 10; }\n');
    fs.writeFileSync(path.join(dir, 'c.c'), 'int c(int x) { return x * 100; }\n');
    fs.writeFileSync(path.join(dir, 'Makefile'), 'prog: a.o b.o c.o\n\tgcc -o $@ a.o b.o c.o\n%.o: %.c\n\tgcc -O1 -c -o $@ $<\nclean:\n\trm -f prog *.o\n');
    const script = `cd ${dir} && make -s clean && make -s -j2 && ./prog && sha256sum a.o b.o c.o | cut -c1-16`;
    const r = await runSandbox(['--mount', `${dir}:${dir}:rw`, '/bin/sh', '-c', script], { timeoutMs: 90_000 });
    expect(r.timedOut, explain(r)).toBe(false);
    expect(status(r), explain(r)).toBe(0);
    const native = await runNative(['/bin/sh', '-c', script], { timeoutMs: 60_000 });
    expect(native.stdout.split('\n')[0]).toBe('320');
    expect(r.stdout, explain(r)).toBe(native.stdout);
  }, 120_000);
});

describe('node', () => {
  it('worker_threads', async () => {
    const code = "const {Worker}=require('worker_threads');const w=new Worker('require(\"worker_threads\").parentPort.postMessage(6*7)',{eval:true});w.on('message',m=>{console.log('worker says',m);w.terminate()})";
    const r = await runSandbox([NODE, '-e', code], { timeoutMs: 60_000 });
    expect(r.timedOut, explain(r)).toBe(false);
    expect(r.stdout, explain(r)).toBe('worker says 42\n');
    expect(status(r), explain(r)).toBe(0);
  }, 70_000);

  it('child_process.execSync (needs socketpair)', async () => {
    const code = "console.log(require('child_process').execSync('echo from child; exit 0').toString().trim())";
    const r = await runSandbox([NODE, '-e', code], { timeoutMs: 60_000 });
    expect(r.timedOut, explain(r)).toBe(false);
    expect(r.stdout, explain(r)).toBe('from child\n');
    expect(status(r), explain(r)).toBe(0);
  }, 70_000);
});
