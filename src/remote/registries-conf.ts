// registries.conf (version 2), read the way podman/containers-image reads it: which file, which
// drop-ins, how they override each other, which [[registry]] table applies to a reference (longest
// prefix, "*.example.com" subdomain wildcards), prefix -> location rewriting, and short-name
// resolution through [aliases] and unqualified-search-registries. Mirrors, credential helpers and
// short-name-mode are accepted in the file but not used by tsbuild.
import { readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse, TomlError } from 'smol-toml';
import { errnoCode, TsbuildError } from '../errors.js';
import { pathExists } from '../util/fs.js';
import { formatReference, isShortName, isValidRegistryHost, parseReference, splitReference } from './reference.js';
import type { ImageReference, RegistrySettings } from './types.js';

export interface RegistriesConf {
  unqualifiedSearch: string[];
  /**
   * Settings for the registry of a reference (matched by [[registry]] prefix/location: longest
   * prefix wins, matching host or host/namespace prefixes; wildcard "*.example.com" prefixes as in
   * containers-registries.conf(5)). `location` is the host after prefix -> location rewriting.
   */
  settingsFor(ref: ImageReference): RegistrySettings;
  /**
   * The reference to contact after [[registry]] prefix -> location rewriting (a location may carry
   * a namespace, so the repository can change too); `ref` itself when no table rewrites it.
   */
  rewrite(ref: ImageReference): ImageReference;
  /**
   * Candidates for a short name: [alias] if one matches, else each unqualified-search registry in
   * order (docker.io gets library/ for one-component names). Empty when none is configured. The
   * name's tag or digest is carried over. A fully qualified name yields just itself.
   */
  resolveShortName(name: string): ImageReference[];
}

export interface LoadRegistriesConfOptions {
  env?: NodeJS.ProcessEnv;
  /** The user's home ($HOME/.config/containers/registries.conf is preferred over the system file). */
  home?: string;
  /** The system file, default /etc/containers/registries.conf (tests point it elsewhere). */
  systemPath?: string;
}

interface RegistryTable {
  prefix: string;
  /** Empty only for wildcard prefixes, which then select settings without rewriting. */
  location: string;
  insecure: boolean;
  blocked: boolean;
}

/** One file's contribution; `search` is undefined when the file does not set the key, so it does not override. */
interface ConfFragment {
  search?: string[];
  registries: RegistryTable[];
  /** An empty value resets an alias set by an earlier file (as containers/image does). */
  aliases: Map<string, string>;
}

const SYSTEM_REGISTRIES_CONF = '/etc/containers/registries.conf';
const USER_REGISTRIES_CONF = path.join('.config', 'containers', 'registries.conf');

/**
 * Loads the configuration podman would use: CONTAINERS_REGISTRIES_CONF alone when set (no drop-ins,
 * so the variable is a complete, hermetic override); else $HOME/.config/containers/registries.conf
 * when it exists, else /etc/containers/registries.conf; then `registries.conf.d/*.conf` beside that
 * file, in name order, later files overriding earlier ones. Missing files are empty configs.
 */
export async function loadRegistriesConf(options: LoadRegistriesConfOptions = {}): Promise<RegistriesConf> {
  const env = options.env ?? process.env;
  const files: string[] = [];
  const override = env.CONTAINERS_REGISTRIES_CONF;
  if (override) {
    files.push(override);
  } else {
    const home = options.home ?? env.HOME ?? os.homedir();
    const userFile = path.join(home, USER_REGISTRIES_CONF);
    const main = (await pathExists(userFile)) ? userFile : (options.systemPath ?? SYSTEM_REGISTRIES_CONF);
    files.push(main, ...dropIns(path.join(path.dirname(main), 'registries.conf.d')));
  }

  let search: string[] = [];
  const registries = new Map<string, RegistryTable>();
  const aliases = new Map<string, string>();
  for (const file of files) {
    const text = readText(file);
    if (text === undefined) continue;
    const fragment = parseRegistriesConf(file, text);
    if (fragment.search !== undefined) search = fragment.search;
    for (const table of fragment.registries) registries.set(table.prefix, table);
    for (const [name, value] of fragment.aliases) aliases.set(name, value);
  }
  return createRegistriesConf(search, [...registries.values()], aliases);
}

// Read synchronously: a few small files, read by every pull and push (util/fs.ts says why).
function readText(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    const code = errnoCode(err);
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw new TsbuildError('IO', `${file}: cannot read registries configuration (${code ?? 'error'})`, { cause: err });
  }
}

