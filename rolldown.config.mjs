// @ts-check
/**
 * The published library (dist/pkg/): one CommonJS build of every entry point with shared chunks,
 * so each of our modules exists once in a process whatever entries it loads: `instanceof
 * TenureError` holds across subpaths, and between `import` and `require`, since the ES-module
 * entries (NAME.mjs) are thin wrappers that re-export NAME.cjs. Lazy loads (`await import()` of
 * our own modules: commands, store backends) become lazy chunk loads. Types stay tsc's
 * (dist/src/**\/*.d.ts). Dependencies stay external, loaded from node_modules by `require`,
 * except the etcd backend's gRPC and protobuf runtime (see BUNDLED).
 *
 * Why CommonJS: Node loads a CommonJS file faster than an ES module (no linking phase, one
 * synchronous read and compile), which is most of a command's start-up (bench/README.md, Start-up).
 */
import { readFileSync } from 'node:fs';
import { isBuiltin } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import { init, parse } from 'cjs-module-lexer';
import MagicString from 'magic-string';
import { defineConfig } from 'rolldown';

const OUT = 'dist/pkg';

/**
 * An entry given as FACADE + module is a module of one line, `export * from` that module, so the
 * module itself goes to a chunk and NAME.cjs only re-exports it. For entries whose code is large:
 * `import` of a CommonJS file scans its whole text for the names it exports (cjs-module-lexer),
 * which for the etcd backend with its bundled gRPC and protobuf (1.3 MB) cost about as much CPU
 * as loading it.
 */
const FACADE = 'tenure-facade:';

/** Entry name (dist/pkg/NAME.cjs, and NAME.mjs for the library's) to its source module. */
export const entries = {
  index: 'src/index.ts',
  sqlite: 'src/store/sqlite/index.ts',
  memory: 'src/store/memory/index.ts',
  hashing: 'src/hashing/index.ts',
  // Through a facade: see facadeEntries.
  etcd: `${FACADE}src/store/etcd/index.ts`,
  redis: 'src/store/redis/index.ts',
  postgres: 'src/store/postgres/index.ts',
  detect: 'src/detect/index.ts',
  metrics: 'src/metrics/index.ts',
  models: 'src/models/index.ts',
  dashboard: 'src/dashboard/server.ts',
  verify: 'src/verify/index.ts',
  // The command, and the scripts it starts as processes by path.
  cli: 'src/cli/main.ts',
  'cli-demo-worker': 'src/cli/demo/worker.ts',
  'cli-verify-worker': 'src/cli/verify-worker.ts',
};

/** Entries that are programs, not modules: no ES-module wrapper. */
const PROGRAMS = new Set(['cli', 'cli-demo-worker', 'cli-verify-worker']);

/**
 * Paths that a module gives relative to its own file (`new URL(path, import.meta.url)`), valid
 * beside tsc's output, and what they must point at in dist/pkg/ (relative to dist/pkg/), wherever
 * the bundler puts that module.
 */
const RELATIVE_PATHS = [
  { module: 'src/cli/demo/orchestrator.ts', path: './worker.js', target: 'cli-demo-worker.cjs' },
  { module: 'src/cli/verify.ts', path: './verify-worker.js', target: 'cli-verify-worker.cjs' },
  { module: 'src/cli/main.ts', path: '../../../package.json', target: '../../package.json' },
];

/** @returns {import('rolldown').Plugin} */
function facadeEntries() {
  return {
    name: 'tenure-facade-entries',
    resolveId(id) {
      return id.startsWith(FACADE) ? `\0${id}` : null;
    },
    load(id) {
      if (!id.startsWith(`\0${FACADE}`)) return null;
      return `export * from ${JSON.stringify(resolve(id.slice(FACADE.length + 1)))};`;
    },
  };
}

