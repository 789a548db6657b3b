// Real registries for the integration tests: Debian's docker-registry (docker/distribution 2.8) on
// 127.0.0.1 with a free port and a private storage root, optionally with TLS (a CA made at test
// time), htpasswd Basic auth, or token auth (a token server from registry-token.ts). The
// fault-injecting proxy lives in registry-proxy.ts and is re-exported from here, so tests import
// everything registry-related from this one module.
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import net, { type AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { makeServerTls, makeTokenSigner } from './registry-pki.js';
import { startTokenServer, type TokenRequest, type TokenServer } from './registry-token.js';

export { startRegistryProxy, type ProxyRule, type ProxyRequest, type RegistryProxy } from './registry-proxy.js';
export type { TokenRequest } from './registry-token.js';

export interface TestRegistry {
  /** "127.0.0.1:PORT" — what image references use. */
  host: string;
  /** "http://127.0.0.1:PORT" or "https://..." */
  url: string;
  tls: boolean;
  /** With tls: a directory laid out like /etc/containers/certs.d, i.e. <certsDir>/127.0.0.1:PORT/ca.crt, to pass as certsDirs to clients (and skopeo --cert-dir=<certsDir>/127.0.0.1:PORT). */
  certsDir?: string;
  caFile?: string;
  /** With auth: valid credentials. */
  username?: string;
  password?: string;
  /** The registry's storage root (filesystem driver) — tests may inspect or corrupt blobs. */
  dataDir: string;
  /** Registry stderr/stdout so far (its access log lines list every request). */
  logs(): string;
  /** With auth 'token': the token server's request log (scope strings requested, and whether credentials were valid). */
  tokenRequests?: () => TokenRequest[];
  stop(): Promise<void>;
}

export interface StartRegistryOptions {
  tls?: boolean;
  auth?: 'htpasswd' | 'token';
}

export const REGISTRY_BINARY = 'docker-registry';
/** The token auth `service` (the JWT audience) and `issuer` the registry is configured with. */
export const TOKEN_SERVICE = 'tsbuild-test-registry';
export const TOKEN_ISSUER = 'tsbuild-test-issuer';
export const TEST_USERNAME = 'tsbuild';

const READY_TIMEOUT_MS = 15_000;
const STOP_GRACE_MS = 5_000;
/** Logs beyond this are trimmed from the front: a long push must not grow memory without bound. */
const MAX_LOG_CHARS = 4 * 1024 * 1024;

// Registries still running when the test process exits (a crash, a missing afterAll) are killed
// here, so no registry outlives the test run. 'exit' handlers must be synchronous: kill is.
const live = new Set<ChildProcess>();
let exitHookInstalled = false;
function track(child: ChildProcess): void {
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.once('exit', () => {
      for (const c of live) c.kill('SIGKILL');
    });
  }
  live.add(child);
  child.once('exit', () => live.delete(child));
}

/** A port that was free a moment ago. The registry binds it itself, so there is a small race, handled by retrying. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

function htpasswdLine(username: string, password: string): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('htpasswd', ['-Bbn', username, password], { env: { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin' } }, (error, stdout, stderr) => {
      if (error) reject(new Error(`htpasswd failed (install apache2-utils): ${error.message}\n${stderr}`));
      else resolve(`${stdout.trim()}\n`);
    });
  });
}

/** YAML scalars: JSON strings are valid double-quoted YAML, so paths need no further escaping. */
const q = (s: string): string => JSON.stringify(s);

function registryConfig(c: {
  addr: string;
  rootdirectory: string;
  tls?: { certificate: string; key: string };
  htpasswd?: string;
  token?: { realm: string; rootcertbundle: string };
}): string {
  const lines = [
    'version: 0.1',
    'log:',
    '  level: info',
    '  formatter: text',
    '  accesslog:',
    '    disabled: false',
    'storage:',
    '  filesystem:',
    `    rootdirectory: ${q(c.rootdirectory)}`,
    '  delete:',
    '    enabled: true',
    // No background upload purging: nothing should touch the storage root behind a test's back.
    '  maintenance:',
    '    uploadpurging:',
    '      enabled: false',
    'http:',
    `  addr: ${q(c.addr)}`,
    // A fixed secret silences the "No HTTP secret provided" warning; uploads' _state is signed with it.
    `  secret: ${q(randomBytes(16).toString('hex'))}`,
  ];
  if (c.tls) lines.push('  tls:', `    certificate: ${q(c.tls.certificate)}`, `    key: ${q(c.tls.key)}`);
  if (c.htpasswd) lines.push('auth:', '  htpasswd:', '    realm: tsbuild-test-registry', `    path: ${q(c.htpasswd)}`);
  if (c.token) {
    lines.push('auth:', '  token:', `    realm: ${q(c.token.realm)}`, `    service: ${TOKEN_SERVICE}`, `    issuer: ${TOKEN_ISSUER}`, `    rootcertbundle: ${q(c.token.rootcertbundle)}`);
  }
  return `${lines.join('\n')}\n`;
}

/** One GET /v2/: resolves with the status, or undefined when nothing answered yet. */
function probe(url: string, ca: string | undefined): Promise<number | undefined> {
  return new Promise((resolve) => {
    const target = new URL('/v2/', url);
    const request = target.protocol === 'https:' ? https.request(target, { ca, agent: false }) : http.request(target, { agent: false });
    request.setTimeout(2_000, () => request.destroy());
    request.on('response', (res) => {
      res.resume();
      resolve(res.statusCode);
    });
    request.on('error', () => resolve(undefined));
    request.end();
  });
}

