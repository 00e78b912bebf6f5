/**
 * `.ci/run`'s preflight: before the tests run, every external program the suite executes is
 * checked, and a missing one is named with the Debian package that provides it.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/tmp.js';

const RUN = join(import.meta.dirname, '../../.ci/run');
const dirs: ReturnType<typeof tempDir>[] = [];
afterEach(() => dirs.splice(0).forEach((d) => d.cleanup()));

/** A directory of stub executables, to stand for a machine where exactly these are installed. */
function binDir(names: readonly string[]): string {
  const tmp = tempDir('tenure-ci-');
  dirs.push(tmp);
  for (const name of names) {
    const path = join(tmp.dir, name);
    writeFileSync(path, '#!/bin/sh\nexit 0\n');
    chmodSync(path, 0o755);
  }
  return tmp.dir;
}

/** Sources .ci/run (which must not run anything when sourced) and calls its check. */
function checkTools(bin: string) {
  return spawnSync('/bin/bash', ['-c', `source "${RUN}" && check_tools`], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    // The suite starts etcd and chromium by absolute path: point those at the stubs too.
    env: { PATH: bin, ETCD_BIN: join(bin, 'etcd'), CHROMIUM_BIN: join(bin, 'chromium') },
  });
}

describe('.ci/run check_tools', () => {
  it('passes when every program the suite runs is present', () => {
    const r = checkTools(binDir(['etcd', 'etcdctl', 'chromium', 'openssl']));
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });

  it('negative control: without etcdctl it fails and names the package etcd-client', () => {
    const r = checkTools(binDir(['etcd', 'chromium', 'openssl']));
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/etcdctl .*etcd-client/);
    expect(r.stderr).not.toMatch(/openssl .*not found/);
  });

  it('names every missing program, not only the first', () => {
    const r = checkTools(binDir([]));
    expect(r.status).not.toBe(0);
    for (const [tool, pkg] of [
      ['etcd', 'etcd-server'],
      ['etcdctl', 'etcd-client'],
      ['chromium', 'chromium'],
      ['openssl', 'openssl'],
    ])
      expect(r.stderr).toContain(`${tool} (Debian package ${pkg})`);
  });
});