function dropIns(dir: string): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (err) {
    const code = errnoCode(err);
    if (code === 'ENOENT' || code === 'ENOTDIR') return [];
    throw new TsbuildError('IO', `${dir}: cannot list registries drop-ins (${code ?? 'error'})`, { cause: err });
  }
  // Plain code-unit order, not locale order, so "000-shortnames.conf" sorts the same everywhere.
  return names
    .filter((name) => name.endsWith('.conf'))
    .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
    .map((name) => path.join(dir, name));
}

function isTable(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Date);
}

/** Parses one registries.conf (or drop-in) text; every error names the file. */
function parseRegistriesConf(file: string, text: string): ConfFragment {
  const fail = (message: string): TsbuildError => new TsbuildError('PARSE', `${file}: ${message}`);
  let doc: Record<string, unknown>;
  try {
    doc = parse(text) as Record<string, unknown>;
  } catch (err) {
    // "file:line:column: what" on one line; smol-toml's message adds a multi-line code frame.
    if (err instanceof TomlError) {
      const what = (err.message.split('\n')[0] ?? '').replace(/^Invalid TOML document: /, '');
      throw new TsbuildError('PARSE', `${file}:${err.line}:${err.column}: ${what}`, { cause: err });
    }
    throw new TsbuildError('PARSE', `${file}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
  if ('registries' in doc) {
    throw fail(
      'registries.conf version 1 ([registries.search], [registries.insecure], [registries.block]) is not supported; ' +
        'use version 2 (unqualified-search-registries and [[registry]] tables)',
    );
  }

  const fragment: ConfFragment = { registries: [], aliases: new Map() };

  const search = doc['unqualified-search-registries'];
  if (search !== undefined) {
    if (!Array.isArray(search) || !search.every((s): s is string => typeof s === 'string')) {
      throw fail('unqualified-search-registries must be an array of strings');
    }
    for (const host of search) {
      if (!isValidRegistryHost(host)) throw fail(`unqualified-search-registries: "${host}" is not a registry host[:port]`);
    }
    fragment.search = [...search];
  }

  const tables = doc.registry;
  if (tables !== undefined) {
    if (!Array.isArray(tables)) throw fail('registry must be an array of tables ([[registry]])');
    const seen = new Set<string>();
    for (const [index, raw] of tables.entries()) {
      const table = parseRegistryTable(raw, (message) => fail(`[[registry]] #${index + 1}: ${message}`));
      if (seen.has(table.prefix)) throw fail(`[[registry]] prefix "${table.prefix}" is defined more than once`);
      seen.add(table.prefix);
      fragment.registries.push(table);
    }
  }

  const aliases = doc.aliases;
  if (aliases !== undefined) {
    if (!isTable(aliases)) throw fail('aliases must be a table ([aliases])');
    for (const [name, value] of Object.entries(aliases)) {
      if (typeof value !== 'string') throw fail(`alias "${name}" must be a string`);
      validateAliasName(name, fail);
      if (value !== '') validateAliasValue(name, value, fail);
      fragment.aliases.set(name, value);
    }
  }
  return fragment;
}

function parseRegistryTable(raw: unknown, fail: (message: string) => TsbuildError): RegistryTable {
  if (!isTable(raw)) throw fail('must be a table');
  const str = (key: string): string => {
    const value = raw[key];
    if (value === undefined) return '';
    if (typeof value !== 'string') throw fail(`${key} must be a string`);
    return value;
  };
  const bool = (key: string): boolean => {
    const value = raw[key];
    if (value === undefined) return false;
    if (typeof value !== 'boolean') throw fail(`${key} must be true or false`);
    return value;
  };
  // Trailing slashes are tolerated, as containers/image does, so "quay.io/ns/" means "quay.io/ns".
  const location = trimLocation(str('location'), 'location', fail);
  let prefix = trimLocation(str('prefix'), 'prefix', fail);
  if (prefix === '') {
    if (location === '') throw fail('both prefix and location are unset');
    prefix = location;
  }
  if (prefix.includes('*')) {
    if (!/^\*\.[^*/:@]+$/.test(prefix)) {
      throw fail(`wildcard prefix "${prefix}" must have the form *.example.com (no path, port, tag or other wildcard)`);
    }
  } else if (location === '') {
    throw fail(`location is unset and prefix "${prefix}" is not a wildcard (*.example.com)`);
  }
  return { prefix, location, insecure: bool('insecure'), blocked: bool('blocked') };
}

