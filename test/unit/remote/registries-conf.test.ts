import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TsbuildError } from '../../../src/errors.js';
import { parseReference } from '../../../src/remote/reference.js';
import { loadRegistriesConf } from '../../../src/remote/registries-conf.js';

let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'tsbuild-regconf-'));
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Writes `text` to `name` under the temp dir and returns its path. */
async function file(name: string, text: string): Promise<string> {
  const p = path.join(dir, name);
  await mkdir(path.dirname(p), { recursive: true });
  await writeFile(p, text);
  return p;
}

/** Loads only `conf` (CONTAINERS_REGISTRIES_CONF), never this machine's files. */
async function load(text: string) {
  return loadRegistriesConf({ env: { CONTAINERS_REGISTRIES_CONF: await file('registries.conf', text) }, home: dir });
}

async function loadError(promise: Promise<unknown>): Promise<TsbuildError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(TsbuildError);
  return err as TsbuildError;
}

describe('unqualified-search-registries', () => {
  it('yields one candidate per search registry, in order, with library/ only on docker.io', async () => {
    const conf = await load('unqualified-search-registries = ["quay.io", "docker.io", "localhost:5000"]\n');
    expect(conf.unqualifiedSearch).toEqual(['quay.io', 'docker.io', 'localhost:5000']);
    expect(conf.resolveShortName('busybox')).toEqual([
      { registry: 'quay.io', repository: 'busybox', tag: 'latest' },
      { registry: 'docker.io', repository: 'library/busybox', tag: 'latest' },
      { registry: 'localhost:5000', repository: 'busybox', tag: 'latest' },
    ]);
  });

  it('keeps the tag or digest of the short name', async () => {
    const conf = await load('unqualified-search-registries = ["docker.io"]\n');
    const digest = `sha256:${'b'.repeat(64)}`;
    expect(conf.resolveShortName('team/app:2')).toEqual([{ registry: 'docker.io', repository: 'team/app', tag: '2' }]);
    expect(conf.resolveShortName(`alpine@${digest}`)).toEqual([{ registry: 'docker.io', repository: 'library/alpine', digest }]);
  });

  it('returns no candidates when nothing is configured', async () => {
    const conf = await load('');
    expect(conf.unqualifiedSearch).toEqual([]);
    expect(conf.resolveShortName('busybox')).toEqual([]);
  });

  it('returns a fully qualified name as its only candidate', async () => {
    const conf = await load('unqualified-search-registries = ["quay.io"]\n');
    expect(conf.resolveShortName('localhost:5000/app:1')).toEqual([{ registry: 'localhost:5000', repository: 'app', tag: '1' }]);
  });

  it('rejects an invalid short name with the reference error', async () => {
    const conf = await load('unqualified-search-registries = ["quay.io"]\n');
    expect(() => conf.resolveShortName('BusyBox')).toThrow('repository name must be lowercase');
  });

  it('rejects a search entry that is not a host', async () => {
    const err = await loadError(load('unqualified-search-registries = ["https://quay.io"]\n'));
    expect(err.code).toBe('PARSE');
    expect(err.message).toContain('"https://quay.io" is not a registry host[:port]');
  });
});

describe('[aliases]', () => {
  it('uses an alias instead of the search registries, keeping the tag', async () => {
    const conf = await load(
      'unqualified-search-registries = ["docker.io"]\n[aliases]\n"fedora" = "registry.fedoraproject.org/fedora"\n"tools" = "docker.io/team-tools"\n',
    );
    expect(conf.resolveShortName('fedora:40')).toEqual([{ registry: 'registry.fedoraproject.org', repository: 'fedora', tag: '40' }]);
    expect(conf.resolveShortName('tools')).toEqual([{ registry: 'docker.io', repository: 'library/team-tools', tag: 'latest' }]);
    expect(conf.resolveShortName('busybox')).toEqual([{ registry: 'docker.io', repository: 'library/busybox', tag: 'latest' }]);
  });

  it('rejects an alias value without a registry, or with a tag', async () => {
    expect((await loadError(load('[aliases]\n"a" = "team/a"\n'))).message).toContain('"team/a" must include a registry');
    expect((await loadError(load('[aliases]\n"a" = "quay.io/a:1"\n'))).message).toContain('must not carry a tag or digest');
  });

  it('rejects an alias name with a registry', async () => {
    expect((await loadError(load('[aliases]\n"quay.io/a" = "quay.io/a"\n'))).message).toContain('must be a short name');
  });
});