class RegistryExited extends Error {
  constructor(
    message: string,
    readonly addressInUse: boolean,
  ) {
    super(message);
  }
}

export async function startRegistry(options: StartRegistryOptions = {}): Promise<TestRegistry> {
  const root = await mkdtemp(path.join(os.tmpdir(), 'tsbuild-registry-'));
  const dataDir = path.join(root, 'data');
  let child: ChildProcess | undefined;
  let tokenServer: TokenServer | undefined;
  let output = '';
  let stopped: Promise<void> | undefined;

  const kill = async (): Promise<void> => {
    const c = child;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => c.once('exit', () => resolve()));
    c.kill('SIGTERM');
    const timer = setTimeout(() => c.kill('SIGKILL'), STOP_GRACE_MS);
    await exited;
    clearTimeout(timer);
  };
  const stop = (): Promise<void> =>
    (stopped ??= (async () => {
      await kill();
      await tokenServer?.close();
      await rm(root, { recursive: true, force: true });
    })());

  try {
    await mkdir(dataDir);
    const [tls, signer] = await Promise.all([
      options.tls ? mkdir(path.join(root, 'tls')).then(() => makeServerTls(path.join(root, 'tls'))) : undefined,
      options.auth === 'token' ? mkdir(path.join(root, 'token')).then(() => makeTokenSigner(path.join(root, 'token'))) : undefined,
    ]);
    const username = options.auth ? TEST_USERNAME : undefined;
    // Hex only: a password that never needs quoting or escaping in a --creds argument.
    const password = options.auth ? randomBytes(12).toString('hex') : undefined;
    let htpasswd: string | undefined;
    if (options.auth === 'htpasswd') {
      htpasswd = path.join(root, 'htpasswd');
      await writeFile(htpasswd, await htpasswdLine(username!, password!), { mode: 0o600 });
    }
    if (options.auth === 'token') {
      tokenServer = await startTokenServer({
        service: TOKEN_SERVICE,
        issuer: TOKEN_ISSUER,
        username: username!,
        password: password!,
        keyPem: signer!.keyPem,
        certDerBase64: signer!.certDerBase64,
      });
    }
    const caPem = tls ? await readFile(tls.caFile, 'utf8') : undefined;
    const scheme = tls ? 'https' : 'http';
    const configFile = path.join(root, 'config.yml');

    let host = '';
    for (let attempt = 1; ; attempt++) {
      const port = await freePort();
      host = `127.0.0.1:${port}`;
      await writeFile(
        configFile,
        registryConfig({
          addr: host,
          rootdirectory: dataDir,
          ...(tls ? { tls: { certificate: tls.certFile, key: tls.keyFile } } : {}),
          ...(htpasswd ? { htpasswd } : {}),
          ...(tokenServer && signer ? { token: { realm: tokenServer.realm, rootcertbundle: signer.certFile } } : {}),
        }),
      );
      output = '';
      try {
        child = await launch(configFile, (text) => {
          output += text;
          if (output.length > MAX_LOG_CHARS) output = output.slice(-MAX_LOG_CHARS);
        });
        await waitReady(child, `${scheme}://${host}`, caPem, () => output);
        break;
      } catch (error) {
        await kill();
        // Another process may have taken the port between freePort() and the registry's bind.
        if (error instanceof RegistryExited && error.addressInUse && attempt < 3) continue;
        throw error;
      }
    }

    let certsDir: string | undefined;
    let caFile: string | undefined;
    if (tls) {
      // Laid out like /etc/containers/certs.d: one directory per host:port holding ca.crt.
      certsDir = path.join(root, 'certs.d');
      await mkdir(path.join(certsDir, host), { recursive: true });
      caFile = path.join(certsDir, host, 'ca.crt');
      await writeFile(caFile, caPem!);
    }
    const server = tokenServer;
    return {
      host,
      url: `${scheme}://${host}`,
      tls: Boolean(tls),
      ...(certsDir ? { certsDir, caFile } : {}),
      ...(username !== undefined && password !== undefined ? { username, password } : {}),
      dataDir,
      logs: () => output,
      ...(server ? { tokenRequests: () => server.requests() } : {}),
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

function launch(configFile: string, onOutput: (text: string) => void): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    // A minimal environment on purpose: distribution reads REGISTRY_* variables as config overrides,
    // and proxy variables must never send the registry's own traffic anywhere.
    const child = spawn(REGISTRY_BINARY, ['serve', configFile], {
      env: { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout?.setEncoding('utf8').on('data', onOutput);
    child.stderr?.setEncoding('utf8').on('data', onOutput);
    child.once('error', (error: NodeJS.ErrnoException) => {
      reject(
        error.code === 'ENOENT'
          ? new Error(`${REGISTRY_BINARY} is not installed: the registry tests need Debian's docker-registry package (apt-get install docker-registry)`)
          : error,
      );
    });
    child.once('spawn', () => {
      track(child);
      resolve(child);
    });
  });
}

async function waitReady(child: ChildProcess, url: string, ca: string | undefined, logs: () => string): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      const text = logs();
      throw new RegistryExited(`${REGISTRY_BINARY} exited (${child.exitCode ?? child.signalCode}) before serving ${url}:\n${text}`, /address already in use/i.test(text));
    }
    const status = await probe(url, ca);
    // 401 is "up, and wants credentials": the auth configs never answer 200 anonymously.
    if (status === 200 || status === 401) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`${REGISTRY_BINARY} did not answer GET ${url}/v2/ within ${READY_TIMEOUT_MS} ms:\n${logs()}`);
}
