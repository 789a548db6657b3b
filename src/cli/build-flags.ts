// Parsing of the bud flags that shape the result rather than the steps: build args (and their
// files), the reproducibility epoch, annotations, the final config edits, the cache TTL and --output.
import { readFile } from 'node:fs/promises';
import type { OutputTarget } from '../build/output.js';
import { parseDuration } from '../containerfile/duration.js';
import { TsbuildError, errnoCode } from '../errors.js';

/**
 * --build-arg-file files, then --build-arg (which wins): KEY=VALUE lines; blank lines and lines
 * starting with # are skipped; KEY alone takes the value from the environment, as --build-arg does.
 */
export async function collectBuildArgs(files: readonly string[], args: readonly string[]): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const file of files) {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') throw new TsbuildError('NOT_FOUND', `--build-arg-file ${file}: no such file`);
      throw err;
    }
    text.split(/\r?\n/).forEach((raw, i) => {
      const line = raw.trim();
      if (line === '' || line.startsWith('#')) return;
      addBuildArg(out, line, `${file}:${i + 1}`);
    });
  }
  for (const v of args) addBuildArg(out, v, `--build-arg "${v}"`);
  return out;
}

function addBuildArg(out: Map<string, string>, v: string, where: string): void {
  const eq = v.indexOf('=');
  if (eq === 0) throw new TsbuildError('INVALID_ARGUMENT', `${where}: expected KEY=VALUE`);
  if (eq < 0) {
    const fromEnv = process.env[v];
    if (fromEnv !== undefined) out.set(v, fromEnv);
  } else {
    out.set(v.slice(0, eq), v.slice(eq + 1));
  }
}

/**
 * The epoch of a reproducible build: --timestamp (buildah), else SOURCE_DATE_EPOCH as a build arg or
 * from the environment (BuildKit, buildx). The environment's value also becomes the build arg, as
 * buildx passes it, so `ARG SOURCE_DATE_EPOCH` sees it.
 */
export function buildEpoch(timestamp: number | undefined, buildArgs: Map<string, string>): number | undefined {
  const fromEnv = process.env.SOURCE_DATE_EPOCH;
  if (fromEnv !== undefined && fromEnv !== '' && !buildArgs.has('SOURCE_DATE_EPOCH')) buildArgs.set('SOURCE_DATE_EPOCH', fromEnv);
  if (timestamp !== undefined) return checkEpoch(String(timestamp), '--timestamp');
  const sde = buildArgs.get('SOURCE_DATE_EPOCH');
  return sde === undefined || sde === '' ? undefined : checkEpoch(sde, 'SOURCE_DATE_EPOCH');
}

function checkEpoch(value: string, what: string): number {
  if (!/^\d+$/.test(value.trim())) throw new TsbuildError('INVALID_ARGUMENT', `${what} "${value}": expected seconds since the epoch (a whole number)`);
  return Number(value.trim());
}

/** --env: KEY=VALUE, or KEY alone for its value in tsbuild's own environment (nothing when unset, as buildah). */
export function parseEnvFlags(values: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const v of values) {
    const eq = v.indexOf('=');
    if (eq === 0) throw new TsbuildError('INVALID_ARGUMENT', `--env "${v}": expected KEY=VALUE`);
    const [key, value] = eq > 0 ? [v.slice(0, eq), v.slice(eq + 1)] : [v, process.env[v]];
    if (value !== undefined) out[key] = value;
  }
  return out;
}

/** --jobs N: at most N stages at once; 0 means no limit (buildah). */
export function parseJobs(value: number | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!Number.isInteger(value) || value < 0) throw new TsbuildError('INVALID_ARGUMENT', `--jobs ${value}: expected a whole number (0: no limit)`);
  return value === 0 ? Infinity : value;
}

/** --cache-ttl in Go's duration syntax (buildah's), as milliseconds. */
export function parseCacheTtl(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const ns = parseDuration(value.trim());
  if (ns === undefined || ns < 0) throw new TsbuildError('INVALID_ARGUMENT', `--cache-ttl "${value}": expected a duration such as 30m, 12h or 1h30m`);
  return ns / 1e6;
}

export async function outputTarget(values: string[]): Promise<OutputTarget | undefined> {
  if (values.length === 0) return undefined;
  if (values.length > 1) throw new TsbuildError('INVALID_ARGUMENT', `--output given ${values.length} times; only one output is supported`);
  const { parseOutputSpec } = await import('../build/output.js');
  const spec = parseOutputSpec(values[0]!);
  if (spec.type !== 'tar' || spec.dest !== '-') return spec;
  if (process.stdout.isTTY) throw new TsbuildError('INVALID_ARGUMENT', '--output: refusing to write a tar archive to a terminal', { hint: 'redirect standard output, or give dest=FILE' });
  return { ...spec, stream: process.stdout };
}
