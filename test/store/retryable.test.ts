/**
 * `retryable` means "the same call may be retried as is" (issue 12, src/errors.ts's header):
 * TENURE_UNAVAILABLE is always retryable, and a store that cannot be used until its
 * configuration changes is TENURE_STORE_UNUSABLE, final. Before, a SQLite path that could not be
 * opened at all was TENURE_UNAVAILABLE with `retryable: false`.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { TenureError, type TenureErrorCode } from '../../src/errors.js';
import { SqliteStore } from '../../src/store/sqlite/index.js';
import { tempDir } from '../helpers/tmp.js';

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts'))
    .map((e) => join(e.parentPath, e.name));
}

describe('retryable means the same call may be retried as is', () => {
  it('is decided by the code', () => {
    const retryable = (code: TenureErrorCode) => new TenureError(code, 'x').retryable;
    expect(retryable('TENURE_UNAVAILABLE')).toBe(true);
    expect(retryable('TENURE_TIMEOUT')).toBe(true);
    expect(retryable('TENURE_LOCK_BUSY')).toBe(true);
    expect(retryable('TENURE_MEMBER_EXISTS')).toBe(true);
    expect(retryable('TENURE_STORE_UNUSABLE')).toBe(false);
    expect(retryable('TENURE_SLOT_LOST')).toBe(false);
    expect(retryable('TENURE_MEMBER_LOST')).toBe(false);
    expect(retryable('TENURE_CORRUPT')).toBe(false);
  });

  it('no source creates TENURE_UNAVAILABLE with retryable: false', () => {
    const offenders: string[] = [];
    for (const file of sources('src')) {
      const text = readFileSync(file, 'utf8');
      // A TenureError construction: from the code up to its closing `);`.
      for (const m of text.matchAll(/new TenureError\(\s*'TENURE_UNAVAILABLE'[\s\S]*?\);/g))
        if (/retryable:\s*false/.test(m[0])) offenders.push(file);
    }
    expect(offenders).toEqual([]);
  });

  it('a SQLite store that is not there (create: false) is TENURE_STORE_UNUSABLE, final', () => {
    const t = tempDir();
    try {
      const path = join(t.dir, 'missing.db');
      let err: unknown;
      try {
        new SqliteStore({ path, create: false });
      } catch (e) {
        err = e;
      }
      expect(err).toMatchObject({ code: 'TENURE_STORE_UNUSABLE', retryable: false, details: { path } });
    } finally {
      t.cleanup();
    }
  });

  it('a SQLite path through a file (not a folder) is TENURE_STORE_UNUSABLE, final', () => {
    const t = tempDir();
    try {
      writeFileSync(join(t.dir, 'file'), '');
      expect(() => new SqliteStore({ path: join(t.dir, 'file', 'x.db') })).toThrow(
        expect.objectContaining({ code: 'TENURE_STORE_UNUSABLE', retryable: false }),
      );
    } finally {
      t.cleanup();
    }
  });
});
