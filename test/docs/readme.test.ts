/**
 * The README's "library in twenty lines" runs as written: its code block is compiled with
 * TypeScript and run in a child process against a SQLite file, with stubs for the application's
 * own functions (startCron, stopCron, db, id), which record what the example passed them.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/tmp.js';

const root = join(import.meta.dirname, '..', '..');
/** `tenure` and its subpaths to the ES-module entries package.json's exports give (what users load). */
const exportsOf = (
  JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
    exports: Record<string, { import: string }>;
  }
).exports;
const entryUrl = (sub = '') => pathToFileURL(join(root, exportsOf[`.${sub}`]!.import)).href;

/** The first ```ts block after `heading` in the README. */
function codeAfter(heading: string): string {
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  const from = readme.indexOf(heading);
  expect(from, `README has "${heading}"`).toBeGreaterThanOrEqual(0);
  const match = /```ts\n([\s\S]*?)```/.exec(readme.slice(from));
  expect(match, `a ts block after "${heading}"`).not.toBeNull();
  return match![1]!;
}

/** The README's block after `heading`, with `tenure` imports pointed at the built package, as ES2022 JavaScript. */
function runnable(heading: string, replace: (source: string) => string): string {
  let source = codeAfter(heading).replace(/from 'tenure(\/[a-z]+)?'/g, (_, sub: string | undefined) => {
    return `from ${JSON.stringify(entryUrl(sub))}`;
  });
  // The application's own dependency (prom-client), from this package's node_modules.
  const promClient = pathToFileURL(createRequire(join(root, 'package.json')).resolve('prom-client')).href;
  source = replace(source.replace("from 'prom-client'", `from ${JSON.stringify(promClient)}`));
  return ts.transpileModule(source, {
    compilerOptions: { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.ESNext },
  }).outputText;
}

describe('README', () => {
  it('an application serves its own metrics: leader, lock wait and hold, heartbeats, store latency', () => {
    const tmp = tempDir('tenure-readme-');
    try {
      const block = codeAfter('## Metrics and alerts');
      expect(block).toContain("from 'tenure/metrics'");
      expect(block).toContain('.listen(9464');
      const js = runnable('## Metrics and alerts', (source) =>
        source
          .replace(/'sqlite:[^']*'/, JSON.stringify(`sqlite://${join(tmp.dir, 'store.db')}`))
          // Any free port: the server is read back through its address.
          .replace('.listen(9464,', '.listen(0,')
          .replace('createServer(', 'const server = createServer('),
      );
      // After the example: wait for one heartbeat, scrape the server as Prometheus would, exit.
      const scrape = `
await new Promise((resolve) => session.once('keepalive', resolve));
await new Promise((resolve) => (server.listening ? resolve() : server.once('listening', resolve)));
const res = await fetch('http://127.0.0.1:' + server.address().port + '/metrics');
console.log(JSON.stringify({ status: res.status, type: res.headers.get('content-type'), text: await res.text() }));
process.exit(0);
`;
      const file = join(tmp.dir, 'metrics.mjs');
      writeFileSync(file, js + scrape);
      const r = spawnSync(process.execPath, [file], { encoding: 'utf8', timeout: 30_000 });
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
      const out = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as {
        status: number;
        type: string;
        text: string;
      };
      expect(out.status).toBe(200);
      expect(out.type).toContain('text/plain');
      expect(out.text).toMatch(/^tenure_is_leader\{election="billing-cron"\} 1$/m);
      expect(out.text).toMatch(/^tenure_lock_wait_seconds_count\{lock="invoices"\} 1$/m);
      expect(out.text).toMatch(/^tenure_lock_hold_seconds_count\{lock="invoices"\} 1$/m);
      expect(out.text).toMatch(/^tenure_session_keepalive_seconds_count [1-9]\d*$/m);
      expect(out.text).toMatch(
        /^tenure_store_operation_seconds_count\{op="txn",backend="sqlite",outcome="ok"\} [1-9]/m,
      );
      expect(out.text).toMatch(/^process_cpu_seconds_total /m);
    } finally {
      tmp.cleanup();
    }
  });

  it('the library in twenty lines runs: a leader with a term, a fenced write, a resign', () => {
    const tmp = tempDir('tenure-readme-');
    try {
      const example = codeAfter('## The library in twenty lines');
      expect(example).toContain("from 'tenure'");
      const stubs = `
const seen = { started: undefined, queries: [] };
const startCron = (o) => { seen.started = o; };
const stopCron = () => {};
const db = { query: async (sql, params) => { seen.queries.push(params); } };
const id = 42;
process.on('beforeExit', () => console.log(JSON.stringify(seen)));
`;
      const source = example
        .replace("from 'tenure'", `from ${JSON.stringify(entryUrl())}`)
        .replace(/'sqlite:[^']*'/, JSON.stringify(`sqlite://${join(tmp.dir, 'store.db')}`));
      const js = ts.transpileModule(source, {
        compilerOptions: { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.ESNext },
      }).outputText;
      // Imports first, then the stubs, then the example's statements.
      const lines = js.split('\n');
      const imports = lines.filter((l) => l.startsWith('import '));
      const body = lines.filter((l) => !l.startsWith('import '));
      const file = join(tmp.dir, 'example.mjs');
      writeFileSync(file, [...imports, stubs, ...body].join('\n'));
      const r = spawnSync(process.execPath, [file], { encoding: 'utf8', timeout: 30_000 });
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
      const seen = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as {
        started: { term: number };
        queries: [number, number][];
      };
      expect(seen.started.term).toBeGreaterThan(0);
      expect(seen.queries).toHaveLength(1);
      expect(seen.queries[0]![0]).toBeGreaterThan(0); // the fencing token
      expect(seen.queries[0]![1]).toBe(42);
    } finally {
      tmp.cleanup();
    }
  });
});
