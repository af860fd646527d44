// Where a `docker run -i --rm --network=none IMAGE true` goes, for runc, runsc and
// tssandbox in one dockerd (bench/docker.mjs's): each runtime is registered through a
// wrapper that logs every call's start and end (ms from the client's start), and
// tssandbox's create runs with --debug (its other commands would take the Node path with
// it), its phase log copied out of the bundle before delete.
// Not a timed test: a tool for docs/oci.md's "Where a docker run goes".
//
//   node bench/docker-timeline.mjs [ROUNDS]     (root; docker.io, runc, runsc installed)
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

try {
  for (let round = 0; round <= ROUNDS; round++) {
    for (const rt of ['runc', 'runsc', 'tss']) {
      waitPool(d);
      fs.writeFileSync(calls, '');
      const wall0 = BigInt(Date.now()) * 1_000_000n;
      const t0 = process.hrtime.bigint();
      const r = docker(d, ['run', '-i', '--rm', '--network=none', `--runtime=w-${rt}`, IMAGE, 'true']);
      const total = Number(process.hrtime.bigint() - t0) / 1e6;
      if (r.status !== 0) throw new Error(`docker run (${rt}): ${r.stderr.trim().split('\n').pop()}`);
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
          if (/^(pool member|createVfs|stub start|pid 1|ready|hooks done|confined|start at)/.test(m.msg)) {
            line.push(`${m.msg.replace(/ at [\d.]+ ms.*/, '').replace(/, wait status.*/, '').slice(0, 20)} @${ms(BigInt(Date.parse(m.time)) * 1_000_000n)}`);
          }
        }
      }
      console.log(`${rt.padEnd(6)} total ${total.toFixed(0).padStart(4)} ms | ${line.join(' | ')}`);
    }
  }
} finally {
  stopDocker();
  spawnSync('rm', ['-rf', dir]);
}
