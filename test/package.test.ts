/**
 * The installed package: one CommonJS build (dist/pkg/) of every entry point with shared chunks,
 * and ES-module entries that re-export it. Checked in plain Node processes (not through the test
 * runner's module loader), with `tenure` resolved by the package's own `exports`:
 * - every export of every subpath is importable by name (Node finds CommonJS names with
 *   cjs-module-lexer; a name it misses fails the import) and is the very object `require` returns;
 * - an error thrown by a store loaded through a subpath is `instanceof` the `TenureError` of the
 *   main entry, through `import` and through `require` (one copy of each of our modules).
 * - the command finds the package's package.json from where the build put it (`--version`; with
 *   a wrong path it prints `unknown`).
 * Negative control: the same check on a second copy of the build (dist/pkg copied elsewhere, as a
 * build that duplicated modules would load) must find the error NOT `instanceof`. Needs `npm run
 * build`.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, readFileSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from './helpers/tmp.js';

const root = join(import.meta.dirname, '..');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
  exports: Record<string, { types: string; import: string; require: string }>;
  bin: { tenure: string };
};
const specifiers = Object.keys(pkg.exports).map((sub) => (sub === '.' ? 'tenure' : `tenure/${sub.slice(2)}`));

/** Runs `code` as an ES module (or CommonJS) in a Node process started in the package's root. */
function node(code: string, type: 'module' | 'commonjs' = 'module'): unknown {
  const r = spawnSync(process.execPath, [`--input-type=${type}`, '-e', code], {
    cwd: root,
    encoding: 'utf8',
    timeout: 60_000,
  });
  expect(r.status, `${r.stdout}${r.stderr}`).toBe(0);
  return JSON.parse(r.stdout.trim().split('\n').at(-1)!);
}

/**
 * A script that opens a SQLite store from `sqlite` (a specifier or a path), closes it, and says
 * whether the store's rejection of a read is `instanceof` the TenureError of `main`.
 */
function closedStoreCheck(main: string, sqlite: string, how: 'import' | 'require', dir: string): string {
  const load = (spec: string) =>
    how === 'import' ? `await import(${JSON.stringify(spec)})` : `require(${JSON.stringify(spec)})`;
  const body = `
    const { TenureError } = ${load(main)};
    const { SqliteStore } = ${load(sqlite)};
    const store = new SqliteStore({ path: ${JSON.stringify(join(dir, `${how}.db`))} });
    await store.close();
    const err = await store.get('k').then(() => undefined, (e) => e);
    console.log(JSON.stringify({ code: err?.code, name: err?.constructor?.name, instance: err instanceof TenureError }));`;
  return how === 'import'
    ? body
    : `(async () => {${body}})().catch((e) => { console.error(e); process.exit(1); });`;
}

describe('package layout', () => {
  it('package.json points every entry and the command at the CommonJS build and its ES-module wrappers', () => {
    for (const [sub, e] of Object.entries(pkg.exports)) {
      expect(e.require, sub).toMatch(/^\.\/dist\/pkg\/[a-z]+\.cjs$/);
      expect(e.import, sub).toBe(e.require.replace(/\.cjs$/, '.mjs'));
      expect(e.types, sub).toMatch(/^\.\/dist\/src\/.*\.d\.ts$/);
    }
    expect(pkg.bin.tenure).toBe('dist/pkg/cli.cjs');
  });

  it("the command prints the package's version (the build points its path at package.json)", () => {
    const version = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string })
      .version;
    const r = spawnSync(process.execPath, [join(root, pkg.bin.tenure), '--version'], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe(version);
  });

  it('every export of every entry is importable by name, and is what require returns', () => {
    // The names each entry must have: those of tsc's ES-module build of the same source.
    const sources = Object.fromEntries(
      Object.entries(pkg.exports).map(([sub, e]) => [
        sub === '.' ? 'tenure' : `tenure/${sub.slice(2)}`,
        join(root, e.types.replace(/\.d\.ts$/, '.js')),
      ]),
    );
    const result = node(`
      import { createRequire } from 'node:module';
      import { pathToFileURL } from 'node:url';
      const require = createRequire(process.cwd() + '/package.json');
      const sources = ${JSON.stringify(sources)};
      const out = {};
      for (const [spec, source] of Object.entries(sources)) {
        const tsc = await import(pathToFileURL(source).href);
        const expected = Object.keys(tsc).sort();
        const imported = await import(spec);
        const required = require(spec);
        out[spec] = {
          expected,
          imported: Object.keys(imported).sort(),
          differentFromRequire: expected.filter((name) => imported[name] !== required[name]),
          // A chunk required while another was half loaded would leave a name undefined.
          otherType: expected.filter((name) => typeof imported[name] !== typeof tsc[name]),
        };
      }
      console.log(JSON.stringify(out));`) as Record<
      string,
      { expected: string[]; imported: string[]; differentFromRequire: string[]; otherType: string[] }
    >;
    expect(Object.keys(result).sort()).toEqual([...specifiers].sort());
    for (const [spec, r] of Object.entries(result)) {
      expect(r.expected.length, spec).toBeGreaterThan(0);
      expect(r.imported, spec).toEqual(r.expected);
      expect(r.differentFromRequire, spec).toEqual([]);
      expect(r.otherType, spec).toEqual([]);
    }
  });

  it('an error from a store loaded through tenure/sqlite is instanceof the TenureError of tenure (import and require)', () => {
    const tmp = tempDir('tenure-package-');
    try {
      for (const how of ['import', 'require'] as const)
        expect(
          node(
            closedStoreCheck('tenure', 'tenure/sqlite', how, tmp.dir),
            how === 'import' ? 'module' : 'commonjs',
          ),
          how,
        ).toEqual({
          code: 'TENURE_CLOSED',
          name: 'TenureError',
          instance: true,
        });
      // Across the two: the store required, the class imported.
      expect(
        node(`
          import { createRequire } from 'node:module';
          import { TenureError } from 'tenure';
          const { SqliteStore } = createRequire(process.cwd() + '/package.json')('tenure/sqlite');
          const store = new SqliteStore({ path: ${JSON.stringify(join(tmp.dir, 'mixed.db'))} });
          await store.close();
          const err = await store.get('k').then(() => undefined, (e) => e);
          console.log(JSON.stringify({ instance: err instanceof TenureError }));`),
      ).toEqual({ instance: true });
    } finally {
      tmp.cleanup();
    }
  });

  it('negative control: with a second copy of the build, the same check finds the error not instanceof', () => {
    const tmp = tempDir('tenure-package-copy-');
    try {
      const copy = join(tmp.dir, 'pkg');
      cpSync(join(root, 'dist', 'pkg'), copy, { recursive: true });
      // Its dependencies from the same node_modules: only our own modules are duplicated.
      symlinkSync(join(root, 'node_modules'), join(tmp.dir, 'node_modules'));
      for (const how of ['import', 'require'] as const) {
        const sqlite = join(copy, how === 'import' ? 'sqlite.mjs' : 'sqlite.cjs');
        expect(
          node(closedStoreCheck('tenure', sqlite, how, tmp.dir), how === 'import' ? 'module' : 'commonjs'),
          how,
        ).toEqual({ code: 'TENURE_CLOSED', name: 'TenureError', instance: false });
      }
    } finally {
      tmp.cleanup();
    }
  });
});