/** @returns {import('rolldown').Plugin} */
function relativePaths() {
  return {
    name: 'tenure-relative-paths',
    // A new path of that kind must be listed, or the build would ship it pointing nowhere.
    transform(code, id) {
      if (!id.includes('/src/')) return null;
      for (const m of code.matchAll(/new URL\(\s*(['"])(\.[^'"]*)\1\s*,\s*import\.meta\.url/g))
        if (!RELATIVE_PATHS.some((rule) => id.endsWith(rule.module) && rule.path === m[2]))
          throw new Error(
            `${id}: the path ${m[2]} relative to the module is not in RELATIVE_PATHS (rolldown.config.mjs)`,
          );
      return null;
    },
    renderChunk(code, chunk) {
      const s = new MagicString(code);
      for (const rule of RELATIVE_PATHS) {
        if (!chunk.moduleIds.some((id) => id.endsWith(rule.module))) continue;
        const literal = JSON.stringify(rule.path);
        const at = [...code.matchAll(new RegExp(literal.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&'), 'g'))];
        if (at.length !== 1)
          throw new Error(
            `${rule.module}: expected the path ${literal} once in ${chunk.fileName}, found ${at.length}`,
          );
        let path = relative(dirname(join(OUT, chunk.fileName)), join(OUT, rule.target));
        if (!path.startsWith('.')) path = `./${path}`;
        s.overwrite(at[0].index, at[0].index + literal.length, JSON.stringify(path));
      }
      return s.hasChanged() ? { code: s.toString(), map: s.generateMap({ hires: true }) } : null;
    },
  };
}

/**
 * Writes NAME.mjs beside each library entry NAME.cjs: `export { ...names } from './NAME.cjs'`, and
 * checks that Node's own detection of a CommonJS module's names (cjs-module-lexer, which Node uses
 * for `import` of CommonJS) finds every name, so the wrapper links.
 * @returns {import('rolldown').Plugin}
 */
function esmWrappers() {
  return {
    name: 'tenure-esm-wrappers',
    async generateBundle(_options, bundle) {
      await init();
      for (const chunk of Object.values(bundle)) {
        if (chunk.type !== 'chunk' || !chunk.isEntry || PROGRAMS.has(chunk.name)) continue;
        const detected = new Set(parse(chunk.code).exports);
        const missing = chunk.exports.filter((name) => !detected.has(name));
        if (missing.length > 0)
          throw new Error(`${chunk.fileName}: Node would not see the exports ${missing.join(', ')}`);
        this.emitFile({
          type: 'asset',
          fileName: `${chunk.name}.mjs`,
          source:
            `// The ES-module entry of ${chunk.fileName}: the same module instances for import and require.\n` +
            `export { ${[...chunk.exports].sort().join(', ')} } from './${chunk.fileName}';\n`,
        });
      }
    },
  };
}

const pkg = JSON.parse(readFileSync('package.json', 'utf8'));
/** Installed beside the package and loaded from node_modules. */
const external = new Set(Object.keys(pkg.dependencies ?? {}));
/**
 * Bundled into the etcd backend's chunk with what they import: loading them from one file costs
 * less CPU than from their ~140 CommonJS files (bench/README.md, Start-up), and no object of
 * theirs crosses the library's API (the store builds its own credentials and codecs).
 */
const BUNDLED = new Set(['@grpc/grpc-js', 'protobufjs']);

/** The package name of an import specifier (`@scope/name` or `name`). */
const packageName = (id) => (id.startsWith('@') ? id.split('/').slice(0, 2).join('/') : id.split('/')[0]);

export default defineConfig({
  input: entries,
  platform: 'node',
  external: (id, importer) => {
    if (id.startsWith('.') || id.startsWith('/') || id.startsWith('\0')) return false;
    if (isBuiltin(id) || external.has(packageName(id))) return true;
    // A bundled package's own imports are bundled with it.
    if (BUNDLED.has(packageName(id)) || importer?.includes('/node_modules/')) return false;
    throw new Error(`${id} (imported by ${importer}) is neither a dependency nor a bundled package`);
  },
  plugins: [facadeEntries(), relativePaths(), esmWrappers()],
  output: {
    dir: OUT,
    // No chunk of an earlier build left beside this one's.
    cleanDir: true,
    format: 'cjs',
    entryFileNames: '[name].cjs',
    chunkFileNames: 'chunks/[name]-[hash].cjs',
    sourcemap: true,
  },
});
