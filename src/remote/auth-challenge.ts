// Registry authentication pieces that need no network: parsing WWW-Authenticate challenges
// (RFC 7235: several challenges per header, quoted values with commas and escapes) and the bearer
// token cache, keyed by what a token grants so that a pull,push token also serves later pulls.

export interface Challenge {
  /** Lower-cased: "basic", "bearer". */
  scheme: string;
  /** Parameter names lower-cased; values unquoted. */
  params: Record<string, string>;
}

const TOKEN_CHAR = /[!#$%&'*+\-.^_`|~0-9A-Za-z]/;

/** Parses one or more WWW-Authenticate header values into challenges, in order. Malformed parts are skipped. */
export function parseChallenges(headers: string | readonly string[] | undefined): Challenge[] {
  if (headers === undefined) return [];
  const values = typeof headers === 'string' ? [headers] : headers;
  return values.flatMap(parseOne);
}

function parseOne(input: string): Challenge[] {
  const out: Challenge[] = [];
  let i = 0;
  const skip = (chars: string): void => {
    while (i < input.length && chars.includes(input[i]!)) i++;
  };
  const token = (): string => {
    const start = i;
    while (i < input.length && TOKEN_CHAR.test(input[i]!)) i++;
    return input.slice(start, i);
  };
  // Unquoted values should be tokens, but registries send realm=https://... unquoted too: take up to the next comma.
  const bare = (): string => {
    const start = i;
    while (i < input.length && input[i] !== ',' && input[i] !== ' ' && input[i] !== '\t') i++;
    return input.slice(start, i);
  };
  const quoted = (): string => {
    // Called on the opening quote; a missing closing quote takes the rest of the input.
    i++;
    let value = '';
    while (i < input.length && input[i] !== '"') {
      if (input[i] === '\\' && i + 1 < input.length) i++;
      value += input[i];
      i++;
    }
    i++;
    return value;
  };

  while (i < input.length) {
    skip(' \t,');
    const scheme = token();
    if (!scheme) {
      // Not a token: skip one character so garbage cannot loop forever.
      i++;
      continue;
    }
    const challenge: Challenge = { scheme: scheme.toLowerCase(), params: {} };
    out.push(challenge);
    skip(' \t');
    for (;;) {
      skip(' \t,');
      const start = i;
      const name = token();
      skip(' \t');
      if (!name || input[i] !== '=') {
        // Either the end, or the next challenge's scheme ("..., Basic realm=...").
        i = start;
        break;
      }
      i++;
      skip(' \t');
      if (input[i] === '=' || i >= input.length || input[i] === ',') {
        // token68 ("Negotiate abc==") rather than a parameter: keep it whole.
        while (i < input.length && input[i] === '=') i++;
        challenge.params.token68 = input.slice(start, i).trim();
        continue;
      }
      const value = input[i] === '"' ? quoted() : bare();
      challenge.params[name.toLowerCase()] = value;
    }
    if (i < input.length && !TOKEN_CHAR.test(input[i]!) && input[i] !== ',' && input[i] !== ' ') i++;
  }
  return out;
}

/**
 * Splits scopes ("repository:team/app:pull,push") into single grants ("repository:team/app:pull",
 * "repository:team/app:push"), so that tokens can be compared by what they cover.
 */
export function scopeGrants(scopes: readonly string[]): string[] {
  const grants = new Set<string>();
  for (const scope of scopes) {
    for (const part of scope.split(' ')) {
      if (!part) continue;
      // The resource name may contain ':' (e.g. a registry:catalog:*), so split at the first and last.
      const first = part.indexOf(':');
      const last = part.lastIndexOf(':');
      if (first === -1 || first === last) {
        grants.add(part);
        continue;
      }
      const resource = part.slice(0, last);
      for (const action of part.slice(last + 1).split(',')) {
        if (action) grants.add(`${resource}:${action}`);
      }
    }
  }
  return [...grants].sort();
}

interface CachedToken {
  realm: string;
  grants: Set<string>;
  token: string;
  expiresAt: number;
}

/** At most this much of a token's life is given up, so that a token never expires in flight. */
const MAX_SLACK_MS = 10_000;
export const DEFAULT_TOKEN_LIFETIME_S = 60;

/** Bearer tokens of one client, per realm+service, reused while they cover the grants asked for. */
export class TokenCache {
  readonly #entries: CachedToken[] = [];

  get(realm: string, scopes: readonly string[], now = Date.now()): string | undefined {
    const wanted = scopeGrants(scopes);
    this.#prune(now);
    return this.#entries.find((e) => e.realm === realm && wanted.every((g) => e.grants.has(g)))?.token;
  }

  put(realm: string, scopes: readonly string[], token: string, expiresInSeconds: number | undefined, now = Date.now()): void {
    const lifetime = (expiresInSeconds !== undefined && expiresInSeconds > 0 ? expiresInSeconds : DEFAULT_TOKEN_LIFETIME_S) * 1000;
    const slack = Math.min(MAX_SLACK_MS, lifetime / 2);
    this.#entries.push({ realm, grants: new Set(scopeGrants(scopes)), token, expiresAt: now + lifetime - slack });
  }

  /** Drops a token the registry refused, so that the next request fetches a new one. */
  forget(token: string): void {
    for (let i = this.#entries.length - 1; i >= 0; i--) {
      if (this.#entries[i]!.token === token) this.#entries.splice(i, 1);
    }
  }

  #prune(now: number): void {
    for (let i = this.#entries.length - 1; i >= 0; i--) {
      if (this.#entries[i]!.expiresAt <= now) this.#entries.splice(i, 1);
    }
  }
}
