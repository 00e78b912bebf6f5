/**
 * The API reference (TypeDoc, `npm run docs:api`): every exported name of every package entry is
 * documented and every {@link} resolves: TypeDoc prints no warning at all. And the documents' own
 * links: every relative link in the README and in docs/ points at a file that exists.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/tmp.js';

const root = join(import.meta.dirname, '..', '..');
const TYPEDOC = join(root, 'node_modules/typedoc/bin/typedoc');

/** TypeDoc's warnings, one line each, without the location and the advice. */
function typedocWarnings(
  args: string[],
  cwd = root,
): { status: number | null; warnings: string[]; out: string } {
  const r = spawnSync(process.execPath, [TYPEDOC, '--emit', 'none', ...args], {
    cwd,
    encoding: 'utf8',
    timeout: 280_000,
    env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' },
  });
  const out = `${r.stdout}${r.stderr}`.replace(/\x1b\[[0-9;]*m/g, ''); // eslint-disable-line no-control-regex
  const warnings = out
    .split('\n')
    .filter((l) => l.startsWith('[warning] ') && !/^\[warning\] Found \d+ errors/.test(l))
    .map((l) =>
      l
        .slice('[warning] '.length)
        .replace(/, defined in .*$/, '')
        .replace(/ To fix this warning.*$/, '')
        .trim(),
    );
  return { status: r.status, warnings, out };
}

describe('API reference', () => {
  it('documents every export and resolves every link', () => {
    const r = typedocWarnings([]);
    expect(r.status, r.out).toBe(0);
    expect(r.warnings, 'gaps in the API reference: document them').toEqual([]);
  }, 300_000);

  it('negative control: an undocumented export and a broken link are reported', () => {
    const tmp = tempDir('tenure-typedoc-');
    try {
      writeFileSync(
        join(tmp.dir, 'index.ts'),
        '/** Documented, with a {@link Nowhere} link. */\nexport const linked = 1;\nexport function undocumented(): number {\n  return 2;\n}\n',
      );
      writeFileSync(
        join(tmp.dir, 'tsconfig.json'),
        JSON.stringify({
          compilerOptions: { strict: true, module: 'nodenext', target: 'es2022' },
          files: ['index.ts'],
        }),
      );
      const options = JSON.parse(readFileSync(join(root, 'typedoc.json'), 'utf8')) as Record<string, unknown>;
      writeFileSync(
        join(tmp.dir, 'typedoc.json'),
        JSON.stringify({ ...options, entryPoints: ['index.ts'], tsconfig: 'tsconfig.json', out: 'api' }),
      );
      const r = typedocWarnings(['--options', join(tmp.dir, 'typedoc.json')], tmp.dir);
      expect(r.warnings.some((w) => w.startsWith('undocumented (CallSignature)'))).toBe(true);
      expect(r.warnings.some((w) => w.includes('Failed to resolve link to "Nowhere"'))).toBe(true);
    } finally {
      tmp.cleanup();
    }
  }, 120_000);
});

/** The relative links (not http:, mailto: or #anchors) of a Markdown text, without their anchors. */
function relativeLinks(markdown: string): string[] {
  const withoutCode = markdown.replace(/```[\s\S]*?```/g, '').replace(/`[^`\n]*`/g, '');
  return [...withoutCode.matchAll(/\]\(([^)\s]+)\)/g)]
    .map((m) => m[1]!)
    .filter((href) => !/^[a-z]+:/i.test(href) && !href.startsWith('#'))
    .map((href) => href.replace(/#.*$/, ''));
}

describe('documents', () => {
  const files = [
    'README.md',
    ...readdirSync(join(root, 'docs'))
      .filter((f) => f.endsWith('.md'))
      .map((f) => `docs/${f}`),
  ];

  it('link only to files that exist', () => {
    const broken: string[] = [];
    for (const file of files)
      for (const href of relativeLinks(readFileSync(join(root, file), 'utf8')))
        if (!existsSync(join(root, dirname(file), href))) broken.push(`${file}: ${href}`);
    expect(broken).toEqual([]);
    expect(files.length).toBeGreaterThan(3);
  });

  it('negative control: a link to a missing file is found', () => {
    expect(
      relativeLinks('see [x](no-such-file.md#a), [y](https://example.com), `[z](q)`, [w](#here)'),
    ).toEqual(['no-such-file.md']);
  });
});
