import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openStore } from '../../src/store/open.js';
import { isTenureError } from '../../src/errors.js';
import { tempDir } from '../helpers/tmp.js';

describe('openStore', () => {
  it('opens memory: and sqlite: URLs (relative and absolute), with a namespace', async () => {
    const mem = await openStore('memory:');
    expect(mem.capabilities.backend).toBe('memory');
    await mem.close();
    const t = tempDir();
    const abs = await openStore(`sqlite://${join(t.dir, 'a.db')}?namespace=app/&pollIntervalMs=5`);
    expect(abs.capabilities.backend).toBe('sqlite');
    expect(abs.namespace).toBe('app/');
    await abs.put('k', 'v');
    await abs.close();
    const raw = await openStore(`sqlite://${join(t.dir, 'a.db')}`);
    expect((await raw.get('app/k'))?.key).toBe('app/k');
    await raw.close();
    const cwd = process.cwd();
    process.chdir(t.dir);
    mkdirSync('sub');
    try {
      const rel = await openStore('sqlite:sub/rel.db');
      await rel.put('k', 'v');
      await rel.close();
      const again = await openStore(`sqlite://${join(t.dir, 'sub', 'rel.db')}`);
      expect(await again.get('k')).toBeDefined();
      await again.close();
    } finally {
      process.chdir(cwd);
      t.cleanup();
    }
  });

  const bad = [
    '',
    'not a url',
    'ftp://x',
    'memory:something',
    'sqlite:',
    'sqlite://somehost/x.db',
    'sqlite:x.db?pollIntervalMs=fast',
    'sqlite:x.db?synchronous=off',
    'sqlite:x.db?colour=blue',
    'sqlite:%00x.db',
    'sqlite:x%00.db',
    'sqlite:my#store.db',
    'sqlite::memory:',
    'sqlite:file:x.db',
    'sqlite:x.db?mode=0644',
    'redis://127.0.0.1:6379?colour=blue',
  ];
  for (const url of bad) {
    it(`rejects ${JSON.stringify(url)} with TENURE_INVALID_URL listing the accepted forms`, async () => {
      const err = await openStore(url).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(isTenureError(err, 'TENURE_INVALID_URL')).toBe(true);
      expect((err as Error).message).toContain('sqlite:///absolute/path.db');
    });
  }
});
