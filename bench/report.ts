/**
 * Writes one benchmark suite's results: JSON in bench/results/<suite>.json and a markdown section
 * in bench/README.md between `<!-- <suite>:start -->` and `<!-- <suite>:end -->` markers, so each
 * suite rewrites only its own table.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The source bench/ folder (this file runs from dist/bench/). */
export const benchDir = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', 'bench');

/** Facts about the run that make numbers comparable. */
export function environment(): Record<string, unknown> {
  return {
    node: process.version,
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: cpus().length,
    date: new Date().toISOString(),
  };
}

/** Saves `results` as JSON and replaces the suite's section of bench/README.md with `markdown`. */
export function writeResults(suite: string, results: unknown, markdown: string): void {
  mkdirSync(join(benchDir, 'results'), { recursive: true });
  writeFileSync(
    join(benchDir, 'results', `${suite}.json`),
    JSON.stringify({ suite, environment: environment(), results }, null, 2) + '\n',
  );
  const readmePath = join(benchDir, 'README.md');
  const readme = readFileSync(readmePath, 'utf8');
  const start = `<!-- ${suite}:start -->`;
  const end = `<!-- ${suite}:end -->`;
  const block = `${start}\n${markdown.trim()}\n${end}`;
  const from = readme.indexOf(start);
  const to = readme.indexOf(end);
  const next =
    from >= 0 && to > from
      ? readme.slice(0, from) + block + readme.slice(to + end.length)
      : `${readme.trimEnd()}\n\n${block}\n`;
  writeFileSync(readmePath, next);
}

/** Percentile of an unsorted sample (nearest-rank). */
export function percentile(sample: readonly number[], p: number): number {
  if (sample.length === 0) return Number.NaN;
  const sorted = [...sample].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank]!;
}

/** A markdown table from a header row and rows of cells. */
export function table(header: readonly string[], rows: readonly (readonly unknown[])[]): string {
  const line = (cells: readonly unknown[]) => `| ${cells.map(String).join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}
