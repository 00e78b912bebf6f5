/**
 * The README's "library in twenty lines" runs as written: its code block is compiled with
 * TypeScript and run in a child process against a SQLite file, with stubs for the application's
 * own functions (startCron, stopCron, db, id), which record what the example passed them.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/tmp.js';

const root = join(import.meta.dirname, '..', '..');

/** The first ```ts block after `heading` in the README. */
function codeAfter(heading: string): string {
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  const from = readme.indexOf(heading);
  expect(from, `README has "${heading}"`).toBeGreaterThanOrEqual(0);
  const match = /```ts\n([\s\S]*?)```/.exec(readme.slice(from));
  expect(match, `a ts block after "${heading}"`).not.toBeNull();
  return match![1]!;
}

describe('README', () => {
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
        .replace(
          "from 'tenure'",
          `from ${JSON.stringify(pathToFileURL(join(root, 'dist/src/index.js')).href)}`,
        )
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
