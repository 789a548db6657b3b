// NODE_EXTRA_CA_CERTS keeps working although bin/tsbuild (the shell launcher) hides it from node to
// start faster: a registry whose CA is only in that bundle is trusted by the launched CLI, and one
// whose CA is nowhere still is not.
import { spawn } from 'node:child_process';
import { symlink } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, REPO, type CliResult } from '../../helpers/tsbuild.js';
import { startRegistry, type TestRegistry } from '../../helpers/registry.js';
import { createEnv, createRoot, type Env, type Root } from './helpers.js';

let env: Env;
let source: Root;
let target: Root;
let registry: TestRegistry;

/** Runs the launcher itself (not `node bin/tsbuild`, which the other tests use): the shell part runs. */
function launch(root: Root, args: readonly string[], extra: NodeJS.ProcessEnv, bin = BIN): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, ['--root', root.t.root, ...args], { cwd: REPO, env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env.env, ...extra }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

beforeAll(async () => {
  env = await createEnv();
  [source, target, registry] = await Promise.all([createRoot(env), createRoot(env, { base: false }), startRegistry({ tls: true })]);
  await source.ok(['push', '-q', '--tls-verify=false', 'busybox-base', `${registry.host}/extra-ca/base:1`]);
});

afterAll(async () => {
  await Promise.all([source?.cleanup(), target?.cleanup(), registry?.stop()]);
  await env?.cleanup();
});

describe('NODE_EXTRA_CA_CERTS through bin/tsbuild', () => {
  it('trusts a registry whose CA is only in NODE_EXTRA_CA_CERTS', async () => {
    const pulled = await launch(target, ['pull', '-q', `${registry.host}/extra-ca/base:1`], { NODE_EXTRA_CA_CERTS: registry.caFile });
    expect(pulled.stderr).toBe('');
    expect(pulled.code).toBe(0);
    expect(pulled.stdout.trim()).toMatch(/^[0-9a-f]{64}$/);
  });

  it('still refuses that registry without the variable', async () => {
    const refused = await launch(target, ['pull', '-q', `${registry.host}/extra-ca/base:1`], {});
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/certificate/i);
  });

  it('runs through a symlink, as npm links bin/tsbuild', async () => {
    const link = path.join(env.dir, 'tsbuild');
    await symlink(BIN, link);
    const launched = await launch(target, ['--version'], { NODE_EXTRA_CA_CERTS: registry.caFile }, link);
    expect(launched.stderr).toBe('');
    expect(launched.stdout.trim()).toBe('0.1.0');
  });
});
