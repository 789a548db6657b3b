// Registries that want credentials (htpasswd Basic auth, Bearer tokens) or TLS: login checks and
// saves, push and pull use the saved credentials, logout forgets them, and TLS works with the
// registry's CA (--cert-dir) or without verification (--tls-verify=false).
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRegistry } from '../../helpers/registry.js';
import { createEnv, createRoot, type Env, type Root } from './helpers.js';

type Registry = Awaited<ReturnType<typeof startRegistry>>;

let env: Env;
let root: Root;
const registries: Registry[] = [];

async function registryWith(options: Parameters<typeof startRegistry>[0]): Promise<Registry> {
  const r = await startRegistry(options);
  registries.push(r);
  return r;
}

beforeAll(async () => {
  env = await createEnv();
  root = await createRoot(env);
});

afterAll(async () => {
  await root?.cleanup();
  for (const r of registries) await r.stop();
  await env?.cleanup();
});

describe.each(['htpasswd', 'token'] as const)('%s auth', (auth) => {
  let registry: Registry;
  beforeAll(async () => {
    registry = await registryWith({ auth });
  });

  it('login --password-stdin saves credentials (mode 0600) that push and pull use; logout removes them', async () => {
    const { host, username, password } = registry as Registry & { username: string; password: string };
    const denied = await root.run(['push', '-q', '--tls-verify=false', 'busybox-base', `${host}/auth/base:1`]);
    expect(denied.code).not.toBe(0);
    expect(denied.stderr).toMatch(/^Error: .*(unauthori[sz]ed|UNAUTHORIZED|authentication required)/im);

    const login = await root.ok(['login', '--tls-verify=false', '-u', username, '--password-stdin', host], { input: `${password}\n` });
    expect(login.stdout).toBe('Login Succeeded!\n');
    expect((await stat(env.authfile)).mode & 0o777).toBe(0o600);
    const saved = await readFile(env.authfile, 'utf8');
    expect(saved).toContain(host);
    expect(saved).not.toContain(password);

    await root.ok(['push', '-q', '--tls-verify=false', 'busybox-base', `${host}/auth/base:1`]);
    const other = await createRoot(env, { base: false });
    try {
      await other.ok(['pull', '-q', '--tls-verify=false', `${host}/auth/base:1`]);
    } finally {
      await other.cleanup();
    }

    const logout = await root.ok(['logout', host]);
    expect(logout.stdout).toBe(`Removed login credentials for ${host}\n`);
    expect(await readFile(env.authfile, 'utf8')).not.toContain(host);
    const again = await root.run(['logout', host]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain(`not logged into ${host}`);
    await root.ok(['login', '--tls-verify=false', '-u', username, '-p', password, host]);
    expect((await root.ok(['logout', '--all'])).stdout).toBe('Removed login credentials for all registries\n');
    expect(await readFile(env.authfile, 'utf8')).not.toContain(host);
  });

  it('login with a wrong password fails with one line and saves nothing; --creds works without login', async () => {
    const { host, username, password } = registry as Registry & { username: string; password: string };
    const result = await root.run(['login', '--tls-verify=false', '-u', username, '--password-stdin', host], { input: 'wrong-password' });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`login to ${host} failed: invalid username or password`);
    expect(result.stderr).not.toContain('wrong-password');
    expect(await readFile(env.authfile, 'utf8').catch(() => '')).not.toContain(host);

    await root.ok(['push', '-q', '--tls-verify=false', '--creds', `${username}:${password}`, 'busybox-base', `${host}/auth/creds:1`]);
    const bad = await root.run(['pull', '-q', '--tls-verify=false', '--creds', `${username}:nope`, `${host}/auth/creds:1`]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain(`${host}/auth/creds`);
    expect(bad.stderr).not.toContain('nope');
  });
});

describe('TLS', () => {
  it('pushes and pulls with the registry CA from --cert-dir, and with --tls-verify=false', async () => {
    const registry = await registryWith({ tls: true });
    const ref = `${registry.host}/tls/base:1`;
    const unverified = await root.run(['push', '-q', 'busybox-base', ref]);
    expect(unverified.code).toBe(1);
    expect(unverified.stderr).toMatch(/certificate|TLS/i);
    // podman's --cert-dir holds the files themselves; the helper's certsDir is laid out like certs.d.
    const certDir = path.join(registry.certsDir!, registry.host);
    await root.ok(['push', '-q', '--cert-dir', certDir, 'busybox-base', ref]);
    const other = await createRoot(env, { base: false });
    try {
      await other.ok(['pull', '-q', '--tls-verify=false', ref]);
      await other.ok(['pull', '-q', '--cert-dir', certDir, ref]);
    } finally {
      await other.cleanup();
    }
  });
});
