/**
 * `redis://`, `rediss://` and `redis+sentinel://` URLs as {@link RedisStoreOptions}. Separate from the store so that
 * parsing a URL does not load the Redis driver.
 */
import { readFile } from 'node:fs/promises';
import type { TenureError } from '../../errors.js';
import type { RedisStoreOptions } from './options.js';

const INTEGER_PARAMS = ['requestTimeoutMs', 'connectTimeoutMs', 'retainRevisions', 'reapIntervalMs'] as const;
const TLS_PARAMS = ['ca', 'cert', 'key'] as const;

/** The query parameters a Redis URL accepts besides `namespace`. */
export const REDIS_URL_PARAMS = Object.freeze([
  'db',
  'keyPrefix',
  'passwordFile',
  ...INTEGER_PARAMS,
  ...TLS_PARAMS,
]);

const ADDRESS = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):([0-9]{1,5})$/;

/**
 * Options from a parsed `redis://[user[:password]@]host[:port][/db][?params]` URL, or, given
 * `sentinelHosts` (the `host:port,host:port` list a `redis+sentinel://` URL's authority held, which
 * URL cannot parse), `redis+sentinel://[user[:password]@]host:port,.../mastername[?params]`.
 * `invalid(problem)` makes the TENURE_INVALID_URL error (which redacts the URL).
 * The password comes from the URL, `?passwordFile=` or `optionPassword`, once.
 */
export async function redisOptionsFromUrl(
  parsed: URL,
  params: Record<string, string>,
  optionPassword: string | undefined,
  invalid: (problem: string) => TenureError,
  sentinelHosts?: string,
): Promise<RedisStoreOptions> {
  const scheme = parsed.protocol.slice(0, -1);
  const unknown = Object.keys(params).filter((p) => !(REDIS_URL_PARAMS as readonly string[]).includes(p));
  if (unknown.length > 0)
    throw invalid(
      `unknown parameter(s) ${unknown.join(', ')}; known: ${['namespace', ...REDIS_URL_PARAMS].join(', ')}`,
    );
  let where: Pick<RedisStoreOptions, 'host' | 'port' | 'sentinels' | 'sentinelMasterName'>;
  let fromPath: string | undefined;
  if (sentinelHosts !== undefined) {
    const form = `${scheme}://host:26379,host:26379/mastername`;
    const list = sentinelHosts.split(',').filter((h) => h !== '');
    if (list.length === 0) throw invalid(`${scheme}: needs at least one Sentinel, as ${form}`);
    const sentinels = list.map((h) => {
      const m = ADDRESS.exec(h);
      if (m === null || Number(m[2]) < 1 || Number(m[2]) > 65535)
        throw invalid(`Sentinel ${JSON.stringify(h)} is not host:port (${form})`);
      return { host: m[1]!.replace(/^\[(.*)\]$/, '$1'), port: Number(m[2]) };
    });
    const name = parsed.pathname.replace(/^\//, '');
    if (!/^[A-Za-z0-9._-]{1,128}$/.test(name))
      throw invalid(
        name === ''
          ? `${scheme}: needs the master name as its path (${form})`
          : `the master name must be 1 to 128 of A-Z a-z 0-9 . _ - (${form}); the database goes in ?db=`,
      );
    const tlsGiven = TLS_PARAMS.filter((p) => params[p] !== undefined);
    if (tlsGiven.length > 0) throw invalid(`${tlsGiven.join(', ')}: TLS is not supported with Sentinel`);
    where = { sentinels, sentinelMasterName: name };
  } else {
    if (parsed.hostname === '') throw invalid(`${scheme}: needs a host, as ${scheme}://host:6379`);
    where = {
      host: parsed.hostname.replace(/^\[(.*)\]$/, '$1'),
      port: parsed.port === '' ? 6379 : Number(parsed.port),
    };
    fromPath = parsed.pathname === '' || parsed.pathname === '/' ? undefined : parsed.pathname.slice(1);
  }
  if (fromPath !== undefined && params.db !== undefined)
    throw invalid('the database is given twice (/db and ?db=)');
  const dbText = fromPath ?? params.db;
  let db: number | undefined;
  if (dbText !== undefined) {
    if (!/^[0-9]{1,6}$/.test(dbText))
      throw invalid(`the database index must be a number, got ${JSON.stringify(dbText)}`);
    db = Number(dbText);
  }
  const decode = (s: string) => {
    try {
      return decodeURIComponent(s);
    } catch {
      throw invalid('the user information has a malformed %-escape');
    }
  };
  const username = parsed.username === '' ? undefined : decode(parsed.username);
  const passwords: [string, string][] = [];
  if (parsed.password !== '') passwords.push(['user:password@', decode(parsed.password)]);
  if (params.passwordFile !== undefined) {
    try {
      const text = await readFile(params.passwordFile, 'utf8');
      passwords.push(['passwordFile=', text.replace(/\r?\n$/, '')]);
    } catch (err) {
      throw invalid(
        `cannot read the passwordFile ${params.passwordFile}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`,
      );
    }
  }
  if (optionPassword !== undefined)
    passwords.push(['options.password (the CLI: TENURE_STORE_PASSWORD[_FILE])', optionPassword]);
  if (passwords.length > 1)
    throw invalid(
      `the password is given ${passwords.length} times (${passwords.map(([w]) => w).join(', ')}): give it once`,
    );
  const password = passwords[0]?.[1];
  if (username !== undefined && password === undefined)
    throw invalid(`user ${JSON.stringify(username)} needs a password: ${scheme}://user:password@host:port`);
  const numeric: Record<string, number> = {};
  for (const name of INTEGER_PARAMS) {
    if (params[name] === undefined) continue;
    const n = Number(params[name]);
    if (!Number.isSafeInteger(n)) throw invalid(`${name} must be an integer`);
    numeric[name] = n;
  }
  const tlsFiles = TLS_PARAMS.filter((name) => params[name] !== undefined);
  if (scheme === 'redis' && tlsFiles.length > 0)
    throw invalid(`${tlsFiles.join(', ')} need TLS: use rediss://`);
  const tls: Record<string, string> = {};
  for (const name of tlsFiles) {
    try {
      tls[name] = await readFile(params[name]!, 'utf8');
    } catch (err) {
      throw invalid(`cannot read the ${name} file ${params[name]}: ${(err as Error).message}`);
    }
  }
  return {
    ...where,
    db,
    username,
    password,
    keyPrefix: params.keyPrefix,
    tls: scheme === 'rediss' ? tls : false,
    ...numeric,
  };
}
