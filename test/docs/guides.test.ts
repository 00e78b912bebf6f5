/**
 * Every TypeScript example in the guides (docs/guides/*.md) is type-checked against the built
 * package's declarations (as an application importing `tenure` would be) and run to completion in
 * a child process, in a temporary working directory (relative SQLite paths land there). An
 * example is written to stand alone and end by itself; a failing check or a thrown error in it
 * fails its test. `tenure` and its subpaths resolve to dist/ as package.json's exports say.
 */
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/tmp.js';

const root = join(import.meta.dirname, '..', '..');
const GUIDES = join(root, 'docs/guides');

/** `tenure` and `tenure/<sub>` to their built entry (.js) and declarations (.d.ts). */
const entries = new Map<string, { js: string; dts: string }>(
  Object.entries(
    (
      JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
        exports: Record<string, { types: string; import: string }>;
      }
    ).exports,
  ).map(([sub, e]) => [
    sub === '.' ? 'tenure' : `tenure/${sub.slice(2)}`,
    { js: join(root, e.import), dts: join(root, e.types) },
  ]),
);
/** Dependencies an example may use, from this package's node_modules. */
const requireHere = createRequire(join(root, 'package.json'));

/** The ```ts blocks of a Markdown text, with the line each starts on. */
export function tsBlocks(markdown: string): { code: string; line: number }[] {
  const blocks: { code: string; line: number }[] = [];
  for (const m of markdown.matchAll(/^```ts\n([\s\S]*?)^```$/gm))
    blocks.push({ code: m[1]!, line: markdown.slice(0, m.index).split('\n').length + 1 });
  return blocks;
}

/** Type errors of `code` as an ES module importing `tenure` (none: an empty list). */
function typeErrors(code: string, dir: string): string[] {
  const file = join(dir, 'example.mts');
  writeFileSync(file, code);
  const program = ts.createProgram([file], {
    strict: true,
    noEmit: true,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    lib: ['lib.es2022.d.ts', 'lib.esnext.disposable.d.ts', 'lib.dom.d.ts'],
    types: ['node'],
    typeRoots: [join(root, 'node_modules/@types')],
    baseUrl: root,
    paths: Object.fromEntries([...entries].map(([name, e]) => [name, [e.dts]])),
    skipLibCheck: true,
  });
  return ts
    .getPreEmitDiagnostics(program)
    .filter((d) => d.file?.fileName === file || d.file === undefined)
    .map((d) => {
      const where =
        d.file && d.start !== undefined ? d.file.getLineAndCharacterOfPosition(d.start).line + 1 : 0;
      return `line ${where}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`;
    });
}

/** Runs `code` (imports rewritten to dist/ and node_modules) in `dir`; its exit status and output. */
function run(code: string, dir: string): { status: number | null; out: string } {
  const source = code.replace(/from '([^']+)'/g, (whole, spec: string) => {
    const entry = entries.get(spec);
    if (entry) return `from ${JSON.stringify(pathToFileURL(entry.js).href)}`;
    if (spec.startsWith('node:') || spec.startsWith('.')) return whole;
    return `from ${JSON.stringify(pathToFileURL(requireHere.resolve(spec)).href)}`;
  });
  const js = ts.transpileModule(source, {
    compilerOptions: { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.ESNext },
  }).outputText;
  const file = join(dir, 'example.mjs');
  writeFileSync(file, js);
  const r = spawnSync(process.execPath, [file], { cwd: dir, encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

const guides = readdirSync(GUIDES).filter((f) => f.endsWith('.md'));

describe('guides', () => {
  it('there are guides, each with examples', () => {
    expect(guides.length).toBeGreaterThanOrEqual(5);
    for (const g of guides)
      expect(tsBlocks(readFileSync(join(GUIDES, g), 'utf8')).length, g).toBeGreaterThan(0);
  });

  for (const guide of guides)
    for (const block of tsBlocks(readFileSync(join(GUIDES, guide), 'utf8')))
      it(`${guide}:${block.line} compiles and runs`, () => {
        const tmp = tempDir('tenure-guide-');
        try {
          expect(typeErrors(block.code, tmp.dir)).toEqual([]);
          const r = run(block.code, tmp.dir);
          expect(r.status, r.out).toBe(0);
        } finally {
          tmp.cleanup();
        }
      }, 90_000);

  it('negative controls: a type error and a failing example are caught', () => {
    const tmp = tempDir('tenure-guide-');
    try {
      const wrong = "import { Session } from 'tenure';\nconst ttl: string = Session.name.length;\n";
      expect(typeErrors(wrong, tmp.dir).join('\n')).toMatch(/not assignable to type 'string'/);
      const failing =
        "import assert from 'node:assert/strict';\nimport { FencingGate } from 'tenure';\nassert.equal(new FencingGate().admit(1), false);\n";
      expect(typeErrors(failing, tmp.dir)).toEqual([]);
      expect(run(failing, tmp.dir).status).not.toBe(0);
    } finally {
      tmp.cleanup();
    }
  });
});