describe('[[registry]] settings', () => {
  const tables = `
[[registry]]
location = "registry.example.com"
insecure = true

[[registry]]
prefix = "registry.example.com/secret"
location = "registry.example.com/secret"
blocked = true

[[registry]]
location = "localhost:5000"
insecure = true
`;

  it('defaults to secure, allowed and the reference\'s own registry', async () => {
    const conf = await load(tables);
    expect(conf.settingsFor(parseReference('quay.io/a/b'))).toEqual({ insecure: false, blocked: false, location: 'quay.io' });
  });

  it('applies a host-level table to every repository on the host', async () => {
    const conf = await load(tables);
    expect(conf.settingsFor(parseReference('registry.example.com/team/app:1'))).toEqual({
      insecure: true,
      blocked: false,
      location: 'registry.example.com',
    });
    expect(conf.settingsFor(parseReference('localhost:5000/app')).insecure).toBe(true);
  });

  it('lets the longest matching prefix win', async () => {
    const conf = await load(tables);
    // The namespace table has its own (default) insecure=false: tables do not inherit from shorter prefixes.
    expect(conf.settingsFor(parseReference('registry.example.com/secret/app'))).toEqual({
      insecure: false,
      blocked: true,
      location: 'registry.example.com',
    });
  });

  it('matches prefixes on component boundaries only', async () => {
    const conf = await load(tables);
    expect(conf.settingsFor(parseReference('registry.example.com/secretive/app')).blocked).toBe(false);
    expect(conf.settingsFor(parseReference('registry.example.community/app')).insecure).toBe(false);
    // A host prefix does not cover the same host on another port.
    expect(conf.settingsFor(parseReference('registry.example.com:5001/app')).insecure).toBe(false);
  });

  it('matches a prefix that names one repository and tag', async () => {
    const conf = await load('[[registry]]\nprefix = "quay.io/team/app:1"\nlocation = "quay.io/team/app:1"\nblocked = true\n');
    expect(conf.settingsFor(parseReference('quay.io/team/app:1')).blocked).toBe(true);
    expect(conf.settingsFor(parseReference('quay.io/team/app:2')).blocked).toBe(false);
  });

  it('rewrites a prefix to its location', async () => {
    const conf = await load('[[registry]]\nprefix = "docker.io/library"\nlocation = "mirror.local:5000/hub"\ninsecure = true\n');
    const ref = parseReference('busybox:1.36');
    expect(conf.settingsFor(ref)).toEqual({ insecure: true, blocked: false, location: 'mirror.local:5000' });
    expect(conf.rewrite(ref)).toEqual({ registry: 'mirror.local:5000', repository: 'hub/busybox', tag: '1.36' });
    expect(conf.rewrite(parseReference('quay.io/x'))).toEqual(parseReference('quay.io/x'));
  });

  it('matches wildcard prefixes against subdomains at any depth, but not the domain itself', async () => {
    const conf = await load('[[registry]]\nprefix = "*.internal.example"\nblocked = true\n');
    expect(conf.settingsFor(parseReference('a.internal.example/app'))).toEqual({ insecure: false, blocked: true, location: 'a.internal.example' });
    expect(conf.settingsFor(parseReference('b.a.internal.example:5000/app')).blocked).toBe(true);
    expect(conf.settingsFor(parseReference('internal.example/app')).blocked).toBe(false);
    expect(conf.settingsFor(parseReference('quay.io/internal.example/app')).blocked).toBe(false);
  });

  it('prefers a longer explicit prefix over a wildcard', async () => {
    const conf = await load(
      '[[registry]]\nprefix = "*.example.com"\nblocked = true\n[[registry]]\nlocation = "ok.example.com"\ninsecure = true\n',
    );
    expect(conf.settingsFor(parseReference('ok.example.com/a'))).toEqual({ insecure: true, blocked: false, location: 'ok.example.com' });
    expect(conf.settingsFor(parseReference('no.example.com/a')).blocked).toBe(true);
  });

  it('accepts mirrors and other keys without using them', async () => {
    const conf = await load(
      'short-name-mode = "enforcing"\n[[registry]]\nlocation = "docker.io"\n[[registry.mirror]]\nlocation = "mirror.local"\n',
    );
    expect(conf.settingsFor(parseReference('busybox'))).toEqual({ insecure: false, blocked: false, location: 'docker.io' });
  });

  it('rejects invalid tables with the file name', async () => {
    expect((await loadError(load('[[registry]]\ninsecure = true\n'))).message).toMatch(/registries\.conf: \[\[registry\]\] #1: both prefix and location are unset/);
    expect((await loadError(load('[[registry]]\nlocation = "https://quay.io"\n'))).message).toContain('URI schemes are not supported');
    expect((await loadError(load('[[registry]]\nlocation = "quay.io"\ninsecure = "yes"\n'))).message).toContain('insecure must be true or false');
    expect((await loadError(load('[[registry]]\nprefix = "quay.io/a"\n'))).message).toContain('location is unset');
    expect((await loadError(load('[[registry]]\nlocation = "quay.io"\n[[registry]]\nlocation = "quay.io/"\n'))).message).toContain(
      'prefix "quay.io" is defined more than once',
    );
  });
});

describe('file selection and drop-ins', () => {
  it('reads only CONTAINERS_REGISTRIES_CONF when set', async () => {
    const home = path.join(dir, 'home');
    await file('home/.config/containers/registries.conf', 'unqualified-search-registries = ["home.example"]\n');
    await file('override/registries.conf.d/10.conf', 'unqualified-search-registries = ["dropin.example"]\n');
    const override = await file('override/registries.conf', 'unqualified-search-registries = ["override.example"]\n');
    const conf = await loadRegistriesConf({ env: { CONTAINERS_REGISTRIES_CONF: override }, home });
    expect(conf.unqualifiedSearch).toEqual(['override.example']);
  });

  it('treats a missing file as an empty configuration', async () => {
    const conf = await loadRegistriesConf({ env: { CONTAINERS_REGISTRIES_CONF: path.join(dir, 'nope.conf') }, home: dir });
    expect(conf.unqualifiedSearch).toEqual([]);
    expect(conf.resolveShortName('busybox')).toEqual([]);
    expect(conf.settingsFor(parseReference('busybox'))).toEqual({ insecure: false, blocked: false, location: 'docker.io' });
  });

  it('prefers $HOME/.config/containers/registries.conf over the system file', async () => {
    const system = await file('etc/registries.conf', 'unqualified-search-registries = ["system.example"]\n');
    await file('home/.config/containers/registries.conf', 'unqualified-search-registries = ["home.example"]\n');
    const conf = await loadRegistriesConf({ env: {}, home: path.join(dir, 'home'), systemPath: system });
    expect(conf.unqualifiedSearch).toEqual(['home.example']);
  });

  it('falls back to the system file and its drop-ins when the user has none', async () => {
    const system = await file('etc/registries.conf', 'unqualified-search-registries = ["system.example"]\n');
    await file('etc/registries.conf.d/000-shortnames.conf', '[aliases]\n"alpine" = "docker.io/library/alpine"\n');
    const conf = await loadRegistriesConf({ env: {}, home: path.join(dir, 'home'), systemPath: system });
    expect(conf.unqualifiedSearch).toEqual(['system.example']);
    expect(conf.resolveShortName('alpine')).toEqual([{ registry: 'docker.io', repository: 'library/alpine', tag: 'latest' }]);
  });

  it('applies drop-ins in name order: search list replaced, tables replaced by prefix, aliases merged', async () => {
    const main = path.join(dir, 'home/.config/containers/registries.conf');
    await file(
      'home/.config/containers/registries.conf',
      `unqualified-search-registries = ["a.example", "b.example"]
[[registry]]
location = "quay.io"
insecure = true
[[registry]]
location = "ghcr.io"
blocked = true
[aliases]
"one" = "quay.io/one"
"two" = "quay.io/two"
"gone" = "quay.io/gone"
`,
    );
    const d = 'home/.config/containers/registries.conf.d';
    await file(`${d}/20-late.conf`, 'unqualified-search-registries = ["late.example"]\n[aliases]\n"two" = "ghcr.io/two"\n');
    await file(`${d}/10-early.conf`, 'unqualified-search-registries = ["early.example"]\n[[registry]]\nlocation = "quay.io"\nblocked = true\n');
    await file(`${d}/15-aliases.conf`, '[aliases]\n"three" = "ghcr.io/three"\n"gone" = ""\n');
    await file(`${d}/99-ignored.txt`, 'this is not toml [[[');
    const conf = await loadRegistriesConf({ env: {}, home: path.join(dir, 'home'), systemPath: main });
    expect(conf.unqualifiedSearch).toEqual(['late.example']);
    // The quay.io table was replaced whole: insecure is back to its default.
    expect(conf.settingsFor(parseReference('quay.io/x'))).toEqual({ insecure: false, blocked: true, location: 'quay.io' });
    expect(conf.settingsFor(parseReference('ghcr.io/x')).blocked).toBe(true);
    expect(conf.resolveShortName('one')[0]?.registry).toBe('quay.io');
    expect(conf.resolveShortName('two')[0]?.registry).toBe('ghcr.io');
    expect(conf.resolveShortName('three')[0]?.registry).toBe('ghcr.io');
    // An empty alias value in a later file resets the alias: the search list applies again.
    expect(conf.resolveShortName('gone')).toEqual([{ registry: 'late.example', repository: 'gone', tag: 'latest' }]);
  });

  it('keeps the search list when a drop-in does not set it', async () => {
    await file('home/.config/containers/registries.conf', 'unqualified-search-registries = ["a.example"]\n');
    await file('home/.config/containers/registries.conf.d/50.conf', '[aliases]\n"x" = "quay.io/x"\n');
    const conf = await loadRegistriesConf({ env: {}, home: path.join(dir, 'home'), systemPath: path.join(dir, 'none') });
    expect(conf.unqualifiedSearch).toEqual(['a.example']);
  });

  it('reads drop-ins even when the main file is missing', async () => {
    await file('etc/registries.conf.d/000-shortnames.conf', '[aliases]\n"podman" = "quay.io/podman/stable"\n');
    const conf = await loadRegistriesConf({ env: {}, home: path.join(dir, 'home'), systemPath: path.join(dir, 'etc/registries.conf') });
    expect(conf.resolveShortName('podman')).toEqual([{ registry: 'quay.io', repository: 'podman/stable', tag: 'latest' }]);
  });
});

describe('parse errors', () => {
  it('rejects the v1 format', async () => {
    const err = await loadError(load('[registries.search]\nregistries = ["docker.io"]\n'));
    expect(err.code).toBe('PARSE');
    expect(err.message).toContain('registries.conf: registries.conf version 1');
    expect(err.message).toContain('is not supported');
  });

  it('names the file in a TOML syntax error', async () => {
    const p = await file('broken.conf', 'unqualified-search-registries = ["docker.io"\n');
    const err = await loadError(loadRegistriesConf({ env: { CONTAINERS_REGISTRIES_CONF: p }, home: dir }));
    expect(err.code).toBe('PARSE');
    expect(err.message).toBe(`${p}:2:1: expected comma or end of structure`);
  });

  it('names the drop-in that fails to parse', async () => {
    await file('home/.config/containers/registries.conf', '');
    await file('home/.config/containers/registries.conf.d/10-bad.conf', '[aliases\n');
    const err = await loadError(loadRegistriesConf({ env: {}, home: path.join(dir, 'home') }));
    expect(err.message).toMatch(/registries\.conf\.d\/10-bad\.conf:1:\d+: /);
  });

  it('rejects a search list of the wrong type', async () => {
    expect((await loadError(load('unqualified-search-registries = "docker.io"\n'))).message).toContain(
      'unqualified-search-registries must be an array of strings',
    );
  });
});
