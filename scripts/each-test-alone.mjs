#!/usr/bin/env node
/**
 * Runs every test of the given test files alone, one vitest run per test, to find tests that
 * pass only after an earlier test of their file has run (a shared session, a store left filled,
 * a server started by another test). Not part of `npm test`: it starts vitest once per test.
 *
 *   node scripts/each-test-alone.mjs test/etcd/recipes.test.ts test/cli/*.test.ts
 *   node scripts/each-test-alone.mjs --report alone.json --timeout 300 test/shards/*.test.ts
 *
 * Each test is selected by its full name (suites and title), escaped and anchored, with `-t`; a
 * run that passes no test, or fails, is run once more (the machine may be loaded: a test that
 * then passes is reported as `flaky`, not as depending on others) and reported with the end of
 * its output. Exits 1 if any test did not pass.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const VITEST = resolve(import.meta.dirname, '../node_modules/vitest/vitest.mjs');

function usage(message) {
  if (message) console.error(`each-test-alone: ${message}`);
  console.error('usage: node scripts/each-test-alone.mjs [--timeout SECONDS] [--report FILE.json] FILE...');
  process.exit(2);
}

const files = [];
let timeoutS = 240;
let report;
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i++) {
  const a = argv[i];
  if (a === '--timeout') {
    timeoutS = Number(argv[++i]);
    if (!(timeoutS > 0)) usage('--timeout must be a number of seconds > 0');
  } else if (a === '--report') {
    report = argv[++i];
    if (!report) usage('--report needs a file name');
  } else if (a.startsWith('-')) usage(`unknown option ${a}`);
  else files.push(a);
}
if (files.length === 0) usage('no test file given');

/** The tests of `file`, by full name as `vitest list` prints it (`suite > test`). */
function listTests(file) {
  const r = spawnSync(process.execPath, [VITEST, 'list', file, '--json'], {
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
    timeout: timeoutS * 1000,
  });
  const start = r.stdout.indexOf('[');
  if (r.status !== 0 || start < 0) throw new Error(`cannot list ${file}: ${r.stderr.slice(-2000)}`);
  return JSON.parse(r.stdout.slice(start)).map((t) => t.name);
}

/** `-t` matches a regular expression against the suites' and the test's names joined by spaces. */
function pattern(listed) {
  const full = listed.split(' > ').join(' ');
  return `^${full.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`;
}

const scratch = mkdtempSync(join(tmpdir(), 'each-test-alone-'));

/** Runs the test `name` of `file` alone, once. */
function runAlone(file, name) {
  const out = join(scratch, 'result.json');
  rmSync(out, { force: true });
  const t0 = performance.now();
  const r = spawnSync(
    process.execPath,
    [
      VITEST,
      'run',
      file,
      '-t',
      pattern(name),
      '--reporter=default',
      '--reporter=json',
      `--outputFile.json=${out}`,
    ],
    {
      encoding: 'utf8',
      maxBuffer: 64 * 1024 * 1024,
      timeout: timeoutS * 1000,
      env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' },
    },
  );
  const seconds = (performance.now() - t0) / 1000;
  let counts = { passed: 0, failed: 0, skipped: 0 };
  try {
    const json = JSON.parse(readFileSync(out, 'utf8'));
    counts = {
      passed: json.numPassedTests,
      failed: json.numFailedTests,
      skipped: json.numPendingTests + json.numTodoTests,
    };
  } catch {
    // No report: the run crashed or timed out; reported below as a failure.
  }
  const outcome =
    r.status === 0 && counts.failed === 0 && counts.passed === 1
      ? 'pass'
      : r.status === 0 && counts.passed === 0 && counts.failed === 0 && counts.skipped > 0
        ? 'skipped'
        : r.error?.code === 'ETIMEDOUT' || r.signal
          ? 'timeout'
          : counts.passed + counts.failed + counts.skipped === 0
            ? 'no test matched'
            : 'fail';
  const tail = `${r.stdout ?? ''}${r.stderr ?? ''}`.split('\n').slice(-40).join('\n');
  return { outcome, seconds, counts, tail };
}

const results = [];
try {
  for (const file of files) {
    const tests = listTests(file);
    console.log(`${file}: ${tests.length} tests`);
    for (const name of tests) {
      let run = runAlone(file, name);
      if (run.outcome !== 'pass' && run.outcome !== 'skipped') {
        const again = runAlone(file, name);
        if (again.outcome === 'pass') run = { ...again, outcome: 'flaky', tail: run.tail };
      }
      const { outcome, seconds, counts, tail } = run;
      results.push({ file, name, outcome, seconds: Math.round(seconds * 10) / 10, ...counts });
      console.log(`  ${outcome.padEnd(15)} ${seconds.toFixed(1).padStart(6)} s  ${name}`);
      if (outcome !== 'pass' && outcome !== 'skipped') console.log(tail.replace(/^/gm, '      | '));
    }
  }
} finally {
  rmSync(scratch, { recursive: true, force: true });
}

const bad = results.filter((r) => !['pass', 'skipped', 'flaky'].includes(r.outcome));
const skipped = results.filter((r) => r.outcome === 'skipped').length;
const flaky = results.filter((r) => r.outcome === 'flaky');
console.log(
  `\n${results.length} tests run alone: ${results.length - bad.length - skipped - flaky.length} passed, ${flaky.length} passed only on a second run, ${skipped} skipped, ${bad.length} did not pass`,
);
for (const r of flaky) console.log(`  flaky: ${r.file} > ${r.name}`);
for (const r of bad) console.log(`  ${r.outcome}: ${r.file} > ${r.name}`);
if (report) writeFileSync(report, `${JSON.stringify(results, null, 2)}\n`);
process.exit(bad.length > 0 ? 1 : 0);
