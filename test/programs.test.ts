/**
 * Real, unmodified host programs under `tssandbox run`: coreutils, dash, busybox,
 * python3. Exit codes, the pid namespace, the throw-away overlay, --strace.
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { buildFile, compileGuest } from './helpers/build';
import { BIN } from './helpers/paths';
import { explain, expectSameAsNative, hasStackTrace, runNative, runSandbox, status } from './helpers/run';

const BUSYBOX = ['/bin/busybox', '/usr/bin/busybox'].find((p) => fs.existsSync(p));
const PYTHON = '/usr/bin/python3';

describe('coreutils and sh', () => {
  it('/bin/echo hello', async () => {
    const r = await runSandbox(['/bin/echo', 'hello']);
    expect(status(r), explain(r)).toBe(0);
    expect(r.stdout).toBe('hello\n');
    expect(r.stderr, explain(r)).toBe('');
  });

  it('echo found through the guest PATH', async () => {
    const r = await runSandbox(['echo', 'via', 'PATH']);
    expect(status(r), explain(r)).toBe(0);
    expect(r.stdout).toBe('via PATH\n');
  });

  it('/bin/ls -la / matches native', async () => {
    // Columns such as link counts and times of /proc, /dev, /sys differ in a sandbox
    // by design; compare names and types of every entry, and the full line of /etc.
    const [native, sandbox] = await Promise.all([runNative(['/bin/ls', '-la', '/']), runSandbox(['/bin/ls', '-la', '/'])]);
    expect(status(sandbox), explain(sandbox)).toBe(0);
    const entries = (out: string) =>
      out.split('\n').slice(1).filter(Boolean).map((l) => {
        const f = l.split(/\s+/);
        return `${f[0][0]} ${f.slice(8).join(' ')}`;
      }).sort();
    expect(entries(sandbox.stdout), explain(sandbox)).toEqual(entries(native.stdout));
    expect(sandbox.stdout.split('\n')[0], explain(sandbox)).toMatch(/^total \d+$/);
  });

  it('/bin/cat /etc/os-release matches native', async () => {
    await expectSameAsNative(['/bin/cat', '/etc/os-release']);
  });

  it("sh -c 'echo a | tr a b' -> b", async () => {
    const r = await runSandbox(['/bin/sh', '-c', 'echo a | tr a b']);
    expect(status(r), explain(r)).toBe(0);
    expect(r.stdout).toBe('b\n');
  });

  it('a longer pipeline with a subshell and a loop', async () => {
    await expectSameAsNative(['/bin/sh', '-c', 'for i in 1 2 3 4 5; do echo $i; done | sort -r | head -n 3 | (read a; echo first=$a; cat)']);
  });

  it('stdin is passed through', async () => {
    const r = await runSandbox(['/usr/bin/wc', '-l'], { input: 'a\nb\nc\n' });
    expect(status(r), explain(r)).toBe(0);
    expect(r.stdout.trim()).toBe('3');
  });

  it('stderr is passed through separately', async () => {
    const r = await runSandbox(['/bin/sh', '-c', 'echo out; echo err >&2']);
    expect(r.stdout).toBe('out\n');
    expect(r.stderr).toBe('err\n');
  });

  it('stdout redirected to a host file (cat uses copy_file_range there)', async () => {
    const out = buildFile(`stdout-${process.pid}-${Date.now()}`, '', 0o644);
    try {
      const r = await runNative(['/bin/sh', '-c', `exec "$0" "$1" run /bin/cat /etc/os-release > "$2"`, process.execPath, BIN, out]);
      expect(status(r), explain(r)).toBe(0);
      expect(fs.readFileSync(out, 'utf8')).toBe(fs.readFileSync('/etc/os-release', 'utf8'));
    } finally {
      fs.rmSync(out, { force: true });
    }
  });

  it('stdin from a host file, stdout appended to a host file', async () => {
    const out = buildFile(`append-${process.pid}-${Date.now()}`, 'first\n', 0o644);
    try {
      const r = await runNative(['/bin/sh', '-c', `exec "$0" "$1" run /bin/sh -c 'tr a-z A-Z; echo end' < /etc/os-release >> "$2"`, process.execPath, BIN, out]);
      expect(status(r), explain(r)).toBe(0);
      const want = `first\n${fs.readFileSync('/etc/os-release', 'utf8').toUpperCase()}end\n`;
      expect(fs.readFileSync(out, 'utf8')).toBe(want);
    } finally {
      fs.rmSync(out, { force: true });
    }
  });

  it('large output is not truncated', async () => {
    await expectSameAsNative(['/usr/bin/seq', '1', '20000']);
  });
});

describe('exit statuses', () => {
  it("sh -c 'exit 3' -> 3", async () => {
    const r = await runSandbox(['/bin/sh', '-c', 'exit 3']);
    expect(status(r), explain(r)).toBe(3);
  });

  it('/bin/false -> 1', async () => {
    const r = await runSandbox(['/bin/false']);
    expect(status(r), explain(r)).toBe(1);
  });

  // Init ignores unhandled signals from inside its pid namespace, as Linux's does
  // (test/escape/init-signals.test.ts); a shell that is not pid 1 dies of them.
  it("sh -c 'kill -9 $$' as init -> ignored, 0", async () => {
    const r = await runSandbox(['/bin/sh', '-c', 'kill -9 $$; echo alive']);
    expect(r.stdout, explain(r)).toBe('alive\n');
    expect(r.code, explain(r)).toBe(0);
  });

  it("sh -c 'kill -9 $$' not as init -> 137", async () => {
    const r = await runSandbox(['/bin/sh', '-c', "sh -c 'kill -9 $$'; exit $?"]);
    expect(r.code, explain(r)).toBe(137);
  });

  it("sh -c 'kill -TERM $$' not as init -> 143", async () => {
    const r = await runSandbox(['/bin/sh', '-c', "sh -c 'kill -TERM $$'; exit $?"]);
    expect(r.code, explain(r)).toBe(143);
  });

  it('exit status of a child seen by the shell', async () => {
    const r = await runSandbox(['/bin/sh', '-c', "sh -c 'exit 7'; echo $?; sh -c 'kill -9 $$'; echo $?"]);
    expect(r.stdout, explain(r)).toBe('7\n137\n');
  });
});

describe('guest crashes', () => {
  const cases: Array<[string, string[], number]> = [
    ['SIGSEGV', ['segv'], 139],
    ['abort() (SIGABRT)', ['abort'], 134],
    ['integer divide by zero (SIGFPE)', ['div0'], 136],
    ['exit(42)', ['exit', '42'], 42],
    ['kill(self, SIGUSR1)', ['kill', '10'], 138],
    ['kill(self, SIGKILL)', ['kill', '9'], 137],
  ];
  for (const linkage of ['static', 'dynamic'] as const) {
    for (const [label, args, code] of cases) {
      it(`${linkage}: ${label} -> exit ${code}, no Sentry stack trace`, async () => {
        const bin = compileGuest('crash', linkage);
        // Signals the guest sends itself are ignored by init (as Linux's pid 1 ignores
        // them): those cases run under a shell, which reports the death as 128+N.
        const selfSignal = args[0] === 'abort' || args[0] === 'kill';
        const r = await runSandbox(selfSignal ? ['/bin/sh', '-c', '"$0" "$@"; exit $?', bin, ...args] : [bin, ...args]);
        expect(r.code, explain(r)).toBe(code);
        expect(r.stdout, explain(r)).toBe(`crashing: ${args[0]}\n`);
        expect(hasStackTrace(r.stderr), explain(r)).toBe(false);
      });
    }
  }
});

describe('sandbox properties', () => {
  it('writes vanish: the overlay is private and the host file never exists', async () => {
    const name = `/etc/probe_${crypto.randomBytes(6).toString('hex')}`;
    try {
      const r = await runSandbox(['/bin/sh', '-c', `echo x > ${name}; cat ${name}`]);
      expect(status(r), explain(r)).toBe(0);
      expect(r.stdout, explain(r)).toBe('x\n');
      expect(fs.existsSync(name), 'the guest wrote to the host /etc').toBe(false);
      // And a second sandbox does not see it either.
      const r2 = await runSandbox(['/bin/sh', '-c', `cat ${name} 2>/dev/null || echo gone`]);
      expect(r2.stdout, explain(r2)).toBe('gone\n');
    } finally {
      fs.rmSync(name, { force: true }); // in case the sandbox leaked it
    }
  });

  it('deleting and changing a host file inside the sandbox leaves the host file', async () => {
    // A victim file of our own (never a system file: if the overlay were broken,
    // this test must not damage the host).
    const victim = buildFile(`victim-${crypto.randomBytes(6).toString('hex')}`, 'original\n', 0o644);
    try {
      const r = await runSandbox(['/bin/sh', '-c', `echo changed > ${victim}; cat ${victim}; rm -f ${victim} && ls ${victim} 2>/dev/null; echo rc=$?`]);
      expect(r.stdout, explain(r)).toBe('changed\nrc=2\n');
      expect(fs.readFileSync(victim, 'utf8')).toBe('original\n');
    } finally {
      fs.rmSync(victim, { force: true });
    }
  });

  it('background processes die with the first process (pid-namespace semantics)', async () => {
    // Ending before the run's timeout (well under the 60 s sleep) is the check: no time compared.
    const r = await runSandbox(['/bin/sh', '-c', 'sleep 60 & echo started'], { timeoutMs: 40_000 });
    expect(r.timedOut, explain(r)).toBe(false);
    expect(status(r), explain(r)).toBe(0);
    expect(r.stdout).toBe('started\n');
  }, 45_000);

  it('many concurrent processes', async () => {
    const r = await runSandbox(['/bin/sh', '-c', 'for i in $(seq 1 20); do (echo "p$i" | tr p q) & done; wait']);
    expect(status(r), explain(r)).toBe(0);
    const got = r.stdout.split('\n').filter(Boolean).sort();
    const want = Array.from({ length: 20 }, (_, i) => `q${i + 1}`).sort();
    expect(got, explain(r)).toEqual(want);
  });

  it('large argv and environment reach the guest intact', async () => {
    const args = Array.from({ length: 2000 }, (_, i) => `arg-${i}-${'x'.repeat(i % 50)}`);
    const env = { BIG_VAR: 'y'.repeat(100_000), OTHER: 'a=b=c' };
    await expectSameAsNative(['/bin/sh', '-c', 'printf "%s\\n" "$@" | sha256sum; echo ${#BIG_VAR} $OTHER; echo $#', 'sh', ...args], { env });
  });

  it('pid is 1', async () => {
    const r = await runSandbox(['/bin/sh', '-c', 'echo $$']);
    expect(r.stdout, explain(r)).toBe('1\n');
  });

  it('uname -r and hostname', async () => {
    const r = await runSandbox(['/bin/uname', '-r']);
    expect(r.stdout, explain(r)).toBe('6.1.0-tssandbox\n');
    const h = await runSandbox(['/bin/hostname']);
    expect(h.stdout, explain(h)).toBe('tssandbox\n');
  });

  it('--strace shows getppid( lines', async () => {
    const r = await runSandbox(['--strace', '/bin/sh', '-c', 'echo $PPID']);
    expect(status(r), explain(r)).toBe(0);
    expect(r.stdout).toBe('0\n');
    expect(r.stderr, explain(r)).toMatch(/^.*getppid\(\)\s*=\s*0/m);
    expect(r.stderr, explain(r)).toMatch(/execve\(/);
  });
});

describe.skipIf(!BUSYBOX)('busybox (static)', () => {
  const bb = BUSYBOX!;
  it('busybox echo', async () => {
    const r = await runSandbox([bb, 'echo', 'hi', 'there']);
    expect(status(r), explain(r)).toBe(0);
    expect(r.stdout).toBe('hi there\n');
  });

  it('busybox ls / matches native', async () => {
    await expectSameAsNative([bb, 'ls', '/']);
  });

  it("busybox sh -c 'echo $((1+2))'", async () => {
    const r = await runSandbox([bb, 'sh', '-c', 'echo $((1+2))']);
    expect(r.stdout, explain(r)).toBe('3\n');
  });

  it('busybox seq 1 5 | busybox tac | busybox tr', async () => {
    const r = await runSandbox([bb, 'sh', '-c', `${bb} seq 1 5 | ${bb} tac | ${bb} tr '\\n' ' '`]);
    expect(status(r), explain(r)).toBe(0);
    expect(r.stdout, explain(r)).toBe('5 4 3 2 1 ');
  });

  it('busybox find and sha256sum match native', async () => {
    await expectSameAsNative([bb, 'sh', '-c', `${bb} sha256sum /etc/os-release /etc/passwd; ${bb} find /etc/apt -maxdepth 1 | ${bb} sort`]);
  });
});

describe.skipIf(!fs.existsSync(PYTHON))('python3', () => {
  it('listdir("/") matches native', async () => {
    await expectSameAsNative([PYTHON, '-c', 'import os, json, sys; print(json.dumps(sorted(os.listdir("/"))))']);
  });

  it('arithmetic, hashing, and a subprocess', async () => {
    await expectSameAsNative([
      PYTHON,
      '-c',
      [
        'import hashlib, subprocess, sys',
        'print(sum(i*i for i in range(10000)))',
        'print(hashlib.sha256(b"tssandbox").hexdigest())',
        'print(subprocess.run(["/bin/echo", "child"], capture_output=True, text=True).stdout.strip())',
        'sys.exit(4)',
      ].join('\n'),
    ]);
  });
});

const has = (p: string) => fs.existsSync(p);

describe('bigger workloads', () => {
  it('gcc compiles and runs a program inside the sandbox', async () => {
    const r = await runSandbox([
      '/bin/sh', '-c',
      'cd /tmp && printf "#include <stdio.h>\\nint main(void){puts(\\"compiled\\");return 7;}\\n" > a.c && gcc -O2 -o a a.c && ./a; echo rc=$?',
    ]);
    expect(r.stdout, explain(r)).toBe('compiled\nrc=7\n');
  });

  it('python3 multiprocessing pool and threads', async () => {
    const code = [
      'import multiprocessing as mp, threading, queue',
      'def sq(x): return x * x',
      'if __name__ == "__main__":',
      '    with mp.Pool(2) as p: print(sum(p.map(sq, range(100))))',
      '    q = queue.Queue()',
      '    ts = [threading.Thread(target=lambda i=i: q.put(i)) for i in range(8)]',
      '    [t.start() for t in ts]; [t.join() for t in ts]',
      '    print(sorted(q.queue))',
    ].join('\n');
    await expectSameAsNative([PYTHON, '-c', code]);
  });

  it('tar + gzip round trip matches native', async () => {
    await expectSameAsNative(['/bin/sh', '-c', 'd=$(mktemp -d) && cd $d && tar czf x.tgz -C / etc/apt 2>/dev/null && tar tzf x.tgz | sort && mkdir out && tar xzf x.tgz -C out && diff -r /etc/apt out/etc/apt && echo same; cd / && rm -rf $d']);
  });

  it('ps sees the sandbox process tree', async () => {
    const r = await runSandbox(['/bin/ps', '-eo', 'pid,ppid,comm']);
    expect(status(r), explain(r)).toBe(0);
    const rows = r.stdout.trim().split('\n').slice(1).map((l) => l.trim().split(/\s+/));
    expect(rows, explain(r)).toEqual([['1', '0', 'ps']]);
  });

  it.skipIf(!has('/usr/bin/git'))('git init, commit, log (git installed)', async () => {
    const r = await runSandbox([
      '/bin/sh', '-c',
      'cd /tmp && git init -q r && cd r && git config user.email a@b.c && git config user.name t && echo hi > f && git add f && git commit -qm first && echo more >> f && git commit -qam second && git log --format=%s && git status --porcelain | wc -l',
    ]);
    expect(r.stdout, explain(r)).toBe('second\nfirst\n0\n');
  });

  it.skipIf(!has('/usr/bin/sqlite3'))('sqlite3 with a database file (sqlite3 installed)', async () => {
    await expectSameAsNative([
      '/bin/sh', '-c',
      'd=$(mktemp -d) && cd $d && sqlite3 t.db "create table t(x integer primary key, y text); insert into t(y) values (\'a\'),(\'b\'),(\'c\'); create index i on t(y);" && sqlite3 t.db "select count(*), group_concat(y) from t; pragma integrity_check;"; cd / && rm -rf $d',
    ]);
  });
});