function trimLocation(value: string, key: string, fail: (message: string) => TsbuildError): string {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(value)) throw fail(`${key} "${value}": URI schemes are not supported`);
  return value.replace(/\/+$/, '');
}

function validateAliasName(name: string, fail: (message: string) => TsbuildError): void {
  const parts = splitReference(name);
  if (parts.tag !== undefined || parts.digest !== undefined) throw fail(`alias "${name}": a short name must not carry a tag or digest`);
  if (!isShortName(name)) throw fail(`alias "${name}": must be a short name (no registry)`);
  try {
    parseReference(name);
  } catch (err) {
    throw fail(`alias "${name}": ${err instanceof Error ? err.message : String(err)}`);
  }
}

function validateAliasValue(name: string, value: string, fail: (message: string) => TsbuildError): void {
  const parts = splitReference(value);
  if (parts.tag !== undefined || parts.digest !== undefined) throw fail(`alias "${name}": "${value}" must not carry a tag or digest`);
  if (isShortName(value)) throw fail(`alias "${name}": "${value}" must include a registry`);
  try {
    parseReference(value);
  } catch (err) {
    throw fail(`alias "${name}": ${err instanceof Error ? err.message : String(err)}`);
  }
}

/**
 * Where the prefix match of `name` ends, or -1. A plain prefix must be followed by the end, '/' or
 * '@', or by ':' when the prefix already has a path (then ':' starts a tag); containers/image also
 * lets "example.com:5000" match "example.com", which its docs call unintended, so we do not.
 * "*.example.com" matches any subdomain (any depth) of example.com, but not example.com itself.
 */
function matchPrefix(name: string, prefix: string): number {
  if (prefix.startsWith('*.')) {
    // Only the host (without its port) is compared, so the wildcard never matches inside a path.
    const host = /^[^/@:]*/.exec(name)?.[0] ?? '';
    const suffix = prefix.slice(1);
    return host.length > suffix.length && host.endsWith(suffix) ? host.length : -1;
  }
  if (!name.startsWith(prefix)) return -1;
  const end = prefix.length;
  const next = name[end];
  if (next === undefined || next === '/' || next === '@') return end;
  if (next === ':' && prefix.includes('/')) return end;
  return -1;
}

function createRegistriesConf(search: string[], tables: RegistryTable[], aliases: Map<string, string>): RegistriesConf {
  const findTable = (ref: ImageReference): { table: RegistryTable; end: number } | undefined => {
    const name = formatReference(ref);
    let best: { table: RegistryTable; end: number } | undefined;
    for (const table of tables) {
      const end = matchPrefix(name, table.prefix);
      if (end !== -1 && (best === undefined || table.prefix.length > best.table.prefix.length)) best = { table, end };
    }
    return best;
  };

  const rewrite = (ref: ImageReference): ImageReference => {
    const found = findTable(ref);
    if (found === undefined || found.table.location === '') return ref;
    const name = formatReference(ref);
    const rewritten = found.table.location + name.slice(found.end);
    try {
      return parseReference(rewritten);
    } catch (err) {
      throw new TsbuildError(
        'INVALID_ARGUMENT',
        `registries.conf [[registry]] prefix "${found.table.prefix}" rewrites "${name}" to the invalid reference "${rewritten}"`,
        { cause: err },
      );
    }
  };

  return {
    unqualifiedSearch: [...search],
    rewrite,
    settingsFor(ref) {
      const found = findTable(ref);
      if (found === undefined) return { insecure: false, blocked: false, location: ref.registry };
      return { insecure: found.table.insecure, blocked: found.table.blocked, location: rewrite(ref).registry };
    },
    resolveShortName(name) {
      if (!isShortName(name)) return [parseReference(name)];
      const parsed = parseReference(name); // validates the whole name, tag and digest first
      const parts = splitReference(name);
      const suffix = (parts.tag !== undefined ? `:${parts.tag}` : '') + (parts.digest !== undefined ? `@${parts.digest}` : '');
      const alias = aliases.get(parts.name);
      if (alias) {
        const target = parseReference(alias);
        const ref: ImageReference = { registry: target.registry, repository: target.repository };
        if (parsed.tag !== undefined) ref.tag = parsed.tag;
        if (parsed.digest !== undefined) ref.digest = parsed.digest;
        return [ref];
      }
      return search.map((registry) => parseReference(`${registry}/${parts.name}${suffix}`));
    },
  };
}
