// Where a `docker run -i --rm --network=none IMAGE true` goes, for runc, runsc and
// tssandbox in one dockerd (bench/docker.mjs's): each runtime is registered through a
// wrapper that logs every call's start and end (ms from the client's start), and
// tssandbox's create runs with --debug (its other commands would take the Node path with
// it), its phase log copied out of the bundle before delete.
// Not a timed test: a tool for docs/oci.md's "Where a docker run goes".
//
//   node bench/docker-timeline.mjs [ROUNDS]     (root; docker.io, runc, runsc installed)
//   TSS_DOCKERD_DEBUG=1 TSS_DOCKERD_STRACE=/tmp/x.trace node bench/docker-timeline.mjs 2
//     also dockerd's debug log (its API calls, the vfs layer's work) and the engine's execs, on the same clock
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startDaemon, stopDocker, docker, waitPool, IMAGE } from './docker.mjs';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const ROUNDS = Number(process.argv[2] ?? 3);
const dir = fs.mkdtempSync('/tmp/tss-timeline-');
const calls = path.join(dir, 'calls.log');

/** A wrapper runtime: logs "NAME START_NS END_NS ARGS" per call; copies --log's file after each. */
function wrapper(name, real, pre = '', preCreate = '') {
  const w = path.join(dir, `w-${name}`);
  fs.writeFileSync(w, `#!/bin/sh
s=$(date +%s%N)
${real} ${pre} $(case " $* " in *" create "*) echo "${preCreate}";; esac) "$@"
rc=$?
e=$(date +%s%N)
echo "${name} $s $e $rc $*" >> ${calls}
log=""; prev=""
for a in "$@"; do [ "$prev" = "--log" ] && log="$a"; prev="$a"; done
[ -n "$log" ] && cp "$log" ${dir}/${name}-last.log 2>/dev/null
exit $rc
`);
  fs.chmodSync(w, 0o755);
  return { path: w };
}

const d = startDaemon(REPO, process.env, {
  'w-runc': wrapper('runc', 'runc'),
  'w-runsc': wrapper('runsc', 'runsc', '--platform=ptrace --network=none --ignore-cgroups'),
  'w-tss': wrapper('tss', path.join(REPO, 'build', 'Release', 'tssandbox-oci'), '', '--debug'),
});
if (d.error) {
  console.error(`docker-timeline: ${d.error}`);
  process.exit(1);
}

const offsets = {};
try {
  for (let round = 0; round <= ROUNDS; round++) {
    for (const rt of ['runc', 'runsc', 'tss']) {
      waitPool(d);
      fs.writeFileSync(calls, '');
      const wall0 = BigInt(Date.now()) * 1_000_000n;
      const t0 = process.hrtime.bigint();
      const r = docker(d, ['run', '-i', '--rm', '--network=none', `--runtime=w-${rt}`, IMAGE, 'true']);
      const total = Number(process.hrtime.bigint() - t0) / 1e6;
      if (r.status !== 0) {
        // runsc's ptrace platform cannot run under TSS_DOCKERD_STRACE's tracer.
        console.log(`${rt.padEnd(6)} failed: ${r.stderr.trim().split('\n')[0]}`);
        continue;
      }
      if (round === 0) continue; // warm-up
      const ms = (ns) => (Number(BigInt(ns) - wall0) / 1e6).toFixed(0);
      const line = fs.readFileSync(calls, 'utf8').trim().split('\n').filter(Boolean).map((l) => {
        const [, s, e, , ...args] = l.split(' ');
        const cmd = args.find((a) => ['create', 'start', 'delete', 'kill', 'state'].includes(a)) ?? args[0];
        const force = cmd === 'delete' && args.includes('--force') ? ' -f' : '';
        return `${cmd}${force} ${ms(s)}->${ms(e)}`;
      });
      // tssandbox: the Sentry's own marks (its --debug log's times), on the same clock.
      if (rt === 'tss') {
        for (const l of fs.readFileSync(path.join(dir, 'tss-last.log'), 'utf8').split('\n').filter(Boolean)) {
          const m = JSON.parse(l);
          if (/^(pool member|cgroup at|createVfs|stub start|pid 1|ready|hooks done|prestart hook done|network|confined|start at)/.test(m.msg)) {
            line.push(`${m.msg.replace(/ at [\d.]+ ms.*/, '').replace(/, wait status.*/, '').slice(0, 20)} @${ms(BigInt(Date.parse(m.time)) * 1_000_000n)}`);
          }
        }
      }
      console.log(`${rt.padEnd(6)} total ${total.toFixed(0).padStart(4)} ms | ${line.join(' | ')}`);
      // TSS_DOCKERD_DEBUG=1: dockerd's API calls and its layer work; TSS_DOCKERD_STRACE=FILE: the engine's execs.
      const since = (file, at) => (fs.existsSync(file) ? fs.readFileSync(file, 'utf8').slice(at[file] ?? 0) : '');
      const marks = [];
      if (process.env.TSS_DOCKERD_DEBUG) {
        const f = path.join(d.dir, 'dockerd.log');
        const text = since(f, offsets);
        offsets[f] = (offsets[f] ?? 0) + text.length;
        for (const l of text.split('\n')) {
          const m = /time="([^"]+)".*msg="(Calling [A-Z]+ \S+|[^"]*(?:vfs|layer|mount|snapshot|Applied|applyLayer)[^"]*)"/i.exec(l);
          if (m) marks.push(`${m[2].replace(/\/v1\.\d+/, '').replace(/[0-9a-f]{64}/g, 'ID').slice(0, 48)} @${ms(BigInt(Date.parse(m[1])) * 1_000_000n)}`);
        }
      }
      if (process.env.TSS_DOCKERD_STRACE) {
        const f = process.env.TSS_DOCKERD_STRACE;
        const text = since(f, offsets);
        offsets[f] = (offsets[f] ?? 0) + text.length;
        const day = new Date(Number(wall0 / 1_000_000n));
        day.setUTCHours(0, 0, 0, 0);
        for (const l of text.split('\n')) {
          const m = /^\d+\s+(\d+):(\d+):(\d+\.\d+) execve\("([^"]+)", \[([^\]]*)\]/.exec(l);
          if (!m || / = -1 /.test(l)) continue;
          const at = day.getTime() + ((Number(m[1]) * 60 + Number(m[2])) * 60 + Number(m[3])) * 1000;
          const argv = m[5].split(', ').slice(0, 3).map((a) => a.replace(/"/g, '')).join(' ');
          marks.push(`exec ${path.basename(m[4])} ${argv.slice(0, 40)} @${ms(BigInt(Math.round(at * 1e6)))}`);
        }
      }
      if (marks.length) console.log(`       ${marks.join('\n       ')}`);
    }
  }
} finally {
  stopDocker();
  spawnSync('rm', ['-rf', dir]);
}
