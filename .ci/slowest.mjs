#!/usr/bin/env node
// Prints the slowest test files and tests of a vitest JSON report (vitest --reporter=json),
// so each CI log says where the suite's time went and which tests ran close to a hang.
// Usage: node .ci/slowest.mjs REPORT.json [N]
import * as fs from 'node:fs';
import * as path from 'node:path';

const [file, nArg] = process.argv.slice(2);
if (!file) {
  console.error('usage: node .ci/slowest.mjs REPORT.json [N]');
  process.exit(2);
}
let report;
try {
  report = JSON.parse(fs.readFileSync(file, 'utf8'));
} catch (e) {
  console.error(`slowest: cannot read ${file}: ${e.message}`);
  process.exit(1);
}
const n = Number(nArg ?? 15);
const rel = (p) => path.relative(process.cwd(), p);
const files = (report.testResults ?? []).map((f) => ({ name: rel(f.name), ms: (f.endTime ?? 0) - (f.startTime ?? 0), tests: f.assertionResults ?? [] }));
const tests = files.flatMap((f) => f.tests.map((t) => ({ name: `${f.name} > ${t.fullName ?? t.title}`, ms: t.duration ?? 0, status: t.status })));
const s = (ms) => `${(ms / 1000).toFixed(1).padStart(7)} s`;
console.log(`slowest files (of ${files.length}, ${s(files.reduce((a, f) => a + f.ms, 0)).trim()} in all):`);
for (const f of [...files].sort((a, b) => b.ms - a.ms).slice(0, n)) console.log(`${s(f.ms)}  ${f.name}`);
console.log(`slowest tests (of ${tests.length}):`);
for (const t of [...tests].sort((a, b) => b.ms - a.ms).slice(0, n)) console.log(`${s(t.ms)}  ${t.status === 'passed' ? '' : `[${t.status}] `}${t.name}`);
