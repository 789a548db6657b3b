// A minimal Docker token server (https://distribution.github.io/distribution/spec/auth/token/) for
// the test registries: it checks Basic credentials, issues RS256 JWTs the registry verifies through
// the `x5c` certificate in their header, and records every request so tests can assert the scopes a
// client asked for. Listens on 127.0.0.1 only.
import { createSign, randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface TokenRequest {
  /** The scope parameters as sent, e.g. ["repository:team/app:pull,push"]. */
  scope: string[];
  service: string;
  /** The user name the client offered (Basic auth, the POST form, or `account=`); absent when anonymous. */
  account?: string;
  /** True only when valid credentials were presented (and so the requested actions were granted). */
  authorized: boolean;
}

export interface TokenServerOptions {
  service: string;
  issuer: string;
  username: string;
  password: string;
  /** PEM private key that signs the JWTs. */
  keyPem: string;
  /** Base64 DER of the signing certificate, put in the JWT header's `x5c`. */
  certDerBase64: string;
}

export interface TokenServer {
  /** The realm to configure in the registry: http://127.0.0.1:PORT/token */
  realm: string;
  requests(): TokenRequest[];
  close(): Promise<void>;
}

interface Access {
  type: string;
  name: string;
  actions: string[];
}

/** "repository:team/app:pull,push" -> access entry. The name is everything between the first and last colon (it may hold a port). */
function parseScope(scope: string): Access | undefined {
  const first = scope.indexOf(':');
  const last = scope.lastIndexOf(':');
  if (first < 0 || last <= first) return undefined;
  const actions = scope.slice(last + 1).split(',').filter(Boolean);
  return { type: scope.slice(0, first), name: scope.slice(first + 1, last), actions };
}

function base64url(data: Buffer | string): string {
  return Buffer.from(data).toString('base64url');
}

function readBody(req: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

export async function startTokenServer(options: TokenServerOptions): Promise<TokenServer> {
  const log: TokenRequest[] = [];

  const sign = (account: string | undefined, service: string, access: Access[]): string => {
    const now = Math.floor(Date.now() / 1000);
    const header = { typ: 'JWT', alg: 'RS256', x5c: [options.certDerBase64] };
    const claims = {
      iss: options.issuer,
      sub: account ?? '',
      // A plain string: distribution 2.8 also accepts a list, but older releases only a string.
      aud: service,
      exp: now + 300,
      // A little in the past, so a token is usable at once even if the clocks disagree by a second.
      nbf: now - 10,
      iat: now,
      jti: randomUUID(),
      access,
    };
    const input = `${base64url(JSON.stringify(header))}.${base64url(JSON.stringify(claims))}`;
    const signature = createSign('RSA-SHA256').update(input).sign(options.keyPem);
    return `${input}.${base64url(signature)}`;
  };

  const handle = async (req: http.IncomingMessage, res: http.ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    if (url.pathname !== '/token' || (req.method !== 'GET' && req.method !== 'POST')) {
      res.writeHead(404, { 'content-type': 'application/json' }).end('{"errors":[{"code":"NOT_FOUND"}]}');
      return;
    }
    let service = url.searchParams.get('service') ?? '';
    let scope = url.searchParams.getAll('scope');
    let account = url.searchParams.get('account') ?? undefined;
    let user: string | undefined;
    let password: string | undefined;
    const authorization = req.headers.authorization;
    if (authorization?.toLowerCase().startsWith('basic ')) {
      const decoded = Buffer.from(authorization.slice(6).trim(), 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      user = colon < 0 ? decoded : decoded.slice(0, colon);
      password = colon < 0 ? '' : decoded.slice(colon + 1);
    }
    if (req.method === 'POST') {
      // The OAuth2 password grant some clients use instead of GET + Basic: scopes are space-separated.
      const form = new URLSearchParams(await readBody(req));
      service = form.get('service') ?? service;
      const formScope = form.get('scope');
      if (formScope) scope = formScope.split(' ').filter(Boolean);
      if (form.get('grant_type') === 'password') {
        user = form.get('username') ?? undefined;
        password = form.get('password') ?? '';
      }
    }
    if (user !== undefined) account = user;
    const presented = user !== undefined;
    const authorized = presented && user === options.username && password === options.password;
    log.push({ scope, service, ...(account !== undefined ? { account } : {}), authorized });

    if (presented && !authorized) {
      // Wrong credentials are refused here, as real token servers do; anonymous requests are not.
      res.writeHead(401, { 'content-type': 'application/json', 'www-authenticate': 'Basic realm="tsbuild-test-token"' });
      res.end(JSON.stringify({ errors: [{ code: 'UNAUTHORIZED', message: 'invalid username or password' }] }));
      return;
    }
    // Anonymous clients get a valid token with no access, so the registry itself answers 401
    // (insufficient_scope) — the path a client sees when pulling a private repository without login.
    const access = authorized ? scope.map(parseScope).filter((a): a is Access => a !== undefined) : [];
    const token = sign(account, service, access);
    res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' });
    res.end(JSON.stringify({ token, access_token: token, expires_in: 300, issued_at: new Date().toISOString() }));
  };

  const server = http.createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
      res.end(String(error));
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    realm: `http://127.0.0.1:${port}/token`,
    requests: () => log.map((r) => ({ ...r, scope: [...r.scope] })),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
