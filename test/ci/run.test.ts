/**
 * `.ci/run`'s preflight: before the tests run, every external program the suite executes is
 * checked, and a missing one is named with the Debian package that provides it.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
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
    env: { PATH: bin, ETCD_BIN: join(bin, 'etcd'), CHROMIUM_BIN: join(bin, 'chromium'), PG_BIN: bin },
  });
}

/** Every program the suite executes (.ci/run's TOOLS). */
const SUITE_TOOLS = [
  'etcd',
  'etcdctl',
  'chromium',
  'openssl',
  'prometheus',
  'promtool',
  'redis-server',
  'postgres',
] as const;

describe('.ci/run check_tools', () => {
  it('passes when every program the suite runs is present', () => {
    const r = checkTools(binDir(SUITE_TOOLS));
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });

  it('negative control: without etcdctl it fails and names the package etcd-client', () => {
    const r = checkTools(binDir(SUITE_TOOLS.filter((tool) => tool !== 'etcdctl')));
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
      ['promtool', 'prometheus'],
      ['redis-server', 'redis-server'],
    ])
      expect(r.stderr).toContain(`${tool} (Debian package ${pkg})`);
  });
});

/**
 * Runs .ci/run as CI would (CI=true, stdin a pipe nobody writes to) on a machine where etcdctl
 * is missing, with stubs for apt-get (which "installs" a package by adding its stub program) and
 * npm; resolves with what each was asked.
 */
function runAsCi(o: { lists: boolean; failFirstInstall: boolean; absent?: readonly string[] }) {
  const absent = new Set(o.absent ?? ['etcdctl']);
  const bin = binDir([...SUITE_TOOLS, 'stress-ng'].filter((tool) => !absent.has(tool)));
  const log = join(bin, 'calls.log');
  const lists = join(bin, 'lists');
  mkdirSync(lists);
  if (o.lists)
    writeFileSync(join(lists, 'deb.debian.org_debian_dists_bookworm_main_binary-amd64_Packages'), '');
  const stub = (name: string, body: string) => {
    writeFileSync(join(bin, name), `#!/bin/bash\n${body}\n`);
    chmodSync(join(bin, name), 0o755);
  };
  stub(
    'fake-apt-get',
    `echo "apt-get $* stdin=$(readlink /proc/self/fd/0) frontend=$DEBIAN_FRONTEND" >> "${log}"
if [[ " $* " == *" install "* ]]; then
  if [ -n "${o.failFirstInstall ? 'yes' : ''}" ] && [ ! -e "${bin}/failed-once" ]; then touch "${bin}/failed-once"; exit 100; fi
  for p in "$@"; do [ "$p" = etcd-client ] && printf '#!/bin/sh\\n' > "${bin}/etcdctl" && chmod +x "${bin}/etcdctl"; done
fi
exit 0`,
  );
  stub('npm', `echo "npm $* stdin=$(readlink /proc/self/fd/0)" >> "${log}"`);
  // Only the system programs the script and the stubs use, so that what this machine happens to
  // have installed (an etcdctl in /usr/bin) cannot leak into the machine the test stands for.
  const system = binDir([]);
  for (const name of ['id', 'env', 'dirname', 'readlink', 'touch', 'chmod', 'sort'])
    symlinkSync(
      execFileSync('/bin/sh', ['-c', `command -v ${name}`], { encoding: 'utf8' }).trim(),
      join(system, name),
    );
  const r = spawnSync('/bin/bash', [RUN], {
    encoding: 'utf8',
    stdio: ['pipe', 'pipe', 'pipe'],
    env: {
      PATH: `${bin}:${system}`,
      CI: 'true',
      ETCD_BIN: join(bin, 'etcd'),
      CHROMIUM_BIN: join(bin, 'chromium'),
      PG_BIN: bin,
      APT_GET: join(bin, 'fake-apt-get'),
      APT_LISTS: lists,
    },
  });
  const calls = existsSync(log) ? readFileSync(log, 'utf8').trim().split('\n') : [];
  return { ...r, calls };
}

describe.skipIf(process.getuid?.() !== 0)('.ci/run as CI runs it (as root, apt-get stubbed)', () => {
  it('installs etcd-client without refreshing package lists it has, unattended, then runs npm', () => {
    const r = runAsCi({ lists: true, failFirstInstall: false });
    expect(r.status).toBe(0);
    expect(r.calls.filter((c) => c.startsWith('apt-get'))).toEqual([
      expect.stringMatching(
        /^apt-get -y -qq .*install --no-install-recommends etcd-client stdin=\/dev\/null frontend=noninteractive$/,
      ),
    ]);
    expect(r.calls.filter((c) => c.startsWith('npm'))).toEqual([
      'npm ci --no-audit --no-fund stdin=/dev/null',
      'npm run lint stdin=/dev/null',
      'npm test stdin=/dev/null',
    ]);
  });

  it('asks for a package once when it provides several missing programs (prometheus and promtool)', () => {
    const r = runAsCi({
      lists: true,
      failFirstInstall: false,
      absent: ['etcdctl', 'prometheus', 'promtool'],
    });
    const installs = r.calls.filter((c) => c.startsWith('apt-get') && c.includes(' install '));
    expect(installs).toHaveLength(1);
    const packages = / --no-install-recommends (.*) stdin=/.exec(installs[0]!)![1]!.split(' ');
    expect(packages.sort()).toEqual(['etcd-client', 'prometheus']);
  });

  it('refreshes the package lists only when there are none, or when an install fails on stale ones', () => {
    const fresh = runAsCi({ lists: false, failFirstInstall: false });
    expect(fresh.status).toBe(0);
    expect(
      fresh.calls.filter((c) => c.startsWith('apt-get')).map((c) => / (update|install) /.exec(c)?.[1]),
    ).toEqual(['update', 'install']);
    const stale = runAsCi({ lists: true, failFirstInstall: true });
    expect(stale.status).toBe(0);
    expect(
      stale.calls.filter((c) => c.startsWith('apt-get')).map((c) => / (update|install) /.exec(c)?.[1]),
    ).toEqual(['install', 'update', 'install']);
  });
});
