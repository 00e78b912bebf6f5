/**
 * Credentials in store URLs: redactUrl, and openStore's errors, which never show a password
 * however it was given or mistyped.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openStore } from '../../src/store/open.js';
import { redactUrl } from '../../src/store/redact-url.js';
import { tempDir } from '../helpers/tmp.js';

const SECRET = 'Sup3r-s3cret';

describe('redactUrl', () => {
  it.each([
    [`etcd://app:${SECRET}@h1:2379,h2:2379`, 'etcd://app:***@h1:2379,h2:2379'],
    [`etcds://app:${SECRET}@10.0.0.1:2379?ca=/ca.pem`, 'etcds://app:***@10.0.0.1:2379?ca=/ca.pem'],
    [`etcd://h:1?username=app&password=${SECRET}`, 'etcd://h:1?username=app&password=***'],
    [`etcd://h:1?password=${SECRET}&namespace=x/`, 'etcd://h:1?password=***&namespace=x/'],
    [`etcd://:${SECRET}@h:1`, 'etcd://:***@h:1'],
    [`etcd://app:a/b?c#d@e@h:1`, 'etcd://app:***@h:1'],
    ['etcd://h1:2379,h2:2379', 'etcd://h1:2379,h2:2379'],
    ['etcd://app@h1:2379?passwordFile=/run/secret', 'etcd://app@h1:2379?passwordFile=/run/secret'],
    ['sqlite:///var/lib/a:b@c.db', 'sqlite:///var/lib/a:b@c.db'],
    [`failed: store etcd://app:${SECRET}@h:1 is down`, 'failed: store etcd://app:***@h:1 is down'],
  ])('%s → %s', (url, shown) => {
    expect(redactUrl(url)).toBe(shown);
  });
});

describe('openStore and credentials', () => {
  const invalid = [
    `etcd://app:${SECRET}@h:1?bogus=1`,
    `etcd://app:${SECRET}@nope`,
    `etcd://app:${SECRET}@h:1/path`,
    `etcd://app:${SECRET}@h:1?ca=/ca.pem`,
    `etcd://app:${SECRET}@h:1?requestTimeoutMs=soon`,
    `etcd://app:${SECRET.slice(0, 4)}/${SECRET.slice(4)}@h:1`,
    `etcd://app:${SECRET.slice(0, 4)}?${SECRET.slice(4)}@h:1`,
    `etcd://app:${SECRET.slice(0, 4)}#${SECRET.slice(4)}@h:1`,
    `etcd://app:${SECRET}%zz@h:1`,
    `etcd://h:1?username=app&password=${SECRET}&bogus=1`,
    `etcd://h:1?password=${SECRET}`,
    `etcd://app:${SECRET}@h:1?password=${SECRET}`,
    `etcds://app:${SECRET}@h:1?cert=/nonexistent.pem&key=/nonexistent.pem`,
    `sqlite://app:${SECRET}@host/x.db`,
    `nosuch://app:${SECRET}@host`,
    `redis://app:${SECRET}@host:6379?colour=blue`,
    `redis://app:${SECRET}@host:6379/notadb`,
  ];
  for (const url of invalid)
    it(`rejects ${redactUrl(url)} without showing the password`, async () => {
      const err = (await openStore(url).catch((e: unknown) => e)) as Error & {
        code?: string;
        details?: object;
      };
      expect(err.code).toBe('TENURE_INVALID_URL');
      for (const part of [SECRET, SECRET.slice(4)]) {
        expect(err.message).not.toContain(part);
        expect(JSON.stringify(err.details)).not.toContain(part);
      }
    });

  it('takes the password from user:password@, password=, passwordFile= or options.password, once', async () => {
    const t = tempDir();
    try {
      const file = join(t.dir, 'password');
      writeFileSync(file, `${SECRET}\n`);
      // Each opens (the etcd client connects lazily).
      for (const [url, options] of [
        [`etcd://app:${encodeURIComponent('p/w?#@')}@127.0.0.1:1`, {}],
        [`etcd://127.0.0.1:1?username=app&password=${SECRET}`, {}],
        [`etcd://app@127.0.0.1:1?passwordFile=${file}`, {}],
        ['etcd://app@127.0.0.1:1', { password: SECRET }],
        ['etcd://127.0.0.1:1', {}],
      ] as const) {
        const store = await openStore(url, options);
        await store.close();
      }
      const rejected = async (url: string, options = {}) =>
        ((await openStore(url, options).catch((e: unknown) => e)) as Error).message;
      expect(await rejected(`etcd://app:x@127.0.0.1:1`, { password: SECRET })).toMatch(/given 2 times/);
      expect(await rejected('etcd://app@127.0.0.1:1')).toMatch(/needs a password/);
      expect(await rejected('etcd://127.0.0.1:1', { password: SECRET })).toMatch(/needs a user name/);
      expect(await rejected('etcd://app@127.0.0.1:1?passwordFile=/nonexistent')).toMatch(
        /cannot read the passwordFile \/nonexistent: ENOENT/,
      );
      // The memory and SQLite stores have no password: a CLI-wide password does not disturb them.
      const mem = await openStore('memory:', { password: SECRET });
      await mem.close();
    } finally {
      t.cleanup();
    }
  });
});
